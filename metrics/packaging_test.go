package metrics

import (
	"fmt"
	"testing"
)

// TestPackagingFindings checks each rule at its threshold and one step past it, and
// the order: instrumentation first, then money.
func TestPackagingFindings(t *testing.T) {
	features := []PackagedFeature{
		// Never instrumented: listed first, whatever its numbers.
		{Feature: "planner", Product: "insights", Entitled: 10, Instrumented: false, ProductAccounts: 30},
		// 12 of 20 (60%) use it and 10 insights accounts lack it: include it more widely.
		{Feature: "forecasting", Product: "insights", Entitled: 20, Adopting: 12, Instrumented: true, ProductAccounts: 30, MissingARR: 50000},
		// 11 of 20 (55%): below the high rate.
		{Feature: "funnels", Product: "insights", Entitled: 20, Adopting: 11, Instrumented: true, ProductAccounts: 30, MissingARR: 50000},
		// Widely used, but only 4 accounts lack it: too few to say.
		{Feature: "exports", Product: "insights", Entitled: 26, Adopting: 26, Instrumented: true, ProductAccounts: 30, MissingARR: 9000},
		// Widely used by 4 entitled accounts: too few to say.
		{Feature: "beta", Product: "insights", Entitled: 4, Adopting: 4, Instrumented: true, ProductAccounts: 30, MissingARR: 90000},
	}
	cells := []PlanCell{
		{Plan: "insights-seats", Feature: "funnels", Accounts: 10, Adopting: 2, UnusedARR: 80000}, // 20%: unbundle
		{Plan: "insights-pro", Feature: "funnels", Accounts: 10, Adopting: 3, UnusedARR: 90000},   // 30%: no
		{Plan: "insights-seats", Feature: "exports", Accounts: 5, Adopting: 1, UnusedARR: 20000},  // 20% of 5: unbundle
		{Plan: "insights-lite", Feature: "exports", Accounts: 4, Adopting: 0, UnusedARR: 70000},   // 4 accounts: too few
		{Plan: "insights-seats", Feature: "planner", Accounts: 10, Adopting: 0, UnusedARR: 99000}, // not instrumented: no
	}
	quantities := []PlanQuantity{
		{Plan: "insights-seats", Holders: 20, Overused: 5, Leakage: 4100}, // 25%: outgrown
		{Plan: "api-calls", Holders: 20, Overused: 4, Leakage: 9000},      // 20%: no
		{Plan: "devices", Holders: 4, Overused: 4, Leakage: 9000},         // 4 holders: too few
	}
	got := []string{}
	for _, f := range PackagingFindings(features, cells, quantities) {
		got = append(got, fmt.Sprintf("%s %s %s %d/%d %.0f", f.Kind, f.Feature, f.Plan, f.Accounts, f.Of, f.Money))
	}
	want := []string{
		"instrument planner  10/30 0",
		"unbundle funnels insights-seats 2/10 80000",
		"include forecasting  10/30 50000",
		"unbundle exports insights-seats 1/5 20000",
		"quantity  insights-seats 5/20 4100",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findings:\n got %q\nwant %q", got, want)
	}
	if len(PackagingFindings(nil, nil, nil)) != 0 {
		t.Error("findings without data")
	}
	if r := (PlanCell{}).Rate(); r != nil {
		t.Errorf("rate of an empty cell: %v", *r)
	}
}
