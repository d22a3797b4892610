package models

import (
	"context"
	"encoding/json"
	"fmt"

	"gorm.io/gorm"

	"sightline/metrics"
)

// The /features page reads adoption totals (migration 00006) rather than per-account
// rows: per plan slice, period, feature, segment and lifecycle stage, the sums that
// metrics.AdoptionTotals are made of. Segments and stages partition the accounts, so
// any segment/stage filter is a sum of slices; a plan filter (accounts holding an
// entitlement key) overlaps, so each plan gets its own slice: the common plans' are
// built with the every-account slice, rarer ones the first time they are asked for
// (feature_totals_build.go). The totals are a cache: every write to what they are
// computed from bumps the 'adoption' cache version (a trigger, migration 00016) in its
// own transaction, and a report rebuilds a slice whose version (recorded as its
// generation) or day is not current before reading it;
// each process keeps the slices it read in memory for as long as they are current.

// Kinds of period in feature_totals.
const (
	totalsWeek   = 0 // an ISO week, keyed by its Sunday
	totalsWindow = 1 // a 30-day window, keyed by its last day
)

// precomputed names a pair of per-account usage tables (migration 00004) and the
// column that keys their periods.
type precomputed struct {
	features, active, column string
}

var (
	weeklyUsage = precomputed{"account_feature_weeks", "account_weeks", "week"}
	windowUsage = precomputed{"account_feature_windows", "account_windows", "as_of"}
)

// adoptionVersionSQL reads the version the adoption totals are current at.
const adoptionVersionSQL = "SELECT version FROM cache_versions WHERE name = 'adoption'"

// totalsCurrent reports whether the slice of plan is built for asOf at the current generation.
func totalsCurrent(tx *gorm.DB, plan string, asOf int) (bool, error) {
	var row struct {
		Generation int64
		AsOf       *int
		Built      *int64
	}
	err := tx.Raw("SELECT s.version AS generation, b.as_of, b.generation AS built FROM cache_versions s"+
		" LEFT JOIN feature_totals_builds b ON b.plan = ? WHERE s.name = 'adoption'", plan).Scan(&row).Error
	if err != nil {
		return false, fmt.Errorf("store: unable to read adoption totals state: %w", err)
	}
	return row.AsOf != nil && *row.AsOf == asOf && row.Built != nil && *row.Built == row.Generation, nil
}

// BuildFeatureTotals makes the every-account adoption totals current for today, as
// RefreshFeatureWeeks does at its end; a no-op when nothing changed since.
func (s *Store) BuildFeatureTotals(ctx context.Context, today Date) error {
	return s.ensureFeatureTotals(ctx, "", today)
}

// ensureFeatureTotals makes the every-account slice, and the plan's when plan is set,
// current for today. Building is serialised: in this process by a mutex, across
// processes on PostgreSQL by an advisory lock (SQLite has one writer anyway); whoever
// waited finds the slice built and returns.
func (s *Store) ensureFeatureTotals(ctx context.Context, plan string, today Date) error {
	plans := []string{""}
	if plan != "" {
		plans = append(plans, plan)
	}
	for _, p := range plans {
		ok, err := totalsCurrent(s.db.WithContext(ctx), p, today.EpochDay())
		if err != nil {
			return err
		}
		if !ok {
			if err := s.buildFeatureTotals(ctx, p, today); err != nil {
				return err
			}
		}
	}
	return nil
}

// activeOn is the SQL of metrics.Entitlement.ActiveOn for the entitlement alias e: its
// two parameters are the day, twice.
func activeOn(e string) string {
	return "(" + e + ".starts_on IS NULL OR " + e + ".starts_on <= ?) AND (" + e + ".ends_on IS NULL OR " + e + ".ends_on >= ?)"
}

// holdsPlan is the condition that account a holds an entitlement with key ? active on
// day ? (given twice).
var holdsPlan = "EXISTS (SELECT 1 FROM entitlements pe WHERE pe.account_id = a.id AND pe.key = ? AND " + activeOn("pe") + ")"

// totalsKey identifies one feature's totals in one period.
type totalsKey struct {
	kind, period int
	feature      int64
}

// totalsRow is one row of a slice of feature_totals.
type totalsRow struct {
	key            totalsKey
	segment, stage string
	totals         metrics.AdoptionTotals
}

