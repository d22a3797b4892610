package handlers_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"sightline/demo"
	"sightline/metrics"
	"sightline/models"
	"sightline/models/dbtest"
)

// seedDemoHealth fills a store with the demo's accounts and usage ending today and
// snapshots every account's health for the last days; it returns today.
func seedDemoHealth(t *testing.T, s *models.Store, accounts, days int) models.Date {
	t.Helper()
	ctx := context.Background()
	today := models.DateOf(time.Now())
	if _, err := demo.Seed(ctx, s, today, demo.Options{Accounts: accounts, Days: days},
		slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SnapshotHealth(ctx, today.AddDays(-(days - 1)), today); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedGoals(ctx, s, today, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EvaluateAlerts(ctx, today); err != nil {
		t.Fatal(err)
	}
	return today
}

// expectedFlags derives an account's flags from its open alerts, independently of
// the portfolio query.
func expectedFlags(t *testing.T, s *models.Store, key string) []string {
	t.Helper()
	open, err := s.ListAlerts(context.Background(), models.AlertFilter{Accounts: []string{key}, States: []string{"open"}})
	if err != nil {
		t.Fatal(err)
	}
	raised := map[string]bool{}
	for _, a := range open {
		switch a.Kind {
		case "consumption":
			if *a.Threshold >= 1 {
				raised[models.RiskOverused] = true
			} else {
				raised[models.RiskNearLimit] = true
			}
		case "underuse":
			raised[models.RiskUnderused] = true
		case "renewal_risk":
			raised[models.RiskRenewal] = true
		case "health_drop":
			raised[models.RiskHealthDrop] = true
		case "gone_dark":
			raised[models.RiskGoneDark] = true
		case "executive_lost":
			raised[models.RiskExecLost] = true
		case "goal_at_risk":
			raised[models.RiskGoals] = true
		}
	}
	flags := []string{}
	for _, f := range models.RiskFlags {
		if raised[f] {
			flags = append(flags, f)
		}
	}
	return flags
}

func pct(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(*v*100, 'f', 0, 64) + "%"
}

func TestPortfolioHealthColumnsSortsFiltersAndExport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		app := newApp(t, s)
		today := seedDemoHealth(t, s, 24, 14)
		// A red account renewing soon is at risk; an account added after the snapshots has none.
		accounts, err := s.ExportPortfolio(ctx, models.PortfolioQuery{Sort: "name"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range accounts {
			if r.HealthColor == "red" {
				a := r.Account
				a.RenewalOn = today.AddDays(20)
				seedAccounts(t, s, a)
				break
			}
		}
		seedAccounts(t, s, models.Account{Key: "zz-new", Name: "Zz New", ARR: 5})
		if _, err := s.EvaluateAlerts(ctx, today); err != nil {
			t.Fatal(err)
		}

		// What each account should show, from its stored snapshots and open alerts.
		type want struct {
			score, color, usage, activation, trend string
			flags                                  []string
		}
		wants := map[string]want{}
		byColor, byFlag := map[string][]string{}, map[string][]string{}
		for _, r := range accounts {
			a, err := s.AccountByKey(ctx, r.Key)
			if err != nil {
				t.Fatal(err)
			}
			hist, err := s.HealthHistory(ctx, a.ID, today.AddDays(-7), today)
			if err != nil || len(hist) != 8 {
				t.Fatalf("%s: %d snapshots, %v", a.Key, len(hist), err)
			}
			res, err := hist[7].Result()
			if err != nil {
				t.Fatal(err)
			}
			w := want{score: strconv.FormatFloat(math.Round(*res.Health.Score), 'f', 0, 64), color: res.Health.Color,
				usage: pct(res.DailyUsageRate), activation: pct(res.SeatActivation), flags: expectedFlags(t, s, a.Key)}
			switch d := *hist[7].Score - *hist[0].Score; {
			case d >= 1:
				w.trend = "up"
			case d <= -1:
				w.trend = "down"
			default:
				w.trend = "flat"
			}
			wants[a.Key] = w
			byColor[w.color] = append(byColor[w.color], a.Key)
			for _, f := range w.flags {
				byFlag[f] = append(byFlag[f], a.Key)
			}
		}
		for _, f := range []string{models.RiskOverused, models.RiskUnderused, models.RiskRenewal, models.RiskGoals} {
			if len(byFlag[f]) == 0 || len(byFlag[f]) == len(accounts) {
				t.Fatalf("demo data does not exercise flag %q: %v", f, byFlag[f])
			}
		}

		c := app.loggedIn(models.RoleCSM)
		doc := c.get("/?sort=health&dir=desc").expect(http.StatusOK).doc()
		rows := doc.Find(`[data-testid=account-row]`)
		if rows.Length() != 25 {
			t.Fatalf("%d rows", rows.Length())
		}
		prev := math.Inf(1)
		rows.Each(func(i int, row *goquery.Selection) {
			key, _ := row.Attr("data-key")
			cell := row.Find(`[data-testid=health]`)
			if key == "zz-new" {
				if i != rows.Length()-1 || strings.TrimSpace(cell.Text()) != "— no score" {
					t.Errorf("account without a snapshot: row %d, health %q", i, cell.Text())
				}
				return
			}
			w := wants[key]
			got, _ := cell.Attr("data-score")
			color, _ := cell.Attr("data-color")
			trend, _ := row.Find(`[data-testid=trend]`).Attr("data-trend")
			var flags []string
			row.Find(`[data-testid=risk-flag]`).Each(func(_ int, f *goquery.Selection) { flags = append(flags, f.Text()) })
			if got != w.score || color != w.color || !strings.Contains(cell.Text(), w.color) || trend != w.trend ||
				row.Find(`[data-testid=usage-rate]`).Text() != w.usage ||
				row.Find(`[data-testid=seat-activation]`).Text() != w.activation ||
				strings.Join(flags, ",") != strings.Join(w.flags, ",") {
				t.Errorf("%s: score %s %s trend %s usage %s activation %s flags %v; want %+v", key, got, color, trend,
					row.Find(`[data-testid=usage-rate]`).Text(), row.Find(`[data-testid=seat-activation]`).Text(), flags, w)
			}
			n, _ := strconv.ParseFloat(got, 64)
			if n > prev {
				t.Errorf("sorted by health descending, %s (%v) follows %v", key, n, prev)
			}
			prev = n
		})
		// Ascending still puts accounts without a score last.
		if keys := rowKeys(c.get("/?sort=health").doc()); !strings.HasSuffix(keys, ",zz-new") {
			t.Fatalf("ascending health: %s", keys)
		}

		keysOf := func(path string) []string {
			k := rowKeys(c.get(path).expect(http.StatusOK).doc())
			if k == "" {
				return nil
			}
			got := strings.Split(k, ",")
			slices.Sort(got)
			return got
		}
		for _, color := range models.HealthColors {
			want := slices.Sorted(slices.Values(byColor[color]))
			if got := keysOf("/?color=" + color); !slices.Equal(got, want) {
				t.Errorf("color %s: %v, want %v", color, got, want)
			}
		}
		for _, f := range models.RiskFlags {
			want := slices.Sorted(slices.Values(byFlag[f]))
			if got := keysOf("/?risk=" + strings.ReplaceAll(f, " ", "+")); !slices.Equal(got, want) {
				t.Errorf("risk %s: %v, want %v", f, got, want)
			}
		}
		// The filters are in the URL, the export link follows them.
		doc = c.get("/?color=red&sort=usage&dir=desc").doc()
		href, _ := doc.Find(`[data-testid=export-csv]`).Attr("href")
		if href != "/portfolio.csv?color=red&dir=desc&sort=usage" {
			t.Fatalf("export link %q", href)
		}

		// The CSV has every filtered row (not one page), in the page's order.
		r := c.get(href).expect(http.StatusOK)
		if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("content type %q", ct)
		}
		recs, err := csv.NewReader(strings.NewReader(r.Body.String())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(recs[0], ",") != "account_key,account_name,health_score,health_color,trend_7_days,arr,renewal_on,csm_email,segment,lifecycle_stage,daily_usage_rate,seat_activation,risk_flags,health_as_of" {
			t.Fatalf("header %v", recs[0])
		}
		var csvKeys []string
		for _, rec := range recs[1:] {
			csvKeys = append(csvKeys, rec[0])
			if rec[3] != "red" || rec[4] != wants[rec[0]].trend || rec[12] != strings.Join(wants[rec[0]].flags, "; ") || rec[13] != today.String() {
				t.Errorf("csv row %v, want %+v", rec, wants[rec[0]])
			}
		}
		if page := rowKeys(doc); strings.Join(csvKeys, ",") != page {
			t.Fatalf("csv rows %v, page rows %s", csvKeys, page)
		}
		all, err := csv.NewReader(strings.NewReader(c.get("/portfolio.csv?per_page=1").Body.String())).ReadAll()
		if err != nil || len(all) != 26 {
			t.Fatalf("unfiltered export: %d records, %v", len(all), err)
		}
	})
}

// The portfolio sorts and pages account ids, then reads the page's rows by id: the
// pages, one after the other, are the export's rows in the export's order.
func TestPortfolioPagesFollowTheSortOrder(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		seedDemoHealth(t, s, 24, 14)
		seedAccounts(t, s, models.Account{Key: "zz-new", Name: "Zz New", ARR: 5})
		describe := func(r models.PortfolioRow) string {
			score := "none"
			if r.HealthScore != nil {
				score = strconv.FormatFloat(*r.HealthScore, 'f', -1, 64)
			}
			return r.Key + " " + score + " " + r.HealthColor + " " + strings.Join(r.RiskFlags, ";")
		}
		for _, sort := range []string{"health", "usage", "name", "arr"} {
			for _, desc := range []bool{false, true} {
				q := models.PortfolioQuery{Sort: sort, Desc: desc, PerPage: 7}
				all, err := s.ExportPortfolio(ctx, q)
				if err != nil || len(all) != 25 {
					t.Fatalf("export: %d rows, %v", len(all), err)
				}
				var want, got []string
				for _, r := range all {
					want = append(want, describe(r))
				}
				for q.Page = 1; q.Page <= 5; q.Page++ {
					page, err := s.ListPortfolio(ctx, q)
					if err != nil || page.Total != 25 {
						t.Fatalf("page %d: total %d, %v", q.Page, page.Total, err)
					}
					if n := max(0, min(7, 25-7*(q.Page-1))); len(page.Rows) != n {
						t.Fatalf("%s desc=%v page %d has %d rows, want %d", sort, desc, q.Page, len(page.Rows), n)
					}
					for _, r := range page.Rows {
						got = append(got, describe(r))
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("sort %s desc=%v: pages\n%v\nexport\n%v", sort, desc, got, want)
				}
			}
		}
	})
}

func TestAccountHealthPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		app := newApp(t, s)
		today := seedDemoHealth(t, s, 6, 40)
		accounts, err := s.ExportPortfolio(ctx, models.PortfolioQuery{Sort: "name"})
		if err != nil {
			t.Fatal(err)
		}
		key := accounts[0].Key
		c := app.loggedIn(models.RoleCSM)

		checkScorecard := func(doc *goquery.Document, day models.Date) {
			t.Helper()
			h, err := s.AccountHealth(ctx, key, day)
			if err != nil {
				t.Fatal(err)
			}
			region := doc.Find(`#account-health`)
			if got, _ := region.Attr("data-as-of"); got != day.String() {
				t.Fatalf("region as of %q, want %s", got, day)
			}
			if got := region.Find(`[data-testid=health-score]`).Text(); got != strconv.FormatFloat(math.Round(*h.Health.Score), 'f', 0, 64) {
				t.Errorf("score %q, want %v", got, *h.Health.Score)
			}
			if got := region.Find(`[data-testid=health-color]`).Text(); got != h.Health.Color {
				t.Errorf("colour %q, want %s", got, h.Health.Color)
			}
			for _, m := range h.Health.Measures {
				row := region.Find(`[data-testid=measure-row][data-key=` + m.Key + `]`)
				contrib := "—"
				if m.Contribution != nil {
					contrib = strconv.FormatFloat(*m.Contribution, 'f', 1, 64)
				}
				if got := row.Find(`[data-testid=measure-contribution]`).Text(); got != contrib {
					t.Errorf("%s contribution %q, want %s", m.Key, got, contrib)
				}
				if m.Key == metrics.MeasureDailyUsageRate && row.Find(`[data-testid=measure-value]`).Text() != pct(m.Value) {
					t.Errorf("daily usage rate %q, want %s", row.Find(`[data-testid=measure-value]`).Text(), pct(m.Value))
				}
			}
			var summaries []string
			region.Find(`[data-testid=explanation-summary]`).Each(func(_ int, e *goquery.Selection) { summaries = append(summaries, e.Text()) })
			if len(summaries) != 2 || summaries[0] != h.Explanation[0].Summary || summaries[1] != h.Explanation[1].Summary {
				t.Errorf("explanations %q", summaries)
			}
			if n := region.Find(`[data-testid=movement]`).Length(); n != len(h.Explanation[0].Movements)+len(h.Explanation[1].Movements) {
				t.Errorf("%d movements shown", n)
			}
			if n := region.Find(`[data-testid=feature-row]`).Length(); n != len(h.FeatureAdoption) {
				t.Errorf("%d feature rows, want %d", n, len(h.FeatureAdoption))
			}
			unused := 0
			for _, f := range h.FeatureAdoption {
				if f.Users == 0 {
					unused++
				}
			}
			if n := region.Find(`[data-testid=unused]`).Length(); n != unused {
				t.Errorf("%d unused badges, want %d", n, unused)
			}
			if got := region.Find(`[data-level=executive] [data-testid=level-users]`).Text(); got != strconv.Itoa(h.Exposure.Executive) {
				t.Errorf("executives %q, want %d", got, h.Exposure.Executive)
			}
			deptUsers := 0
			region.Find(`[data-testid=department-row] td.num`).Each(func(_ int, td *goquery.Selection) {
				n, _ := strconv.Atoi(td.Text())
				deptUsers += n
			})
			if deptUsers != h.ActiveUsers {
				t.Errorf("department rows add up to %d active users, want %d", deptUsers, h.ActiveUsers)
			}
			for _, p := range h.Entitlements {
				row := region.Find(`[data-testid=entitlement-row][data-key=` + p.Key + `]`)
				if got := row.Find(`[data-testid=position-status]`).Text(); got != p.Status {
					t.Errorf("entitlement %s status %q, want %s", p.Key, got, p.Status)
				}
				if got := row.Find(`[data-testid=utilization]`).Text(); got != pct(p.Utilization) {
					t.Errorf("entitlement %s utilization %q, want %s", p.Key, got, pct(p.Utilization))
				}
			}
		}

		doc := c.get("/accounts/" + key).expect(http.StatusOK).doc()
		checkScorecard(doc, today)
		if n := doc.Find(`[data-testid=usage-data] tbody tr`).Length(); n != 90 {
			t.Fatalf("default window: %d rows of usage data", n)
		}
		if n := doc.Find(`[data-testid=history-data] tbody tr`).Length(); n != 40 {
			t.Fatalf("score history: %d rows", n)
		}
		if doc.Find(`canvas[data-chart]`).Length() != 3 || doc.Find(`#notes`).Length() != 1 || doc.Find(`#account-csm`).Length() != 1 {
			t.Fatal("page lacks charts, notes or the CSM region")
		}

		// An earlier day and a shorter window, as htmx asks for them: the region alone.
		earlier := today.AddDays(-12)
		r := c.get("/accounts/"+key+"?as_of="+earlier.String()+"&window=30", "HX-Request", "true").expect(http.StatusOK)
		body := r.Body.String()
		if strings.Contains(body, "<html") || !strings.HasPrefix(strings.TrimSpace(body), `<div id="account-health"`) {
			t.Fatalf("htmx answer is not the health region: %.200s", body)
		}
		doc = r.doc()
		checkScorecard(doc, earlier)
		if n := doc.Find(`[data-testid=usage-data] tbody tr`).Length(); n != 30 {
			t.Fatalf("30-day window: %d rows", n)
		}
		if last := doc.Find(`[data-testid=usage-data] tbody tr`).Last().Find("td").First().Text(); last != earlier.String() {
			t.Fatalf("usage data ends %s, want %s", last, earlier)
		}
		if n := doc.Find(`[data-testid=history-data] tbody tr`).Length(); n != 28 { // snapshots start 39 days ago
			t.Fatalf("30-day score history as of 12 days ago: %d rows", n)
		}
		// The full page at the same URL keeps the controls in step.
		doc = c.get("/accounts/" + key + "?as_of=" + earlier.String() + "&window=60").doc()
		if v, _ := doc.Find(`[data-testid=as-of]`).Attr("value"); v != earlier.String() {
			t.Fatalf("as-of input %q", v)
		}
		if v := doc.Find(`[data-testid=window] option[selected]`).Text(); v != "60 days" {
			t.Fatalf("window select %q", v)
		}
		// The same day's health in another window: the figures kept with the day's view
		// are kept per window.
		if n := doc.Find(`[data-testid=usage-data] tbody tr`).Length(); n != 60 {
			t.Fatalf("60-day window after the 30-day one: %d rows", n)
		}
		c.get("/accounts/"+key+"?window=7", "HX-Request", "true").expect(http.StatusBadRequest)
	})
}

