package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"sightline/models"
	"sightline/models/dbtest"
)

func goalBody(target, due string) string {
	return `{"title":"Grow active users","metric":"active_users","target":` + target +
		`,"relevance":"Renewal hinges on adoption","due_on":"` + due + `"}`
}

func TestAPIGoals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		seedAccounts(t, s, models.Account{Key: "acme", Name: "Acme"})
		manager, csm, pm := app.token(models.RoleManager), app.token(models.RoleCSM), app.token(models.RolePM)
		due := time.Now().UTC().AddDate(0, 3, 0).Format("2006-01-02")

		// Each SMART letter refused with its message, on its JSON field.
		r := app.api(http.MethodPost, "/api/v1/accounts/acme/goals", manager,
			body(`{"title":" ","metric":"daily_usage_rate","target":1.2,"relevance":"","due_on":"2001-01-01"}`)).expect(http.StatusUnprocessableEntity)
		eb := r.errorBody()
		if eb.fields() != "due_on,metric,relevance,title" {
			t.Fatalf("refused fields %q: %+v", eb.fields(), eb.Details)
		}
		for _, d := range eb.Details {
			want := map[string]string{"title": "Specific:", "metric": "Measurable:", "relevance": "Relevant:", "due_on": "Time-bound:"}[d.Field]
			if !strings.HasPrefix(d.Message, want) {
				t.Errorf("%s: %q, want it to start with %q", d.Field, d.Message, want)
			}
		}
		r = app.api(http.MethodPost, "/api/v1/accounts/acme/goals", manager, body(
			`{"title":"Executives","metric":"exposure:executive","target":-1,"relevance":"Sponsor","due_on":"`+due+`"}`)).expect(http.StatusUnprocessableEntity)
		if eb := r.errorBody(); eb.fields() != "target" || !strings.HasPrefix(eb.Details[0].Message, "Attainable: target -1 is below 0") {
			t.Fatalf("attainable: %+v", eb.Details)
		}
		app.api(http.MethodPost, "/api/v1/accounts/acme/goals", manager, body(`{"title":"x","colour":"red"}`)).expect(http.StatusBadRequest)
		app.api(http.MethodPost, "/api/v1/accounts/acme/goals", manager, body(`{"title":"x","target":"high"}`)).expect(http.StatusBadRequest)
		app.api(http.MethodPost, "/api/v1/accounts/nope/goals", manager, body(goalBody("5", due))).expect(http.StatusNotFound)

		// Roles: pm reads only, csm comments, manager sets goals.
		app.api(http.MethodPost, "/api/v1/accounts/acme/goals", csm, body(goalBody("5", due))).expect(http.StatusForbidden)
		r = app.api(http.MethodPost, "/api/v1/accounts/acme/goals", manager, body(goalBody("5", due))).expect(http.StatusCreated)
		var g map[string]any
		if err := json.Unmarshal(r.Body.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]any{"account": "acme", "metric": "active_users", "target": 5.0, "baseline": 0.0,
			// Nobody uses acme: the recent trend is flat at 0, short of 5 by the due date.
			"current": 0.0, "progress": 0.0, "status": "at_risk", "due_on": due, "owner": nil, "closed_at": nil} {
			if g[k] != want {
				t.Errorf("%s = %v, want %v", k, g[k], want)
			}
		}
		if p, _ := g["pacing"].(string); !strings.Contains(p, "target 5") {
			t.Errorf("pacing %q", p)
		}
		id := itoa(int64(g["id"].(float64)))
		path := "/api/v1/accounts/acme/goals/" + id
		app.api(http.MethodPatch, path, pm, body(`{"target":6}`)).expect(http.StatusForbidden)
		app.api(http.MethodPatch, path, csm, body(`{"target":6}`)).expect(http.StatusForbidden)
		app.api(http.MethodPatch, path, manager, body(`{"target":-1.5}`)).expect(http.StatusUnprocessableEntity)
		app.api(http.MethodPatch, path, manager, body(`{"target":6,"title":"Grow the user base"}`)).expect(http.StatusOK)
		app.api(http.MethodPost, path+"/comments", pm, body(`{"body":"hi"}`)).expect(http.StatusForbidden)
		app.api(http.MethodPost, path+"/comments", csm, body(`{"body":"Call booked"}`)).expect(http.StatusCreated)
		r = app.api(http.MethodPatch, path, manager, body(`{"closed":true}`)).expect(http.StatusOK)
		var closed struct {
			ClosedAt *time.Time `json:"closed_at"`
			History  struct {
				Metric []struct{ Day string }
				Events []struct {
					Actor   string
					Kind    string
					Changes map[string]struct{ From, To any }
					Body    string
				}
			}
		}
		if err := json.Unmarshal(r.Body.Bytes(), &closed); err != nil {
			t.Fatal(err)
		}
		ev := closed.History.Events
		if closed.ClosedAt == nil || len(ev) != 4 || ev[0].Kind != "closed" || ev[1].Kind != "comment" || ev[1].Body != "Call booked" ||
			ev[2].Kind != "updated" || ev[2].Changes["target"].From != 5.0 || ev[2].Changes["target"].To != 6.0 ||
			ev[2].Changes["title"].To != "Grow the user base" || !strings.HasPrefix(ev[2].Actor, "API token") || len(closed.History.Metric) != 1 {
			t.Fatalf("history: %s", r.Body.String())
		}

		// Lists: {"goals": [...]}, history on request.
		r = app.api(http.MethodGet, "/api/v1/accounts/acme/goals", pm, nil).expect(http.StatusOK)
		var list struct {
			Goals []map[string]any `json:"goals"`
		}
		if err := json.Unmarshal(r.Body.Bytes(), &list); err != nil || len(list.Goals) != 1 || list.Goals[0]["history"] != nil {
			t.Fatalf("list: %s", r.Body.String())
		}
		r = app.api(http.MethodGet, "/api/v1/accounts/acme/goals?include=history", pm, nil).expect(http.StatusOK)
		if !strings.Contains(r.Body.String(), `"events"`) {
			t.Fatalf("list with history: %s", r.Body.String())
		}
		app.api(http.MethodGet, path, pm, nil).expect(http.StatusOK)
		app.api(http.MethodGet, "/api/v1/accounts/acme/goals/abc", pm, nil).expect(http.StatusNotFound)
	})
}