// unusedRow is one row of a slice of feature_unused_totals.
type unusedRow struct {
	product, segment, stage string
	accounts                int
	arr                     float64
}

// planRow is one row of a slice of feature_plan_totals (migration 00013).
type planRow struct {
	grant              string
	feature            int64
	segment, stage     string
	accounts, adopting int
	arr                float64
}

// overuseRow is an overused position with its account's segment and stage.
type overuseRow struct {
	segment, stage string
	position       metrics.OverusePosition
}

// totalsSlice is everything a report reads from one built plan slice, decoded once per
// process and generation: reports with any segment, stage or product filter are then
// sums in memory. It is never modified once loaded.
type totalsSlice struct {
	plan       string
	asOf       int
	generation int64
	features   []Feature
	totals     []totalsRow
	unused     []unusedRow
	plans      []planRow
	overuse    []overuseRow
	facets     FeatureFacets
}

// maxCachedSlices bounds the slices kept in memory (the every-account one and the
// plans last asked for).
const maxCachedSlices = 8

// featureSlice returns the plan's slice current for today: from memory when neither the
// day nor the generation moved, else built when stale and loaded.
func (s *Store) featureSlice(ctx context.Context, plan string, today Date) (*totalsSlice, error) {
	ctx = Primary(ctx) // the version and the copy from one source: see primaryCopies
	asOf := today.EpochDay()
	var generation int64
	if err := s.db.WithContext(ctx).Raw(adoptionVersionSQL).Scan(&generation).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read adoption totals state: %w", err)
	}
	current := func() *totalsSlice {
		s.slicesMu.Lock()
		defer s.slicesMu.Unlock()
		if c := s.slices[plan]; c != nil && c.asOf == asOf && c.generation == generation {
			return c
		}
		return nil
	}
	if c := current(); c != nil {
		return c, nil
	}
	// One load at a time: requests arriving together after a change wait for the first
	// one's load instead of each decoding the slice.
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if c := current(); c != nil {
		return c, nil
	}
	if err := s.ensureFeatureTotals(ctx, plan, today); err != nil {
		return nil, err
	}
	sl, err := s.loadSlice(ctx, plan, today)
	if err != nil {
		return nil, err
	}
	s.slicesMu.Lock()
	defer s.slicesMu.Unlock()
	if s.slices == nil || len(s.slices) >= maxCachedSlices {
		s.slices = map[string]*totalsSlice{}
	}
	s.slices[plan] = sl
	return sl, nil
}

// loadSlice reads a built slice in one read-only transaction, so every part of it
// reflects the same generation (which it records).
func (s *Store) loadSlice(ctx context.Context, plan string, today Date) (*totalsSlice, error) {
	sl := &totalsSlice{plan: plan, asOf: today.EpochDay()}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if IsPostgres(tx) {
			if err := tx.Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").Error; err != nil {
				return fmt.Errorf("store: unable to read adoption totals: %w", err)
			}
		}
		var b struct {
			Generation int64
			AsOf       int
		}
		err := tx.Raw("SELECT generation, as_of FROM feature_totals_builds WHERE plan = ?", plan).Scan(&b).Error
		if err != nil {
			return fmt.Errorf("store: unable to read adoption totals state: %w", err)
		}
		// A write may have landed since ensureFeatureTotals: the slice then records the
		// older generation and the next report reloads it.
		sl.generation = b.Generation
		if b.AsOf != sl.asOf {
			sl.generation = -1
		}
		if sl.features, err = loadFeatures(tx); err != nil {
			return err
		}
		if sl.facets, err = loadFeatureFacets(tx); err != nil {
			return err
		}
		return sl.read(tx)
	})
	return sl, err
}

