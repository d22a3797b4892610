package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

// healthDay is a Sunday: the window 2025-05-03 (Saturday) … 2025-06-01 holds 20 weekdays.
var healthDay = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// at is a moment k days before healthDay, at hh:mm UTC.
func at(k, hh, mm int) time.Time {
	return healthDay.AddDate(0, 0, -k).Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

type msg map[string]any

func (m msg) at(t time.Time) msg { m["timestamp"] = t.Format(time.RFC3339); return m }

func trackMsg(id, user, event string, t time.Time, props msg, context msg) msg {
	m := msg{"type": "track", "messageId": id, "userId": user, "event": event}
	if props != nil {
		m["properties"] = props
	}
	if context != nil {
		m["context"] = context
	}
	return m.at(t)
}

func batchOf(msgs ...msg) string {
	b, err := json.Marshal(map[string]any{"batch": msgs})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// seedHealth sends the hand-designed usage of TestAPIHealth through /v1/batch and the
// catalog, accounts and entitlements through /api/v1.
func seedHealth(t *testing.T, app *testApp, admin string) {
	t.Helper()
	key, _ := app.writeKey()
	devA, devB, devC := msg{"device": msg{"id": "dev-a"}}, msg{"device": msg{"id": "dev-b"}}, msg{"device": msg{"id": "dev-c"}}
	login := func(id, user string, t time.Time, ctx msg) msg { return trackMsg(id, user, "Signed In", t, nil, ctx) }
	ended := func(id, user string, t time.Time, secs float64, ctx msg) msg {
		return trackMsg(id, user, "Session Ended", t, msg{"duration_seconds": secs}, ctx)
	}
	meter := func(id, user string, t time.Time, m string, q float64) msg {
		return trackMsg(id, user, "Usage Reported", t, msg{"meter": m, "quantity": q}, nil)
	}
	// Bob's usage arrives before his group call; dave's before his move away.
	first := batchOf(
		login("b1", "bob", at(2, 9, 30), devB),
		trackMsg("b2", "bob", "Dashboard Viewed", at(2, 9, 40), nil, devB),
		ended("b3", "bob", at(2, 9, 50), 400, devB),
		meter("b4", "bob", at(2, 9, 45), "api_calls", 70),
		login("d1", "dave", at(2, 11, 0), nil),
		msg{"type": "group", "messageId": "dg1", "userId": "dave", "groupId": "acme"}.at(at(10, 8, 0)),
	)
	app.send("/v1/batch", key, first).expect(http.StatusOK)
	alice := batchOf(
		msg{"type": "identify", "messageId": "ai", "userId": "alice", "traits": msg{"department": "Sales", "level": "executive"}}.at(at(60, 8, 0)),
		msg{"type": "group", "messageId": "ag", "userId": "alice", "groupId": "acme"}.at(at(60, 8, 0)),
		login("a1", "alice", at(3, 9, 0), nil),
		login("a2", "alice", at(2, 9, 10), devA),
		trackMsg("a3", "alice", "Report Run", at(2, 9, 20), nil, devA),
		ended("a4", "alice", at(2, 9, 50), 600, devA),
		login("a5", "alice", at(1, 22, 0), nil), // Saturday
		login("a6", "alice", at(31, 9, 0), nil), // before the window
		ended("a7", "alice", at(31, 9, 30), 900, nil),
		meter("a8", "alice", at(35, 10, 0), "api_calls", 60),   // in the term, before the window
		meter("a9", "alice", at(45, 10, 0), "api_calls", 1000), // before the term
	)
	app.send("/v1/batch", key, alice).expect(http.StatusOK)
	app.send("/v1/batch", key, alice).expect(http.StatusOK) // a retry counts nothing twice
	app.send("/v1/batch", key, batchOf(login("a2", "alice", at(2, 9, 10), devA))).expect(http.StatusOK)
	rest := batchOf(
		msg{"type": "identify", "messageId": "bi", "userId": "bob", "traits": msg{"department": "Ops", "level": "Manager"}}.at(at(1, 8, 0)),
		msg{"type": "group", "messageId": "bg", "userId": "bob", "groupId": "acme"}.at(at(1, 8, 0)), // late group call
		msg{"type": "identify", "messageId": "ci", "userId": "carol", "traits": msg{"department": "Sales", "level": "individual"}}.at(at(20, 8, 0)),
		msg{"type": "group", "messageId": "cg1", "userId": "carol", "groupId": "globex"}.at(at(20, 8, 0)),
		msg{"type": "group", "messageId": "cg2", "userId": "carol", "groupId": "acme"}.at(at(5, 8, 0)), // moves to acme
		login("c1", "carol", at(9, 14, 0), nil),
		trackMsg("c2", "carol", "Report Run", at(9, 14, 10), nil, nil),
		ended("c3", "carol", at(9, 14, 30), 500, nil),
		meter("c4", "carol", at(5, 10, 0), "tickets", 4),
		trackMsg("c5", "carol", "Opened", at(35, 10, 0), nil, devC),                                     // device before the window
		msg{"type": "group", "messageId": "dg2", "userId": "dave", "groupId": "globex"}.at(at(3, 8, 0)), // dave moves away
		msg{"type": "identify", "messageId": "ei", "userId": "erin", "traits": msg{"level": "intern"}}.at(at(20, 8, 0)),
		trackMsg("e1", "erin", "Search", at(4, 10, 0), nil, msg{"groupId": "acme"}),
		msg{"type": "page", "messageId": "e2", "userId": "erin", "name": "Home"}.at(at(0, 0, 30)),
		meter("e3", "erin", at(12, 10, 0), "tickets", 3), // before the outcome term
	)
	app.send("/v1/batch", key, rest).expect(http.StatusOK)

	for key, f := range map[string]string{
		"reports":    `{"name":"Reports","product":"core","event_names":["Report Run"]}`,
		"dashboards": `{"name":"Dashboards","product":"core","event_names":["Dashboard Viewed"]}`,
		"alerts":     `{"name":"Alerts","product":"core","event_names":["Alert Created"]}`,
	} {
		app.api(http.MethodPut, "/api/v1/features/"+key, admin, body(f)).expect(http.StatusCreated)
	}
	app.api(http.MethodPut, "/api/v1/accounts/acme", admin, body(`{"name":"Acme"}`)).expect(http.StatusCreated)
	app.api(http.MethodPut, "/api/v1/accounts/globex", admin, body(`{"name":"Globex"}`)).expect(http.StatusCreated)
	day := func(k int) string { return healthDay.AddDate(0, 0, -k).Format("2006-01-02") }
	for ekey, e := range map[string]string{
		"seats":    `{"product":"core","model":"user","quantity":4,"unit_price":100,"starts_on":"` + day(365) + `"}`,
		"old":      `{"product":"core","model":"subscription","quantity":10,"starts_on":"` + day(400) + `","ends_on":"` + day(31) + `"}`,
		"future":   `{"product":"core","model":"user","quantity":10,"starts_on":"` + day(-1) + `"}`,
		"conc":     `{"product":"core","model":"concurrent","quantity":1,"unit_price":30}`,
		"devices":  `{"product":"core","features":["alerts"],"model":"device","quantity":3}`,
		"api":      `{"product":"core","model":"metered","unit":"api_calls","quantity":100,"unit_price":2,"starts_on":"` + day(40) + `"}`,
		"outcomes": `{"product":"core","model":"outcome","unit":"tickets","quantity":10,"starts_on":"` + day(10) + `"}`,
		"legacy":   `{"product":"legacy","model":"perpetual","quantity":5}`,
	} {
		app.api(http.MethodPut, "/api/v1/accounts/acme/entitlements/"+ekey, admin, body(e)).expect(http.StatusCreated)
	}
}

func num(t *testing.T, doc map[string]any, path string) any {
	t.Helper()
	var cur any = doc
	for _, p := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				t.Fatalf("%s: no key %q in %v", path, p, c)
			}
			cur = v
		case []any:
			var i int
			fmt.Sscan(p, &i)
			if i >= len(c) {
				t.Fatalf("%s: index %d of %d", path, i, len(c))
			}
			cur = c[i]
		default:
			t.Fatalf("%s: cannot descend into %v", path, cur)
		}
	}
	return cur
}