// TestAccountPageShowsRiskFlags: the account page shows the same risk flags as the
// portfolio row (whose flags the test above checks from the snapshots), goals at risk
// included.
func TestAccountPageShowsRiskFlags(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		app := newApp(t, s)
		seedDemoHealth(t, s, 24, 14)
		rows, err := s.ExportPortfolio(ctx, models.PortfolioQuery{Sort: "name"})
		if err != nil {
			t.Fatal(err)
		}
		c := app.loggedIn(models.RolePM)
		sawGoals := false
		for _, r := range rows {
			doc := c.get("/accounts/" + r.Key).expect(http.StatusOK).doc()
			var shown []string
			doc.Find(`[data-testid=account-risks] [data-testid=risk-flag]`).Each(func(_ int, s *goquery.Selection) {
				shown = append(shown, s.Text())
			})
			if strings.Join(shown, ",") != strings.Join(r.RiskFlags, ",") {
				t.Errorf("%s: account page flags %v, portfolio %v", r.Key, shown, r.RiskFlags)
			}
			sawGoals = sawGoals || slices.Contains(shown, models.RiskGoals)
		}
		if !sawGoals {
			t.Fatal("no account page showed goals at risk")
		}
	})
}

// TestAccountChartsLeaveOutDaysWithoutBasis: days whose 30-day window starts before the
// account's usage began are gaps in the charts, not a ramp up from zero.
func TestAccountChartsLeaveOutDaysWithoutBasis(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		seedDemoHealth(t, s, 3, 40) // usage began 39 days ago
		rows, err := s.ExportPortfolio(context.Background(), models.PortfolioQuery{Sort: "name"})
		if err != nil {
			t.Fatal(err)
		}
		doc := app.loggedIn(models.RolePM).get("/accounts/" + rows[0].Key + "?window=90").expect(http.StatusOK).doc()
		if !strings.Contains(doc.Find("[data-testid=basis-note]").Text(), "left out") {
			t.Fatal("no note says which days are left out")
		}
		spec, _ := doc.Find(`[aria-labelledby=usage-title] canvas`).Attr("data-chart")
		var chart struct {
			Series []struct {
				Data []*float64 `json:"data"`
			} `json:"series"`
		}
		if err := json.Unmarshal([]byte(spec), &chart); err != nil || len(chart.Series) == 0 {
			t.Fatalf("chart %q: %v", spec, err)
		}
		data := chart.Series[0].Data
		// 90 days; the first 90−40+29 = 79 have a window reaching before the usage.
		nulls := 0
		for _, v := range data {
			if v == nil {
				nulls++
			}
		}
		if len(data) != 90 || nulls != 79 || data[0] != nil || data[89] == nil {
			t.Fatalf("%d points, %d gaps", len(data), nulls)
		}
	})
}
