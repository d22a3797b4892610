package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestAPIRenewals drives SPEC §9's renewal routes: who may write, what comes back, and
// the account's renewal_on following its earliest pending renewal.
func TestAPIRenewals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin, manager, csm, pm := app.token(models.RoleAdmin), app.token(models.RoleManager), app.token(models.RoleCSM), app.token(models.RolePM)
		app.api(http.MethodPut, "/api/v1/accounts/acme", admin, body(`{"name":"Acme","arr":12000,"renewal_on":"2027-06-30"}`)).expect(http.StatusCreated)

		fy27 := `{"due_on":"2027-01-31","arr_before":12000,"outcome":"pending","arr_after":null,"closed_on":null,"note":""}`
		for _, tok := range []string{csm, pm} {
			app.api(http.MethodPut, "/api/v1/accounts/acme/renewals/fy27", tok, body(fy27)).expect(http.StatusForbidden)
		}
		r := app.api(http.MethodPut, "/api/v1/accounts/acme/renewals/fy27", manager, body(fy27)).expect(http.StatusCreated)
		var got map[string]any
		if err := json.Unmarshal(r.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got["account"] != "acme" || got["key"] != "fy27" || got["due_on"] != "2027-01-31" || got["outcome"] != "pending" ||
			got["arr_before"] != 12000.0 || got["arr_after"] != nil || got["closed_on"] != nil {
			t.Errorf("created: %s", r.Body.String())
		}
		acct := app.api(http.MethodGet, "/api/v1/accounts/acme", pm, nil).expect(http.StatusOK).Body.String()
		if !strings.Contains(acct, `"renewal_on":"2027-01-31"`) {
			t.Errorf("renewal_on does not follow the pending renewal: %s", acct)
		}
		// Closed as churned: arr_after defaults to 0.
		r = app.api(http.MethodPut, "/api/v1/accounts/acme/renewals/fy26", admin,
			body(`{"due_on":"2026-01-31","arr_before":10000,"outcome":"churned","closed_on":"2026-01-31","note":"budget cut"}`)).expect(http.StatusCreated)
		if !strings.Contains(r.Body.String(), `"arr_after":0`) {
			t.Errorf("churned: %s", r.Body.String())
		}
		list := app.api(http.MethodGet, "/api/v1/accounts/acme/renewals", csm, nil).expect(http.StatusOK)
		var doc struct {
			Renewals []struct{ Key string } `json:"renewals"`
		}
		if err := json.Unmarshal(list.Body.Bytes(), &doc); err != nil || len(doc.Renewals) != 2 || doc.Renewals[0].Key != "fy27" {
			t.Errorf("list: %s", list.Body.String())
		}
		app.api(http.MethodGet, "/api/v1/accounts/acme/renewals/fy26", pm, nil).expect(http.StatusOK)
		app.api(http.MethodGet, "/api/v1/accounts/acme/renewals/nope", pm, nil).expect(http.StatusNotFound)
		app.api(http.MethodGet, "/api/v1/accounts/ghost/renewals", pm, nil).expect(http.StatusNotFound)
		app.api(http.MethodPut, "/api/v1/accounts/ghost/renewals/x", manager, body(fy27)).expect(http.StatusNotFound)

		// Refusals say what and where.
		bad := app.api(http.MethodPut, "/api/v1/accounts/acme/renewals/x", manager, body(`{"due_on":"31/01/2027","outcome":"won"}`)).expect(http.StatusUnprocessableEntity)
		fields := []string{}
		for _, d := range bad.errorBody().Details {
			fields = append(fields, d.Field)
		}
		if strings.Join(fields, " ") != "due_on outcome" {
			t.Errorf("refusal fields %v: %s", fields, bad.Body.String())
		}
		app.api(http.MethodPut, "/api/v1/accounts/acme/renewals/x", manager, body(`{"due_on":"2027-01-31","won":true}`)).expect(http.StatusBadRequest)
		app.api(http.MethodPut, "/api/v1/accounts/acme/renewals/x", manager, body(`{"key":"y","due_on":"2027-01-31"}`)).expect(http.StatusUnprocessableEntity)

		app.api(http.MethodDelete, "/api/v1/accounts/acme/renewals/fy26", csm, nil).expect(http.StatusForbidden)
		app.api(http.MethodDelete, "/api/v1/accounts/acme/renewals/fy26", manager, nil).expect(http.StatusNoContent)
		app.api(http.MethodDelete, "/api/v1/accounts/acme/renewals/fy26", manager, nil).expect(http.StatusNotFound)
	})
}

