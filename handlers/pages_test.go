package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"sightline/models"
	"sightline/models/dbtest"
)

func rowKeys(doc *goquery.Document) string {
	var keys []string
	doc.Find(`[data-testid=account-row]`).Each(func(_ int, s *goquery.Selection) {
		k, _ := s.Attr("data-key")
		keys = append(keys, k)
	})
	return strings.Join(keys, ",")
}

func TestPortfolioFiltersSortsSearchesAndPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		seedAccounts(t, s,
			models.Account{Key: "acme", Name: "Acme", ARR: 300, Segment: "enterprise", LifecycleStage: "adoption", CSMEmail: "a@x.test"},
			models.Account{Key: "bolt", Name: "Bolt 100%_Co", ARR: 100, Segment: "smb", LifecycleStage: "renewal", CSMEmail: "b@x.test"},
			models.Account{Key: "core", Name: "Core", ARR: 200, Segment: "enterprise", LifecycleStage: "onboarding", CSMEmail: "b@x.test"},
		)
		c := app.loggedIn(models.RolePM)
		cases := []struct{ query, want string }{
			{"", "acme,bolt,core"},
			{"?sort=arr", "bolt,core,acme"},
			{"?sort=arr&dir=desc", "acme,core,bolt"},
			{"?segment=enterprise", "acme,core"},
			{"?stage=renewal", "bolt"},
			{"?csm=b@x.test&sort=name&dir=desc", "core,bolt"},
			{"?q=CO", "bolt,core"},
			{"?q=" + url.QueryEscape("100%_"), "bolt"}, // LIKE wildcards are literal
			{"?q=%25", "bolt"},
			{"?sort=drop+table", "acme,bolt,core"}, // unknown sort falls back
		}
		for _, tc := range cases {
			doc := c.get("/" + tc.query).expect(http.StatusOK).doc()
			if got := rowKeys(doc); got != tc.want {
				t.Errorf("%s: rows %s, want %s", tc.query, got, tc.want)
			}
		}
		// htmx asks for the table alone; the page has the layout around it.
		frag := c.get("/?segment=smb", "HX-Request", "true").expect(http.StatusOK).Body.String()
		if strings.Contains(frag, "<html") || !strings.Contains(frag, `id="portfolio-table"`) {
			t.Fatalf("htmx fragment is not the table alone: %.200s", frag)
		}
		full := c.get("/?segment=smb", "HX-Request", "true", "HX-History-Restore-Request", "true").Body.String()
		if !strings.Contains(full, "<html") {
			t.Fatal("history restore did not get the full page")
		}
		// Sort links keep the filters, so a view can be shared by URL.
		doc := c.get("/?segment=enterprise").doc()
		href, _ := doc.Find(`[data-testid=sort-arr]`).Attr("href")
		if href != "/?segment=enterprise&sort=arr" {
			t.Fatalf("sort link %q", href)
		}
	})
}

func TestPortfolioPaging(t *testing.T) {
	s := dbtest.SQLite(t)
	app := newApp(t, s)
	for i := 0; i < 120; i++ {
		seedAccounts(t, s, models.Account{Key: fmt.Sprintf("acct-%03d", i), Name: fmt.Sprintf("Account %03d", i)})
	}
	c := app.loggedIn(models.RoleCSM)
	doc := c.get("/").doc()
	if n := doc.Find(`[data-testid=account-row]`).Length(); n != 50 {
		t.Fatalf("first page has %d rows", n)
	}
	if got := doc.Find(`[data-testid=page-of]`).Text(); got != "Page 1 of 3" {
		t.Fatalf("pager says %q", got)
	}
	next, _ := doc.Find(`[data-testid=next-page]`).Attr("href")
	doc = c.get(next).doc()
	if k := rowKeys(doc); !strings.HasPrefix(k, "acct-050,") {
		t.Fatalf("second page starts %s", k[:20])
	}
	doc = c.get("/?page=3").doc()
	if n := doc.Find(`[data-testid=account-row]`).Length(); n != 20 {
		t.Fatalf("last page has %d rows", n)
	}
	if doc.Find(`[data-testid=next-page]`).Length() != 0 {
		t.Fatal("last page links to a next page")
	}
}

