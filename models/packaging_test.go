package models_test

import (
	"context"
	"fmt"
	"testing"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestFeaturePackagingHandComputed works out seedAdoption's feature × plan view, the
// events seen, and the unused features by account (see seedAdoption for the data):
//
//	entitled today: acme alerts+reports (core-plan), globex reports (core-plan, lists
//	reports only), initech sync (extra-addon; old-core ended T-50)
//	used in 30 days: acme reports (a1 T-2), initech sync (i1 T-5); globex's last
//	report was T-45; nobody ever created an alert
func TestFeaturePackagingHandComputed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		seedAdoption(t, s)
		ctx := context.Background()
		rep, err := s.FeatureReport(ctx, models.ParseFeatureQuery(nil), adoptionToday)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for f, v := range rep.Seen {
			last := "never"
			if v.Last != nil {
				last = v.Last.String()
			}
			seen[f] = fmt.Sprintf("%s %v", last, v.Never)
		}
		if want := map[string]string{"alerts": "never [Alert Created]", "reports": "2025-05-30 []", "sync": "2025-05-27 []"}; fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("seen %v, want %v", seen, want)
		}

		pk := rep.Packaging
		if got := fmt.Sprint(pk.Plans); got != "[{core-plan 2} {extra-addon 1}]" {
			t.Errorf("plans %s", got)
		}
		cells := map[string]string{}
		for f, byPlan := range pk.Cells {
			for p, c := range byPlan {
				cells[f+"/"+p] = fmt.Sprintf("%d/%d %.0f", c.Adopting, c.Accounts, c.UnusedARR)
			}
		}
		want := map[string]string{"alerts/core-plan": "0/1 1000", "reports/core-plan": "1/2 500", "sync/extra-addon": "1/1 0"}
		if fmt.Sprint(cells) != fmt.Sprint(want) {
			t.Errorf("cells %v, want %v", cells, want)
		}
		// Only the instrumentation finding: every other rate rests on fewer than five accounts.
		if got := fmt.Sprint(pk.Findings); got != "[{instrument alerts  1 2 0}]" {
			t.Errorf("findings %s", got)
		}

		// Unused by account: acme's ARR once (alerts), globex's (reports).
		unused := []string{}
		for _, a := range rep.UnusedAccounts {
			unused = append(unused, fmt.Sprintf("%s %.0f %d %v", a.Account, a.ARR, a.ActiveUsers, a.Features))
		}
		if got := fmt.Sprint(unused); rep.UnusedAccountCount != 2 || got != "[acme 1000 2 [alerts] globex 500 1 [reports]]" {
			t.Errorf("%d unused accounts: %s", rep.UnusedAccountCount, got)
		}
		if rep.UnusedARR != 1500 {
			t.Errorf("unused ARR %v", rep.UnusedARR)
		}

		// Filters: the extra product has one plan and nothing unused; smb has no core plan.
		rep, err = s.FeatureReport(ctx, models.ParseFeatureQuery(map[string][]string{"product": {"extra"}}), adoptionToday)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(rep.Packaging.Plans); got != "[{extra-addon 1}]" || rep.UnusedAccountCount != 0 || len(rep.UnusedAccounts) != 0 {
			t.Errorf("extra: plans %s, %d unused", got, rep.UnusedAccountCount)
		}
		q := models.ParseFeatureQuery(map[string][]string{"segment": {"enterprise"}})
		q.Limit = 1
		rep, err = s.FeatureReport(ctx, q, adoptionToday)
		if err != nil {
			t.Fatal(err)
		}
		if rep.UnusedAccountCount != 2 || len(rep.UnusedAccounts) != 1 || rep.UnusedAccounts[0].Account != "acme" {
			t.Errorf("enterprise, limit 1: %d unused, %+v", rep.UnusedAccountCount, rep.UnusedAccounts)
		}
		if got := fmt.Sprint(rep.Packaging.Plans); got != "[{core-plan 2}]" {
			t.Errorf("enterprise plans %s", got)
		}
		// A plan filter reads that plan's slice: its holders, acme and globex.
		rep, err = s.FeatureReport(ctx, models.ParseFeatureQuery(map[string][]string{"plan": {"core-plan"}}), adoptionToday)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(rep.Packaging.Plans); got != "[{core-plan 2}]" || rep.Packaging.Cells["reports"]["core-plan"].Accounts != 2 {
			t.Errorf("core-plan holders: plans %s, cells %v", got, rep.Packaging.Cells)
		}
	})
}