// TestAPIRenewalInsightsShape reads the backtest through the API: SPEC §9's fields,
// null AUCs without both outcomes, and a refused lead_days.
func TestAPIRenewalInsightsShape(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin, pm := app.token(models.RoleAdmin), app.token(models.RolePM)
		app.api(http.MethodPut, "/api/v1/accounts/acme", admin, body(`{"name":"Acme","arr":1000}`)).expect(http.StatusCreated)
		app.api(http.MethodPut, "/api/v1/accounts/acme/renewals/fy25", admin,
			body(`{"due_on":"2025-01-31","arr_before":1000,"outcome":"renewed","closed_on":"2025-01-31"}`)).expect(http.StatusCreated)
		r := app.api(http.MethodGet, "/api/v1/insights/renewals?lead_days=60", pm, nil).expect(http.StatusOK)
		var doc map[string]any
		if err := json.Unmarshal(r.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		// acme has no usage at all: its renewal is excluded.
		if doc["lead_days"] != 60.0 || doc["renewals"] != 0.0 || doc["lost"] != 0.0 || doc["excluded"] != 1.0 || doc["auc"] != nil {
			t.Errorf("insights: %s", r.Body.String())
		}
		colors, _ := doc["by_color"].(map[string]any)
		for _, c := range []string{"green", "yellow", "red"} {
			if cc, _ := colors[c].(map[string]any); cc == nil || cc["renewals"] != 0.0 || cc["lost_rate"] != nil {
				t.Errorf("by_color.%s: %v", c, colors[c])
			}
		}
		if ms, _ := doc["measures"].([]any); len(ms) != 5 {
			t.Errorf("measures: %v", doc["measures"])
		}
		if r := app.api(http.MethodGet, "/api/v1/insights/renewals", pm, nil).expect(http.StatusOK); !strings.Contains(r.Body.String(), `"lead_days":90`) {
			t.Errorf("default lead: %s", r.Body.String())
		}
		app.api(http.MethodGet, "/api/v1/insights/renewals?lead_days=soon", pm, nil).expect(http.StatusBadRequest)
		app.api(http.MethodGet, "/api/v1/insights/renewals?lead_days=-5", pm, nil).expect(http.StatusBadRequest)
	})
}

// TestAPIRecommendationsShape: SPEC §9's fields, nulls where a recommendation is about
// a feature rather than an entitlement, and 404 for an unknown account.
func TestAPIRecommendationsShape(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		admin, csm := app.token(models.RoleAdmin), app.token(models.RoleCSM)
		app.api(http.MethodPut, "/api/v1/features/reports", admin, body(`{"name":"Reports","product":"core","event_names":["Report Run"]}`)).expect(http.StatusCreated)
		renews := time.Now().UTC().AddDate(0, 0, 30).Format("2006-01-02")
		app.api(http.MethodPut, "/api/v1/accounts/acme", admin, body(`{"name":"Acme","arr":1000,"renewal_on":"`+renews+`"}`)).expect(http.StatusCreated)
		app.api(http.MethodPut, "/api/v1/accounts/acme/entitlements/core", admin, body(`{"product":"core","model":"subscription","quantity":1}`)).expect(http.StatusCreated)
		r := app.api(http.MethodGet, "/api/v1/accounts/acme/recommendations", csm, nil).expect(http.StatusOK)
		var doc struct {
			Recommendations []map[string]any `json:"recommendations"`
		}
		if err := json.Unmarshal(r.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Recommendations) != 1 {
			t.Fatalf("recommendations: %s", r.Body.String())
		}
		rec := doc.Recommendations[0]
		for _, k := range []string{"kind", "entitlement", "feature", "message", "evidence", "arr_change"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("no %s in %v", k, rec)
			}
		}
		if rec["kind"] != "adopt" || rec["feature"] != "reports" || rec["entitlement"] != nil || rec["arr_change"] != 0.0 {
			t.Errorf("recommendation %v", rec)
		}
		app.api(http.MethodGet, "/api/v1/accounts/ghost/recommendations", csm, nil).expect(http.StatusNotFound)
	})
}
