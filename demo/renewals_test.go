package demo_test

import (
	"context"
	"fmt"
	"testing"

	"sightline/demo"
	"sightline/metrics"
	"sightline/models"
	"sightline/models/dbtest"
)

// TestDemoRenewalsTellAStory checks what the renewals issue asks of the demo: two years
// of history whose outcomes follow usage plausibly but imperfectly (an AUC well above
// chance and below 1, better read close to the renewal than far), weights worth
// suggesting, a pipeline with overdue renewals and accounts without a record, and a
// handful of accounts in each recommendation case.
func TestDemoRenewalsTellAStory(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		today := models.NewDate(2026, 11, 20)
		const days = 30
		if _, err := demo.Seed(ctx, s, today, demo.Options{Days: days}, quiet()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SnapshotHealth(ctx, today.AddDays(-(days - 1)), today); err != nil {
			t.Fatal(err)
		}
		if _, err := demo.SeedRenewals(ctx, s, today, days, quiet()); err != nil {
			t.Fatal(err)
		}
		aucs := map[int]float64{}
		for _, lead := range models.BacktestLeads {
			b, err := s.RenewalBacktest(ctx, lead, today)
			if err != nil {
				t.Fatal(err)
			}
			if b.AUC == nil || b.Renewals < 100 || b.Lost < 15 {
				t.Fatalf("lead %d: %d renewals, %d lost, AUC %v", lead, b.Renewals, b.Lost, b.AUC)
			}
			aucs[lead] = *b.AUC
			if lead == 90 && (b.ByColor["red"].LostRate == nil || b.ByColor["green"].LostRate == nil || *b.ByColor["red"].LostRate <= *b.ByColor["green"].LostRate) {
				t.Errorf("red renewals are not lost more often than green ones: %+v", b.ByColor)
			}
		}
		t.Logf("AUC by lead: %v", aucs)
		if aucs[90] < 0.65 || aucs[90] > 0.95 || aucs[30] < aucs[180] {
			t.Errorf("AUC by lead %v: want plausible (0.65–0.95 at 90 days) and better close to the renewal", aucs)
		}
		w, err := s.SuggestScorecardWeights(ctx, today)
		if err != nil {
			t.Fatal(err)
		}
		if !w.Enough || w.Suggested[metrics.MeasureBreadth] >= w.Current[metrics.MeasureBreadth] {
			t.Errorf("the suggestion does not drop breadth, which does not drive outcomes: %+v", w)
		}

		p, err := s.RenewalPipeline(ctx, models.RenewalQuery{Within: 180, Lead: 90, From: today.AddDays(-365), To: today}, today, false)
		if err != nil {
			t.Fatal(err)
		}
		overdue, noRecord := 0, 0
		for _, r := range p.Upcoming {
			if r.DaysLeft < 0 {
				overdue++
			}
			if r.Renewal == nil {
				noRecord++
			}
		}
		if overdue == 0 || noRecord == 0 || len(p.Past) == 0 || p.NRR == nil {
			t.Errorf("pipeline: %d upcoming, %d overdue, %d without a record, %d past", len(p.Upcoming), overdue, noRecord, len(p.Past))
		}
		// A page lists the first few; its totals still count every renewal.
		q := p.Query
		q.Limit = 5
		short, err := s.RenewalPipeline(ctx, q, today, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(short.Upcoming) != len(p.Upcoming) || short.ARR != p.ARR || fmt.Sprint(short.ByColor) != fmt.Sprint(p.ByColor) ||
			*short.NRR != *p.NRR || *short.GRR != *p.GRR || short.PastCount != len(p.Past) || len(short.Past) != 5 || short.Past[0].Key != p.Past[0].Key {
			t.Errorf("limited pipeline differs: ARR %v/%v, NRR %v/%v, past %d of %d (%d)", short.ARR, p.ARR, *short.NRR, *p.NRR, len(short.Past), short.PastCount, len(p.Past))
		}
		words := func(rs []metrics.Recommendation) string {
			out := ""
			for _, r := range rs {
				out += fmt.Sprintf("%s %s %v; ", r.Kind, r.Message, r.ARRChange)
			}
			return out
		}
		for i := range 5 {
			if words(short.Upcoming[i].Recs) != words(p.Upcoming[i].Recs) {
				t.Errorf("row %d: recommendations %q, want %q", i, words(short.Upcoming[i].Recs), words(p.Upcoming[i].Recs))
			}
		}

		accounts, err := s.ListAccountsAfter(ctx, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := s.RecommendationsFor(ctx, accounts, today)
		if err != nil {
			t.Fatal(err)
		}
		byKind := map[string]int{}
		for _, list := range recs {
			seen := map[string]bool{}
			for _, r := range list {
				if !seen[r.Kind] {
					seen[r.Kind] = true
					byKind[r.Kind]++
				}
			}
		}
		t.Logf("accounts per recommendation: %v", byKind)
		for _, k := range []string{metrics.RecExpand, metrics.RecRightSize, metrics.RecChangeModel, metrics.RecAdopt} {
			if byKind[k] < 3 {
				t.Errorf("%d accounts with a %s recommendation, want a handful", byKind[k], k)
			}
		}
	})
}