func TestGoalPagesWithHTMX(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		seedAccounts(t, s, models.Account{Key: "acme", Name: "Acme", CSMEmail: "csm@test.example"})
		mgr := app.loggedIn(models.RoleManager)
		due := time.Now().UTC().AddDate(0, 2, 0).Format("2006-01-02")
		doc := mgr.get("/accounts/acme/goals").expect(http.StatusOK).doc()
		if doc.Find("#goals [data-testid=goal-form-new]").Length() != 1 || doc.Find("nav a[href='/goals']").Length() != 1 {
			t.Fatal("full page lacks the create form or the Goals nav item")
		}
		tok := mgr.csrf("/accounts/acme/goals")
		form := url.Values{"_csrf": {tok}, "title": {"More users"}, "metric": {"active_users"}, "target": {"0"},
			"relevance": {"Renewal"}, "due_on": {due}, "owner": {""}}
		r := mgr.post("/accounts/acme/goals", form, "HX-Request", "true").expect(http.StatusUnprocessableEntity)
		doc = r.doc()
		if msg := doc.Find("[data-testid=goal-target-error]").Text(); !strings.HasPrefix(msg, "Attainable:") ||
			doc.Find("#goals").Length() != 1 || doc.Find("header.topbar").Length() != 0 {
			t.Fatalf("refusal: %q", msg)
		}
		if v, _ := doc.Find("[data-testid=goal-form-new] [data-testid=goal-title]").Attr("value"); v != "More users" {
			t.Fatalf("typed title lost: %q", v)
		}
		form.Set("target", "abc")
		if msg := mgr.post("/accounts/acme/goals", form, "HX-Request", "true").expect(http.StatusUnprocessableEntity).doc().
			Find("[data-testid=goal-target-error]").Text(); !strings.Contains(msg, `"abc" is not a number`) {
			t.Fatalf("non-numeric target: %q", msg)
		}
		form.Set("target", "12")
		doc = mgr.post("/accounts/acme/goals", form, "HX-Request", "true").expect(http.StatusOK).doc()
		// Nobody uses acme: the metric is flat at 0, so the goal is at risk from the start.
		if doc.Find("[data-testid=goal]").Length() != 1 || doc.Find("[data-testid=goal-status]").Text() != "at risk" ||
			doc.Find("[data-testid=goal-event]").Length() != 1 || doc.Find("canvas[data-chart]").Length() != 1 {
			t.Fatal("created goal not shown with status, history and chart")
		}
		id, _ := doc.Find("[data-testid=goal]").Attr("data-id")

		// The CSM comments but may neither create nor edit; nor sees the forms.
		csm := app.loggedIn(models.RoleCSM)
		doc = csm.get("/accounts/acme/goals", "HX-Request", "true").expect(http.StatusOK).doc()
		if doc.Find("[data-testid=goal-form-new]").Length() != 0 || doc.Find("[data-testid=goal-comment-body]").Length() != 1 {
			t.Fatal("csm sees the wrong forms")
		}
		ctok := csm.csrf("/accounts/acme/goals")
		csm.post("/accounts/acme/goals/"+id, url.Values{"_csrf": {ctok}, "closed": {"true"}}).expect(http.StatusForbidden)
		doc = csm.post("/accounts/acme/goals/"+id+"/comments", url.Values{"_csrf": {ctok}, "body": {"Spoke to the sponsor"}}, "HX-Request", "true").
			expect(http.StatusOK).doc()
		if !strings.Contains(doc.Find("[data-testid=goal-history]").Text(), "Spoke to the sponsor") {
			t.Fatal("comment not in the history")
		}

		// /goals lists it with its pacing sentence; filters narrow it.
		pm := app.loggedIn(models.RolePM)
		doc = pm.get("/goals").expect(http.StatusOK).doc()
		if doc.Find("[data-testid=goals-row]").Length() != 1 || !strings.Contains(doc.Find("[data-testid=goals-pacing]").Text(), "target 12") {
			t.Fatal("/goals misses the goal or its pacing")
		}
		if n := pm.get("/goals?status=on_track", "HX-Request", "true").expect(http.StatusOK).doc().Find("[data-testid=goals-row]").Length(); n != 0 {
			t.Fatalf("status filter: %d rows", n)
		}
		if n := pm.get("/goals?csm=csm@test.example&due="+due[:7], "HX-Request", "true").doc().Find("[data-testid=goals-row]").Length(); n != 1 {
			t.Fatalf("csm and due filters: %d rows", n)
		}
		pm.get("/goals?due=soon").expect(http.StatusBadRequest)

		// Closing through the page.
		mgr.post("/accounts/acme/goals/"+id, url.Values{"_csrf": {tok}, "closed": {"true"}}).expect(http.StatusSeeOther)
		if n := pm.get("/goals").doc().Find("[data-testid=goals-row]").Length(); n != 0 {
			t.Fatalf("closed goal still listed as open: %d", n)
		}
	})
}

