package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"sightline/metrics"
)

// The /features page reads usage from four precomputed tables (migration 00004)
// instead of aggregating the daily rollups per request:
//
//	account_feature_weeks, account_weeks      distinct feature / active users per account and ISO week
//	account_feature_windows, account_windows  the same over the 30-day window ending on as_of
//
// RefreshFeatureWeeks rewrites them from the rollups; usage counts for the account its
// user belongs to (end_users.group_key) at refresh time, so a moved user is re-attributed
// at the next refresh.

// weekRefreshChunk is how many weeks one refresh transaction rewrites.
const weekRefreshChunk = 4

// windowRefreshDays is how many as-of days (the last of a refresh's range) get their
// 30-day window rewritten: enough for a backfill to cover as-of today and today-30.
const windowRefreshDays = metrics.WindowDays + 1

// RefreshFeatureWeeks recomputes, for every account, the weekly usage of the ISO weeks
// that overlap from … to, and the 30-day windows as of each of the last
// windowRefreshDays days of that range. Each chunk of weeks, and each window, is one
// transaction of set-based DELETE + INSERT … SELECT, so running it again is harmless.
// Each write marks the adoption totals stale (a trigger bumps their version); they
// are rebuilt for to at the end.
func (s *Store) RefreshFeatureWeeks(ctx context.Context, from, to Date) error {
	if to.Before(from) {
		return nil
	}
	first, last := metrics.WeekEnd(metricsDay(from)), metrics.WeekEnd(metricsDay(to))
	for w := first; w <= last; w += 7 * weekRefreshChunk {
		wLast := min(w+7*(weekRefreshChunk-1), last)
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return refreshWeeks(tx, int(w), int(wLast))
		})
		if err != nil {
			return err
		}
	}
	start := max(metricsDay(from), metricsDay(to)-windowRefreshDays+1)
	if s.dialect == SQLite {
		// One pass for every window: SQLite pays for each aggregate in full.
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return refreshWindowsOnePass(tx, int(start), int(metricsDay(to)))
		})
		if err != nil {
			return err
		}
		return s.ensureFeatureTotals(ctx, "", to)
	}
	for d := start; d <= metricsDay(to); d++ {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return refreshWindow(tx, int(d))
		})
		if err != nil {
			return err
		}
	}
	// Rebuild the every-account adoption totals for the last day now, so the first
	// report after the daily run does not pay for it (plan slices follow on demand).
	return s.ensureFeatureTotals(ctx, "", to)
}

// weekOf maps a rollup day to its ISO week's Sunday (epoch day 0 is a Thursday).
const weekOf = "(r.day + 6 - (r.day + 3) % 7)"

// refreshWeeks rewrites the weeks whose Sundays are firstSunday … lastSunday.
func refreshWeeks(tx *gorm.DB, firstSunday, lastSunday int) error {
	from, to := firstSunday-6, lastSunday
	steps := []struct{ what, sql string }{
		{"clear feature weeks", "DELETE FROM account_feature_weeks WHERE week BETWEEN ? AND ?"},
		{"clear active weeks", "DELETE FROM account_weeks WHERE week BETWEEN ? AND ?"},
		{"aggregate feature weeks", "INSERT INTO account_feature_weeks (week, account_id, feature_id, users)" +
			" SELECT " + weekOf + ", a.id, fe.feature_id, count(DISTINCT r.end_user_id)" +
			" FROM usage_user_event_days r JOIN feature_events fe ON fe.event_name = r.event_name" +
			" JOIN end_users u ON u.id = r.end_user_id JOIN accounts a ON a.key = u.group_key" +
			" WHERE r.day BETWEEN ? AND ? AND r.events > 0 GROUP BY 1, 2, 3"},
		{"aggregate active weeks", "INSERT INTO account_weeks (week, account_id, active_users)" +
			" SELECT " + weekOf + ", a.id, count(DISTINCT r.end_user_id)" +
			" FROM usage_user_days r JOIN end_users u ON u.id = r.end_user_id JOIN accounts a ON a.key = u.group_key" +
			" WHERE r.day BETWEEN ? AND ? AND r.messages > 0 GROUP BY 1, 2"},
	}
	for i, st := range steps {
		lo, hi := from, to
		if i < 2 {
			lo, hi = firstSunday, lastSunday
		}
		if err := tx.Exec(st.sql, lo, hi).Error; err != nil {
			return fmt.Errorf("store: unable to %s: %w", st.what, err)
		}
	}
	return nil
}

