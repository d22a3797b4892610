package models_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"sightline/metrics"
	"sightline/models"
	"sightline/models/dbtest"
)

// TestFeatureTotalsFollowWrites checks that the /features figures follow every kind of
// write they depend on at once, without a refresh of the usage tables: the adoption
// totals are a cache, and a write that forgot to invalidate it would leave them stale.
func TestFeatureTotalsFollowWrites(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		seedAdoption(t, s)
		ctx := context.Background()
		// unused renders the entitled-but-unused list, its count and ARR, and the
		// reports feature's entitled/adopting accounts in the current window.
		unused := func(params map[string][]string) string {
			t.Helper()
			rep, err := s.FeatureReport(ctx, models.ParseFeatureQuery(params), adoptionToday)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, u := range rep.Unused {
				out = append(out, fmt.Sprintf("%s/%s@%v", u.Account, u.Feature, u.ARR))
			}
			out = append(out, fmt.Sprintf("n=%d arr=%v", rep.UnusedCount, rep.UnusedARR))
			for _, r := range rep.Table {
				if r.Feature == "reports" {
					out = append(out, fmt.Sprintf("reports %d/%d", r.AdoptingAccounts, r.EntitledAccounts))
				}
			}
			return strings.Join(out, " ")
		}
		check := func(step string, params map[string][]string, want string) {
			t.Helper()
			if got := unused(params); got != want {
				t.Errorf("%s: got  %q\nwant %q", step, got, want)
			}
		}
		// acme uses reports (a1, T-2) but not alerts; globex's only feature, reports, was
		// last used at T-45; initech uses sync (T-5) and its old core plan has ended.
		check("seeded", nil, "acme/alerts@1000 globex/reports@500 n=2 arr=1500 reports 1/2")

		// Written through another server process: this one's cached totals must follow.
		globex := models.Account{Key: "globex", Name: "Globex", ARR: 900, Segment: "enterprise", LifecycleStage: "renewal"}
		if _, err := dbtest.OpenAgain(t, s).UpsertAccount(ctx, &globex); err != nil {
			t.Fatal(err)
		}
		check("globex ARR 900 (another process)", nil, "acme/alerts@1000 globex/reports@900 n=2 arr=1900 reports 1/2")

		// Plan slices are built on demand and follow writes too.
		check("plan core-plan", map[string][]string{"plan": {"core-plan"}}, "acme/alerts@1000 globex/reports@900 n=2 arr=1900 reports 1/2")
		ended := models.Entitlement{Key: "core-plan", Product: "core", Features: []string{"reports"}, Model: "user", Quantity: 5,
			StartsOn: adoptionToday.AddDays(-400), EndsOn: adoptionToday.AddDays(-1)}
		if _, err := s.UpsertEntitlement(ctx, "globex", &ended); err != nil {
			t.Fatal(err)
		}
		check("globex's plan ended yesterday", map[string][]string{"plan": {"core-plan"}}, "acme/alerts@1000 n=1 arr=1000 reports 1/1")
		check("… every account", nil, "acme/alerts@1000 n=1 arr=1000 reports 1/1")

		if err := s.DeleteEntitlement(ctx, "globex", "core-plan"); err != nil {
			t.Fatal(err)
		}
		extra := models.Entitlement{Key: "extra-addon", Product: "extra", Model: "subscription", Quantity: 1, StartsOn: adoptionToday.AddDays(-3)}
		if _, err := s.UpsertEntitlement(ctx, "globex", &extra); err != nil {
			t.Fatal(err)
		}
		check("globex on extra (sync unused)", nil, "acme/alerts@1000 globex/sync@900 n=2 arr=1900 reports 1/1")

		if _, err := s.ImportCSV(ctx, models.KindAccounts, strings.NewReader(
			"key,name,arr,segment,lifecycle_stage\nacme,Acme,1000,smb,adoption\n")); err != nil {
			t.Fatal(err)
		}
		check("acme moved to smb (import)", map[string][]string{"segment": {"enterprise"}}, "globex/sync@900 n=1 arr=900 reports 0/0")

		if err := s.DeleteAccount(ctx, "globex"); err != nil {
			t.Fatal(err)
		}
		check("globex deleted", nil, "acme/alerts@1000 n=1 arr=1000 reports 1/1")

		// A snapshot run finds acme's zero seats overused by a1 (who used reports): the
		// leakage report shows it (1 × 100) without waiting for the next refresh.
		seat := models.Entitlement{Key: "seat", Product: "core", Model: "user", Quantity: 0, UnitPrice: 100, StartsOn: adoptionToday.AddDays(-400)}
		if _, err := s.UpsertEntitlement(ctx, "acme", &seat); err != nil {
			t.Fatal(err)
		}
		leak := func() string {
			t.Helper()
			rep, err := s.FeatureReport(ctx, models.ParseFeatureQuery(nil), adoptionToday)
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%d positions, %v", rep.Leakage.Total.Positions, rep.Leakage.Total.Leakage)
		}
		if got := leak(); got != "0 positions, 0" {
			t.Errorf("before the snapshot: %s", got)
		}
		if _, err := s.SnapshotHealth(ctx, adoptionToday, adoptionToday); err != nil {
			t.Fatal(err)
		}
		if got := leak(); got != "1 positions, 100" {
			t.Errorf("after the snapshot: %s", got)
		}
		if err := s.DeleteEntitlement(ctx, "acme", "seat"); err != nil {
			t.Fatal(err)
		}

		// alerts moves to product extra: acme (all of core) is no longer entitled to it,
		// initech (all of extra) now is, and has not used it.
		alerts := models.Feature{Key: "alerts", Name: "Alerts", Product: "extra", EventNames: []string{"Alert Created"}}
		if _, err := s.UpsertFeature(ctx, &alerts); err != nil {
			t.Fatal(err)
		}
		check("alerts moved to extra", nil, "initech/alerts@200 n=1 arr=200 reports 1/1")
	})
}

