package models_test

import (
	"context"
	"math"
	"testing"
	"time"

	"gorm.io/gorm"

	"sightline/metrics"
	"sightline/models"
	"sightline/models/dbtest"
)

// TestRenewalBacktestHandComputed scores closed renewals 90 days before they were due:
// from that day's snapshot where there is one, else from the usage rollups; an
// account with no usage by then is left out.
//
//	acme    renewed    snapshot 80 green
//	globex  churned    snapshot 30 red
//	initech contracted no snapshot; one user active now and then → computed, low
//	umbrella churned   no snapshot, no user: excluded
//	hooli   pending    not closed: ignored
func TestRenewalBacktestHandComputed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		due := models.NewDate(2026, time.March, 31)
		lead := due.AddDays(-90)
		manager := models.Actor{Name: "m"}
		for _, c := range []struct {
			key, outcome string
			after        float64
		}{{"acme", "renewed", 1000}, {"globex", "churned", 0}, {"initech", "contracted", 500}, {"umbrella", "churned", 0}, {"hooli", "pending", 0}} {
			a := models.Account{Key: c.key, Name: c.key, ARR: 1000}
			if _, err := s.UpsertAccount(ctx, &a); err != nil {
				t.Fatal(err)
			}
			r := models.Renewal{Key: "fy26", DueOn: due, ARRBefore: 1000, Outcome: c.outcome}
			if c.outcome != "pending" {
				r.ARRAfter, r.ClosedOn = ptr(c.after), ptr(due)
			}
			if _, err := s.UpsertRenewal(ctx, c.key, &r, manager); err != nil {
				t.Fatal(err)
			}
		}
		snapshot := func(key string, score float64, color string, stickiness float64) {
			a, err := s.AccountByKey(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			res := metrics.Result{Account: key, Stickiness: &stickiness,
				Health: metrics.Health{Score: &score, Color: color, Measures: []metrics.Measure{{Key: metrics.MeasureStickiness, Value: &stickiness}}}}
			h, err := models.NewHealthSnapshot(a.ID, lead, res)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.DB().Create(&h).Error; err != nil {
				t.Fatal(err)
			}
		}
		snapshot("acme", 80, "green", 0.4)
		snapshot("globex", 30, "red", 0.1)
		// initech: one user, seen before the lead day, active on two days of its window.
		group := "initech"
		eu := models.EndUser{UserKey: "i1", GroupKey: &group, FirstSeenAt: lead.AddDays(-40).Time(), LastSeenAt: lead.Time(), Level: "unknown"}
		if err := s.DB().Create(&eu).Error; err != nil {
			t.Fatal(err)
		}
		r := models.NewRollups()
		r.AddActivity(eu.ID, lead.AddDays(-3).Time().Add(9*time.Hour))
		r.AddActivity(eu.ID, lead.AddDays(-1).Time().Add(9*time.Hour))
		if err := s.Transaction(ctx, func(tx *gorm.DB) error { return models.ApplyRollups(ctx, tx, r) }); err != nil {
			t.Fatal(err)
		}

		b, err := s.RenewalBacktest(ctx, 90, models.NewDate(2026, time.June, 1))
		if err != nil {
			t.Fatal(err)
		}
		if b.Renewals != 3 || b.Lost != 2 || b.Excluded != 1 || b.LeadDays != 90 {
			t.Fatalf("backtest %+v", b)
		}
		// Kept 80 against lost 30 and initech's computed score (well under 80).
		if b.AUC == nil || *b.AUC != 1 {
			t.Errorf("AUC %v", b.AUC)
		}
		if g := b.ByColor["green"]; g.Renewals != 1 || g.Lost != 0 || *g.LostRate != 0 {
			t.Errorf("green %+v", g)
		}
		if red := b.ByColor["red"]; red.Lost < 1 || red.Renewals != red.Lost {
			t.Errorf("red %+v", red)
		}
		// Stickiness only has values in the snapshots: kept 0.4 > lost 0.1, and initech's computed 0.
		for _, m := range b.Measures {
			if m.Key == metrics.MeasureStickiness && (m.AUC == nil || math.Abs(*m.AUC-1) > 1e-9) {
				t.Errorf("stickiness AUC %v", m.AUC)
			}
		}
		// Three closed renewals are too few to learn weights from.
		sug, err := s.SuggestScorecardWeights(ctx, models.NewDate(2026, time.June, 1))
		if err != nil {
			t.Fatal(err)
		}
		if sug.Enough || sug.Renewals != 3 || sug.Suggested != nil {
			t.Errorf("suggestion %+v", sug)
		}
		// A renewal written empties the cached backtest: reopening acme's leaves two.
		if _, err := s.UpsertRenewal(ctx, "acme", &models.Renewal{Key: "fy26", DueOn: due, ARRBefore: 1000}, manager); err != nil {
			t.Fatal(err)
		}
		if b, err = s.RenewalBacktest(ctx, 90, models.NewDate(2026, time.June, 1)); err != nil || b.Renewals != 2 || b.AUC != nil {
			t.Errorf("after reopening acme: %+v %v", b, err)
		}
	})
}