func TestAccountPageShowsFactsAndEntitlementTerms(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		app := newApp(t, s)
		today := models.DateOf(time.Now())
		seedAccounts(t, s, models.Account{Key: "acme", Name: "Acme <Corp>", ARR: 120000, Segment: "enterprise",
			LifecycleStage: "renewal", CSMEmail: "jo@x.test", RenewalOn: today.AddDays(30)})
		if _, err := s.UpsertFeature(ctx, &models.Feature{Key: "reports", Name: "Reports", Product: "core", EventNames: []string{"Report Run"}}); err != nil {
			t.Fatal(err)
		}
		for _, e := range []models.Entitlement{
			{Key: "seats", Product: "core", Model: "user", Quantity: 100, UnitPrice: 500, StartsOn: today.AddDays(-10), EndsOn: today.AddDays(300)},
			{Key: "old", Product: "core", Model: "metered", Quantity: 5, Unit: "api_calls", StartsOn: today.AddDays(-100), EndsOn: today.AddDays(-1)},
			{Key: "next", Product: "core", Model: "subscription", Quantity: 5, StartsOn: today.AddDays(1), Features: []string{"reports"}},
		} {
			if _, err := s.UpsertEntitlement(ctx, "acme", &e); err != nil {
				t.Fatal(err)
			}
		}
		c := app.loggedIn(models.RolePM)
		doc := c.get("/accounts/acme").expect(http.StatusOK).doc()
		if got := doc.Find(`[data-testid=account-name]`).Text(); got != "Acme <Corp>" {
			t.Fatalf("name %q (escaping?)", got)
		}
		if got := doc.Find(`[data-testid=account-arr]`).Text(); got != "$120,000" {
			t.Fatalf("ARR %q", got)
		}
		status := map[string]string{}
		doc.Find(`[data-testid=entitlement-row]`).Each(func(_ int, r *goquery.Selection) {
			k, _ := r.Attr("data-key")
			status[k] = r.Find(`[data-testid=term-status]`).Text()
		})
		if fmt.Sprint(status) != "map[next:future old:expired seats:active]" {
			t.Fatalf("term statuses %v", status)
		}
		// As of an earlier day, "old" was active and "seats" not yet started.
		doc = c.get("/accounts/acme?as_of=" + today.AddDays(-50).String()).doc()
		if got := doc.Find(`[data-key=old] [data-testid=term-status]`).Text(); got != "active" {
			t.Fatalf("old as of 50 days ago: %q", got)
		}
		c.get("/accounts/acme?as_of=yesterday").expect(http.StatusBadRequest)
		doc = c.get("/accounts/nope").expect(http.StatusNotFound).doc()
		if doc.Find(`[data-testid=error-page]`).Length() != 1 {
			t.Fatal("unknown account is not the friendly 404 page")
		}
		// pm reads but may not write: no forms.
		if doc := c.get("/accounts/acme").doc(); doc.Find(`[data-testid=note-body]`).Length()+doc.Find(`[data-testid=csm-input]`).Length() != 0 {
			t.Fatal("pm sees write forms")
		}
	})
}

func TestNotesAndCSMAssignment(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		seedAccounts(t, s, models.Account{Key: "acme", Name: "Acme"})
		csm := app.loggedIn(models.RoleCSM)
		tok := csm.csrf("/accounts/acme")
		hx := []string{"HX-Request", "true", "X-CSRF-Token", tok}

		// A blank note is refused beside the field, keeping nothing.
		r := csm.post("/accounts/acme/notes", url.Values{"body": {"   "}}, hx...).expect(http.StatusUnprocessableEntity)
		if r.doc().Find(`[data-testid=note-error]`).Text() != "is required" {
			t.Fatalf("blank note: %s", r.Body.String())
		}
		r = csm.post("/accounts/acme/notes", url.Values{"body": {"Kick-off <b>done</b>"}}, hx...).expect(http.StatusOK)
		doc := r.doc()
		if got := doc.Find(`[data-testid=note] p`).First().Text(); got != "Kick-off <b>done</b>" {
			t.Fatalf("note shown as %q", got)
		}
		if !strings.Contains(doc.Find(`[data-testid=note]`).Text(), "csm@test.example") {
			t.Fatal("note lacks its author")
		}
		// A CSM may not reassign accounts, nor see the form.
		csm.post("/accounts/acme/csm", url.Values{"csm_email": {"me@x.test"}}, hx...).expect(http.StatusForbidden)

		mgr := app.loggedIn(models.RoleManager)
		tok = mgr.csrf("/accounts/acme")
		hx = []string{"HX-Request", "true", "X-CSRF-Token", tok}
		r = mgr.post("/accounts/acme/csm", url.Values{"csm_email": {"not-an-email"}}, hx...).expect(http.StatusUnprocessableEntity)
		if r.doc().Find(`[data-testid=csm-error]`).Text() == "" {
			t.Fatal("bad CSM email without message")
		}
		mgr.post("/accounts/acme/csm", url.Values{"csm_email": {"Jo@X.test"}}, hx...).expect(http.StatusOK)
		a, _ := s.AccountByKey(context.Background(), "acme")
		if a.CSMEmail != "jo@x.test" {
			t.Fatalf("CSM %q", a.CSMEmail)
		}
		mgr.post("/accounts/nope/csm", url.Values{"csm_email": {"jo@x.test"}}, hx...).expect(http.StatusNotFound)
	})
}