// read fills the slice's totals, unused totals and (filtered by plan) overused positions.
func (sl *totalsSlice) read(tx *gorm.DB) error {
	var r totalsRow
	t := &r.totals
	err := rawEach(tx, "SELECT kind, period, feature_id, segment, stage, entitled_accounts, adopting_accounts,"+
		" active_users, feature_users, arr_at_stake FROM feature_totals WHERE plan = ?", []any{sl.plan},
		[]any{&r.key.kind, &r.key.period, &r.key.feature, &r.segment, &r.stage, &t.EntitledAccounts,
			&t.AdoptingAccounts, &t.ActiveUsers, &t.FeatureUsers, &t.ARRAtStake},
		func() { sl.totals = append(sl.totals, r) })
	if err != nil {
		return fmt.Errorf("store: unable to read adoption totals: %w", err)
	}

	var u unusedRow
	err = rawEach(tx, "SELECT product, segment, stage, accounts, arr FROM feature_unused_totals WHERE plan = ?", []any{sl.plan},
		[]any{&u.product, &u.segment, &u.stage, &u.accounts, &u.arr}, func() { sl.unused = append(sl.unused, u) })
	if err != nil {
		return fmt.Errorf("store: unable to read unused totals: %w", err)
	}
	var pr planRow
	err = rawEach(tx, "SELECT grant_plan, feature_id, segment, stage, accounts, adopting, arr FROM feature_plan_totals WHERE plan = ?", []any{sl.plan},
		[]any{&pr.grant, &pr.feature, &pr.segment, &pr.stage, &pr.accounts, &pr.adopting, &pr.arr}, func() { sl.plans = append(sl.plans, pr) })
	if err != nil {
		return fmt.Errorf("store: unable to read feature × plan totals: %w", err)
	}

	where, args := "", []any{}
	if sl.plan != "" {
		day := DateFromEpochDay(sl.asOf)
		where, args = " WHERE "+holdsPlan, []any{sl.plan, day, day}
	}
	var overuse []struct {
		Segment, Stage, Position string
	}
	err = tx.Raw("SELECT a.segment, a.lifecycle_stage AS stage, o.position FROM feature_overuse o JOIN accounts a ON a.id = o.account_id"+
		where+" ORDER BY a.key, o.ordinal", args...).Scan(&overuse).Error
	if err != nil {
		return fmt.Errorf("store: unable to read overused positions: %w", err)
	}
	for _, o := range overuse {
		r := overuseRow{segment: o.Segment, stage: o.Stage}
		if err := json.Unmarshal([]byte(o.Position), &r.position); err != nil {
			return fmt.Errorf("store: unable to decode an overused position: %w", err)
		}
		sl.overuse = append(sl.overuse, r)
	}
	return nil
}

// cohortTotals are a query's totals: over its cohort (Segment, or every segment) and
// over the Compare segment.
type cohortTotals struct {
	main, compare map[totalsKey]metrics.AdoptionTotals
}

// sums adds up the slice over the query's stage, for the cohort and the comparison segment.
func (sl *totalsSlice) sums(q FeatureQuery) cohortTotals {
	out := cohortTotals{main: map[totalsKey]metrics.AdoptionTotals{}, compare: map[totalsKey]metrics.AdoptionTotals{}}
	add := func(m map[totalsKey]metrics.AdoptionTotals, r *totalsRow) {
		sum := m[r.key]
		sum.Add(r.totals)
		m[r.key] = sum
	}
	for i := range sl.totals {
		r := &sl.totals[i]
		if q.Stage != "" && r.stage != q.Stage {
			continue
		}
		if q.Segment == "" || r.segment == q.Segment {
			add(out.main, r)
		}
		if q.Compare != "" && r.segment == q.Compare {
			add(out.compare, r)
		}
	}
	return out
}

// unusedAccounts counts the cohort's accounts with at least one entitled feature (of
// the query's product) unused in 30 days, and sums their ARR.
func (sl *totalsSlice) unusedAccounts(q FeatureQuery) (int, float64) {
	n, sum := 0, 0.0
	for _, u := range sl.unused {
		if u.product == q.Product && (q.Segment == "" || u.segment == q.Segment) && (q.Stage == "" || u.stage == q.Stage) {
			n += u.accounts
			sum += u.arr
		}
	}
	return n, sum
}

// leakage totals the overused positions of the cohort's accounts (of the query's product).
func (sl *totalsSlice) leakage(q FeatureQuery) metrics.LeakageReport {
	var positions []metrics.OverusePosition
	for _, o := range sl.overuse {
		if (q.Segment == "" || o.segment == q.Segment) && (q.Stage == "" || o.stage == q.Stage) &&
			(q.Product == "" || o.position.Product == q.Product) {
			positions = append(positions, o.position)
		}
	}
	return metrics.LeakageOf(positions)
}

// reportFeatures are the slice's catalog features of the query's product.
func (sl *totalsSlice) reportFeatures(product string) []Feature {
	var out []Feature
	for _, f := range sl.features {
		if product == "" || f.Product == product {
			out = append(out, f)
		}
	}
	return out
}
