package alerts

import (
	"strings"
	"testing"

	"sightline/metrics"
)

const today = metrics.Day(20790) // 2026-12-03, a Thursday

func f(v float64) *float64 { return &v }

// account builds an input whose health is given per day (missing days: no data).
func account(byDay map[metrics.Day]metrics.Result) Input {
	return Input{Account: "acme", ARR: 120000, AsOf: today,
		Health: func(d metrics.Day) metrics.Result { return byDay[d] }}
}

func position(key, model string, qty, consumed, price float64, status string) metrics.Position {
	p := metrics.Position{Key: key, Model: model, Quantity: qty, Consumed: consumed, UnitPrice: price, Status: status}
	if qty > 0 {
		p.Utilization = f(consumed / qty)
	}
	p.Leakage = max(0, consumed-qty) * price
	return p
}

func only(t *testing.T, cs []Condition, kind string) []Condition {
	t.Helper()
	var out []Condition
	for _, c := range cs {
		if c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

func TestConsumptionThresholds(t *testing.T) {
	for _, tc := range []struct {
		consumed float64
		at       float64 // 0: no alert
		severity string
		message  string
	}{
		{79, 0, "", ""},
		{80, 0.8, SeverityInfo, "core-seats: 80 of 100 seats in use (80%), nearing the limit"},
		{99.9, 0.8, SeverityInfo, ""},
		{100, 1.0, SeverityWarning, "core-seats: 100 of 100 seats in use (100%), at the limit"},
		{119, 1.0, SeverityWarning, "core-seats: 119 of 100 seats in use (119%), $1,710 not billed"},
		{120, 1.2, SeverityCritical, "core-seats: 120 of 100 seats in use (120%), $1,800 not billed"},
		{150, 1.2, SeverityCritical, ""},
	} {
		in := account(map[metrics.Day]metrics.Result{today: {Entitlements: []metrics.Position{position("core-seats", "user", 100, tc.consumed, 90, "")}}})
		in.Entitlements = []metrics.Entitlement{{Key: "core-seats", StartsOn: today - 100}}
		cs := only(t, Conditions(in, DefaultRules()), KindConsumption)
		if tc.at == 0 {
			if len(cs) != 0 {
				t.Fatalf("%v consumed: %+v", tc.consumed, cs)
			}
			continue
		}
		if len(cs) != 1 || *cs[0].Threshold != tc.at || cs[0].Severity != tc.severity || cs[0].Subject != "core-seats" || cs[0].Term != (today-100).String() {
			t.Fatalf("%v consumed: %+v", tc.consumed, cs)
		}
		if tc.message != "" && cs[0].Message != tc.message {
			t.Fatalf("message %q, want %q", cs[0].Message, tc.message)
		}
	}
	// SPEC's example, a user pool of 4 with 6 in use at $415 a seat.
	in := account(map[metrics.Day]metrics.Result{today: {Entitlements: []metrics.Position{position("insights-seats", "user", 4, 6, 415, "overused")}}})
	if c := only(t, Conditions(in, DefaultRules()), KindConsumption); len(c) != 1 || c[0].Message != "insights-seats: 6 of 4 seats in use (150%), $830 not billed" {
		t.Fatalf("%+v", c)
	}
	// No quantity, no utilization: nothing to reach.
	in = account(map[metrics.Day]metrics.Result{today: {Entitlements: []metrics.Position{position("free", "user", 0, 6, 0, "")}}})
	if c := Conditions(in, DefaultRules()); len(c) != 0 {
		t.Fatalf("%+v", c)
	}
	// Turned off.
	r := DefaultRules()
	r.Consumption.Enabled = false
	in = account(map[metrics.Day]metrics.Result{today: {Entitlements: []metrics.Position{position("core-seats", "user", 100, 150, 1, "overused")}}})
	if c := Conditions(in, r); len(c) != 0 {
		t.Fatalf("off: %+v", c)
	}
}

func TestUnderuseNeedsThirtyDays(t *testing.T) {
	for _, tc := range []struct {
		start metrics.Day
		want  bool
	}{{today - 29, false}, {today - 30, true}, {0, true}} {
		in := account(map[metrics.Day]metrics.Result{today: {Entitlements: []metrics.Position{position("core-seats", "user", 100, 20, 10, metrics.StatusUnderused)}}})
		in.Entitlements = []metrics.Entitlement{{Key: "core-seats", StartsOn: tc.start}}
		cs := only(t, Conditions(in, DefaultRules()), KindUnderuse)
		if (len(cs) == 1) != tc.want {
			t.Fatalf("started %v: %+v", tc.start, cs)
		}
		if tc.want && !strings.Contains(cs[0].Message, "core-seats: 20 of 100 seats in use (20%)") || tc.want && !strings.Contains(cs[0].Message, "$800 of it paid for and unused") {
			t.Fatalf("message %q", cs[0].Message)
		}
	}
}

func health(score float64, color string) metrics.Result {
	return metrics.Result{Health: metrics.Health{Score: &score, Color: color}}
}

func TestHealthDrop(t *testing.T) {
	for _, tc := range []struct {
		before, now metrics.Result
		want        bool
		severity    string
	}{
		{health(80, "green"), health(66, "yellow"), true, SeverityWarning}, // colour worse
		{health(95, "green"), health(80, "green"), true, SeverityWarning},  // exactly 15 points
		{health(95, "green"), health(80.5, "green"), false, ""},            // 14.5 points
		{health(60, "yellow"), health(30, "red"), true, SeverityCritical},
		{health(30, "red"), health(60, "yellow"), false, ""},
		{metrics.Result{}, health(10, "red"), false, ""}, // nothing to compare with
	} {
		in := account(map[metrics.Day]metrics.Result{today: tc.now, today - 7: tc.before})
		cs := only(t, Conditions(in, DefaultRules()), KindHealthDrop)
		if (len(cs) == 1) != tc.want || tc.want && cs[0].Severity != tc.severity {
			t.Fatalf("%v → %v: %+v", tc.before.Health, tc.now.Health, cs)
		}
	}
	in := account(map[metrics.Day]metrics.Result{today: health(58, "yellow"), today - 7: health(78, "green")})
	if c := only(t, Conditions(in, DefaultRules()), KindHealthDrop); c[0].Message != "Health fell from 78 to 58 in 7 days (green → yellow); ARR $120,000" {
		t.Fatalf("%q", c[0].Message)
	}
}

func TestRenewalRisk(t *testing.T) {
	for _, tc := range []struct {
		renewal metrics.Day
		now     metrics.Result
		want    string // severity, "" for none
	}{
		{today + 90, health(50, "yellow"), SeverityWarning},
		{today + 91, health(50, "yellow"), ""},
		{today, health(20, "red"), SeverityCritical},
		{today - 1, health(20, "red"), ""}, // past
		{today + 10, health(90, "green"), ""},
		{today + 10, metrics.Result{}, SeverityCritical}, // no score at all
		{0, health(20, "red"), ""},
	} {
		in := account(map[metrics.Day]metrics.Result{today: tc.now})
		in.RenewalOn = tc.renewal
		cs := only(t, Conditions(in, DefaultRules()), KindRenewalRisk)
		if got := ""; len(cs) == 1 {
			got = cs[0].Severity
			if got != tc.want {
				t.Fatalf("renewal %v: %+v", tc.renewal, cs)
			}
		} else if tc.want != "" {
			t.Fatalf("renewal %v: no alert", tc.renewal)
		}
	}
	in := account(map[metrics.Day]metrics.Result{today: health(52.4, "yellow")})
	in.RenewalOn = today + 45
	if c := only(t, Conditions(in, DefaultRules()), KindRenewalRisk); c[0].Message != "Renews in 45 days (2027-01-17) with health 52 (yellow); $120,000 ARR at stake" {
		t.Fatalf("%q", c[0].Message)
	}
}

func TestGoalsGoneDarkAndExecutives(t *testing.T) {
	in := account(map[metrics.Day]metrics.Result{
		today:     {WindowDays: 30},
		today - 7: {Exposure: metrics.Exposure{Executive: 2}},
	})
	in.Goals = []Goal{
		{ID: 7, Title: "Daily use", Metric: "daily_usage_rate", Status: metrics.GoalAtRisk, Current: f(0.52), Target: 0.7, DueOn: "2027-02-01"},
		{ID: 8, Title: "Breadth", Metric: "breadth", Status: metrics.GoalOnTrack, Target: 0.8},
		{ID: 9, Title: "Execs", Metric: "exposure:executive", Status: metrics.GoalMissed, Target: 3},
	}
	// Usage on the weekend before the quiet week, none since: a weekend counts like any day.
	usage := map[metrics.Day]int{today - 7: 3, today - 8: 4}
	in.UsageMessages = func(from, to metrics.Day) int {
		n := 0
		for d := from; d <= to; d++ {
			n += usage[d]
		}
		return n
	}
	cs := Conditions(in, DefaultRules())
	goals := only(t, cs, KindGoalAtRisk)
	if len(goals) != 2 || goals[0].Subject != "7" || goals[0].Severity != SeverityWarning || goals[1].Subject != "9" || goals[1].Severity != SeverityCritical {
		t.Fatalf("goals %+v", goals)
	}
	if goals[0].Message != "Goal “Daily use” is at risk: daily_usage_rate now 0.52, target 0.7, due 2027-02-01" {
		t.Fatalf("%q", goals[0].Message)
	}
	dark := only(t, cs, KindGoneDark)
	if len(dark) != 1 || dark[0].Message != "No usage in the last 7 days, after 7 usage messages in the 23 days before; ARR $120,000" {
		t.Fatalf("gone dark %+v", dark)
	}
	exec := only(t, cs, KindExecutiveLost)
	if len(exec) != 1 || !strings.HasPrefix(exec[0].Message, "No executive active in the last 30 days, down from 2 7 days ago") {
		t.Fatalf("executive %+v", exec)
	}
	// One message on the last quiet day is usage: not dark. None ever: not dark either.
	usage[today-6] = 1
	if c := only(t, Conditions(in, DefaultRules()), KindGoneDark); len(c) != 0 {
		t.Fatalf("%+v", c)
	}
	usage = map[metrics.Day]int{}
	if c := only(t, Conditions(in, DefaultRules()), KindGoneDark); len(c) != 0 {
		t.Fatalf("%+v", c)
	}
}

func TestRulesValidate(t *testing.T) {
	if ps := DefaultRules().Validate(); len(ps) != 0 {
		t.Fatal(ps)
	}
	r := DefaultRules()
	r.Consumption.Thresholds = []Threshold{{1.0, SeverityWarning}, {0.8, "loud"}}
	r.GoneDark.LookbackDays = 5
	ps := r.Validate()
	fields := map[string]bool{}
	for _, p := range ps {
		fields[p.Field] = true
	}
	if !fields["consumption.thresholds[1]"] || !fields["gone_dark.lookback_days"] || len(ps) != 3 {
		t.Fatalf("%+v", ps)
	}
}
