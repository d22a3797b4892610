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
// entitlement key) overlaps, so each plan gets its own slice, built the first time it
// is asked for. The totals are a cache: every write to what they are computed from
// bumps feature_totals_state.generation in its own transaction, and a report rebuilds
// a slice whose generation or day is not current before reading it.

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

// bumpFeatureTotals marks every slice stale. Callers run it in the transaction of the
// write, so a report never reads totals older than a committed change.
func bumpFeatureTotals(tx *gorm.DB) error {
	if err := tx.Exec("UPDATE feature_totals_state SET generation = generation + 1 WHERE id = 1").Error; err != nil {
		return fmt.Errorf("store: unable to mark adoption totals stale: %w", err)
	}
	return nil
}

// totalsCurrent reports whether the slice of plan is built for asOf at the current generation.
func totalsCurrent(tx *gorm.DB, plan string, asOf int) (bool, error) {
	var row struct {
		Generation int64
		AsOf       *int
		Built      *int64
	}
	err := tx.Raw("SELECT s.generation, b.as_of, b.generation AS built FROM feature_totals_state s"+
		" LEFT JOIN feature_totals_builds b ON b.plan = ? WHERE s.id = 1", plan).Scan(&row).Error
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

// buildFeatureTotals rewrites one slice (and, for plan "", the entitled pairs) for today.
func (s *Store) buildFeatureTotals(ctx context.Context, plan string, today Date) error {
	s.totalsMu.Lock()
	defer s.totalsMu.Unlock()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if IsPostgres(tx) {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(7007, hashtext(?))", plan).Error; err != nil {
				return fmt.Errorf("store: unable to lock adoption totals: %w", err)
			}
		}
		asOf := today.EpochDay()
		if ok, err := totalsCurrent(tx, plan, asOf); err != nil || ok {
			return err
		}
		// The generation is read before the data: a write committed while this runs
		// bumps it past what is recorded here, and the next report rebuilds.
		var generation int64
		if err := tx.Raw("SELECT generation FROM feature_totals_state WHERE id = 1").Scan(&generation).Error; err != nil {
			return fmt.Errorf("store: unable to read adoption totals state: %w", err)
		}
		// The every-account slice also holds what the plan slices are filtered from.
		if plan == "" {
			if err := writeEntitledPairs(tx, today); err != nil {
				return err
			}
			if err := writeOveruse(tx, today); err != nil {
				return err
			}
		}
		if err := writeFeatureTotals(tx, plan, today); err != nil {
			return err
		}
		if err := writeUnusedTotals(tx, plan, today); err != nil {
			return err
		}
		steps := []struct {
			what, sql string
			args      []any
		}{
			{"clear the build record", "DELETE FROM feature_totals_builds WHERE plan = ?", []any{plan}},
			{"record the build", "INSERT INTO feature_totals_builds (plan, as_of, generation) VALUES (?, ?, ?)", []any{plan, asOf, generation}},
		}
		for _, st := range steps {
			if err := tx.Exec(st.sql, st.args...).Error; err != nil {
				return fmt.Errorf("store: unable to %s of adoption totals: %w", st.what, err)
			}
		}
		return nil
	})
}

// entitledPairs selects the distinct (account_id, feature_id) pairs entitled on a day
// (two parameters: the day twice), as metrics.Entitles defines it: an entitlement
// active that day, for the feature's product, listing no features or this one.
const entitledPairs = "SELECT DISTINCT e.account_id, f.id AS feature_id FROM entitlements e" +
	" JOIN features f ON f.product_id = e.product_id" +
	" WHERE (e.starts_on IS NULL OR e.starts_on <= ?) AND (e.ends_on IS NULL OR e.ends_on >= ?)" +
	" AND (NOT EXISTS (SELECT 1 FROM entitlement_features ef WHERE ef.entitlement_id = e.id)" +
	" OR EXISTS (SELECT 1 FROM entitlement_features ef WHERE ef.entitlement_id = e.id AND ef.feature_id = f.id))"

