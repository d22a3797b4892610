package models_test

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"sightline/metrics"
	"sightline/models"
	"sightline/models/dbtest"
)

// adoptionToday is T in the comments below.
var adoptionToday = models.NewDate(2025, time.June, 1)

// seedAdoption builds the small data set whose figures the tests work out by hand:
//
//	features: alerts, reports (product core), sync (product extra)
//	acme    ARR 1000 enterprise adoption: core-plan (all of core) since T-400;
//	        users a1 (Report Run T-2 and T-40), a2 (a page T-3), a3 (never active)
//	globex  ARR  500 enterprise renewal:  core-plan listing reports only, since T-400;
//	        user g1 (a page T-1, Report Run T-45)
//	initech ARR  200 smb adoption:        extra-addon (all of extra) since T-10,
//	        old-core (all of core) ended T-50; user i1 (Sync Run and Report Run T-5)
func seedAdoption(t *testing.T, s *models.Store) {
	t.Helper()
	ctx := context.Background()
	for _, f := range []models.Feature{
		{Key: "alerts", Name: "Alerts", Product: "core", EventNames: []string{"Alert Created"}},
		{Key: "reports", Name: "Reports", Product: "core", EventNames: []string{"Report Run"}},
		{Key: "sync", Name: "Sync", Product: "extra", EventNames: []string{"Sync Run"}},
	} {
		if _, err := s.UpsertFeature(ctx, &f); err != nil {
			t.Fatal(err)
		}
	}
	day := func(k int) models.Date { return adoptionToday.AddDays(-k) }
	for _, a := range []models.Account{
		{Key: "acme", Name: "Acme", ARR: 1000, Segment: "enterprise", LifecycleStage: "adoption"},
		{Key: "globex", Name: "Globex", ARR: 500, Segment: "enterprise", LifecycleStage: "renewal"},
		{Key: "initech", Name: "Initech", ARR: 200, Segment: "smb", LifecycleStage: "adoption"},
	} {
		if _, err := s.UpsertAccount(ctx, &a); err != nil {
			t.Fatal(err)
		}
	}
	for acct, e := range map[string]models.Entitlement{
		"acme":    {Key: "core-plan", Product: "core", Model: "user", Quantity: 10, StartsOn: day(400)},
		"globex":  {Key: "core-plan", Product: "core", Features: []string{"reports"}, Model: "user", Quantity: 5, StartsOn: day(400)},
		"initech": {Key: "extra-addon", Product: "extra", Model: "subscription", Quantity: 5, StartsOn: day(10)},
	} {
		if _, err := s.UpsertEntitlement(ctx, acct, &e); err != nil {
			t.Fatal(err)
		}
	}
	old := models.Entitlement{Key: "old-core", Product: "core", Model: "user", Quantity: 5, StartsOn: day(300), EndsOn: day(50)}
	if _, err := s.UpsertEntitlement(ctx, "initech", &old); err != nil {
		t.Fatal(err)
	}
	users := map[string]int64{}
	for _, u := range [][2]string{{"a1", "acme"}, {"a2", "acme"}, {"a3", "acme"}, {"g1", "globex"}, {"i1", "initech"}} {
		group := u[1]
		eu := models.EndUser{UserKey: u[0], GroupKey: &group, FirstSeenAt: time.Now(), LastSeenAt: time.Now(), Level: "unknown"}
		if err := s.DB().Create(&eu).Error; err != nil {
			t.Fatal(err)
		}
		users[u[0]] = eu.ID
	}
	r := models.NewRollups()
	at := func(k int) time.Time { return adoptionToday.AddDays(-k).Time().Add(10 * time.Hour) }
	track := func(user, event string, k int) {
		r.AddActivity(users[user], at(k))
		r.AddEvent(users[user], at(k), event, 0)
	}
	track("a1", "Report Run", 2)
	track("a1", "Report Run", 40)
	r.AddActivity(users["a2"], at(3))
	r.AddActivity(users["g1"], at(1))
	track("g1", "Report Run", 45)
	track("i1", "Sync Run", 5)
	track("i1", "Report Run", 5)
	if err := s.Transaction(ctx, func(tx *gorm.DB) error { return models.ApplyRollups(ctx, tx, r) }); err != nil {
		t.Fatal(err)
	}
	// The page reads precomputed weeks and windows: refresh them after writing usage.
	if err := s.RefreshFeatureWeeks(ctx, adoptionToday.AddDays(-7*metrics.AdoptionWeeks), adoptionToday); err != nil {
		t.Fatal(err)
	}
}

