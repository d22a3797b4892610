package models_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestAccountRecommendationsFromUsage: 30 named seats, three people using them (never
// more than two in the same hour), one feature nobody touched, renewal in 60 days.
func TestAccountRecommendationsFromUsage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		today := models.NewDate(2026, time.June, 1)
		for _, f := range []models.Feature{
			{Key: "reports", Name: "Reports", Product: "core", EventNames: []string{"Report Run"}},
			{Key: "forecasts", Name: "Forecasts", Product: "core", EventNames: []string{"Forecast Built"}},
		} {
			if _, err := s.UpsertFeature(ctx, &f); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme", ARR: 30000, RenewalOn: today.AddDays(60)}); err != nil {
			t.Fatal(err)
		}
		e := models.Entitlement{Key: "seats", Product: "core", Model: "user", Quantity: 30, UnitPrice: 1000, StartsOn: today.AddDays(-200)}
		if _, err := s.UpsertEntitlement(ctx, "acme", &e); err != nil {
			t.Fatal(err)
		}
		r := models.NewRollups()
		group := "acme"
		for i, u := range []string{"a1", "a2", "a3"} {
			eu := models.EndUser{UserKey: u, GroupKey: &group, FirstSeenAt: today.AddDays(-60).Time(), LastSeenAt: today.Time(), Level: "unknown"}
			if err := s.DB().Create(&eu).Error; err != nil {
				t.Fatal(err)
			}
			for d := 0; d < 30; d += 2 {
				at := today.AddDays(-d).Time().Add(time.Duration(9+i%2) * time.Hour) // two people share an hour at most
				r.AddActivity(eu.ID, at)
				r.AddEvent(eu.ID, at, "Report Run", 0)
			}
		}
		if err := s.Transaction(ctx, func(tx *gorm.DB) error { return models.ApplyRollups(ctx, tx, r) }); err != nil {
			t.Fatal(err)
		}
		recs, err := s.AccountRecommendations(ctx, "acme", today)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Kind)
		}
		// 3 of 30 seats (10%), busiest hour 2 ≤ 10: a concurrent licence of ceil(2 × 1.2) = 3
		// at 3 × 1,000 = 9,000 against 30,000 today; forecasts unused with the renewal in 60 days.
		if strings.Join(got, " ") != "change_model adopt" {
			t.Fatalf("recommendations %v: %+v", got, recs)
		}
		if recs[0].ARRChange != -21000 || recs[0].Evidence["peak_concurrent_users"] != 2 || *recs[0].Entitlement != "seats" {
			t.Errorf("change_model %+v", recs[0])
		}
		if *recs[1].Feature != "forecasts" || recs[1].Evidence["days_to_renewal"] != 60 {
			t.Errorf("adopt %+v", recs[1])
		}
		// The account page reads the same from its own inputs.
		view, err := s.AccountHealthView(ctx, "acme", today)
		if err != nil {
			t.Fatal(err)
		}
		if len(view.Recommendations) != 2 || view.Recommendations[0].Message != recs[0].Message || view.Recommendations[1].Message != recs[1].Message {
			t.Errorf("the account page's recommendations %+v, want %+v", view.Recommendations, recs)
		}
		if _, err := s.AccountRecommendations(ctx, "ghost", today); err == nil {
			t.Error("an unknown account has recommendations")
		}

		// Across accounts (/features' licence model fit): nothing before the daily job ran.
		fit := func(q models.FeatureQuery) *models.ModelFit {
			t.Helper()
			rep, err := s.FeatureReport(ctx, q, today)
			if err != nil {
				t.Fatal(err)
			}
			return rep.ModelFit
		}
		if f := fit(models.FeatureQuery{}); f.Day != nil || f.Count != 0 {
			t.Fatalf("model fit before any refresh: %+v", f)
		}
		if n, err := s.RefreshRecommendations(ctx, today); err != nil || n != 2 {
			t.Fatalf("refresh stored %d (%v), want 2", n, err)
		}
		f := fit(models.FeatureQuery{})
		if f.Day == nil || *f.Day != today || f.Count != 1 || len(f.Shifts) != 1 {
			t.Fatalf("model fit %+v", f)
		}
		if sh := f.Shifts[0]; sh.From != "user" || sh.To != "concurrent" || sh.Accounts != 1 || sh.Positions != 1 || sh.ARRChange != -21000 {
			t.Errorf("shift %+v", sh)
		}
		if r := f.Rows[0]; r.Account != "acme" || r.Entitlement != "seats" || r.Quantity != 30 || r.Consumed != 3 || r.PeakConcurrent != 2 || r.Suggested != 3 {
			t.Errorf("row %+v", r)
		}
		if f := fit(models.FeatureQuery{Segment: "smb"}); f.Count != 0 || f.Day == nil {
			t.Errorf("another segment's fit: %+v", f)
		}
		// The pipeline reads the stored recommendations once the job has run.
		pipe, err := s.RenewalPipeline(ctx, models.RenewalQuery{Within: 90, Lead: 90, From: today.AddDays(-365), To: today}, today, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(pipe.Upcoming) != 1 || pipe.RecsDay == nil || *pipe.RecsDay != today || len(pipe.Upcoming[0].Recs) != 2 ||
			pipe.Upcoming[0].Recs[0].Kind != "change_model" || pipe.Upcoming[0].Recs[0].ARRChange != -21000 || pipe.Upcoming[0].RecsARR != -21000 {
			t.Errorf("pipeline from stored recommendations: %+v", pipe.Upcoming)
		}
		// A refresh replaces: with the seats gone, so is the fit (and nothing doubles).
		if err := s.DeleteEntitlement(ctx, "acme", "seats"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.RefreshRecommendations(ctx, today); err != nil || n != 0 {
			t.Fatalf("refresh after the seats went: %d (%v)", n, err)
		}
		if f := fit(models.FeatureQuery{}); f.Count != 0 {
			t.Errorf("stale fit: %+v", f)
		}
	})
}
