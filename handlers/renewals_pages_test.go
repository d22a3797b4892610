package handlers_test

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"sightline/demo"
	"sightline/models"
	"sightline/models/dbtest"
)

// TestRenewalOutcomeOnAccountPage records a renewal's outcome from the account page as
// a manager: the panel swaps in place, a refusal keeps what was typed and says where,
// a CSM sees no form and is refused, and /renewals follows.
func TestRenewalOutcomeOnAccountPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
		app := newAppAt(t, s, now)
		admin := app.token(models.RoleAdmin)
		app.api(http.MethodPut, "/api/v1/accounts/acme", admin, body(`{"name":"Acme","arr":12000,"segment":"enterprise"}`)).expect(http.StatusCreated)
		app.api(http.MethodPut, "/api/v1/accounts/acme/renewals/fy27", admin,
			body(`{"due_on":"2027-01-15","arr_before":12000,"outcome":"pending"}`)).expect(http.StatusCreated)

		mgr := app.loggedIn(models.RoleManager)
		page := mgr.get("/accounts/acme").expect(http.StatusOK).doc()
		if page.Find(`[data-testid="renewal"][data-key="fy27"][data-outcome="pending"]`).Length() != 1 ||
			page.Find(`[data-testid="renewal-form-fy27"]`).Length() != 1 {
			t.Fatal("the pending renewal or its outcome form is missing from the account page")
		}
		up := mgr.get("/renewals").expect(http.StatusOK).doc()
		if up.Find(`[data-testid="upcoming-row"][data-account="acme"]`).Length() != 1 || strings.TrimSpace(up.Find(`[data-testid="upcoming-arr"]`).Text()) != "$12,000" {
			t.Fatalf("/renewals before: %q", up.Find(`[data-testid="upcoming-summary"]`).Text())
		}
		tok := mgr.csrf("/accounts/acme")
		hx := []string{"HX-Request", "true"}

		// Contracted to more than before is refused, and nothing changes.
		bad := mgr.post("/accounts/acme/renewals", url.Values{"_csrf": {tok}, "key": {"fy27"}, "outcome": {"contracted"},
			"arr_after": {"20000"}, "closed_on": {"2027-01-10"}, "note": {"typed"}}, hx...).expect(http.StatusUnprocessableEntity).doc()
		if msg := bad.Find(`#renewal-fy27-arr_after-error`).Text(); !strings.Contains(msg, "arr_before") && !strings.Contains(msg, "less") {
			t.Errorf("refusal does not say where: %q", msg)
		}
		if v, _ := bad.Find(`[data-testid="renewal-form-fy27"] [name="arr_after"]`).Attr("value"); v != "20000" {
			t.Errorf("the typed ARR was lost: %q", v)
		}
		if r, _ := s.RenewalByKey(context.Background(), "acme", "fy27"); r.Outcome != models.OutcomePending {
			t.Errorf("a refused form changed the renewal: %+v", r)
		}

		ok := mgr.post("/accounts/acme/renewals", url.Values{"_csrf": {tok}, "key": {"fy27"}, "outcome": {"expanded"},
			"arr_after": {"15000"}, "closed_on": {"2026-12-05"}, "note": {"added 10 seats"}}, hx...).expect(http.StatusOK).doc()
		if ok.Find(`[data-testid="renewal"][data-key="fy27"][data-outcome="expanded"]`).Length() != 1 || ok.Find(`[data-testid="renewal-saved"]`).Length() != 1 {
			t.Errorf("the panel does not show the outcome")
		}
		if h := ok.Find(`[data-key="fy27"] [data-testid="renewal-history"] li`); h.Length() != 2 || !strings.Contains(h.Last().Text(), "expanded") || !strings.Contains(h.Last().Text(), "manager") {
			t.Errorf("history on the page: %q", h.Text())
		}
		r, err := s.RenewalByKey(context.Background(), "acme", "fy27")
		if err != nil || r.Outcome != models.OutcomeExpanded || r.ARRAfter == nil || *r.ARRAfter != 15000 || r.DueOn.String() != "2027-01-15" || r.ARRBefore != 12000 {
			t.Fatalf("stored: %+v %v", r, err)
		}
		_, histories, _ := s.AccountRenewals(context.Background(), r.AccountID)
		if hist := histories[r.ID]; len(hist) != 2 || hist[1].Actor == "" {
			t.Errorf("history: %+v", hist)
		}

		// A new renewal through the add form, without htmx: a redirect back.
		mgr.post("/accounts/acme/renewals", url.Values{"_csrf": {tok}, "key": {"fy28"}, "due_on": {"2028-01-15"}, "arr_before": {"15000"},
			"outcome": {"pending"}}).expect(http.StatusSeeOther)
		if a, _ := s.AccountByKey(context.Background(), "acme"); a.RenewalOn.String() != "2028-01-15" {
			t.Errorf("renewal_on does not follow the new pending renewal: %s", a.RenewalOn)
		}
		// A new renewal missing its due date: the add form comes back open with the error.
		miss := mgr.post("/accounts/acme/renewals", url.Values{"_csrf": {tok}, "key": {"fy29"}, "arr_before": {"x"}, "outcome": {"pending"}},
			hx...).expect(http.StatusUnprocessableEntity).doc()
		if miss.Find(`#renewal--due_on-error`).Text() == "" || miss.Find(`#renewal--arr_before-error`).Text() == "" {
			t.Errorf("missing fields not named: %s", miss.Find(`#renewals`).Text())
		}

		// The pipeline: fy28 is beyond 90 days, so nothing is upcoming; fy27 is a past
		// renewal due in the period (to=2027-01-31), expanded by $3,000: NRR 125 %.
		up = mgr.get("/renewals?to=2027-01-31").expect(http.StatusOK).doc()
		if up.Find(`[data-testid="upcoming-row"]`).Length() != 0 {
			t.Errorf("upcoming after the outcome: %q", up.Find(`[data-testid="upcoming-summary"]`).Text())
		}
		if up.Find(`[data-testid="past-row"][data-account="acme"][data-outcome="expanded"]`).Length() != 1 || up.Find(`[data-testid="nrr"]`).Text() != "125%" {
			t.Errorf("past renewals: nrr %q, %q", up.Find(`[data-testid="nrr"]`).Text(), up.Find(`[data-testid="past-table"]`).Text())
		}
		csv := mgr.get("/renewals/past.csv?to=2027-01-31").expect(http.StatusOK)
		if !strings.HasPrefix(csv.Body.String(), "account,name,renewal,due_on,outcome,arr_before,arr_after,arr_change,closed_on,note\nacme,Acme,fy27,2027-01-15,expanded,12000,15000,3000,2026-12-05,added 10 seats\n") {
			t.Errorf("past.csv: %s", csv.Body.String())
		}
		mgr.get("/renewals/nope.csv").expect(http.StatusNotFound)

		// A CSM reads but does not record.
		csm := app.loggedIn(models.RoleCSM)
		if csm.get("/accounts/acme").expect(http.StatusOK).doc().Find(`[data-testid^="renewal-form"]`).Length() != 0 {
			t.Error("a CSM is offered the renewal form")
		}
		csm.post("/accounts/acme/renewals", url.Values{"_csrf": {csm.csrf("/accounts/acme")}, "key": {"fy28"}, "outcome": {"churned"},
			"closed_on": {"2026-12-06"}}, hx...).expect(http.StatusForbidden)
	})
}

