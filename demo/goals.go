package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"sightline/models"
)

// SeedGoals sets a daily-usage goal on every fifth account, as a manager would have
// ten days ago, so /goals and the risk flags have something to show: accounts
// whose usage falls end up at risk, growing ones on track. Run it after the health
// snapshots exist (the goals are paced from them).
func SeedGoals(ctx context.Context, store *models.Store, today models.Date, log *slog.Logger) (int, error) {
	accounts, err := store.ListAccountsAfter(ctx, "", 100_000)
	if err != nil {
		return 0, err
	}
	var manager *int64
	if m, err := store.TeamMemberByEmail(ctx, "manager@demo.test"); err == nil {
		manager = &m.ID
	}
	actor := models.Actor{MemberID: manager, Name: "Morgan Manager"}
	created := today.AddDays(-10)
	n := 0
	for i, a := range accounts {
		if i%5 != 0 {
			continue
		}
		// The two days' daily usage rates, from their snapshots.
		snaps, err := store.HealthHistory(ctx, a.ID, created, today)
		if err != nil {
			return n, err
		}
		if len(snaps) < 2 || snaps[0].Day != created || snaps[len(snaps)-1].Day != today ||
			snaps[0].DailyUsageRate == nil || snaps[len(snaps)-1].DailyUsageRate == nil {
			continue
		}
		current, baseline := *snaps[len(snaps)-1].DailyUsageRate, *snaps[0].DailyUsageRate
		// Most goals are modest; every third is a stretch due soon, the kind that slips.
		lift, dueIn := 0.10+0.05*float64(i%2), 45+15*(i%4)
		if (i/5)%3 == 0 {
			lift, dueIn = 0.35, 14
		}
		target := math.Min(1, math.Round((current+lift)*100)/100)
		if target <= current || target <= baseline {
			continue
		}
		metric, title := "daily_usage_rate", fmt.Sprintf("Reach %.0f%% daily usage", target*100)
		relevance := "Their rollout to every team is the board's priority this year."
		due := today.AddDays(dueIn).String()
		g, err := store.CreateGoal(ctx, a.Key, models.GoalChange{Title: &title, Metric: &metric, Target: &target,
			Relevance: &relevance, DueOn: &due}, actor, today)
		if err != nil {
			return n, fmt.Errorf("demo: goal for %s: %w", a.Key, err)
		}
		// Set ten days ago: the baseline is that day's value, so progress and pace show.
		if err := store.DB().WithContext(ctx).Exec("UPDATE goals SET created_at = ?, baseline = ? WHERE id = ?",
			created.Time(), baseline, g.ID).Error; err != nil {
			return n, fmt.Errorf("demo: goal for %s: %w", a.Key, err)
		}
		// Its history says so too.
		if err := store.DB().WithContext(ctx).Exec("UPDATE goal_events SET created_at = ? WHERE goal_id = ?",
			created.Time().Add(10*time.Hour+30*time.Minute), g.ID).Error; err != nil {
			return n, fmt.Errorf("demo: goal for %s: %w", a.Key, err)
		}
		n++
	}
	log.Info("demo goals created", "goals", n)
	return n, nil
}