// holdsPlan is the condition that account a holds an entitlement with key ? active on
// day ? (given twice).
const holdsPlan = "EXISTS (SELECT 1 FROM entitlements pe WHERE pe.account_id = a.id AND pe.key = ?" +
	" AND (pe.starts_on IS NULL OR pe.starts_on <= ?) AND (pe.ends_on IS NULL OR pe.ends_on >= ?))"

// writeFeatureTotals rewrites the totals of one plan slice for the 26 weeks up to today
// and the two 30-day windows of the feature table.
func writeFeatureTotals(tx *gorm.DB, plan string, today Date) error {
	if err := tx.Exec("DELETE FROM feature_totals WHERE plan = ?", plan).Error; err != nil {
		return fmt.Errorf("store: unable to clear adoption totals: %w", err)
	}
	day := metricsDay(today)
	type period struct {
		kind, key int
		end       metrics.Day
	}
	var periods []period
	for _, w := range metrics.Weeks(day, metrics.AdoptionWeeks) {
		periods = append(periods, period{totalsWeek, int(metrics.WeekEnd(w.End)), w.End})
	}
	for _, w := range metrics.Windows(day) {
		periods = append(periods, period{totalsWindow, int(w.End), w.End})
	}
	for _, p := range periods {
		usage := weeklyUsage
		if p.kind == totalsWindow {
			usage = windowUsage
		}
		end := DateFromEpochDay(int(p.end))
		args := []any{plan, p.kind, p.key, end, end, p.key, p.key}
		where := ""
		if plan != "" {
			where = " WHERE " + holdsPlan
			args = append(args, plan, today, today)
		}
		err := tx.Exec("INSERT INTO feature_totals (plan, kind, period, feature_id, segment, stage,"+
			" entitled_accounts, adopting_accounts, active_users, feature_users, arr_at_stake)"+
			" SELECT CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS INTEGER), x.feature_id, a.segment, a.lifecycle_stage, count(*),"+
			" sum(CASE WHEN fu.users > 0 THEN 1 ELSE 0 END), sum(COALESCE(au.active_users, 0)), sum(COALESCE(fu.users, 0)),"+
			" sum(CASE WHEN fu.users > 0 THEN 0 ELSE a.arr END)"+
			" FROM ("+entitledPairs+") x JOIN accounts a ON a.id = x.account_id"+
			" LEFT JOIN "+usage.features+" fu ON fu."+usage.column+" = ? AND fu.account_id = x.account_id AND fu.feature_id = x.feature_id"+
			" LEFT JOIN "+usage.active+" au ON au."+usage.column+" = ? AND au.account_id = x.account_id"+
			where+" GROUP BY x.feature_id, a.segment, a.lifecycle_stage", args...).Error
		if err != nil {
			return fmt.Errorf("store: unable to add up adoption totals: %w", err)
		}
	}
	return nil
}

// writeEntitledPairs rewrites the pairs entitled today with their usage in the 30 days to today.
func writeEntitledPairs(tx *gorm.DB, today Date) error {
	if err := tx.Exec("DELETE FROM feature_entitled_accounts").Error; err != nil {
		return fmt.Errorf("store: unable to clear entitled pairs: %w", err)
	}
	asOf := today.EpochDay()
	err := tx.Exec("INSERT INTO feature_entitled_accounts (account_id, feature_id, arr, users, active_users)"+
		" SELECT x.account_id, x.feature_id, a.arr, COALESCE(fu.users, 0), COALESCE(au.active_users, 0)"+
		" FROM ("+entitledPairs+") x JOIN accounts a ON a.id = x.account_id"+
		" LEFT JOIN account_feature_windows fu ON fu.as_of = ? AND fu.account_id = x.account_id AND fu.feature_id = x.feature_id"+
		" LEFT JOIN account_windows au ON au.as_of = ? AND au.account_id = x.account_id",
		today, today, asOf, asOf).Error
	if err != nil {
		return fmt.Errorf("store: unable to list entitled pairs: %w", err)
	}
	return nil
}