// TestGoalsPageCountsAndRenewals: /goals counts goals by status under the other
// filters, sums the accounts' ARR once each, and keeps accounts renewing soon.
func TestGoalsPageCountsAndRenewals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		today := models.Today()
		seedAccounts(t, s, models.Account{Key: "soon", Name: "Soon", ARR: 1000, RenewalOn: today.AddDays(20)},
			models.Account{Key: "later", Name: "Later", ARR: 5000, RenewalOn: today.AddDays(200)})
		manager := app.token(models.RoleManager)
		due := today.AddDays(90).String()
		for _, k := range []string{"soon", "soon", "later"} {
			app.api(http.MethodPost, "/api/v1/accounts/"+k+"/goals", manager, body(goalBody("50", due))).expect(http.StatusCreated)
		}
		c := app.loggedIn(models.RolePM)
		doc := c.get("/goals").expect(http.StatusOK).doc()
		total := 0
		doc.Find("[data-testid=status-counts] a[data-testid^=count-]").Each(func(_ int, a *goquery.Selection) {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(a.Text()), strings.TrimSpace(a.Find(".badge").Text()))))
			total += n
		})
		if total != 3 || doc.Find("[data-testid=goals-arr]").Text() != "$6,000 ARR" {
			t.Fatalf("counts sum to %d, ARR %q", total, doc.Find("[data-testid=goals-arr]").Text())
		}
		doc = c.get("/goals?renews=30").expect(http.StatusOK).doc()
		if n := doc.Find("[data-testid=goals-row]").Length(); n != 2 || doc.Find("[data-testid=goals-arr]").Text() != "$1,000 ARR" ||
			!strings.Contains(doc.Find("[data-testid=goals-renewal]").First().Text(), "in 20 days") {
			t.Fatalf("renewing within 30 days: %d rows, %q", n, doc.Find("[data-testid=goals-arr]").Text())
		}
		if doc.Find(`[data-testid=filter-due] option`).Length() != 17 {
			t.Fatal("the due filter does not list the months")
		}
	})
}

