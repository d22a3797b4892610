package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"sightline/handlers"
	"sightline/models"
	"sightline/models/dbtest"
)

// newAppAt is newApp with the clock set to a moment of healthDay.
func newAppAt(t *testing.T, s *models.Store, now time.Time) *testApp {
	t.Helper()
	e := handlers.NewRouter(handlers.Deps{
		Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		SessionSecret: testSecret, LoginFailureDelay: time.Millisecond,
		Now: func() time.Time { return now },
	})
	return &testApp{t: t, e: e, store: s}
}

// TestFeatureAdoptionEndToEnd sends TestAPIHealth's usage through /v1/batch and reads
// the adoption figures back through the API, the page, its htmx fragment and the CSVs.
func TestFeatureAdoptionEndToEnd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newAppAt(t, s, healthDay.Add(15*time.Hour))
		admin, pm := app.token(models.RoleAdmin), app.token(models.RolePM)
		seedHealth(t, app, admin)
		app.api(http.MethodPut, "/api/v1/accounts/acme", admin, body(`{"name":"Acme","arr":12000,"segment":"enterprise"}`)).expect(http.StatusOK)
		// The page reads the weeks precomputed daily: refresh them after the usage arrived.
		day := models.DateOf(healthDay)
		if err := s.RefreshFeatureWeeks(context.Background(), day.AddDays(-7*26), day); err != nil {
			t.Fatal(err)
		}

		r := app.api(http.MethodGet, "/api/v1/features/adoption", pm, nil).expect(http.StatusOK)
		var doc struct {
			Weeks    []string `json:"weeks"`
			Features []struct {
				Feature string `json:"feature"`
				Product string `json:"product"`
				Series  []struct {
					Week             string   `json:"week"`
					EntitledAccounts int      `json:"entitled_accounts"`
					AdoptingAccounts int      `json:"adopting_accounts"`
					AccountRate      *float64 `json:"account_rate"`
					ActiveUsers      int      `json:"active_users"`
					FeatureUsers     int      `json:"feature_users"`
					UserRate         *float64 `json:"user_rate"`
				} `json:"series"`
			} `json:"features"`
		}
		if err := json.Unmarshal(r.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Weeks) != 26 || doc.Weeks[25] != "2025-06-01" || len(doc.Features) != 3 {
			t.Fatalf("weeks %v, %d features", doc.Weeks, len(doc.Features))
		}
		// Only acme has entitlements (every core feature). Week 25 = D-6 … D: active alice,
		// bob, erin, and carol through her Usage Reported track (D-5) = 4 (dave moved to
		// globex); Report Run: alice (D-2); Dashboard Viewed: bob (D-2); Alert Created:
		// nobody. Week 24 = D-13 … D-7: active carol (D-9) and erin (Usage Reported D-12);
		// carol ran a report (D-9).
		got := map[string]string{}
		for _, f := range doc.Features {
			for _, w := range []int{24, 25} {
				p := f.Series[w]
				got[f.Feature+strconv.Itoa(w)] = strings.Join([]string{strconv.Itoa(p.EntitledAccounts), strconv.Itoa(p.AdoptingAccounts),
					strconv.Itoa(p.FeatureUsers), strconv.Itoa(p.ActiveUsers), fmtRate(p.UserRate)}, " ")
			}
		}
		want := map[string]string{
			"reports25": "1 1 1 4 0.25", "reports24": "1 1 1 2 0.5",
			"dashboards25": "1 1 1 4 0.25", "dashboards24": "1 0 0 2 0",
			"alerts25": "1 0 0 4 0", "alerts24": "1 0 0 2 0",
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: got %q, want %q", k, got[k], w)
			}
		}
		// A week in which the entitled account had nobody active has no basis: its
		// rates are null (a gap in the chart), in the API and in the CSV, not 0.
		gap := -1
		for w, p := range doc.Features[0].Series {
			if p.EntitledAccounts > 0 && p.ActiveUsers == 0 {
				if p.AccountRate != nil || p.UserRate != nil {
					t.Fatalf("week %s without basis has rates %v / %v", p.Week, p.AccountRate, p.UserRate)
				}
				gap = w
			}
		}
		if gap < 0 {
			t.Fatal("the data has no week without basis")
		}
		csvBody := app.loggedIn(models.RoleCSM).get("/features/adoption.csv").expect(http.StatusOK).Body.String()
		row := doc.Features[0].Feature + "," // feature,product,cohort,week,entitled,adopting,account_rate,…
		matched := 0
		for _, line := range strings.Split(csvBody, "\n") {
			if strings.HasPrefix(line, row) && strings.Contains(line, ","+doc.Weeks[gap]+",") {
				matched++
				if cells := strings.Split(line, ","); len(cells) < 10 || cells[6] != "" || cells[9] != "" {
					t.Fatalf("CSV row of a week without basis: %q", line)
				}
			}
		}
		if matched != 1 {
			t.Fatalf("%d CSV rows for week %s", matched, doc.Weeks[gap])
		}
		// Another segment has no entitled account: rates are null, not 0.
		r = app.api(http.MethodGet, "/api/v1/features/adoption?segment=smb", pm, nil).expect(http.StatusOK)
		if !strings.Contains(r.Body.String(), `"account_rate":null`) || strings.Contains(r.Body.String(), `"entitled_accounts":1`) {
			t.Errorf("smb adoption: %.300s", r.Body.String())
		}

		// The page, as a pm: last 30 days, acme uses reports (alice, carol) and
		// dashboards (bob), not alerts: 12,000 ARR at stake, one unused pair.
		c := app.loggedIn(models.RolePM)
		page := c.get("/features").expect(http.StatusOK).doc()
		if n := page.Find("[data-testid=feature-row]").Length(); n != 3 {
			t.Fatalf("%d feature rows", n)
		}
		first := page.Find("[data-testid=feature-row]").First()
		if f, _ := first.Attr("data-feature"); f != "alerts" || first.Find("[data-testid=at-stake]").Text() != "$12,000" {
			t.Errorf("first row %s at stake %q", f, first.Find("[data-testid=at-stake]").Text())
		}
		// The table comes first and charts nothing until a feature is opened.
		if n := page.Find("[data-testid=adoption-chart]").Length(); n != 0 {
			t.Errorf("%d charts before any feature is opened", n)
		}
		// Each feature says when its events last arrived: nobody ever created an alert.
		lastEvent := func(f string) string {
			return strings.Join(strings.Fields(page.Find("[data-testid=feature-row][data-feature="+f+"] [data-testid=last-event]").Text()), " ")
		}
		if got := lastEvent("alerts"); got != "never received" {
			t.Errorf("alerts' last event %q", got)
		}
		if got, want := lastEvent("reports"), day.AddDays(-2).Time().Format("2 Jan 2006"); got != want {
			t.Errorf("reports' last event %q, want %q", got, want)
		}
		// Opening a feature loads its row in place (htmx) and pushes the shareable address.
		open := page.Find("[data-testid=feature-row][data-feature=reports] [data-testid=feature-open]")
		if hx, _ := open.Attr("hx-get"); hx != "/features/detail/reports" {
			t.Errorf("reports opens from %q", hx)
		}
		if push, _ := open.Attr("hx-push-url"); push != "/features?feature=reports" {
			t.Errorf("opening reports pushes %q", push)
		}
		if target, _ := open.Attr("hx-target"); target != "#drill-reports" || page.Find("tr#drill-reports[hidden]").Length() != 1 {
			t.Errorf("reports opens into %q", target)
		}
		drill := c.get("/features/detail/reports", "HX-Request", "true").expect(http.StatusOK)
		if strings.Contains(drill.Body.String(), "<html") {
			t.Fatalf("drill-down is a whole page: %.200s", drill.Body.String())
		}
		opened := drill.rowsDoc()
		if opened.Find("tr#drill-reports [data-testid=feature-account][data-account=acme]").Length() != 1 ||
			opened.Find("[data-testid=adoption-chart][data-feature=reports] canvas[data-chart]").Length() != 1 {
			t.Errorf("reports' drill-down: %s", drill.Body.String())
		}
		if got := opened.Find("[data-testid=feature-events]").Text(); !strings.Contains(got, "“Report Run”") || !strings.Contains(got, day.AddDays(-2).Time().Format("2 Jan 2006")) {
			t.Errorf("reports' events: %q", got)
		}
		closed := c.get("/features/detail/reports?closed=1", "HX-Request", "true").expect(http.StatusOK).Body.String()
		if !strings.Contains(closed, `id="drill-reports"`) || strings.Contains(closed, "feature-account") {
			t.Errorf("closing reports: %s", closed)
		}
		c.get("/features/detail/no-such-feature").expect(http.StatusNotFound)
		// Each opened chart's data table loads when opened, under the page's filters:
		// reports' last week (D-6 … D) is 1 of 1 entitled accounts and 1 of 4 active users.
		hx, _ := opened.Find("[data-testid=adoption-chart][data-feature=reports] [data-testid=weekly-details]").Attr("hx-get")
		if hx != "/features/weekly/reports" {
			t.Errorf("weekly table loads from %q", hx)
		}
		weekly := c.get(hx, "HX-Request", "true").expect(http.StatusOK).doc()
		rows := weekly.Find("[data-testid=weekly-table] tbody tr")
		last := rows.Last()
		if rows.Length() != 26 || last.Find("th").Text() != "2025-06-01" ||
			!strings.Contains(last.Find("td").Eq(0).Text(), "(1 / 1)") || !strings.Contains(last.Find("td").Eq(1).Text(), "(1 / 4)") {
			t.Errorf("weekly table: %d rows, last %q", rows.Length(), last.Text())
		}
		filtered := c.get("/features?segment=smb&compare=enterprise&feature=reports").expect(http.StatusOK).doc()
		hx, _ = filtered.Find("[data-testid=adoption-chart][data-feature=reports] [data-testid=weekly-details]").Attr("hx-get")
		weekly = c.get(hx, "HX-Request", "true").expect(http.StatusOK).doc()
		if cells := weekly.Find("[data-testid=weekly-table] tbody tr").Last().Find("td"); cells.Length() != 4 ||
			!strings.Contains(cells.Eq(0).Text(), "(0 / 0)") || !strings.Contains(cells.Eq(2).Text(), "(1 / 1)") {
			t.Errorf("weekly table %s: last row %q", hx, cells.Text())
		}
		c.get("/features/weekly/no-such-feature").expect(http.StatusNotFound)
		// Unused features are grouped by account, its ARR counted once.
		if got := page.Find("[data-testid=unused-arr]").Text(); got != "$12,000" {
			t.Errorf("unused ARR %q", got)
		}
		if got := page.Find("[data-testid=at-stake-total]").Text(); got != "$12,000" {
			t.Errorf("ARR at stake of any feature %q", got)
		}
		if row := page.Find("[data-testid=unused-row][data-account=acme]"); row.Length() != 1 || row.Find("[data-testid=unused-features]").Text() != "Alerts" {
			t.Errorf("unused by account: %q", row.Text())
		}
		// Alerts' events never arrived: the first thing to package differently is to instrument it.
		if f := page.Find("[data-testid=finding]").First(); f.AttrOr("data-kind", "") != "instrument" || f.AttrOr("data-feature", "") != "alerts" {
			t.Errorf("first finding %s %s: %q", f.AttrOr("data-kind", ""), f.AttrOr("data-feature", ""), f.Text())
		}
		if page.Find("[data-testid=feature-plans] [data-testid=plan-row]").Length() != 3 {
			t.Error("the feature × plan view does not list the three features")
		}
		if page.Find(`nav a[href="/features"]`).Length() != 1 {
			t.Error("no Features item in the navigation")
		}
		// htmx swaps get the report region alone; sorting by feature puts alerts first, ascending.
		frag := c.get("/features?sort=feature", "HX-Request", "true").expect(http.StatusOK)
		if strings.Contains(frag.Body.String(), "<html") || !strings.Contains(frag.Body.String(), `id="features-report"`) {
			t.Fatalf("fragment: %.200s", frag.Body.String())
		}
		// Without htmx, the feature's address opens it in place in the whole page.
		detail := c.get("/features?feature=reports").expect(http.StatusOK).doc()
		if detail.Find("tr#drill-reports [data-testid=feature-account][data-account=acme]").Length() != 1 {
			t.Error("reports' entitled accounts do not list acme")
		}

		// CSV exports.
		csv := c.get("/features/unused.csv").expect(http.StatusOK)
		if ct := csv.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("content type %q", ct)
		}
		if got := csv.Body.String(); got != "account,name,segment,lifecycle_stage,arr,feature,product,feature_users_30d,active_users_30d\nacme,Acme,enterprise,onboarding,12000,alerts,core,0,4\n" {
			t.Errorf("unused CSV:\n%s", got)
		}
		features := c.get("/features/features.csv?sort=feature").expect(http.StatusOK).Body.String()
		if !strings.Contains(features, "\nreports,Reports,core,1,1,1,0.5,") {
			t.Errorf("features CSV:\n%s", features)
		}
		c.get("/features/nope.csv").expect(http.StatusNotFound)
	})
}

// fmtRate is a fraction to four decimals, or "nil".
func fmtRate(v *float64) string {
	if v == nil {
		return "nil"
	}
	return strconv.FormatFloat(math.Round(*v*1e4)/1e4, 'f', -1, 64)
}
