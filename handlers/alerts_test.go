package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

// alertsWorld gives "acme" (CSM csm@test.example) 6 users on 4 seats and "globex"
// (no CSM) a renewal in 30 days with no usage, then evaluates: one consumption alert
// owned by the CSM, and a renewal-risk alert nobody owns.
func alertsWorld(t *testing.T, app *testApp) (consumption, renewal models.Alert) {
	t.Helper()
	s, ctx := app.store, context.Background()
	today := models.Today()
	seedAccounts(t, s, models.Account{Key: "acme", Name: "Acme", ARR: 50000, CSMEmail: "csm@test.example", LifecycleStage: "adoption"},
		models.Account{Key: "globex", Name: "Globex", ARR: 90000, LifecycleStage: "renewal", RenewalOn: today.AddDays(30)})
	if _, err := s.UpsertEntitlement(ctx, "acme", &models.Entitlement{Key: "seats", Product: "core", Model: "user", Quantity: 4,
		UnitPrice: 415, StartsOn: today.AddDays(-60)}); err != nil {
		t.Fatal(err)
	}
	key, _ := app.writeKey()
	ts := time.Now().UTC().Add(-time.Minute)
	var msgs []msg
	for i := 1; i <= 6; i++ {
		u := fmt.Sprintf("u%d", i)
		msgs = append(msgs, msg{"type": "group", "userId": u, "groupId": "acme"}.at(ts), trackMsg("t"+u, u, "Signed In", ts, nil, nil))
	}
	app.send("/v1/batch", key, batchOf(msgs...)).expect(http.StatusOK)
	if _, err := s.EvaluateAlerts(ctx, today); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListAlerts(ctx, models.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		switch a.Kind {
		case "consumption":
			consumption = a
		case "renewal_risk":
			if a.AccountKey == "globex" {
				renewal = a
			}
		}
	}
	if consumption.ID == 0 || renewal.ID == 0 {
		t.Fatalf("alerts %+v", list)
	}
	return consumption, renewal
}

type alertBody = models.AlertJSON

func decodeAlert(t *testing.T, r response) alertBody {
	t.Helper()
	var a alertBody
	if err := json.Unmarshal(r.Body.Bytes(), &a); err != nil {
		t.Fatalf("%v: %s", err, r.Body.String())
	}
	return a
}

func TestAlertsAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		cons, ren := alertsWorld(t, app)
		pm, csm, manager := app.token(models.RolePM), app.token(models.RoleCSM), app.token(models.RoleManager)
		app.member(models.RoleCSM) // csm@test.example, the CSM of acme

		// Every role reads; the list defaults to open alerts, newest first.
		r := app.api(http.MethodGet, "/api/v1/alerts", pm, nil).expect(http.StatusOK)
		var list struct {
			Alerts     []alertBody `json:"alerts"`
			NextCursor string      `json:"next_cursor"`
		}
		json.Unmarshal(r.Body.Bytes(), &list)
		if len(list.Alerts) < 2 || list.NextCursor != "" {
			t.Fatalf("list %s", r.Body.String())
		}
		got := decodeAlert(t, app.api(http.MethodGet, "/api/v1/alerts/"+strconv.FormatInt(cons.ID, 10), pm, nil).expect(http.StatusOK))
		if got.Account != "acme" || got.Kind != "consumption" || got.Subject != "seats" || got.Threshold == nil || *got.Threshold != 1.2 ||
			got.Severity != "critical" || got.State != "open" || got.Owner == nil || *got.Owner != "csm@test.example" ||
			got.Message != "seats: 6 of 4 seats in use (150%), $830 not billed" || got.SnoozedUntil != nil || got.Resolution != nil {
			t.Fatalf("alert %+v", got)
		}
		var raw map[string]any
		json.Unmarshal(app.api(http.MethodGet, "/api/v1/alerts/"+strconv.FormatInt(ren.ID, 10), pm, nil).Body.Bytes(), &raw)
		for _, k := range []string{"id", "account", "kind", "subject", "threshold", "severity", "state", "message", "owner", "opened_at", "updated_at", "snoozed_until", "resolved_at", "resolution", "note"} {
			if _, ok := raw[k]; !ok {
				t.Fatalf("alert JSON lacks %q: %v", k, raw)
			}
		}
		if raw["owner"] != nil || raw["threshold"] != nil || raw["subject"] != "" {
			t.Fatalf("renewal alert %v", raw)
		}
		// Filters, comma-separated.
		r = app.api(http.MethodGet, "/api/v1/alerts?kind=consumption,underuse&account=acme", pm, nil).expect(http.StatusOK)
		json.Unmarshal(r.Body.Bytes(), &list)
		if len(list.Alerts) != 1 || list.Alerts[0].ID != cons.ID {
			t.Fatalf("filtered %s", r.Body.String())
		}
		r = app.api(http.MethodGet, "/api/v1/alerts?owner=none&state=open,snoozed", pm, nil).expect(http.StatusOK)
		json.Unmarshal(r.Body.Bytes(), &list)
		for _, a := range list.Alerts {
			if a.Owner != nil {
				t.Fatalf("owner=none gave %+v", a)
			}
		}
		app.api(http.MethodGet, "/api/v1/alerts?state=closed", pm, nil).expect(http.StatusUnprocessableEntity)
		// Paging.
		r = app.api(http.MethodGet, "/api/v1/alerts?limit=1", pm, nil).expect(http.StatusOK)
		json.Unmarshal(r.Body.Bytes(), &list)
		if len(list.Alerts) != 1 || list.NextCursor == "" {
			t.Fatalf("page 1 %s", r.Body.String())
		}
		first := list.Alerts[0].ID
		r = app.api(http.MethodGet, "/api/v1/alerts?limit=1&cursor="+list.NextCursor, pm, nil).expect(http.StatusOK)
		json.Unmarshal(r.Body.Bytes(), &list)
		if len(list.Alerts) != 1 || list.Alerts[0].ID == first {
			t.Fatalf("page 2 %s", r.Body.String())
		}

		patch := func(tok string, id int64, body string) response {
			return app.api(http.MethodPatch, "/api/v1/alerts/"+strconv.FormatInt(id, 10), tok, strings.NewReader(body))
		}
		// pm reads only.
		patch(pm, cons.ID, `{"state":"snoozed","snoozed_until":"2099-01-01"}`).expect(http.StatusForbidden)
		// Snoozing needs a date after today.
		r = patch(csm, cons.ID, `{"state":"snoozed","snoozed_until":"`+models.Today().String()+`"}`).expect(http.StatusUnprocessableEntity)
		if !strings.Contains(r.Body.String(), "snoozed_until") {
			t.Fatalf("422 body %s", r.Body.String())
		}
		until := models.Today().AddDays(3).String()
		a := decodeAlert(t, patch(csm, cons.ID, `{"state":"snoozed","snoozed_until":"`+until+`","note":"after the QBR"}`).expect(http.StatusOK))
		if a.State != "snoozed" || a.SnoozedUntil == nil || a.SnoozedUntil.String() != until || a.Note != "after the QBR" {
			t.Fatalf("snoozed %+v", a)
		}
		a = decodeAlert(t, patch(csm, cons.ID, `{"state":"resolved","resolution":"acted","note":"sold 2 seats"}`).expect(http.StatusOK))
		if a.State != "resolved" || *a.Resolution != "acted" || a.ResolvedAt == nil || a.SnoozedUntil != nil {
			t.Fatalf("resolved %+v", a)
		}
		patch(csm, cons.ID, `{"state":"resolved","resolution":"cleared"}`).expect(http.StatusUnprocessableEntity)
		a = decodeAlert(t, patch(csm, cons.ID, `{"state":"open"}`).expect(http.StatusOK))
		if a.State != "open" || a.Resolution != nil {
			t.Fatalf("reopened %+v", a)
		}
		// Owners: a csm (token: nobody in particular) may not give alerts away; managers may.
		patch(csm, ren.ID, `{"owner":"csm@test.example"}`).expect(http.StatusForbidden)
		patch(manager, ren.ID, `{"owner":"nobody@else.example"}`).expect(http.StatusUnprocessableEntity)
		a = decodeAlert(t, patch(manager, ren.ID, `{"owner":"csm@test.example"}`).expect(http.StatusOK))
		if a.Owner == nil || *a.Owner != "csm@test.example" {
			t.Fatalf("assigned %+v", a)
		}
		a = decodeAlert(t, patch(manager, ren.ID, `{"owner":null}`).expect(http.StatusOK))
		if a.Owner != nil {
			t.Fatalf("unassigned %+v", a)
		}
		patch(csm, cons.ID, `{"state":"open","bogus":1}`).expect(http.StatusBadRequest)
		patch(csm, 999999, `{"state":"open"}`).expect(http.StatusNotFound)
		// Every change is in the history, with who made it.
		hist, err := s.AlertHistory(context.Background(), cons.ID)
		if err != nil || len(hist) != 4 || hist[0].Kind != "reopened" || hist[1].Note != "sold 2 seats" || !strings.HasPrefix(hist[1].ActorName, "API token") {
			t.Fatalf("history %+v %v", hist, err)
		}
	})
}

func TestWebhooksAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin := app.token(models.RoleAdmin)
		put := func(body string) response {
			return app.api(http.MethodPut, "/api/v1/webhooks/ops", admin, strings.NewReader(body))
		}
		r := put(`{"url":"https://hooks.example.com/a","events":["alert.opened","alert.resolved"],"format":"standard"}`).expect(http.StatusCreated)
		var w map[string]any
		json.Unmarshal(r.Body.Bytes(), &w)
		if sec, _ := w["secret"].(string); !strings.HasPrefix(sec, "whsec_") || w["key"] != "ops" || w["format"] != "standard" {
			t.Fatalf("created %s", r.Body.String())
		}
		r = put(`{"url":"https://hooks.example.com/b","events":["alert.reopened"],"format":"slack"}`).expect(http.StatusOK)
		if strings.Contains(r.Body.String(), "secret") || !strings.Contains(r.Body.String(), `"url":"https://hooks.example.com/b"`) {
			t.Fatalf("replaced %s", r.Body.String())
		}
		r = put(`{"url":"ftp://x","events":["alert.closed"],"format":"xml"}`).expect(http.StatusUnprocessableEntity)
		for _, f := range []string{"url", "events[0]", "format"} {
			if !strings.Contains(r.Body.String(), `"field":"`+f+`"`) {
				t.Fatalf("422 lacks %s: %s", f, r.Body.String())
			}
		}
		r = app.api(http.MethodGet, "/api/v1/webhooks", admin, nil).expect(http.StatusOK)
		if !strings.Contains(r.Body.String(), `"webhooks":[{"key":"ops"`) || strings.Contains(r.Body.String(), "whsec_") {
			t.Fatalf("list %s", r.Body.String())
		}
		app.api(http.MethodGet, "/api/v1/webhooks/ops", admin, nil).expect(http.StatusOK)
		app.api(http.MethodGet, "/api/v1/webhooks/ops", app.token(models.RoleManager), nil).expect(http.StatusForbidden)
		app.api(http.MethodDelete, "/api/v1/webhooks/ops", admin, nil).expect(http.StatusNoContent)
		app.api(http.MethodGet, "/api/v1/webhooks/ops", admin, nil).expect(http.StatusNotFound)
	})
}

// TestInboxActions: the inbox lists the viewer's alerts first; an action through htmx
// answers the changed row, or nothing when the alert leaves the list, with the
// navigation's count out of band.
func TestInboxActions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		cons, ren := alertsWorld(t, app)
		csm := app.loggedIn(models.RoleCSM) // csm@test.example
		doc := csm.get("/alerts").expect(http.StatusOK).doc()
		if n := doc.Find("[data-testid=mine] [data-testid=alert]").Length(); n != 1 {
			t.Fatalf("%d alerts of mine", n)
		}
		if n := doc.Find("[data-testid=team] [data-testid=alert]").Length(); n < 1 {
			t.Fatalf("%d team alerts", n)
		}
		if got := strings.TrimSpace(doc.Find("[data-testid=nav-alert-count]").Text()); !strings.Contains(got, "1") {
			t.Fatalf("nav count %q", got)
		}
		tok := csm.csrf("/alerts")
		id := strconv.FormatInt(cons.ID, 10)
		until := models.Today().AddDays(7).String()
		r := csm.post("/alerts/"+id+"/snooze", url.Values{"_csrf": {tok}, "snoozed_until": {until}, "note": {"after the QBR"}, "context": {"open"}},
			"HX-Request", "true").expect(http.StatusOK)
		body := r.Body.String()
		if strings.Contains(body, `id="alert-`+id+`"`) || !strings.Contains(body, `hx-swap-oob="true"`) || !strings.Contains(r.Header().Get("HX-Trigger"), "Snoozed until") {
			t.Fatalf("snooze reply %s %v", body, r.Header())
		}
		if a, _ := s.AlertByID(context.Background(), cons.ID); a.State != "snoozed" || a.SnoozedUntil.String() != until {
			t.Fatalf("after snoozing %+v", a)
		}
		// A bad date comes back in the row, which stays.
		r = csm.post("/alerts/"+strconv.FormatInt(ren.ID, 10)+"/snooze", url.Values{"_csrf": {tok}, "snoozed_until": {"2001-01-01"}, "context": {"open"}},
			"HX-Request", "true").expect(http.StatusOK)
		if !strings.Contains(r.Body.String(), `id="alert-`+strconv.FormatInt(ren.ID, 10)+`"`) || !strings.Contains(r.Body.String(), "must be after today") {
			t.Fatalf("refused snooze %s", r.Body.String())
		}
		// Taking the team's alert keeps it in the list, now the viewer's.
		r = csm.post("/alerts/"+strconv.FormatInt(ren.ID, 10)+"/take", url.Values{"_csrf": {tok}, "context": {"open"}}, "HX-Request", "true").expect(http.StatusOK)
		if !strings.Contains(r.Body.String(), "owner you") {
			t.Fatalf("taken %s", r.Body.String())
		}
		// A csm may not assign; the route says so.
		csm.post("/alerts/"+strconv.FormatInt(ren.ID, 10)+"/assign", url.Values{"_csrf": {tok}, "owner": {"x@y.z"}}).expect(http.StatusForbidden)
		// The account page shows its alerts at the top.
		page := csm.get("/accounts/globex").expect(http.StatusOK).doc()
		if page.Find("[data-testid=account-alerts] [data-testid=alert]").Length() != 1 {
			t.Fatal("the account page does not show its alert")
		}
		// Without htmx the action redirects back.
		r = csm.post("/alerts/"+strconv.FormatInt(ren.ID, 10)+"/resolve", url.Values{"_csrf": {tok}, "resolution": {"no_action"}},
			"Referer", "http://sightline.test/alerts?state=open").expect(http.StatusSeeOther)
		if r.Header().Get("Location") != "/alerts?state=open" {
			t.Fatalf("redirect to %q", r.Header().Get("Location"))
		}
		// The history, as the row loads it.
		h := csm.get("/alerts/"+strconv.FormatInt(ren.ID, 10)+"/history", "HX-Request", "true").expect(http.StatusOK)
		if !strings.Contains(h.Body.String(), "resolved") || !strings.Contains(h.Body.String(), "Sightline: opened") {
			t.Fatalf("history %s", h.Body.String())
		}
	})
}

func TestAlertSettingsPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin := app.loggedIn(models.RoleAdmin)
		tok := admin.csrf("/settings/alerts")
		form := url.Values{"_csrf": {tok}, "consumption_enabled": {"on"}, "consumption_thresholds": {"0.9:warning, 1.1:critical"},
			"underuse_min_days": {"45"}, "health_drop_enabled": {"on"}, "health_drop_points": {"10"}, "health_drop_days": {"14"},
			"renewal_risk_enabled": {"on"}, "renewal_risk_days": {"120"}, "gone_dark_quiet_days": {"7"}, "gone_dark_lookback_days": {"30"},
			"executive_lost_days": {"7"}}
		admin.post("/settings/alerts", form).expect(http.StatusOK)
		r, err := s.AlertRules(context.Background())
		if err != nil || r.Underuse.Enabled || !r.Consumption.Enabled || len(r.Consumption.Thresholds) != 2 ||
			r.Consumption.Thresholds[1].At != 1.1 || r.HealthDrop.Days != 14 || r.RenewalRisk.Days != 120 || r.GoneDark.Enabled {
			t.Fatalf("rules %+v %v", r, err)
		}
		form.Set("health_drop_days", "soon")
		form.Set("consumption_thresholds", "1.1:critical, 0.9:loud")
		res := admin.post("/settings/alerts", form).expect(http.StatusUnprocessableEntity)
		if !strings.Contains(res.Body.String(), "whole number of days") || !strings.Contains(res.Body.String(), "severity must be") {
			t.Fatalf("refused rules %s", res.Body.String())
		}
		// Webhooks page: create (secret shown once), list.
		tok = admin.csrf("/settings/webhooks")
		res = admin.post("/settings/webhooks", url.Values{"_csrf": {tok}, "key": {"ops"}, "url": {"https://hooks.example.com/x"},
			"events": {"alert.opened"}, "format": {"slack"}}).expect(http.StatusOK)
		if !strings.Contains(res.Body.String(), "whsec_") {
			t.Fatal("the new webhook's secret is not shown")
		}
		page := admin.get("/settings/webhooks").expect(http.StatusOK)
		if strings.Contains(page.Body.String(), "whsec_") || page.doc().Find("[data-testid=webhook]").Length() != 1 {
			t.Fatal("the webhooks page shows the secret, or not the webhook")
		}
		// Profile: the digest choice, by every role.
		pm := app.loggedIn(models.RolePM)
		ptok := pm.csrf("/profile")
		pm.post("/profile", url.Values{"_csrf": {ptok}, "digest": {"weekly"}}).expect(http.StatusOK)
		pm.post("/profile", url.Values{"_csrf": {ptok}, "digest": {"hourly"}}).expect(http.StatusUnprocessableEntity)
		m, _ := s.TeamMemberByEmail(context.Background(), "pm@test.example")
		if m.Digest != "weekly" {
			t.Fatalf("digest %q", m.Digest)
		}
	})
}