// TestGoalPreviewAndPercentTargets: while a manager sets a target the form says where
// the account stands and warns of a pace far beyond its history; rates may be typed
// as percentages.
func TestGoalPreviewAndPercentTargets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		seedDemoHealth(t, s, 3, 40)
		rows, err := s.ExportPortfolio(context.Background(), models.PortfolioQuery{Sort: "name"})
		if err != nil {
			t.Fatal(err)
		}
		key := rows[0].Key
		mgr := app.loggedIn(models.RoleManager)
		due := models.Today().AddDays(30).String()
		r := mgr.get("/accounts/"+key+"/goals/preview?metric=daily_usage_rate&target=100%25&due_on="+due, "HX-Request", "true").expect(http.StatusOK)
		doc := r.doc()
		if !strings.HasPrefix(doc.Find("[data-testid=goal-feasibility]").Text(), "Now ") ||
			!strings.HasPrefix(doc.Find("[data-testid=goal-warning]").Text(), "Far beyond anything this account has shown") {
			t.Fatalf("preview of an impossible target: %s", r.Body.String())
		}
		if strings.Contains(mgr.get("/accounts/"+key+"/goals/preview?metric=nope", "HX-Request", "true").Body.String(), "goal-warning") {
			t.Fatal("a warning without a metric")
		}
		app.loggedIn(models.RoleCSM).get("/accounts/" + key + "/goals/preview?metric=daily_usage_rate").expect(http.StatusForbidden)
		// "70%" and "70" both mean 0.7 for a rate.
		tok := mgr.csrf("/accounts/" + key + "/goals")
		for i, typed := range []string{"70%", "70"} {
			form := url.Values{"_csrf": {tok}, "title": {"Usage " + strconv.Itoa(i)}, "metric": {"daily_usage_rate"}, "target": {typed},
				"relevance": {"Renewal"}, "due_on": {due}, "owner": {""}}
			mgr.post("/accounts/"+key+"/goals", form, "HX-Request", "true").expect(http.StatusOK)
		}
		_, goals, err := s.AccountGoals(context.Background(), key, models.Today(), false)
		if err != nil {
			t.Fatal(err)
		}
		set := 0
		for _, g := range goals {
			if strings.HasPrefix(g.Title, "Usage ") {
				set++
				if g.Target != 0.7 {
					t.Fatalf("%s: target %v", g.Title, g.Target)
				}
			}
		}
		if set != 2 {
			t.Fatalf("%d goals set", set)
		}
	})
}
