package models_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"sightline/metrics"
	"sightline/models"
	"sightline/models/dbtest"
)

// BenchmarkFeatureReportScale times the /features report at issue 7's size on
// PostgreSQL: 10,000 accounts, 50 features in 5 products, 1–3 entitlements per
// account, and the precomputed weeks and windows written directly (feature f is used
// by an account in a week with probability 0.9·0.93^f, ~25% of the pairs, by 1–12
// users; 5–100 active users), plus two health snapshots per account, 10% of them with
// an overused position. It reports p50 and p99 of one full report:
//
//	.ci/with-postgres go test -run '^$' -bench FeatureReportScale -benchtime 200x ./models
func BenchmarkFeatureReportScale(b *testing.B) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		b.Skip("PostgreSQL only: run under .ci/with-postgres")
	}
	s := dbtest.Postgres(b)
	ctx := context.Background()
	today := models.Today()
	day := int(metrics.DayOf(today.Time()))
	firstWeek := int(metrics.WeekEnd(metrics.Day(day))) - 7*(metrics.AdoptionWeeks-1)
	start := time.Now()
	for _, q := range []string{
		`INSERT INTO products (key, name) SELECT 'product-' || p, 'Product ' || p FROM generate_series(1, 5) p`,
		`INSERT INTO features (key, name, product_id) SELECT 'feature-' || f, 'Feature ' || f, (SELECT id FROM products WHERE key = 'product-' || (1 + (f - 1) / 10))
		   FROM generate_series(1, 50) f`,
		`INSERT INTO feature_events (feature_id, event_name) SELECT id, name || ' Used' FROM features`,
		`INSERT INTO accounts (key, name, arr, segment, lifecycle_stage)
		   SELECT 'acct-' || lpad(g::text, 5, '0'), 'Account ' || g, 1000 * (1 + (g * 7919) % 500),
		          (ARRAY['enterprise', 'mid-market', 'smb'])[1 + g % 3], (ARRAY['onboarding', 'adoption', 'renewal'])[1 + (g / 3) % 3]
		   FROM generate_series(1, 10000) g`,
		// Every account: product 1 (whole); a third also product 2 listing 5 features; a fifth product 1+g%5 ended a year ago.
		`INSERT INTO entitlements (account_id, key, product_id, model, quantity, unit_price, starts_on)
		   SELECT a.id, 'core-seats', p.id, 'user', 50, 100, CURRENT_DATE - 400 FROM accounts a, products p WHERE p.key = 'product-1'`,
		`INSERT INTO entitlements (account_id, key, product_id, model, quantity, unit_price, starts_on)
		   SELECT a.id, 'addon-2', p.id, 'subscription', 20, 50, CURRENT_DATE - (a.id % 300)::int FROM accounts a, products p WHERE p.key = 'product-2' AND a.id % 3 = 0`,
		`INSERT INTO entitlement_features (entitlement_id, feature_id)
		   SELECT e.id, f.id FROM entitlements e JOIN features f ON f.product_id = e.product_id WHERE e.key = 'addon-2' AND f.key IN ('feature-11', 'feature-12', 'feature-13', 'feature-14', 'feature-15')`,
		`INSERT INTO entitlements (account_id, key, product_id, model, quantity, unit_price, starts_on, ends_on)
		   SELECT a.id, 'old-plan', p.id, 'user', 10, 10, CURRENT_DATE - 800, CURRENT_DATE - 365 FROM accounts a, products p
		   WHERE a.id % 5 = 0 AND p.key = 'product-' || (1 + a.id % 5)`,
		`INSERT INTO account_weeks (week, account_id, active_users)
		   SELECT w, a.id, 5 + (a.id * 31 + w) % 96 FROM accounts a, generate_series(?::int, ?::int, 7) w`,
		`INSERT INTO account_feature_weeks (week, account_id, feature_id, users)
		   SELECT w, a.id, f.id, 1 + (a.id + f.id + w) % 12 FROM accounts a, features f, generate_series(?::int, ?::int, 7) w
		   WHERE ((a.id * 2654435761 + f.id * 40503 + w * 97) % 1000) < 900 * power(0.93, f.id - 1)`,
		`INSERT INTO account_windows (as_of, account_id, active_users)
		   SELECT d, a.id, 10 + (a.id * 31 + d) % 150 FROM accounts a, unnest(ARRAY[?::int - 30, ?::int]) d`,
		`INSERT INTO account_feature_windows (as_of, account_id, feature_id, users)
		   SELECT d, a.id, f.id, 1 + (a.id + f.id + d) % 20 FROM accounts a, features f, unnest(ARRAY[?::int - 30, ?::int]) d
		   WHERE ((a.id * 2654435761 + f.id * 40503 + d * 97) % 1000) < 1000 * power(0.95, f.id - 1)`,
		`INSERT INTO health_snapshots (account_id, day, score, color, metrics)
		   SELECT a.id, CURRENT_DATE - d, 50, 'yellow', CASE WHEN a.id % 10 = 0
		     THEN '{"entitlements":[{"key":"core-seats","product":"product-1","model":"user","quantity":50,"consumed":' || (60 + d + a.id % 7) ||
		          ',"utilization":' || ((60 + d + a.id % 7) / 50.0) || ',"status":"overused","leakage":' || (10 + a.id % 7) * 100 || ',"unit_price":100}]}'
		     ELSE '{"entitlements":[{"key":"core-seats","product":"product-1","model":"user","quantity":50,"consumed":30,"utilization":0.6,"status":"healthy","leakage":0}]}' END
		   FROM accounts a, unnest(ARRAY[0, 30]) d`,
		`ANALYZE`,
	} {
		var args []any
		switch {
		case slices.Contains([]string{"account_weeks", "account_feature_weeks"}, tableOf(q)):
			args = []any{firstWeek, firstWeek + 7*(metrics.AdoptionWeeks-1)}
		case tableOf(q) == "account_windows" || tableOf(q) == "account_feature_windows":
			args = []any{day, day}
		}
		if err := s.DB().Exec(q, args...).Error; err != nil {
			b.Fatalf("%v\n%s", err, q)
		}
	}
	var rows int64
	s.DB().Raw("SELECT count(*) FROM account_feature_weeks").Scan(&rows)
	b.Logf("seeded in %s: %d account × feature × week rows", time.Since(start).Round(time.Millisecond), rows)
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

// tableOf is the table an INSERT statement writes.
func tableOf(q string) string {
	var table string
	for i := len("INSERT INTO "); i < len(q) && q[i] != ' '; i++ {
		table += string(q[i])
	}
	return table
}