// TestFeaturesModelFit reads the licence model fit on /features over demo data: the
// shifts' totals add up to the CSV's rows, the page lists the biggest, and a cohort
// filter narrows both.
func TestFeaturesModelFit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		today := models.Today()
		app := newAppAt(t, s, time.Now())
		if _, err := demo.Seed(ctx, s, today, demo.Options{Accounts: 40, Days: 20}, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
		pm := app.loggedIn(models.RolePM)
		if pm.get("/features").expect(http.StatusOK).doc().Find(`[data-testid="model-fit-none"]`).Length() != 1 {
			t.Error("before the daily job, the fit is not said to be missing")
		}
		if _, err := s.RefreshRecommendations(ctx, today); err != nil {
			t.Fatal(err)
		}
		for _, seg := range []string{"", "smb"} {
			q := ""
			if seg != "" {
				q = "?segment=" + seg
			}
			doc := pm.get("/features" + q).expect(http.StatusOK).doc()
			rows, err := csv.NewReader(strings.NewReader(pm.get("/features/model-fit.csv" + q).expect(http.StatusOK).Body.String())).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if rows[0][0] != "account" || rows[0][11] != "arr_change" {
				t.Fatalf("header %v", rows[0])
			}
			sum := 0.0
			for _, r := range rows[1:] {
				v, _ := strconv.ParseFloat(r[11], 64)
				sum += v
			}
			shown := 0.0
			doc.Find(`[data-testid="model-shifts"] li`).Each(func(_ int, li *goquery.Selection) {
				shown += parseMoney(t, li.Find(`[data-testid="shift-arr"]`).Text())
			})
			n := doc.Find(`[data-testid="model-fit-row"]`).Length()
			for _, r := range rows[1:] {
				if a, err := s.AccountByKey(ctx, r[0]); err != nil || (seg != "" && a.Segment != seg) {
					t.Errorf("segment %q lists %s (%v)", seg, r[0], err)
				}
			}
			if (seg == "" && len(rows) < 2) || n != min(len(rows)-1, models.ModelFitListed) || math.Abs(shown-sum) > 1 {
				t.Errorf("segment %q: %d rows on the page, %d in the CSV; shifts total %.0f, CSV %.0f", seg, n, len(rows)-1, shown, sum)
			}
		}
	})
}