func TestNavigationAndSettingsByRole(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	for _, role := range models.Roles {
		c := app.loggedIn(role)
		doc := c.get("/").expect(http.StatusOK).doc()
		hasSettings := doc.Find(`[data-testid=nav] a[href="/settings"]`).Length() == 1
		if hasSettings != (role == models.RoleAdmin) {
			t.Errorf("%s: settings link shown = %v", role, hasSettings)
		}
		r := c.get("/settings")
		if role == models.RoleAdmin {
			if r.expect(http.StatusOK).doc().Find(`[data-testid=team-row]`).Length() != 4 {
				t.Errorf("admin sees %d team rows", r.doc().Find(`[data-testid=team-row]`).Length())
			}
			continue
		}
		doc = r.expect(http.StatusForbidden).doc()
		if doc.Find(`[data-testid=error-page]`).Length() != 1 || !strings.Contains(doc.Text(), string(role)) {
			t.Errorf("%s: 403 page is not the friendly one", role)
		}
	}
}

// TestAccountTimeline: the account page tells what happened there, newest first:
// notes, goal changes, alerts, health colour changes.
func TestAccountTimeline(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		alertsWorld(t, app) // acme opens a consumption alert
		acme, err := s.AccountByKey(context.Background(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		today := models.Today()
		var snaps []models.HealthSnapshot
		for i, color := range []string{"green", "green", "yellow", "", "red"} { // "": no basis that day
			snaps = append(snaps, models.HealthSnapshot{AccountID: acme.ID, Day: today.AddDays(i - 6), Color: color, Metrics: "{}"})
		}
		if err := s.PutSnapshots(context.Background(), snaps); err != nil {
			t.Fatal(err)
		}
		manager := app.token(models.RoleManager)
		due := models.Today().AddDays(60).String()
		app.api(http.MethodPost, "/api/v1/accounts/acme/goals", manager, body(goalBody("50", due))).expect(http.StatusCreated)
		c := app.loggedIn(models.RoleCSM)
		tok := c.csrf("/accounts/acme")
		c.post("/accounts/acme/notes", url.Values{"_csrf": {tok}, "body": {"Called Ann about seats."}}).expect(http.StatusSeeOther)
		doc := c.get("/accounts/acme").expect(http.StatusOK).doc()
		var kinds []string
		doc.Find("[data-testid=timeline] li").Each(func(_ int, li *goquery.Selection) {
			k, _ := li.Attr("data-kind")
			kinds = append(kinds, k)
		})
		got := strings.Join(kinds, ",")
		for _, want := range []string{"note", "goal", "alert", "entitlement", "health"} {
			if !strings.Contains(got, want) {
				t.Fatalf("timeline kinds %q lack %s", got, want)
			}
		}
		itemText := func(kind string) string {
			return strings.Join(strings.Fields(doc.Find("[data-testid=timeline] li[data-kind="+kind+"]").First().Text()), " ")
		}
		if got := itemText("goal"); !strings.Contains(got, "Goal “") {
			t.Errorf("goal item %q", got)
		}
		if got := itemText("alert"); !strings.Contains(got, "Alert opened: ") {
			t.Errorf("alert item %q", got)
		}
		doc.Find("[data-testid=timeline] li").Each(func(_ int, li *goquery.Selection) {
			if at := li.Find(".nowrap").Text(); !strings.Contains(at, fmt.Sprint(today.Time().Year())) && !strings.Contains(at, fmt.Sprint(today.Time().Year()-1)) {
				t.Errorf("timeline item dated %q: %s", at, strings.Join(strings.Fields(li.Text()), " "))
			}
		})
		var turns []string
		doc.Find("[data-testid=timeline] li[data-kind=health]").Each(func(_ int, li *goquery.Selection) {
			turns = append(turns, strings.Join(strings.Fields(li.Text()), " "))
		})
		if len(turns) != 2 || !strings.Contains(turns[0], "Health turned red (was yellow)") || !strings.Contains(turns[1], "Health turned yellow (was green)") {
			t.Fatalf("health changes %q, want yellow → red (across a day without a colour), then green → yellow", turns)
		}
		if kinds[0] != "note" || !strings.Contains(doc.Find("[data-testid=timeline] li").First().Text(), "Called Ann about seats.") {
			t.Fatalf("the newest item is not the note: %v", kinds)
		}
	})
}
