package models_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"sightline/demo"
	"sightline/metrics"
	"sightline/models"
	"sightline/models/dbtest"
)

// BenchmarkFeatureReport times the /features report over the demo generator's data
// (SIGHTLINE_BENCH_ACCOUNTS accounts, default 160, 90 days) on SQLite, or on
// PostgreSQL with SIGHTLINE_BENCH_POSTGRES=1:
//
//	.ci/with-postgres env SIGHTLINE_BENCH_POSTGRES=1 go test -run '^$' -bench FeatureReport ./models
func BenchmarkFeatureReport(b *testing.B) {
	accounts := 160
	if n, err := strconv.Atoi(os.Getenv("SIGHTLINE_BENCH_ACCOUNTS")); err == nil && n > 0 {
		accounts = n
	}
	var s *models.Store
	if os.Getenv("SIGHTLINE_BENCH_POSTGRES") == "1" {
		s = dbtest.Postgres(b)
	} else {
		s = dbtest.SQLite(b)
	}
	ctx := context.Background()
	today := models.Today()
	if _, err := demo.Seed(ctx, s, today, demo.Options{Accounts: accounts, Days: 90}, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		b.Fatal(err)
	}
	refreshed := time.Now()
	if err := s.RefreshFeatureWeeks(ctx, today.AddDays(-7*metrics.AdoptionWeeks), today); err != nil {
		b.Fatal(err)
	}
	b.Logf("feature weeks refreshed in %s", time.Since(refreshed).Round(time.Millisecond))
	for _, q := range []struct {
		name  string
		query models.FeatureQuery
	}{
		{"all", models.ParseFeatureQuery(nil)},
		{"enterprise-vs-smb", models.ParseFeatureQuery(map[string][]string{"segment": {"enterprise"}, "compare": {"smb"}})},
	} {
		b.Run(q.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				t := time.Now()
				if _, err := s.FeatureReport(ctx, q.query, today); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[min(len(took)-1, len(took)*99/100)].Microseconds())/1000, "p99-ms")
		})
	}
}
