package metrics

import (
	"fmt"
	"strings"
	"testing"
)

func pos(key, model string, quantity, consumed, unitPrice, underusedBelow float64) Position {
	p := Position{Key: key, Model: model, Quantity: quantity, Consumed: consumed, UnitPrice: unitPrice, Product: "insights"}
	p.Utilization = ratio(consumed, quantity)
	p.Status = status(p, underusedBelow)
	p.Leakage = max(0, consumed-quantity) * unitPrice
	return p
}

func days(n int) *int { return &n }

// summary lists recommendations as "kind subject arr_change".
func summary(rs []Recommendation) string {
	var out []string
	for _, r := range rs {
		subject := ""
		if r.Entitlement != nil {
			subject = *r.Entitlement
		}
		if r.Feature != nil {
			subject = *r.Feature
		}
		out = append(out, fmt.Sprintf("%s %s %.0f", r.Kind, subject, r.ARRChange))
	}
	return strings.Join(out, ", ")
}

func TestRecommendExpand(t *testing.T) {
	now := Result{Entitlements: []Position{
		pos("seats", "user", 24, 30, 600, 0.5),          // over now and before: expand, leakage 6 × 600
		pos("new-seats", "user", 10, 12, 100, 0.5),      // over, but did not exist 14 days ago
		pos("devices", "device", 10, 11, 60, 0.5),       // over now, healthy before
		pos("api-calls", "metered", 1000, 1500, 1, 0.5), // over both, but not a seat model
	}}
	earlier := Result{Entitlements: []Position{
		pos("seats", "user", 24, 25, 600, 0.5),
		pos("devices", "device", 10, 9, 60, 0.5),
		pos("api-calls", "metered", 1000, 1200, 1, 0.5),
	}}
	rs := Recommend(RecommendInput{Now: now, Earlier: earlier})
	if got := summary(rs); got != "expand seats 3600" {
		t.Fatalf("got %s", got)
	}
	r := rs[0]
	if r.Message != "seats: 30 of 24 seats in use, and over for two weeks. Sell 6 more (+$3,600 ARR)." {
		t.Errorf("message %q", r.Message)
	}
	if r.Evidence["suggested_quantity"] != 30.0 || r.Evidence["consumed_14_days_ago"] != 25.0 || r.Evidence["utilization"] != 1.25 {
		t.Errorf("evidence %v", r.Evidence)
	}
}

func TestRecommendChangeModelAndRightSize(t *testing.T) {
	seats := pos("seats", "user", 40, 10, 100, 0.5) // 25%: underused
	for _, c := range []struct {
		name string
		peak int
		want string
	}{
		// 13 ≤ 40/3: concurrent of ceil(13 × 1.2) = 16 at 3 × 100 = 4,800 vs 4,000 today.
		{"a third or less at once", 13, "change_model seats 800"},
		// 14 > 13.3: no model change; right-size to ceil(max(10, 12) × 1.2) = 15: −25 × 100.
		{"more than a third at once", 14, "right_size seats -2500"},
	} {
		rs := Recommend(RecommendInput{PeakConcurrent: c.peak,
			Now:     Result{Entitlements: []Position{seats}},
			Earlier: Result{Entitlements: []Position{pos("seats", "user", 40, 12, 100, 0.5)}}})
		if got := summary(rs); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
	rs := Recommend(RecommendInput{PeakConcurrent: 13, Now: Result{Entitlements: []Position{seats}}})
	if rs[0].Evidence["peak_concurrent_users"] != 13 || rs[0].Evidence["suggested_quantity"] != 16.0 ||
		!strings.Contains(rs[0].Message, "at most 13 people at once. A concurrent licence of 16 fits (+$800 ARR at 3× a named seat's price)") {
		t.Errorf("change_model: %q %v", rs[0].Message, rs[0].Evidence)
	}
	// Right-sizing needs two weeks under, a seat model, and a smaller size.
	for _, c := range []struct {
		name         string
		now, earlier Position
		want         string
	}{
		{"under now only", pos("s", "subscription", 40, 8, 50, 0.5), pos("s", "subscription", 40, 25, 50, 0.5), ""},
		{"subscription under twice", pos("s", "subscription", 40, 8, 50, 0.5), pos("s", "subscription", 40, 9, 50, 0.5), "right_size s -1450"},
		{"metered under twice", pos("m", "metered", 1000, 10, 1, 0.5), pos("m", "metered", 1000, 10, 1, 0.5), ""},
		{"one seat, none used", pos("s", "subscription", 1, 0, 50, 0.5), pos("s", "subscription", 1, 0, 50, 0.5), ""},
		{"two seats, none used", pos("s", "subscription", 2, 0, 50, 0.5), pos("s", "subscription", 2, 0, 50, 0.5), "right_size s -50"},
	} {
		got := summary(Recommend(RecommendInput{PeakConcurrent: 99, Now: Result{Entitlements: []Position{c.now}}, Earlier: Result{Entitlements: []Position{c.earlier}}}))
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestRecommendAdopt(t *testing.T) {
	now := Result{ActiveUsers: 12, FeatureAdoption: []FeatureAdoption{{Feature: "forecasting", Users: 0}, {Feature: "funnels", Users: 3}, {Feature: "cohorts", Users: 0}}}
	names := map[string]string{"forecasting": "Forecasting"}
	for _, c := range []struct {
		days *int
		want string
	}{
		{days(180), "adopt forecasting 0, adopt cohorts 0"},
		{days(0), "adopt forecasting 0, adopt cohorts 0"},
		{days(181), ""},
		{days(-1), ""}, // the renewal date has passed
		{nil, ""},
	} {
		rs := Recommend(RecommendInput{Now: now, DaysToRenewal: c.days, FeatureNames: names})
		if got := summary(rs); got != c.want {
			t.Errorf("days %v: got %q, want %q", c.days, got, c.want)
		}
	}
	rs := Recommend(RecommendInput{Now: now, DaysToRenewal: days(45), FeatureNames: names})
	if rs[0].Message != "Nobody used Forecasting in the last 30 days, and the renewal is in 45 days. Show it to the team before then." ||
		rs[1].Message != "Nobody used cohorts in the last 30 days, and the renewal is in 45 days. Show it to the team before then." {
		t.Errorf("messages %q / %q", rs[0].Message, rs[1].Message)
	}
}