// writeUnusedTotals rewrites, for one plan slice, the accounts with an entitled feature
// unused in 30 days and their ARR, per product (” any), segment and stage, from the
// entitled pairs.
func writeUnusedTotals(tx *gorm.DB, plan string, today Date) error {
	if err := tx.Exec("DELETE FROM feature_unused_totals WHERE plan = ?", plan).Error; err != nil {
		return fmt.Errorf("store: unable to clear unused totals: %w", err)
	}
	where, args := "", []any{}
	if plan != "" {
		where = " AND " + holdsPlan
		args = append(args, plan, today, today)
	}
	for _, product := range []string{"''", "p.key"} {
		err := tx.Exec("INSERT INTO feature_unused_totals (plan, product, segment, stage, accounts, arr)"+
			" SELECT CAST(? AS TEXT), u.product, a.segment, a.lifecycle_stage, count(*), sum(a.arr)"+
			" FROM (SELECT DISTINCT x.account_id, "+product+" AS product FROM feature_entitled_accounts x"+
			" JOIN features f ON f.id = x.feature_id JOIN products p ON p.id = f.product_id WHERE x.users = 0) u"+
			" JOIN accounts a ON a.id = u.account_id WHERE 1 = 1"+where+
			" GROUP BY u.product, a.segment, a.lifecycle_stage", append([]any{plan}, args...)...).Error
		if err != nil {
			return fmt.Errorf("store: unable to add up unused totals: %w", err)
		}
	}
	return nil
}

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
	arr                     float64
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
	overuse    []overuseRow
	facets     FeatureFacets
}

// maxCachedSlices bounds the slices kept in memory (the every-account one and the
// plans last asked for).
const maxCachedSlices = 8

