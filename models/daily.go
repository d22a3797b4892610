package models

import (
	"context"
	"log/slog"
	"time"
)

// DailyResult says what a daily refresh wrote and how long each part took.
type DailyResult struct {
	Snapshots       int
	Recommendations int
	SnapshotsTook   time.Duration
	WeeksTook       time.Duration
	RecsTook        time.Duration
}

// RefreshDaily is the one sequence behind the daily job, `sightline snapshot` and the
// demo: health snapshots for from … to, the /features weeks from weeksFrom to to (and
// their totals), and every account's recommendations as of to.
func (s *Store) RefreshDaily(ctx context.Context, from, to, weeksFrom Date, log *slog.Logger) (DailyResult, error) {
	var res DailyResult
	start := time.Now()
	n, err := s.SnapshotHealth(ctx, from, to)
	if err != nil {
		return res, err
	}
	res.Snapshots, res.SnapshotsTook = n, time.Since(start)
	log.Info("health snapshots written", "from", from.String(), "to", to.String(), "snapshots", n, "took", res.SnapshotsTook.Round(time.Millisecond).String())
	start = time.Now()
	if err := s.RefreshFeatureWeeks(ctx, weeksFrom, to); err != nil {
		return res, err
	}
	res.WeeksTook = time.Since(start)
	log.Info("feature weeks refreshed", "from", weeksFrom.String(), "to", to.String(), "took", res.WeeksTook.Round(time.Millisecond).String())
	start = time.Now()
	if res.Recommendations, err = s.RefreshRecommendations(ctx, to); err != nil {
		return res, err
	}
	res.RecsTook = time.Since(start)
	log.Info("recommendations refreshed", "recommendations", res.Recommendations, "took", res.RecsTook.Round(time.Millisecond).String())
	return res, nil
}
