package metrics

import (
	"math"
	"strings"
	"testing"
)

// path makes a daily history from day `from`, one value a day.
func path(from Day, values ...float64) []GoalPoint {
	out := make([]GoalPoint, len(values))
	for i, v := range values {
		out[i] = GoalPoint{Day: from + Day(i), Value: v}
	}
	return out
}

// linear is a daily history from..to moving by step a day from start.
func linear(from, to Day, start, step float64) []GoalPoint {
	var out []GoalPoint
	for d := from; d <= to; d++ {
		out = append(out, GoalPoint{Day: d, Value: start + step*float64(d-from)})
	}
	return out
}

func TestPaceGoal(t *testing.T) {
	rate, _ := ParseGoalMetric("daily_usage_rate")
	users, _ := ParseGoalMetric("active_users")
	const created, due = Day(20000), Day(20090)
	cases := []struct {
		name       string
		in         GoalInput
		status     string
		progress   float64
		projection float64 // -1: none
		sentence   string
	}{
		{"achieved early", GoalInput{Metric: rate, Baseline: 0.4, Target: 0.7, Created: created, Due: due, Today: created + 30,
			History: linear(created, created+30, 0.4, 0.011)}, GoalAchieved, 1, 0.73 + 0.011*60, "Achieved: 73% against a target of 70%."},
		{"on track", GoalInput{Metric: rate, Baseline: 0.4, Target: 0.7, Created: created, Due: due, Today: created + 45,
			History: linear(created, created+45, 0.4, 0.004)}, GoalOnTrack, 0.6, 0.58 + 0.004*45, "At this pace: 76% by "},
		{"at risk: improving too slowly", GoalInput{Metric: rate, Baseline: 0.4, Target: 0.7, Created: created, Due: due, Today: created + 45,
			History: linear(created, created+45, 0.4, 0.002)}, GoalAtRisk, 0.3, 0.49 + 0.002*45, "At this pace: 58% by 2 Jan 2025, target 70%."},
		{"missed", GoalInput{Metric: users, Baseline: 100, Target: 150, Created: created, Due: due, Today: due + 3,
			History: linear(created, due+3, 100, 0.5)}, GoalMissed, (146.5 - 100) / 50.0, 150, "Missed: due 2 Jan 2025, now at 146.5 against a target of 150."},
		{"metric going the wrong way", GoalInput{Metric: users, Baseline: 100, Target: 120, Created: created, Due: due, Today: created + 20,
			History: linear(created, created+20, 100, -1)}, GoalAtRisk, 0, 10, "At this pace: 10 by"},
		{"recent trend wins over an old climb", GoalInput{Metric: users, Baseline: 100, Target: 130, Created: created, Due: due, Today: created + 40,
			History: append(linear(created, created+26, 100, 1), linear(created+27, created+40, 126, 0)...)}, GoalAtRisk, 26.0 / 30, 126, "At this pace: 126 by"},
		{"too young for a trend, keeping pace", GoalInput{Metric: users, Baseline: 100, Target: 130, Created: created, Due: due, Today: created + 1,
			History: path(created, 100, 101)}, GoalOnTrack, 1.0 / 30, -1, "Too early for a trend"},
		{"too young for a trend, behind", GoalInput{Metric: users, Baseline: 100, Target: 130, Created: created, Due: created + 4, Today: created + 2,
			History: path(created, 100, 100)}, GoalAtRisk, 0, -1, "Too early for a trend"},
		{"the ceiling bounds the projection", GoalInput{Metric: rate, Baseline: 0.5, Target: 0.95, Created: created, Due: due, Today: created + 10,
			History: linear(created, created+10, 0.5, 0.03)}, GoalOnTrack, 0.3 / 0.45, 1, "At this pace: 100% by"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := PaceGoal(tc.in)
			if p.Status != tc.status {
				t.Errorf("status %s, want %s (%s)", p.Status, tc.status, p.Sentence)
			}
			if math.Abs(p.Progress-tc.progress) > 1e-9 {
				t.Errorf("progress %v, want %v", p.Progress, tc.progress)
			}
			switch {
			case tc.projection < 0 && p.Projected != nil:
				t.Errorf("projection %v, want none", *p.Projected)
			case tc.projection >= 0 && tc.status != GoalAchieved && tc.status != GoalMissed &&
				(p.Projected == nil || math.Abs(*p.Projected-tc.projection) > 1e-6):
				t.Errorf("projection %v, want %v", p.Projected, tc.projection)
			}
			if !strings.Contains(p.Sentence, tc.sentence) {
				t.Errorf("sentence %q, want it to contain %q", p.Sentence, tc.sentence)
			}
		})
	}
}

