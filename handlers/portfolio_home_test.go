package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestCSMLandsOnTheirBook: a CSM opening / sees their own accounts, those with the
// gravest open alerts first, then the lowest health, then the nearest renewal; with
// the book's count and ARR. Others still see everything.
func TestCSMLandsOnTheirBook(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		ctx := context.Background()
		today := models.Today()
		csm := "csm@test.example"
		seedAccounts(t, s,
			models.Account{Key: "quiet", Name: "Quiet", ARR: 1000, CSMEmail: csm, RenewalOn: today.AddDays(300)},
			models.Account{Key: "soon", Name: "Soon", ARR: 2000, CSMEmail: csm, RenewalOn: today.AddDays(20)},
			models.Account{Key: "later", Name: "Later", ARR: 4000, CSMEmail: csm, RenewalOn: today.AddDays(200)},
			models.Account{Key: "noisy", Name: "Noisy", ARR: 8000, CSMEmail: csm},
			models.Account{Key: "burning", Name: "Burning", ARR: 16000, CSMEmail: csm},
			models.Account{Key: "elsewhere", Name: "Elsewhere", ARR: 32000, CSMEmail: "other@test.example"})
		// Alerts by hand: "burning" has a critical one, "noisy" three for information.
		var ids = map[string]int64{}
		for _, k := range []string{"burning", "noisy"} {
			a, err := s.AccountByKey(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			ids[k] = a.ID
		}
		add := func(account int64, kind, subject, severity string) {
			err := s.DB().Exec(`INSERT INTO alerts (account_id, kind, subject, severity, state, message, opened_at, updated_at)
				VALUES (?, ?, ?, ?, 'open', 'x', ?, ?)`, account, kind, subject, severity, today.Time(), today.Time()).Error
			if err != nil {
				t.Fatal(err)
			}
		}
		add(ids["burning"], "gone_dark", "", "critical")
		for _, e := range []string{"a", "b", "c"} {
			add(ids["noisy"], "underuse", e, "info")
		}
		c := app.loggedIn(models.RoleCSM)
		doc := c.get("/").expect(http.StatusOK).doc()
		if got := rowKeys(doc); got != "burning,noisy,soon,later,quiet" {
			t.Fatalf("the CSM's book in order %q", got)
		}
		if got := doc.Find("[data-testid=portfolio-arr]").Text(); got != "$31,000 ARR" {
			t.Fatalf("book ARR %q", got)
		}
		if got := strings.TrimSpace(doc.Find("h1").First().Text()); got != "Book of "+csm {
			t.Fatalf("heading %q", got)
		}
		flag := doc.Find(`[data-key=noisy] [data-testid=risk-flag]`)
		if flag.Text() != "underused" || !strings.Contains(flag.Parent().Text(), "a, b, c") {
			t.Fatalf("noisy's flag %q / %q", flag.Text(), flag.Parent().Text())
		}
		// Renewing within 30 days.
		if got := rowKeys(c.get("/?renews=30").doc()); got != "soon" {
			t.Fatalf("renewing within 30 days: %q", got)
		}
		// A manager sees everyone, A–Z.
		if got := rowKeys(app.loggedIn(models.RoleManager).get("/").doc()); !strings.HasPrefix(got, "burning,elsewhere,later") {
			t.Fatalf("manager's portfolio %q", got)
		}
	})
}

// TestSavedViews: a member keeps a filtered portfolio under a name, opens it from the
// page, and deletes it; another member does not see it.
func TestSavedViews(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		seedAccounts(t, s, models.Account{Key: "acme", Name: "Acme", ARR: 10, Segment: "smb"},
			models.Account{Key: "globex", Name: "Globex", ARR: 20, Segment: "enterprise"})
		pm := app.loggedIn(models.RolePM)
		tok := pm.csrf("/")
		r := pm.post("/views", url.Values{"_csrf": {tok}, "page": {"/"}, "query": {"segment=smb&sort=arr&page=3"}, "name": {"Small ones"}},
			"HX-Request", "true").expect(http.StatusOK)
		link, _ := r.doc().Find("[data-testid=saved-view]").Attr("href")
		if link != "/?segment=smb&sort=arr" {
			t.Fatalf("saved view link %q in %s", link, r.Body.String())
		}
		if got := rowKeys(pm.get(link).doc()); got != "acme" {
			t.Fatalf("the saved view shows %q", got)
		}
		pm.post("/views", url.Values{"_csrf": {tok}, "page": {"/"}, "query": {""}, "name": {"  "}}, "HX-Request", "true").
			expect(http.StatusUnprocessableEntity)
		pm.post("/views", url.Values{"_csrf": {tok}, "page": {"/settings"}, "query": {""}, "name": {"x"}}, "HX-Request", "true").
			expect(http.StatusBadRequest)
		// Someone else's page has none.
		if n := app.loggedIn(models.RoleManager).get("/").doc().Find("[data-testid=saved-view]").Length(); n != 0 {
			t.Fatalf("a manager sees %d of the PM's views", n)
		}
		views, err := s.SavedViews(context.Background(), mustMember(t, s, "pm@test.example"), "/")
		if err != nil || len(views) != 1 {
			t.Fatalf("%+v %v", views, err)
		}
		pm.post("/views/"+strconv.FormatInt(views[0].ID, 10)+"/delete", url.Values{"_csrf": {tok}, "page": {"/"}, "query": {""}}, "HX-Request", "true").expect(http.StatusOK)
		if views, _ := s.SavedViews(context.Background(), views[0].MemberID, "/"); len(views) != 0 {
			t.Fatal("the view was not deleted")
		}
	})
}

func mustMember(t *testing.T, s *models.Store, email string) int64 {
	t.Helper()
	m, err := s.TeamMemberByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}
