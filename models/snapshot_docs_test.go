package models_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"gorm.io/gorm"

	"sightline/demo"
	"sightline/models"
	"sightline/models/dbtest"
)

// TestGoalListsFollowSnapshotRuns: /goals keeps decoded snapshots between views; a
// snapshot run that rewrites today's must show in the next list.
func TestGoalListsFollowSnapshotRuns(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		today := models.NewDate(2026, 11, 20)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		if _, err := demo.Seed(ctx, s, today, demo.Options{Accounts: 15, Days: 20}, log); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SnapshotHealth(ctx, today.AddDays(-19), today); err != nil {
			t.Fatal(err)
		}
		if n, err := demo.SeedGoals(ctx, s, today, log); err != nil || n == 0 {
			t.Fatalf("%d goals (%v)", n, err)
		}
		before, err := s.ListGoals(ctx, models.GoalFilter{}, today)
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.ListGoals(ctx, models.GoalFilter{}, today)
		if err != nil || len(again) != len(before) || *again[0].Current != *before[0].Current {
			t.Fatalf("a second list differs: %v", err)
		}
		// Every user of the first goal's account signs in today; the day's snapshot is
		// rewritten and the list follows.
		g := before[0]
		var users []int64
		if err := s.DB().Raw("SELECT id FROM end_users WHERE group_key = ?", g.AccountKey).Scan(&users).Error; err != nil {
			t.Fatal(err)
		}
		r := models.NewRollups()
		for _, u := range users {
			at := today.Time().Add(9 * time.Hour)
			r.AddActivity(u, at)
			r.AddEvent(u, at, "Signed In", 0)
		}
		if err := s.Transaction(ctx, func(tx *gorm.DB) error { return models.ApplyRollups(ctx, tx, r) }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SnapshotHealth(ctx, today, today); err != nil {
			t.Fatal(err)
		}
		after, err := s.ListGoals(ctx, models.GoalFilter{AccountID: g.AccountID}, today)
		if err != nil || len(after) == 0 {
			t.Fatal(err)
		}
		if *after[0].Current <= *g.Current {
			t.Errorf("the list still shows %v after everyone signed in (was %v)", *after[0].Current, *g.Current)
		}
	})
}