func TestPaceGoalUsesCurrentOverHistory(t *testing.T) {
	m, _ := ParseGoalMetric("active_users")
	cur := 200.0
	p := PaceGoal(GoalInput{Metric: m, Baseline: 100, Target: 150, Created: 10, Due: 100, Today: 20,
		History: linear(10, 19, 100, 0), Current: &cur})
	if p.Status != GoalAchieved || p.Progress != 1 || *p.Current != 200 {
		t.Fatalf("got %+v", p)
	}
}

func TestParseGoalMetricAndAttainable(t *testing.T) {
	for _, key := range []string{"licensed_seats", "", "exposure:interns", "feature_adoption:", "seats"} {
		if _, err := ParseGoalMetric(key); err == nil {
			t.Errorf("%q accepted", key)
		}
	}
	checks := []struct {
		key              string
		target, baseline float64
		want             string
	}{
		{"daily_usage_rate", 1.2, 0.5, "target 1.2 is above the ceiling of 1 for daily_usage_rate"},
		{"feature_adoption:reports", 1.01, 0.5, "above the ceiling of 1"},
		{"active_users", -3, 0, "target -3 is below 0"},
		{"exposure:executive", 2, 2, "does not improve on the baseline of 2"},
		{"stickiness", 0.3, 0.4, "improves upward"},
		{"health_score", 101, 50, "above the ceiling of 100"},
		{"active_users", 5000, 10, ""},
		{"seat_activation", 1, 0.9, ""},
	}
	for _, c := range checks {
		m, err := ParseGoalMetric(c.key)
		if err != nil {
			t.Fatal(err)
		}
		got := m.AttainableProblem(c.target, c.baseline)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s %v from %v: %q, want %q", c.key, c.target, c.baseline, got, c.want)
		}
	}
	r := Result{ActiveUsers: 7, Exposure: Exposure{Manager: 3}, FeatureAdoption: []FeatureAdoption{{Feature: "reports", Rate: new(0.5)}}}
	for key, want := range map[string]float64{"active_users": 7, "exposure:manager": 3, "feature_adoption:reports": 0.5} {
		m, _ := ParseGoalMetric(key)
		if v, ok := m.Value(r); !ok || v == nil || *v != want {
			t.Errorf("%s: %v %v, want %v", key, v, ok, want)
		}
	}
	m, _ := ParseGoalMetric("feature_adoption:alerts")
	if _, ok := m.Value(r); ok {
		t.Error("a feature the account is not entitled to counts as measurable")
	}
}

// TestGoalFeasibility is the case of issue 17: daily usage at 13%, never moving more
// than a few points a month for 90 days, asked to reach 70% in 57 days.
func TestGoalFeasibility(t *testing.T) {
	rate, _ := ParseGoalMetric("daily_usage_rate")
	const today = Day(20000)
	var hist []GoalPoint
	for d := today - 89; d <= today; d++ {
		// A slow wave between 11% and 15%: at most ~3 points in any 30 days.
		hist = append(hist, GoalPoint{Day: d, Value: 0.13 + 0.02*math.Sin(float64(d)/15)})
	}
	f := GoalFeasibility(rate, hist, 0.70, today, today+57)
	if f.BestPerMonth == nil || *f.BestPerMonth > 0.04 || f.NeedPerMonth == nil || *f.NeedPerMonth < 0.28 {
		t.Fatalf("best %v need %v", f.BestPerMonth, f.NeedPerMonth)
	}
	if !strings.HasPrefix(f.Warning, "Far beyond anything this account has shown") || !strings.Contains(f.Sentence, "The target needs +") {
		t.Fatalf("warning %q, sentence %q", f.Warning, f.Sentence)
	}
	// The goal set anyway is at risk at once: its trend comes from the metric's own
	// history, not the goal's (one day) age.
	p := PaceGoal(GoalInput{Metric: rate, History: hist, Baseline: 0.13, Target: 0.70, Created: today, Due: today + 57, Today: today})
	if p.Status != GoalAtRisk || p.Projected == nil || *p.Projected > 0.2 || !strings.HasPrefix(p.Sentence, "At this pace:") {
		t.Fatalf("paced %+v", p)
	}
	// A modest target within the account's reach: no warning.
	if f := GoalFeasibility(rate, hist, 0.16, today, today+57); f.Warning != "" {
		t.Fatalf("modest target warned: %q", f.Warning)
	}
	// People type percentages.
	for raw, want := range map[string]float64{"70": 0.7, "70%": 0.7, " 7.5 % ": 0.075, "0.7": 0.7} {
		if v, err := rate.ParseTarget(raw); err != nil || math.Abs(v-want) > 1e-12 {
			t.Fatalf("%q → %v %v", raw, v, err)
		}
	}
	users, _ := ParseGoalMetric("active_users")
	if v, _ := users.ParseTarget("70"); v != 70 {
		t.Fatalf("a count read as %v", v)
	}
}