// featureSlice returns the plan's slice current for today: from memory when neither the
// day nor the generation moved, else built when stale and loaded.
func (s *Store) featureSlice(ctx context.Context, plan string, today Date) (*totalsSlice, error) {
	asOf := today.EpochDay()
	var generation int64
	if err := s.db.WithContext(ctx).Raw("SELECT generation FROM feature_totals_state WHERE id = 1").Scan(&generation).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read adoption totals state: %w", err)
	}
	s.slicesMu.Lock()
	cached := s.slices[plan]
	s.slicesMu.Unlock()
	if cached != nil && cached.asOf == asOf && cached.generation == generation {
		return cached, nil
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
	rows, err := tx.Raw("SELECT kind, period, feature_id, segment, stage, entitled_accounts, adopting_accounts,"+
		" active_users, feature_users, arr_at_stake FROM feature_totals WHERE plan = ?", sl.plan).Rows()
	if err != nil {
		return fmt.Errorf("store: unable to read adoption totals: %w", err)
	}
	for rows.Next() {
		var r totalsRow
		t := &r.totals
		if err := rows.Scan(&r.key.kind, &r.key.period, &r.key.feature, &r.segment, &r.stage, &t.EntitledAccounts,
			&t.AdoptingAccounts, &t.ActiveUsers, &t.FeatureUsers, &t.ARRAtStake); err != nil {
			rows.Close()
			return fmt.Errorf("store: unable to read adoption totals: %w", err)
		}
		sl.totals = append(sl.totals, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: unable to read adoption totals: %w", err)
	}

	var unused []struct {
		Product, Segment, Stage string
		ARR                     float64 `gorm:"column:arr"`
	}
	if err := tx.Raw("SELECT product, segment, stage, arr FROM feature_unused_totals WHERE plan = ?", sl.plan).Scan(&unused).Error; err != nil {
		return fmt.Errorf("store: unable to read unused totals: %w", err)
	}
	for _, u := range unused {
		sl.unused = append(sl.unused, unusedRow{u.Product, u.Segment, u.Stage, u.ARR})
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

// unusedARR sums the ARR of the cohort's accounts with at least one entitled feature
// (of the query's product) unused in 30 days.
func (sl *totalsSlice) unusedARR(q FeatureQuery) float64 {
	sum := 0.0
	for _, u := range sl.unused {
		if u.product == q.Product && (q.Segment == "" || u.segment == q.Segment) && (q.Stage == "" || u.stage == q.Stage) {
			sum += u.arr
		}
	}
	return sum
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

// overuseSnapshots reads, for the accounts whose latest snapshot (up to today)
// holds an overused position, the positions then and 30 days earlier (else 7).
func overuseSnapshots(db *gorm.DB, today Date) ([]metrics.AdoptionAccount, map[int64]metrics.SnapshotPositions, error) {
	var latest []struct {
		HealthSnapshot
		Key, Name, Segment string
	}
	err := db.Raw("SELECT hs.account_id, hs.day, hs.metrics, a.key, a.name, a.segment FROM accounts a JOIN health_snapshots hs ON hs.account_id = a.id"+
		" AND hs.day = (SELECT max(h2.day) FROM health_snapshots h2 WHERE h2.account_id = a.id AND h2.day <= ?)"+
		" WHERE hs.overused ORDER BY a.key", today).Scan(&latest).Error
	if err != nil {
		return nil, nil, fmt.Errorf("store: unable to read latest snapshots for leakage: %w", err)
	}
	var accounts []metrics.AdoptionAccount
	out := map[int64]metrics.SnapshotPositions{}
	type want struct {
		id  int64
		day Date
	}
	var pending []want
	for _, h := range latest {
		accounts = append(accounts, metrics.AdoptionAccount{ID: h.AccountID, Key: h.Key, Name: h.Name, Segment: h.Segment})
		ps, err := snapshotPositions(h.Metrics, "")
		if err != nil {
			return nil, nil, err
		}
		out[h.AccountID] = metrics.SnapshotPositions{AsOf: h.Day.String(), Now: ps}
		pending = append(pending, want{h.AccountID, h.Day})
	}
	for _, back := range []int{30, 7} {
		byDay := map[Date][]int64{}
		for _, w := range pending {
			byDay[w.day.AddDays(-back)] = append(byDay[w.day.AddDays(-back)], w.id)
		}
		found := map[int64]bool{}
		for d, ids := range byDay {
			for start := 0; start < len(ids); start += 1000 {
				var rows []HealthSnapshot
				err := db.Raw("SELECT account_id, day, metrics FROM health_snapshots WHERE day = ? AND account_id IN ?",
					d, ids[start:min(start+1000, len(ids))]).Scan(&rows).Error
				if err != nil {
					return nil, nil, fmt.Errorf("store: unable to read earlier snapshots for leakage: %w", err)
				}
				for _, h := range rows {
					ps, err := snapshotPositions(h.Metrics, "")
					if err != nil {
						return nil, nil, err
					}
					sp := out[h.AccountID]
					sp.Earlier = ps
					if sp.Earlier == nil {
						sp.Earlier = []metrics.Position{}
					}
					out[h.AccountID] = sp
					found[h.AccountID] = true
				}
			}
		}
		rest := pending[:0:0]
		for _, w := range pending {
			if !found[w.id] {
				rest = append(rest, w)
			}
		}
		pending = rest
	}
	return accounts, out, nil
}

// writeOveruse rewrites the overused positions of every account's latest snapshot up to today.
func writeOveruse(tx *gorm.DB, today Date) error {
	if err := tx.Exec("DELETE FROM feature_overuse").Error; err != nil {
		return fmt.Errorf("store: unable to clear overused positions: %w", err)
	}
	accounts, snaps, err := overuseSnapshots(tx, today)
	if err != nil {
		return err
	}
	ids := make(map[string]int64, len(accounts))
	for _, a := range accounts {
		ids[a.Key] = a.ID
	}
	positions := metrics.OverusePositions(accounts, snaps)
	docs := make([]string, len(positions))
	for i, op := range positions {
		doc, err := json.Marshal(op)
		if err != nil {
			return fmt.Errorf("store: unable to encode an overused position of %s: %w", op.Account, err)
		}
		docs[i] = string(doc)
	}
	ordinal := map[int64]int{}
	return bulkWrite(tx, "INSERT INTO feature_overuse (account_id, ordinal, product, position) VALUES ", "", 4, len(positions),
		func(i int, args []any) []any {
			id := ids[positions[i].Account]
			ordinal[id]++
			return append(args, id, ordinal[id], positions[i].Product, docs[i])
		}, nil)
}