func expectNumbers(t *testing.T, doc map[string]any, want map[string]any) {
	t.Helper()
	for path, w := range want {
		got := num(t, doc, path)
		switch w := w.(type) {
		case nil:
			if got != nil {
				t.Errorf("%s = %v, want null", path, got)
			}
		case string:
			if got != w {
				t.Errorf("%s = %v, want %q", path, got, w)
			}
		case float64:
			g, ok := got.(float64)
			if !ok || math.Abs(g-w) > 1e-9 {
				t.Errorf("%s = %v, want %v", path, got, w)
			}
		default:
			t.Fatalf("bad want %T", w)
		}
	}
}

func getHealth(t *testing.T, app *testApp, token, path string) map[string]any {
	t.Helper()
	r := app.api(http.MethodGet, path, token, nil).expect(http.StatusOK)
	var doc map[string]any
	if err := json.Unmarshal(r.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestAPIHealth(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin, csm := app.token(models.RoleAdmin), app.token(models.RoleCSM)
		seedHealth(t, app, admin)
		doc := getHealth(t, app, csm, "/api/v1/accounts/acme/health?as_of=2025-06-01")

		// Worked by hand (D = Sunday 2025-06-01, W = 05-03 … 06-01, 20 weekdays):
		// members of acme: alice, bob (late group call), carol (moved in), erin
		// (context.groupId); dave moved to globex. Seats: seats 4 ("old" ended D-31,
		// "future" starts D+1).
		// Weekday login users: Fri D-2 {alice, bob}, Thu D-3 {alice}, Fri D-9 {carol}
		// = 4 / 20 weekdays / 4 seats = 0.05 (alice's Saturday login and D-31 do not count).
		// Logins in W: alice 3 (D-3, D-2 resent twice, D-1), bob 1, carol 1 = 5;
		// Session Ended 600 + 400 + 500 = 1500 → 300 s a login.
		// Active: alice, bob, carol, erin = 4 → seat_activation 1.
		// Daily actives D-12 (erin's Usage Reported), D-9, D-5, D-4, D-3, D-2 (2), D-1,
		// D = 9 → 9/30/4 = 0.075.
		// Entitled (core, every feature): alerts, dashboards, reports; used: dashboards
		// (bob), reports (alice, carol) → breadth 2/3.
		want := map[string]any{
			"account": "acme", "as_of": "2025-06-01", "window_days": 30.0,
			"licensed_seats": 4.0, "daily_usage_rate": 0.05, "avg_seconds_per_login": 300.0,
			"active_users": 4.0, "seat_activation": 1.0, "stickiness": 0.075, "breadth": 2.0 / 3,
			"departments_active": 2.0, // Sales, Ops (erin has none)
			"exposure.executive": 1.0, "exposure.manager": 1.0, "exposure.individual": 1.0, "exposure.unknown": 1.0,
			"feature_adoption.0.feature": "alerts", "feature_adoption.0.users": 0.0, "feature_adoption.0.rate": 0.0,
			"feature_adoption.1.feature": "dashboards", "feature_adoption.1.users": 1.0, "feature_adoption.1.rate": 0.25,
			"feature_adoption.2.feature": "reports", "feature_adoption.2.users": 2.0, "feature_adoption.2.rate": 0.5,
			// api: 60 (D-35, in the term) + 70 = 130 of 100 → 1.3, 30 over × 2 = 60.
			"entitlements.0.key": "api", "entitlements.0.model": "metered", "entitlements.0.quantity": 100.0,
			"entitlements.0.consumed": 130.0, "entitlements.0.utilization": 1.3, "entitlements.0.status": "overused", "entitlements.0.leakage": 60.0,
			// conc: alice and bob both active in hour 9 of D-2 → 2 of 1, 1 over × 30.
			"entitlements.1.key": "conc", "entitlements.1.consumed": 2.0, "entitlements.1.utilization": 2.0, "entitlements.1.status": "overused", "entitlements.1.leakage": 30.0,
			// devices: dev-a, dev-b in W (dev-c at D-35 is not) → 2 of 3.
			"entitlements.2.key": "devices", "entitlements.2.consumed": 2.0, "entitlements.2.utilization": 2.0 / 3, "entitlements.2.status": "healthy", "entitlements.2.leakage": 0.0,
			// legacy: a product without catalog features → active_users 4 of 5.
			"entitlements.3.key": "legacy", "entitlements.3.consumed": 4.0, "entitlements.3.utilization": 0.8, "entitlements.3.status": "healthy",
			// outcomes: carol's 4 tickets (erin's 3 predate the term) of 10.
			"entitlements.4.key": "outcomes", "entitlements.4.consumed": 4.0, "entitlements.4.utilization": 0.4, "entitlements.4.status": "underused",
			// seats: users of a core feature in W: alice, bob, carol → 3 of 4.
			"entitlements.5.key": "seats", "entitlements.5.model": "user", "entitlements.5.consumed": 3.0, "entitlements.5.utilization": 0.75, "entitlements.5.status": "healthy",
			// Score: (30 × 0.05/0.7×100 + 20 × 100 + 20 × (2/3)/0.8×100 + 15 × 0.075/0.4×100 + 15 × 100) / 100 = 56.62.
			"health.score":          (30*(0.05/0.7*100) + 20*100 + 20*(2.0/3/0.8*100) + 15*(0.075/0.4*100) + 15*100) / 100,
			"health.color":          "yellow",
			"health.measures.0.key": "daily_usage_rate", "health.measures.0.value": 0.05, "health.measures.0.target": 0.7,
			"health.measures.0.score": 0.05 / 0.7 * 100, "health.measures.0.weight": 30.0,
			"health.measures.1.key": "seat_activation", "health.measures.1.score": 100.0,
			"health.measures.4.key": "executive_exposure", "health.measures.4.value": 1.0, "health.measures.4.score": 100.0, "health.measures.4.weight": 15.0,
			"health.measures.4.contribution": 15.0,
		}
		expectNumbers(t, doc, want)
		if n := len(num(t, doc, "entitlements").([]any)); n != 6 {
			t.Errorf("%d entitlement positions, want 6 (old and future are not active)", n)
		}
		if n := len(num(t, doc, "explanation").([]any)); n != 2 {
			t.Errorf("%d explanations, want 7 and 30 days", n)
		}

		// Dave counts for globex now; globex has no seats: the rates are null.
		g := getHealth(t, app, csm, "/api/v1/accounts/globex/health?as_of=2025-06-01")
		expectNumbers(t, g, map[string]any{"active_users": 1.0, "licensed_seats": 0.0, "daily_usage_rate": nil,
			"seat_activation": nil, "breadth": nil, "avg_seconds_per_login": 0.0, // one login, no session end "stickiness": 1.0 / 30,
			"health.measures.0.value": nil, "health.measures.0.score": nil})

		// Errors.
		app.api(http.MethodGet, "/api/v1/accounts/nobody/health", csm, nil).expect(http.StatusNotFound)
		app.api(http.MethodGet, "/api/v1/accounts/acme/health?as_of=2025-13-01", csm, nil).expect(http.StatusBadRequest)
		app.api(http.MethodGet, "/api/v1/accounts/acme/health", "", nil).expect(http.StatusUnauthorized)
		app.api(http.MethodGet, "/api/v1/accounts/acme/health", csm, nil).expect(http.StatusOK) // today: defaults

		// An earlier day: D-31's window is 04-02 … 05-01: alice's D-31 login and
		// session (900 s) and meters, carol's D-35 event; "old" ends that day (10 seats more).
		early := getHealth(t, app, csm, "/api/v1/accounts/acme/health?as_of=2025-05-01")
		expectNumbers(t, early, map[string]any{"licensed_seats": 14.0, "avg_seconds_per_login": 900.0, "active_users": 2.0})

		// The scorecard is read on every request: a change shows on the next one.
		c := app.loggedIn(models.RoleAdmin)
		form := url.Values{"_csrf": {c.csrf("/settings/scorecard")}, "green_at": {"50"}, "yellow_at": {"30"}, "underused_below": {"0.5"},
			"login_events": {"Signed In"}, "session_events": {"Session Ended"}}
		for _, k := range []string{"daily_usage_rate", "seat_activation", "breadth", "stickiness", "executive_exposure"} {
			form.Set("target."+k, fmt.Sprint(map[string]float64{"daily_usage_rate": 0.7, "seat_activation": 0.9, "breadth": 0.5, "stickiness": 0.4, "executive_exposure": 1}[k]))
			form.Set("weight."+k, fmt.Sprint(map[string]float64{"daily_usage_rate": 30, "seat_activation": 20, "breadth": 20, "stickiness": 15, "executive_exposure": 15}[k]))
		}
		c.post("/settings/scorecard", form, "HX-Request", "true").expect(http.StatusOK)
		doc = getHealth(t, app, csm, "/api/v1/accounts/acme/health?as_of=2025-06-01")
		expectNumbers(t, doc, map[string]any{
			"health.score": (30*(0.05/0.7*100) + 20*100 + 20*100 + 15*(0.075/0.4*100) + 15*100) / 100, // breadth now scores 100
			"health.color": "green", "health.measures.2.target": 0.5,
		})

		// Snapshots for the day before and the day: every account, each day.
		ctx := context.Background()
		d := models.DateOf(healthDay)
		n, err := s.SnapshotHealth(ctx, d.AddDays(-1), d)
		if err != nil || n != 4 {
			t.Fatalf("snapshots: %d, %v", n, err)
		}
		acme, _ := s.AccountByKey(ctx, "acme")
		hist, err := s.HealthHistory(ctx, acme.ID, d.AddDays(-89), d)
		if err != nil || len(hist) != 2 || hist[1].Day != d {
			t.Fatalf("history %+v %v", hist, err)
		}
		if got, want := *hist[1].Score, num(t, doc, "health.score").(float64); math.Abs(got-want) > 1e-9 || hist[1].Color != "green" {
			t.Errorf("snapshot score %v %s, API %v", got, hist[1].Color, want)
		}
		stored, err := hist[1].Result()
		if err != nil || stored.ActiveUsers != 4 || *stored.DailyUsageRate != 0.05 {
			t.Errorf("stored metrics %+v %v", stored, err)
		}
		// Recomputing replaces rather than duplicates.
		if n, err := s.SnapshotHealth(ctx, d, d); err != nil || n != 2 {
			t.Fatalf("re-snapshot: %d, %v", n, err)
		}
		latest, err := s.LatestHealthSnapshots(ctx, []int64{acme.ID})
		if err != nil || latest[acme.ID].Day != d || latest[acme.ID].Score == nil {
			t.Fatalf("latest %+v %v", latest, err)
		}
		view, err := s.AccountHealthView(ctx, "acme", d)
		if err != nil || len(view.Trend) != 90 || len(view.History) != 2 || view.Trend[89].Day != "2025-06-01" {
			t.Fatalf("view: %v", err)
		}
		if r := view.Trend[89].DailyUsageRate; r == nil || *r != 0.05 {
			t.Errorf("trend ends at %v, want 0.05", r)
		}
	})
}