// parseMoney reads "+$1,200" or "−$300" back.
func parseMoney(t *testing.T, s string) float64 {
	t.Helper()
	s = strings.TrimSpace(s)
	sign := 1.0
	if strings.HasPrefix(s, "−") {
		sign, s = -1, strings.TrimPrefix(s, "−")
	}
	s = strings.NewReplacer("+", "", "$", "", ",", "").Replace(s)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("money %q: %v", s, err)
	}
	return sign * v
}

// TestApplySuggestedWeights: an admin adopts weights from /renewals; the scorecard takes
// them (targets stay), a manager may not, and a bad weight is refused by name.
func TestApplySuggestedWeights(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		ctx := context.Background()
		before, err := s.Scorecard(ctx)
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"daily_usage_rate": {"15"}, "seat_activation": {"60"}, "breadth": {"5"}, "stickiness": {"20"}, "executive_exposure": {"0"}}
		mgr := app.loggedIn(models.RoleManager)
		form.Set("_csrf", mgr.csrf("/renewals"))
		mgr.post("/renewals/weights", form).expect(http.StatusForbidden)

		admin := app.loggedIn(models.RoleAdmin)
		form.Set("_csrf", admin.csrf("/renewals"))
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		for _, w := range []string{"-5", "NaN", "Inf", ""} {
			bad.Set("breadth", w)
			if r := admin.post("/renewals/weights", bad).expect(http.StatusUnprocessableEntity); !strings.Contains(r.Body.String(), "breadth") {
				t.Errorf("weight %q: refusal does not name the weight: %s", w, r.Body.String())
			}
		}
		r := admin.post("/renewals/weights", form).expect(http.StatusSeeOther)
		if loc := r.Header().Get("Location"); loc != "/renewals?weights=applied#insights" {
			t.Errorf("redirect to %q", loc)
		}
		after, err := s.Scorecard(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]float64{"daily_usage_rate": 15, "seat_activation": 60, "breadth": 5, "stickiness": 20, "executive_exposure": 0} {
			if m := after.Measures[k]; m.Weight != want || m.Target != before.Measures[k].Target {
				t.Errorf("%s: %+v, want weight %v and target %v", k, m, want, before.Measures[k].Target)
			}
		}
		if admin.get("/renewals?weights=applied").expect(http.StatusOK).doc().Find(`[data-testid="weights-applied"]`).Length() != 1 {
			t.Error("the page does not confirm the new weights")
		}
	})
}