// TestFeatureReportMatchesDefinition generates random books of accounts, entitlements
// and usage, and checks the report read from the adoption totals against the
// per-account definitions of package metrics, fed with usage counted here in Go from
// the generated events.
func TestFeatureReportMatchesDefinition(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		for seed := uint64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
				// Odd books prebuild every plan's slice with the every-account one; even
				// books build them when the report first asks.
				if seed%2 == 1 {
					defer models.SetMinPlanAccounts(1)()
				}
				// Each book replaces the last; its keys are new, so the earlier users' usage stays out.
				if err := s.DB().Exec("DELETE FROM accounts").Error; err != nil {
					t.Fatal(err)
				}
				checkRandomBook(t, s, fmt.Sprint(seed), rand.New(rand.NewPCG(seed, 99)))
			})
		}
	})
}

func checkRandomBook(t *testing.T, s *models.Store, prefix string, rng *rand.Rand) {
	ctx := context.Background()
	today := adoptionToday
	tday := metrics.Day(today.EpochDay())
	products := map[string][]string{"core": {"alerts", "reports", "export"}, "extra": {"sync"}}
	var features []metrics.Feature
	for _, p := range []string{"core", "extra"} {
		for _, f := range products[p] {
			mf := models.Feature{Key: f, Name: strings.ToUpper(f), Product: p, EventNames: []string{f + " used"}}
			if _, err := s.UpsertFeature(ctx, &mf); err != nil {
				t.Fatal(err)
			}
			features = append(features, metrics.Feature{Key: f, Product: p, EventNames: mf.EventNames})
		}
	}
	segments, stages, plans := []string{"enterprise", "smb", ""}, []string{"adoption", "renewal"}, []string{"gold", "silver", "addon"}
	var accounts []metrics.AdoptionAccount
	usage := metrics.AdoptionUsage{}
	weeks := metrics.Weeks(tday, metrics.AdoptionWeeks)
	windows := metrics.Windows(tday)
	periods := append(append([]metrics.Period{}, weeks...), windows...)
	r := models.NewRollups()
	userID := int64(0)
	for i := range 14 {
		a := models.Account{Key: fmt.Sprintf("acct-%s-%02d", prefix, i), Name: fmt.Sprintf("Account %d", i), ARR: float64(100 * rng.IntN(20)),
			Segment: segments[rng.IntN(3)], LifecycleStage: stages[rng.IntN(2)]}
		if _, err := s.UpsertAccount(ctx, &a); err != nil {
			t.Fatal(err)
		}
		ma := metrics.AdoptionAccount{ID: a.ID, Key: a.Key, Name: a.Name, Segment: a.Segment, Stage: a.LifecycleStage, ARR: a.ARR}
		for j := range rng.IntN(4) {
			product := []string{"core", "extra"}[rng.IntN(2)]
			// Half the terms start or end exactly on a period's last day (a Sunday, today
			// or today-30), where an off-by-one in "active on" would show.
			edge := func() models.Date {
				switch rng.IntN(4) {
				case 0:
					return today
				case 1:
					return today.AddDays(-metrics.WindowDays)
				default:
					return models.DateFromEpochDay(int(weeks[rng.IntN(len(weeks))].End))
				}
			}
			e := models.Entitlement{Key: plans[j], Product: product, Model: "subscription", Quantity: 1,
				StartsOn: today.AddDays(-rng.IntN(250))}
			if rng.IntN(2) == 0 {
				e.StartsOn = edge()
			}
			switch rng.IntN(3) {
			case 0:
				e.EndsOn = e.StartsOn.AddDays(rng.IntN(300))
			case 1:
				if end := edge(); !end.Before(e.StartsOn) {
					e.EndsOn = end
				}
			}
			if product == "core" && rng.IntN(2) == 0 {
				e.Features = []string{products["core"][rng.IntN(3)]}
			}
			if _, err := s.UpsertEntitlement(ctx, a.Key, &e); err != nil {
				t.Fatal(err)
			}
			me := metrics.Entitlement{Key: e.Key, Product: product, Features: e.Features, StartsOn: metrics.Day(e.StartsOn.EpochDay())}
			if !e.EndsOn.IsZero() {
				me.EndsOn = metrics.Day(e.EndsOn.EpochDay())
			}
			ma.Entitlements = append(ma.Entitlements, me)
		}
		accounts = append(accounts, ma)
		// Users and their usage: who was active and who used what, on which day.
		active := map[int64]map[metrics.Day]bool{}
		used := map[int64]map[metrics.Day][]string{}
		for range rng.IntN(5) {
			group := a.Key
			eu := models.EndUser{UserKey: fmt.Sprintf("u-%s-%d", prefix, userID), GroupKey: &group, FirstSeenAt: time.Now(), LastSeenAt: time.Now(), Level: "unknown"}
			userID++
			if err := s.DB().Create(&eu).Error; err != nil {
				t.Fatal(err)
			}
			active[eu.ID], used[eu.ID] = map[metrics.Day]bool{}, map[metrics.Day][]string{}
			for range rng.IntN(25) {
				back := rng.IntN(200)
				at := today.AddDays(-back).Time().Add(time.Duration(rng.IntN(24)) * time.Hour)
				d := tday - metrics.Day(back)
				r.AddActivity(eu.ID, at)
				active[eu.ID][d] = true
				if rng.IntN(3) > 0 {
					f := features[rng.IntN(len(features))]
					r.AddEvent(eu.ID, at, f.EventNames[0], 0)
					used[eu.ID][d] = append(used[eu.ID][d], f.Key)
				}
			}
		}
		ps := make([]metrics.PeriodUsage, len(periods))
		for pi, p := range periods {
			ps[pi].FeatureUsers = map[string]int{}
			for u := range active {
				wasActive, usedF := false, map[string]bool{}
				for d := p.Start; d <= p.End; d++ {
					wasActive = wasActive || active[u][d]
					for _, f := range used[u][d] {
						usedF[f] = true
					}
				}
				if wasActive {
					ps[pi].ActiveUsers++
				}
				for f := range usedF {
					ps[pi].FeatureUsers[f]++
				}
			}
		}
		usage[a.ID] = ps
	}
	if err := s.Transaction(ctx, func(tx *gorm.DB) error { return models.ApplyRollups(ctx, tx, r) }); err != nil {
		t.Fatal(err)
	}
	if err := s.RefreshFeatureWeeks(ctx, today.AddDays(-7*metrics.AdoptionWeeks), today); err != nil {
		t.Fatal(err)
	}

	// The expected report for a query, from metrics' per-account definitions.
	windowUsage := metrics.AdoptionUsage{}
	for id, ps := range usage {
		windowUsage[id] = ps[len(weeks):]
	}
	for _, params := range []map[string][]string{
		nil,
		{"segment": {"enterprise"}, "compare": {"smb"}},
		{"stage": {"renewal"}},
		{"plan": {"gold"}},
		{"plan": {"addon"}, "segment": {"smb"}},
		{"product": {"core"}, "feature": {"reports"}},
		{"feature": {"sync"}, "stage": {"adoption"}},
	} {
		q := models.ParseFeatureQuery(params)
		var main, compare []metrics.AdoptionAccount
		for _, a := range accounts {
			if q.Stage != "" && a.Stage != q.Stage {
				continue
			}
			if q.Plan != "" && !slices.ContainsFunc(a.Entitlements, func(e metrics.Entitlement) bool { return e.Key == q.Plan && e.ActiveOn(tday) }) {
				continue
			}
			if q.Segment == "" || a.Segment == q.Segment {
				main = append(main, a)
			}
			if q.Compare != "" && a.Segment == q.Compare {
				compare = append(compare, a)
			}
		}
		var fs []metrics.Feature
		for _, f := range features {
			if q.Product == "" || f.Product == q.Product {
				fs = append(fs, f)
			}
		}
		rep, err := s.FeatureReport(ctx, q, today)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range rep.Adoption.Features {
			f := fs[slices.IndexFunc(fs, func(f metrics.Feature) bool { return f.Key == got.Feature })]
			if want := metrics.AdoptionSeries(main, usage, f, weeks); !reflect.DeepEqual(got.Series, want) {
				t.Errorf("%v: %s weekly series\n got %+v\nwant %+v", params, f.Key, got.Series, want)
			}
			if q.Compare != "" {
				if want := metrics.AdoptionSeries(compare, usage, f, weeks); !reflect.DeepEqual(got.Compare, want) {
					t.Errorf("%v: %s compare series differs", params, f.Key)
				}
			}
		}
		if len(rep.Adoption.Features) != len(fs) {
			t.Errorf("%v: %d features charted, want %d", params, len(rep.Adoption.Features), len(fs))
		}
		names := map[string]string{}
		for _, f := range fs {
			names[f.Key] = strings.ToUpper(f.Key)
		}
		table := metrics.FeatureTable(main, windowUsage, fs, names, tday)
		slices.SortFunc(table, func(x, y metrics.FeatureRow) int { return strings.Compare(x.Feature, y.Feature) })
		gotTable := slices.Clone(rep.Table)
		slices.SortFunc(gotTable, func(x, y metrics.FeatureRow) int { return strings.Compare(x.Feature, y.Feature) })
		if !reflect.DeepEqual(gotTable, table) {
			t.Errorf("%v: feature table\n got %+v\nwant %+v", params, gotTable, table)
		}
		unused := metrics.EntitledAccounts(main, windowUsage, fs, tday, true)
		if rep.UnusedCount != len(unused) || !reflect.DeepEqual(rep.Unused, orEmpty(unused)) {
			t.Errorf("%v: unused %d %+v\nwant %d %+v", params, rep.UnusedCount, rep.Unused, len(unused), unused)
		}
		arr, seen := 0.0, map[string]bool{}
		for _, u := range unused {
			if !seen[u.Account] {
				seen[u.Account] = true
				arr += u.ARR
			}
		}
		if rep.UnusedARR != arr {
			t.Errorf("%v: unused ARR %v, want %v", params, rep.UnusedARR, arr)
		}
		if q.Feature != "" {
			f := fs[slices.IndexFunc(fs, func(f metrics.Feature) bool { return f.Key == q.Feature })]
			want := metrics.EntitledAccounts(main, windowUsage, []metrics.Feature{f}, tday, false)
			if rep.EntitledCount != len(want) || !reflect.DeepEqual(rep.Entitled, orEmpty(want)) {
				t.Errorf("%v: entitled %+v\nwant %+v", params, rep.Entitled, want)
			}
		}
		// The unused pairs grouped by account, in the pairs' (ARR) order.
		var byAccount []models.UnusedAccount
		for _, u := range unused {
			if n := len(byAccount); n > 0 && byAccount[n-1].Account == u.Account {
				byAccount[n-1].Features = append(byAccount[n-1].Features, u.Feature)
				continue
			}
			byAccount = append(byAccount, models.UnusedAccount{Account: u.Account, Name: u.Name, Segment: u.Segment, Stage: u.Stage,
				ARR: u.ARR, ActiveUsers: u.ActiveUsers, Features: []string{u.Feature}})
		}
		if rep.UnusedAccountCount != len(byAccount) || !reflect.DeepEqual(rep.UnusedAccounts, orEmptyAccounts(byAccount)) {
			t.Errorf("%v: unused by account %d %+v\nwant %+v", params, rep.UnusedAccountCount, rep.UnusedAccounts, byAccount)
		}
		// The feature × plan cells: per plan held today, the accounts entitled to the
		// feature through it, those that used it, and the ARR of those that did not.
		cells := map[string]metrics.PlanCell{}
		for _, a := range main {
			for _, f := range fs {
				for _, e := range a.Entitlements {
					if e.Key == "" || !metrics.Entitles(e, f, tday) {
						continue
					}
					c := cells[f.Key+"/"+e.Key]
					c.Plan, c.Feature = e.Key, f.Key
					c.Accounts++
					if windowUsage[a.ID][1].FeatureUsers[f.Key] > 0 {
						c.Adopting++
					} else {
						c.UnusedARR += a.ARR
					}
					cells[f.Key+"/"+e.Key] = c
				}
			}
		}
		gotCells := map[string]metrics.PlanCell{}
		for f, byPlan := range rep.Packaging.Cells {
			for p, c := range byPlan {
				gotCells[f+"/"+p] = c
			}
		}
		if !reflect.DeepEqual(gotCells, cells) {
			t.Errorf("%v: feature × plan\n got %+v\nwant %+v", params, gotCells, cells)
		}
		// A limit keeps the first rows and the full count; a page gets no pairs.
		q.Limit = 1
		limited, err := s.FeatureReport(ctx, q, today)
		if err != nil {
			t.Fatal(err)
		}
		if limited.UnusedCount != len(unused) || len(limited.Unused) != 0 || len(limited.UnusedAccounts) != min(1, len(byAccount)) ||
			(len(byAccount) > 0 && limited.UnusedAccounts[0].Account != byAccount[0].Account) {
			t.Errorf("%v: limited unused %d %+v", params, limited.UnusedCount, limited.UnusedAccounts)
		}
	}
}

func orEmptyAccounts(l []models.UnusedAccount) []models.UnusedAccount {
	if l == nil {
		return []models.UnusedAccount{}
	}
	return l
}

func orEmpty(l []metrics.EntitledAccount) []metrics.EntitledAccount {
	if l == nil {
		return []metrics.EntitledAccount{}
	}
	return l
}