// refreshWindow rewrites the 30-day window ending on asOf.
func refreshWindow(tx *gorm.DB, asOf int) error {
	from := asOf - metrics.WindowDays + 1
	steps := []struct {
		what, sql string
		args      []any
	}{
		{"clear feature windows", "DELETE FROM account_feature_windows WHERE as_of = ?", []any{asOf}},
		{"clear active windows", "DELETE FROM account_windows WHERE as_of = ?", []any{asOf}},
		{"aggregate feature windows", "INSERT INTO account_feature_windows (as_of, account_id, feature_id, users)" +
			" SELECT CAST(? AS INTEGER), a.id, fe.feature_id, count(DISTINCT r.end_user_id)" +
			" FROM usage_user_event_days r JOIN feature_events fe ON fe.event_name = r.event_name" +
			" JOIN end_users u ON u.id = r.end_user_id JOIN accounts a ON a.key = u.group_key" +
			" WHERE r.day BETWEEN ? AND ? AND r.events > 0 GROUP BY a.id, fe.feature_id", []any{asOf, from, asOf}},
		{"aggregate active windows", "INSERT INTO account_windows (as_of, account_id, active_users)" +
			" SELECT CAST(? AS INTEGER), a.id, count(DISTINCT r.end_user_id)" +
			" FROM usage_user_days r JOIN end_users u ON u.id = r.end_user_id JOIN accounts a ON a.key = u.group_key" +
			" WHERE r.day BETWEEN ? AND ? AND r.messages > 0 GROUP BY a.id", []any{asOf, from, asOf}},
	}
	for _, st := range steps {
		if err := tx.Exec(st.sql, st.args...).Error; err != nil {
			return fmt.Errorf("store: unable to %s: %w", st.what, err)
		}
	}
	return nil
}

// refreshWindowsOnePass rewrites the windows as of each day first … last (at most
// windowRefreshDays of them) from one read of the rollups of [first−29, last]: each
// user's active days as a bit mask, per account and feature and per account; a user
// counts in the window as of D when one of their days falls in [D−29, D]. It gives
// what refreshWindow gives day by day.
func refreshWindowsOnePass(tx *gorm.DB, first, last int) error {
	lo := first - metrics.WindowDays + 1
	if last-lo >= 64 {
		return fmt.Errorf("store: %d windows do not fit one pass", last-first+1)
	}
	type featureKey struct{ account, feature, user int64 }
	type activeKey struct{ account, user int64 }
	features, active := map[featureKey]uint64{}, map[activeKey]uint64{}
	var account, feature, user int64
	var day int
	err := rawEach(tx, "SELECT a.id, fe.feature_id, r.end_user_id, r.day FROM usage_user_event_days r"+
		" JOIN feature_events fe ON fe.event_name = r.event_name JOIN end_users u ON u.id = r.end_user_id"+
		" JOIN accounts a ON a.key = u.group_key WHERE r.day BETWEEN ? AND ? AND r.events > 0",
		[]any{lo, last}, []any{&account, &feature, &user, &day}, func() {
			features[featureKey{account, feature, user}] |= 1 << (day - lo)
		})
	if err != nil {
		return fmt.Errorf("store: unable to read feature usage for the windows: %w", err)
	}
	err = rawEach(tx, "SELECT a.id, r.end_user_id, r.day FROM usage_user_days r JOIN end_users u ON u.id = r.end_user_id"+
		" JOIN accounts a ON a.key = u.group_key WHERE r.day BETWEEN ? AND ? AND r.messages > 0",
		[]any{lo, last}, []any{&account, &user, &day}, func() {
			active[activeKey{account, user}] |= 1 << (day - lo)
		})
	if err != nil {
		return fmt.Errorf("store: unable to read activity for the windows: %w", err)
	}
	// window(D) has the bits of D−29 … D.
	window := func(d int) uint64 { return (uint64(1)<<metrics.WindowDays - 1) << (d - metrics.WindowDays + 1 - lo) }
	type featureCount struct {
		asOf             int
		account, feature int64
	}
	type activeCount struct {
		asOf    int
		account int64
	}
	featureUsers, activeUsers := map[featureCount]int{}, map[activeCount]int{}
	for k, mask := range features {
		for d := first; d <= last; d++ {
			if mask&window(d) != 0 {
				featureUsers[featureCount{d, k.account, k.feature}]++
			}
		}
	}
	for k, mask := range active {
		for d := first; d <= last; d++ {
			if mask&window(d) != 0 {
				activeUsers[activeCount{d, k.account}]++
			}
		}
	}
	for _, t := range []string{"account_feature_windows", "account_windows"} {
		if err := tx.Exec("DELETE FROM "+t+" WHERE as_of BETWEEN ? AND ?", first, last).Error; err != nil {
			return fmt.Errorf("store: unable to clear %s: %w", t, err)
		}
	}
	fc := make([]featureCount, 0, len(featureUsers))
	for k := range featureUsers {
		fc = append(fc, k)
	}
	err = bulkWrite(tx, "INSERT INTO account_feature_windows (as_of, account_id, feature_id, users) VALUES ", "", 4, len(fc),
		func(i int, args []any) []any {
			return append(args, fc[i].asOf, fc[i].account, fc[i].feature, featureUsers[fc[i]])
		}, nil)
	if err != nil {
		return fmt.Errorf("store: unable to write feature windows: %w", err)
	}
	ac := make([]activeCount, 0, len(activeUsers))
	for k := range activeUsers {
		ac = append(ac, k)
	}
	err = bulkWrite(tx, "INSERT INTO account_windows (as_of, account_id, active_users) VALUES ", "", 3, len(ac),
		func(i int, args []any) []any { return append(args, ac[i].asOf, ac[i].account, activeUsers[ac[i]]) }, nil)
	if err != nil {
		return fmt.Errorf("store: unable to write active windows: %w", err)
	}
	return nil
}