func TestScorecardSettings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		c := app.loggedIn(models.RoleAdmin)
		doc := c.get("/settings/scorecard").expect(http.StatusOK).doc()
		if v, _ := doc.Find(`input[name="target.daily_usage_rate"]`).Attr("value"); v != "0.7" {
			t.Errorf("default target shown as %q", v)
		}
		tok := c.csrf("/settings/scorecard")
		form := url.Values{"_csrf": {tok}, "green_at": {"30"}, "yellow_at": {"40"}, "underused_below": {"x"},
			"login_events": {" \n "}, "session_events": {"Session Ended"}}
		for _, k := range []string{"daily_usage_rate", "seat_activation", "breadth", "stickiness", "executive_exposure"} {
			form.Set("target."+k, "0.5")
			form.Set("weight."+k, "10")
		}
		form.Set("target.breadth", "2")
		r := c.post("/settings/scorecard", form, "HX-Request", "true").expect(http.StatusUnprocessableEntity)
		d := r.doc()
		for _, id := range []string{"target-breadth-error", "yellow_at-error", "underused_below-error", "login_events-error"} {
			if d.Find(`[data-testid="`+id+`"]`).Length() != 1 {
				t.Errorf("no message %s in %s", id, r.Body.String())
			}
		}
		if v, _ := d.Find(`input[name="underused_below"]`).Attr("value"); v != "x" {
			t.Errorf("refused value not shown back: %q", v)
		}
		if cfg, _ := s.Scorecard(context.Background()); cfg.GreenAt != 70 {
			t.Errorf("a refused form was saved: %+v", cfg)
		}
		form.Set("target.breadth", "0.9")
		form.Set("yellow_at", "20")
		form.Set("underused_below", "0.25")
		form.Set("login_events", "Signed In\nLogged In\n")
		c.post("/settings/scorecard", form, "HX-Request", "true").expect(http.StatusOK)
		cfg, err := s.Scorecard(context.Background())
		if err != nil || cfg.GreenAt != 30 || cfg.UnderusedBelow != 0.25 || cfg.Measures["breadth"].Target != 0.9 ||
			strings.Join(cfg.LoginEvents, ",") != "Signed In,Logged In" {
			t.Errorf("saved %+v %v", cfg, err)
		}
		// Without CSRF token: refused.
		c.post("/settings/scorecard", url.Values{"green_at": {"1"}}).expect(http.StatusBadRequest)
		// Not for non-admins.
		app.loggedIn(models.RoleManager).get("/settings/scorecard").expect(http.StatusForbidden)
	})
}