// rate formats a fraction to four decimals, enough to tell hand-computed values apart.
func rate(v *float64) string {
	if v == nil {
		return "nil"
	}
	return ftoa(math.Round(*v*10000) / 10000)
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func itoa(n int) string { return strconv.Itoa(n) }

func TestFeatureReportHandComputed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		seedAdoption(t, s)
		ctx := context.Background()
		rep, err := s.FeatureReport(ctx, models.ParseFeatureQuery(nil), adoptionToday)
		if err != nil {
			t.Fatal(err)
		}
		// Last 30 days (T-29 … T), entitled as of T:
		//   alerts:  acme only (globex lists reports); nobody used it → 0/1, users 0/2 (a1, a2),
		//            ARR at stake 1000; previous 30 days (as of T-30): acme, 0/1 = 0 → trend 0.
		//   reports: acme and globex (initech's old-core ended T-50); a1 used it → 1/2 = 0.5,
		//            users 1/3 (a1, a2, g1); at stake globex 500; previous: a1 (T-40) and
		//            g1 (T-45) → 2/2 = 1 → trend −0.5.
		//   sync:    initech (since T-10); i1 used it → 1/1, users 1/1, at stake 0;
		//            previous: nobody entitled on T-30 → rate nil, trend nil.
		want := map[string]string{
			"alerts":  "1 0 0 0 0 1000 0",
			"reports": "2 1 0.5 0.3333 1 500 -0.5",
			"sync":    "1 1 1 1 nil 0 nil",
		}
		if len(rep.Table) != 3 {
			t.Fatalf("%d feature rows", len(rep.Table))
		}
		for _, r := range rep.Table {
			got := strings.Join([]string{itoa(r.EntitledAccounts), itoa(r.AdoptingAccounts), rate(r.AccountRate), rate(r.UserRate),
				rate(r.PreviousRate), rate(&r.ARRAtStake), rate(r.Trend)}, " ")
			if got != want[r.Feature] {
				t.Errorf("%s: got %q, want %q", r.Feature, got, want[r.Feature])
			}
		}
		// Default order: ARR at stake, highest first.
		if rep.Table[0].Feature != "alerts" || rep.Table[1].Feature != "reports" {
			t.Errorf("order %s, %s", rep.Table[0].Feature, rep.Table[1].Feature)
		}
		// Entitled but unused: acme × alerts (1000), globex × reports (500); ARR of the two accounts 1500.
		var unused []string
		for _, u := range rep.Unused {
			unused = append(unused, u.Account+"×"+u.Feature)
		}
		if strings.Join(unused, ",") != "acme×alerts,globex×reports" || rep.UnusedARR != 1500 {
			t.Errorf("unused %v, ARR %v", unused, rep.UnusedARR)
		}

		// Weekly: week 25 is T-6 … T, week 24 T-13 … T-7, week 20 T-41 … T-35.
		if n := len(rep.Adoption.Weeks); n != 26 || rep.Adoption.Weeks[25] != "2025-06-01" || rep.Adoption.Weeks[24] != "2025-05-25" {
			t.Fatalf("weeks %v", rep.Adoption.Weeks)
		}
		series := map[string][]metrics.AdoptionPoint{}
		for _, f := range rep.Adoption.Features {
			series[f.Feature] = f.Series
		}
		point := func(p metrics.AdoptionPoint) string {
			return strings.Join([]string{itoa(p.EntitledAccounts), itoa(p.AdoptingAccounts), rate(p.AccountRate),
				itoa(p.FeatureUsers), itoa(p.ActiveUsers), rate(p.UserRate)}, " ")
		}
		for _, c := range []struct {
			feature string
			week    int
			want    string
		}{
			{"reports", 25, "2 1 0.5 1 3 0.3333"}, // a1 (T-2); active a1, a2 (T-3), g1 (T-1)
			{"reports", 20, "2 1 0.5 1 1 1"},      // a1 (T-40), the only active user
			{"reports", 19, "2 1 0.5 1 1 1"},      // g1 (T-45) for globex; acme idle
			{"sync", 25, "1 1 1 1 1 1"},           // i1 (T-5)
			{"sync", 24, "1 0 nil 0 0 nil"},       // initech entitled on T-7, idle: no basis, a gap
			{"sync", 23, "0 0 nil 0 0 nil"},       // not yet entitled on T-14
		} {
			if got := point(series[c.feature][c.week]); got != c.want {
				t.Errorf("%s week %d: got %q, want %q", c.feature, c.week, got, c.want)
			}
		}

		// Enterprise against smb: sync has no enterprise account, one smb account.
		q := models.ParseFeatureQuery(map[string][]string{"segment": {"enterprise"}, "compare": {"smb"}})
		adoption, err := s.FeatureAdoption(ctx, q, adoptionToday)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range adoption.Features {
			if f.Feature == "sync" {
				if got := point(f.Series[25]) + " | " + point(f.Compare[25]); got != "0 0 nil 0 0 nil | 1 1 1 1 1 1" {
					t.Errorf("sync enterprise | smb: %q", got)
				}
			}
		}
		// Plan and stage narrow the accounts: only globex is in renewal.
		rep, err = s.FeatureReport(ctx, models.ParseFeatureQuery(map[string][]string{"stage": {"renewal"}, "plan": {"core-plan"}}), adoptionToday)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Unused) != 1 || rep.Unused[0].Account != "globex" || rep.UnusedARR != 500 {
			t.Errorf("renewal unused %+v", rep.Unused)
		}
		// The feature table CSV carries the same figures.
		var buf bytes.Buffer
		if err := models.WriteFeatureCSV(&buf, rep, "unused"); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != "account,name,segment,lifecycle_stage,arr,feature,product,feature_users_30d,active_users_30d\nglobex,Globex,enterprise,renewal,500,reports,core,0,1\n" {
			t.Errorf("unused CSV:\n%s", got)
		}
	})
}

