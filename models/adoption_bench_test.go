package models_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"

	"sightline/demo"
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
	for _, q := range []struct {
		name  string
		query models.FeatureQuery
	}{
		{"all", models.ParseFeatureQuery(nil)},
		{"enterprise-vs-smb", models.ParseFeatureQuery(map[string][]string{"segment": {"enterprise"}, "compare": {"smb"}})},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.FeatureReport(ctx, q.query, today); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