func TestLeakageFromSnapshots(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		seedAdoption(t, s)
		ctx := context.Background()
		ids := map[string]int64{}
		for _, k := range []string{"acme", "globex", "initech"} {
			a, err := s.AccountByKey(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			ids[k] = a.ID
		}
		pos := func(key, product string, qty, consumed, price float64, status string) string {
			u := consumed / qty
			leak := math.Max(0, consumed-qty) * price
			return `{"key":"` + key + `","product":"` + product + `","model":"user","quantity":` + ftoa(qty) + `,"consumed":` + ftoa(consumed) +
				`,"utilization":` + ftoa(u) + `,"status":"` + status + `","leakage":` + ftoa(leak) + `,"unit_price":` + ftoa(price) + `}`
		}
		snap := func(acct string, back int, positions ...string) {
			doc := `{"account":"` + acct + `","entitlements":[` + strings.Join(positions, ",") + `]}`
			// As SnapshotHealth writes them: the overused column says whether any position is.
			err := s.DB().Exec("INSERT INTO health_snapshots (account_id, day, score, color, metrics, overused) VALUES (?, ?, 50, 'yellow', ?, ?)",
				ids[acct], adoptionToday.AddDays(-back), doc, strings.Contains(doc, `"status":"overused"`)).Error
			if err != nil {
				t.Fatal(err)
			}
		}
		// acme today: core-plan 15 of 10 at 100 → leaks 500 (1.6 thirty days ago: shrinking);
		//             api 1200 of 1000 at 0.5 → leaks 100 (1.1 thirty days ago: growing).
		snap("acme", 0, pos("core-plan", "core", 10, 15, 100, "overused"), pos("api", "core", 1000, 1200, 0.5, "overused"))
		snap("acme", 30, pos("core-plan", "core", 10, 16, 100, "overused"), pos("api", "core", 1000, 1100, 0.5, "overused"))
		// globex: latest is yesterday, 6 of 5 at 50 → leaks 50; no snapshot 30 days before
		// that, and 7 days before it was 5 of 5: growing.
		snap("globex", 1, pos("core-plan", "core", 5, 6, 50, "overused"))
		snap("globex", 8, pos("core-plan", "core", 5, 5, 50, "healthy"))
		// initech: healthy only, not listed.
		snap("initech", 0, pos("extra-addon", "extra", 5, 4, 10, "healthy"))
		// A future snapshot is ignored.
		snap("initech", -1, pos("extra-addon", "extra", 5, 9, 10, "overused"))

		// The snapshots were written behind the store's back: the refresh that follows
		// the daily snapshots in production picks them up.
		if err := s.RefreshFeatureWeeks(ctx, adoptionToday, adoptionToday); err != nil {
			t.Fatal(err)
		}
		rep, err := s.FeatureReport(ctx, models.ParseFeatureQuery(nil), adoptionToday)
		if err != nil {
			t.Fatal(err)
		}
		l := rep.Leakage
		// Overall 500 + 100 + 50 = 650 over 3 positions; per account acme 600, globex 50;
		// per product core 650; both accounts' overuse grows.
		if l.Total.Leakage != 650 || l.Total.Positions != 3 || l.Growing != 2 {
			t.Fatalf("total %+v, growing %d", l.Total, l.Growing)
		}
		if len(l.ByAccount) != 2 || l.ByAccount[0].Key != "acme" || l.ByAccount[0].Leakage != 600 || l.ByAccount[1].Leakage != 50 || !l.ByAccount[1].Growing {
			t.Fatalf("by account %+v", l.ByAccount)
		}
		if len(l.ByProduct) != 1 || l.ByProduct[0].Key != "core" || l.ByProduct[0].Leakage != 650 {
			t.Fatalf("by product %+v", l.ByProduct)
		}
		grow := map[string]bool{}
		for _, p := range l.Positions {
			grow[p.Account+"/"+p.Key] = p.Growing
		}
		if grow["acme/core-plan"] || !grow["acme/api"] || !grow["globex/core-plan"] {
			t.Fatalf("growing %v", grow)
		}
		// Filters: smb has no overuse; product extra has none either.
		for _, f := range []map[string][]string{{"segment": {"smb"}}, {"product": {"extra"}}} {
			rep, err := s.FeatureReport(ctx, models.ParseFeatureQuery(f), adoptionToday)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Leakage.Total.Leakage != 0 {
				t.Errorf("%v: leakage %v", f, rep.Leakage.Total)
			}
		}
	})
}

// TestRefreshFeatureWeeksMovedUser checks that refreshing twice changes nothing, and
// that a user moved to another account counts there from the next refresh on.
func TestRefreshFeatureWeeksMovedUser(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		seedAdoption(t, s)
		ctx := context.Background()
		q := models.ParseFeatureQuery(map[string][]string{"feature": {"reports"}})
		// Users of reports in the last 30 days and in week 25 (T-6 … T), per account.
		users := func() string {
			t.Helper()
			rep, err := s.FeatureReport(ctx, q, adoptionToday)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range rep.Entitled {
				out = append(out, e.Account+":"+itoa(e.Users)+"/"+itoa(e.ActiveUsers))
			}
			for _, f := range rep.Adoption.Features {
				if f.Feature == "reports" {
					p := f.Series[25]
					out = append(out, "week:"+itoa(p.AdoptingAccounts)+" "+itoa(p.FeatureUsers)+"/"+itoa(p.ActiveUsers))
				}
			}
			return strings.Join(out, " ")
		}
		refresh := func() {
			t.Helper()
			if err := s.RefreshFeatureWeeks(ctx, adoptionToday.AddDays(-7*metrics.AdoptionWeeks), adoptionToday); err != nil {
				t.Fatal(err)
			}
		}
		const before = "acme:1/2 globex:0/1 week:1 1/3"
		if got := users(); got != before {
			t.Fatalf("before: %q", got)
		}
		refresh()
		if got := users(); got != before {
			t.Errorf("after a second refresh: %q", got)
		}
		// a1 (Report Run T-2) moves to globex: the page keeps the refreshed figures
		// until the next refresh, which counts a1 (and the report run) for globex.
		if err := s.DB().Exec("UPDATE end_users SET group_key = 'globex' WHERE user_key = 'a1'").Error; err != nil {
			t.Fatal(err)
		}
		if got := users(); got != before {
			t.Errorf("moved, not refreshed: %q", got)
		}
		refresh()
		if got := users(); got != "acme:0/1 globex:1/2 week:1 1/3" {
			t.Errorf("moved and refreshed: %q", got)
		}
	})
}
