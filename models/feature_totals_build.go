package models

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"sightline/metrics"
)

// Building the adoption totals. The sums are made in Go with the per-account
// definitions of package metrics (AccountTotals), one period at a time: the accounts
// and their entitlements are read once, then each period's usage rows (a few tens of
// thousands at 10,000 accounts), and every entitled (account, feature) pair adds its
// contribution to the cells of the every-account slice and of each plan slice the
// account belongs to. The entitled pairs of today (for the paged account lists) are
// written by one INSERT … SELECT, the overused positions from the latest snapshots.

// minPlanAccounts is how many accounts must hold a plan today for its slice to be
// built with the every-account one; rarer plans are built when first asked for.
var minPlanAccounts = 20

// maxPrebuiltPlans bounds the plan slices built with the every-account one.
const maxPrebuiltPlans = 16

// buildFeatureTotals rewrites, for today, the every-account slice with the entitled
// pairs, the overused positions and the slices of the common plans, or (plan set) that
// plan's slice alone.
func (s *Store) buildFeatureTotals(ctx context.Context, plan string, today Date) error {
	s.totalsMu.Lock()
	defer s.totalsMu.Unlock()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
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
		if err := tx.Raw(adoptionVersionSQL).Scan(&generation).Error; err != nil {
			return fmt.Errorf("store: unable to read adoption totals state: %w", err)
		}
		plans := []string{plan}
		if plan == "" {
			if err := writeEntitledPairs(tx, today); err != nil {
				return err
			}
			if err := writeOveruse(tx, today); err != nil {
				return err
			}
			common, err := commonPlans(tx, today)
			if err != nil {
				return err
			}
			plans = append(plans, common...)
		}
		if err := writeSlices(tx, plans, today); err != nil {
			return err
		}
		// Fresh statistics, or PostgreSQL plans the paged lists for an empty table.
		if plan == "" && IsPostgres(tx) {
			if err := tx.Exec("ANALYZE feature_entitled_accounts, feature_unused_accounts, feature_overuse").Error; err != nil {
				return fmt.Errorf("store: unable to analyze the adoption totals: %w", err)
			}
		}
		for _, p := range plans {
			if err := tx.Exec("DELETE FROM feature_totals_builds WHERE plan = ?", p).Error; err != nil {
				return fmt.Errorf("store: unable to record the adoption totals build: %w", err)
			}
			err := tx.Exec("INSERT INTO feature_totals_builds (plan, as_of, generation) VALUES (?, ?, ?)", p, asOf, generation).Error
			if err != nil {
				return fmt.Errorf("store: unable to record the adoption totals build: %w", err)
			}
		}
		return nil
	})
	if err != nil || plan != "" || !IsPostgres(s.db) {
		return err
	}
	// A rebuild deletes as many rows as it writes: reclaim them now rather than let
	// the paged lists read past dead rows until autovacuum comes (VACUUM cannot run
	// in the build's transaction). Best effort: the figures are already committed.
	_ = s.db.WithContext(ctx).Exec("VACUUM feature_entitled_accounts, feature_totals, feature_unused_totals, feature_plan_totals, feature_unused_accounts, feature_overuse").Error
	return nil
}

// commonPlans are the entitlement keys held (active today) by at least minPlanAccounts
// accounts, the most held first.
func commonPlans(tx *gorm.DB, today Date) ([]string, error) {
	var plans []string
	err := tx.Raw("SELECT e.key FROM entitlements e WHERE "+activeOn("e")+
		" GROUP BY key HAVING count(DISTINCT account_id) >= ? ORDER BY count(DISTINCT account_id) DESC, key LIMIT ?",
		today, today, minPlanAccounts, maxPrebuiltPlans).Scan(&plans).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list common plans: %w", err)
	}
	return slices.DeleteFunc(plans, func(p string) bool { return p == "" }), nil
}

// buildAccount is an account as the build sees it.
type buildAccount struct {
	metrics.AdoptionAccount
	segment, stage int   // indexes into the build's segments and stages
	slices         []int // the slices (indexes into plans) it counts in
}

// totalsPeriod is one period of the totals with its key.
type totalsPeriod struct {
	kind, key int
	period    metrics.Period
}

// slicesBuild holds the cells being summed: [slice][period][feature][segment][stage].
type slicesBuild struct {
	plans            []string
	periods          []totalsPeriod
	features         []Feature
	segments, stages []string
	cells            []metrics.AdoptionTotals
	// unused[slice][product+1][segment][stage]: accounts with an unused entitled
	// feature (of the product; index 0 any product) in the current window, and their ARR.
	products []string
	unused   []unusedCell
	// plan holds the feature × plan sums of the current window (packaging.go).
	plan map[planKey]*planCell
	// unusedFeatures lists, per account, the features (indexes) it is entitled to and
	// did not use in the current window; built with the every-account slice only.
	unusedFeatures map[int64][]int
	activeUsers    map[int64]int
}

// planKey is one row of feature_plan_totals (see migration 00013): grant "" with a
// feature counts the product's accounts lacking it; feature -1 counts a plan's holders.
type planKey struct {
	slice          int
	grant          string
	feature        int
	segment, stage int
}

type planCell struct {
	accounts, adopting int
	arr                float64
}

func (b *slicesBuild) addPlan(k planKey, adopting bool, arr float64) {
	c := b.plan[k]
	if c == nil {
		c = &planCell{}
		b.plan[k] = c
	}
	c.accounts++
	if adopting {
		c.adopting++
	}
	c.arr += arr
}

type unusedCell struct {
	accounts int
	arr      float64
}

func (b *slicesBuild) cell(slice, period, feature, segment, stage int) *metrics.AdoptionTotals {
	i := (((slice*len(b.periods)+period)*len(b.features)+feature)*len(b.segments)+segment)*len(b.stages) + stage
	return &b.cells[i]
}

func (b *slicesBuild) unusedAt(slice, product, segment, stage int) *unusedCell {
	return &b.unused[((slice*(len(b.products)+1)+product)*len(b.segments)+segment)*len(b.stages)+stage]
}

// writeSlices computes and rewrites the totals and unused totals of the plans' slices.
func writeSlices(tx *gorm.DB, plans []string, today Date) error {
	day := metricsDay(today)
	b := &slicesBuild{plans: plans}
	for _, w := range metrics.Weeks(day, metrics.AdoptionWeeks) {
		b.periods = append(b.periods, totalsPeriod{totalsWeek, int(metrics.WeekEnd(w.End)), w})
	}
	for _, w := range metrics.Windows(day) {
		b.periods = append(b.periods, totalsPeriod{totalsWindow, int(w.End), w})
	}
	var err error
	if b.features, err = loadFeatures(tx); err != nil {
		return err
	}
	for _, f := range b.features {
		if !slices.Contains(b.products, f.Product) {
			b.products = append(b.products, f.Product)
		}
	}
	accounts, err := b.loadAccounts(tx, today)
	if err != nil {
		return err
	}
	b.cells = make([]metrics.AdoptionTotals, len(plans)*len(b.periods)*len(b.features)*len(b.segments)*len(b.stages))
	b.unused = make([]unusedCell, len(plans)*(len(b.products)+1)*len(b.segments)*len(b.stages))
	b.plan = map[planKey]*planCell{}
	b.unusedFeatures, b.activeUsers = map[int64][]int{}, map[int64]int{}
	mfs := make([]metrics.Feature, len(b.features))
	for i, f := range b.features {
		mfs[i] = metricsFeature(f)
	}
	for pi, p := range b.periods {
		usage, err := loadPeriodUsage(tx, p, b.features)
		if err != nil {
			return err
		}
		current := p.kind == totalsWindow && p.period.End == day
		for _, a := range accounts {
			u := usage[a.ID]
			var unusedIn map[int]bool // products (index+1) with an unused feature, current window only
			if current {
				unusedIn = map[int]bool{}
			}
			if current {
				b.addPlanTotals(a, u, mfs, day)
				b.activeUsers[a.ID] = u.ActiveUsers
			}
			for fi, f := range mfs {
				t := metrics.AccountTotals(a.AdoptionAccount, u, f, p.period.End)
				if t.EntitledAccounts == 0 {
					continue
				}
				for _, sl := range a.slices {
					b.cell(sl, pi, fi, a.segment, a.stage).Add(t)
				}
				if current && t.AdoptingAccounts == 0 {
					unusedIn[slices.Index(b.products, f.Product)+1] = true
					if b.plans[0] == "" {
						b.unusedFeatures[a.ID] = append(b.unusedFeatures[a.ID], fi)
					}
				}
			}
			if len(unusedIn) > 0 {
				unusedIn[0] = true
			}
			for product := range unusedIn {
				for _, sl := range a.slices {
					c := b.unusedAt(sl, product, a.segment, a.stage)
					c.accounts++
					c.arr += a.ARR
				}
			}
		}
	}
	if err := b.write(tx); err != nil {
		return err
	}
	if plans[0] == "" {
		return b.writeUnusedAccounts(tx, accounts)
	}
	return nil
}

// writeUnusedAccounts rewrites feature_unused_accounts: per account, for any product
// (”) and for each product, its unused features, so the page lists the accounts
// with unused features by ARR without reading every pair.
func (b *slicesBuild) writeUnusedAccounts(tx *gorm.DB, accounts []*buildAccount) error {
	if err := tx.Exec("DELETE FROM feature_unused_accounts").Error; err != nil {
		return fmt.Errorf("store: unable to clear unused accounts: %w", err)
	}
	type row struct {
		account  *buildAccount
		product  string
		features string
	}
	var rows []row
	for _, a := range accounts {
		fis := b.unusedFeatures[a.ID]
		if len(fis) == 0 {
			continue
		}
		byProduct := map[string][]string{}
		var all []string
		for _, fi := range fis {
			f := b.features[fi]
			byProduct[f.Product] = append(byProduct[f.Product], f.Key)
			all = append(all, f.Key)
		}
		slices.Sort(all)
		rows = append(rows, row{a, "", strings.Join(all, listSeparator)})
		for p, keys := range byProduct {
			slices.Sort(keys)
			rows = append(rows, row{a, p, strings.Join(keys, listSeparator)})
		}
	}
	err := bulkWrite(tx, "INSERT INTO feature_unused_accounts (product, account_id, arr, active_users, features) VALUES ", "", 5, len(rows),
		func(i int, args []any) []any {
			r := rows[i]
			return append(args, r.product, r.account.ID, r.account.ARR, b.activeUsers[r.account.ID], r.features)
		}, nil)
	if err != nil {
		return fmt.Errorf("store: unable to write unused accounts: %w", err)
	}
	return nil
}

// addPlanTotals adds one account to the feature × plan sums of today: its plans, each
// feature it is entitled to through each plan, and the features of its products it lacks.
func (b *slicesBuild) addPlanTotals(a *buildAccount, u metrics.PeriodUsage, features []metrics.Feature, day metrics.Day) {
	var active []metrics.Entitlement
	products := map[string]bool{}
	for _, e := range a.Entitlements {
		if e.ActiveOn(day) && e.Key != "" {
			active = append(active, e)
			products[e.Product] = true
		}
	}
	for _, sl := range a.slices {
		at := func(grant string, feature int) planKey { return planKey{sl, grant, feature, a.segment, a.stage} }
		seen := map[string]bool{}
		for _, e := range active {
			if !seen[e.Key] { // keys are unique per account; guard anyway
				seen[e.Key] = true
				b.addPlan(at(e.Key, -1), false, 0)
			}
		}
		for fi, f := range features {
			if !products[f.Product] {
				continue
			}
			if !a.EntitledTo(f, day) {
				b.addPlan(at("", fi), false, a.ARR)
				continue
			}
			used := u.FeatureUsers[f.Key] > 0
			unusedARR := a.ARR
			if used {
				unusedARR = 0
			}
			for _, e := range active {
				if metrics.Entitles(e, f, day) {
					b.addPlan(at(e.Key, fi), used, unusedARR)
				}
			}
		}
	}
}

// loadAccounts reads every account with its entitlements, and notes the slices each
// counts in: the every-account one, and each plan it holds today.
func (b *slicesBuild) loadAccounts(tx *gorm.DB, today Date) ([]*buildAccount, error) {
	var rows []struct {
		ID             int64
		Key            string
		Segment        string
		LifecycleStage string
		ARR            float64 `gorm:"column:arr"`
	}
	if err := tx.Raw("SELECT id, key, segment, lifecycle_stage, arr FROM accounts ORDER BY id").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list accounts for adoption totals: %w", err)
	}
	var ents []struct {
		ID        int64
		AccountID int64
		Key       string
		Product   string
		StartsOn  Date
		EndsOn    Date
	}
	err := tx.Raw("SELECT e.id, e.account_id, e.key, p.key AS product, e.starts_on, e.ends_on FROM entitlements e" +
		" JOIN products p ON p.id = e.product_id ORDER BY e.id").Scan(&ents).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list entitlements for adoption totals: %w", err)
	}
	featuresOf, err := entitlementFeatureKeys(tx)
	if err != nil {
		return nil, err
	}
	index := func(list *[]string, v string) int {
		if i := slices.Index(*list, v); i >= 0 {
			return i
		}
		*list = append(*list, v)
		return len(*list) - 1
	}
	byID := map[int64]*buildAccount{}
	out := make([]*buildAccount, 0, len(rows))
	for _, r := range rows {
		a := &buildAccount{AdoptionAccount: metrics.AdoptionAccount{ID: r.ID, Key: r.Key, ARR: r.ARR},
			segment: index(&b.segments, r.Segment), stage: index(&b.stages, r.LifecycleStage)}
		if b.plans[0] == "" {
			a.slices = []int{0}
		}
		byID[r.ID] = a
		out = append(out, a)
	}
	day := metricsDay(today)
	for _, e := range ents {
		a := byID[e.AccountID]
		me := metrics.Entitlement{Key: e.Key, Product: e.Product, Features: featuresOf[e.ID],
			StartsOn: metricsDay(e.StartsOn), EndsOn: metricsDay(e.EndsOn)}
		a.Entitlements = append(a.Entitlements, me)
		if i := slices.Index(b.plans, e.Key); i >= 0 && e.Key != "" && me.ActiveOn(day) && !slices.Contains(a.slices, i) {
			a.slices = append(a.slices, i)
		}
	}
	return out, nil
}

// loadPeriodUsage reads each account's active users and users per feature (by key) in one period.
func loadPeriodUsage(tx *gorm.DB, p totalsPeriod, features []Feature) (map[int64]metrics.PeriodUsage, error) {
	t := weeklyUsage
	if p.kind == totalsWindow {
		t = windowUsage
	}
	keyOf := make(map[int64]string, len(features))
	for _, f := range features {
		keyOf[f.ID] = f.Key
	}
	usage := map[int64]metrics.PeriodUsage{}
	var id, feature int64
	var n int
	err := rawEach(tx, "SELECT account_id, active_users FROM "+t.active+" WHERE "+t.column+" = ?", []any{p.key}, []any{&id, &n}, func() {
		usage[id] = metrics.PeriodUsage{ActiveUsers: n, FeatureUsers: map[string]int{}}
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to read active users for adoption totals: %w", err)
	}
	err = rawEach(tx, "SELECT account_id, feature_id, users FROM "+t.features+" WHERE "+t.column+" = ? AND users > 0", []any{p.key}, []any{&id, &feature, &n}, func() {
		u, ok := usage[id]
		if !ok { // feature users without active users cannot happen; count them anyway
			u = metrics.PeriodUsage{FeatureUsers: map[string]int{}}
			usage[id] = u
		}
		u.FeatureUsers[keyOf[feature]] = n
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to read feature users for adoption totals: %w", err)
	}
	return usage, nil
}

// write replaces the slices' rows with the non-empty cells.
func (b *slicesBuild) write(tx *gorm.DB) error {
	for _, p := range b.plans {
		for _, table := range []string{"feature_totals", "feature_unused_totals", "feature_plan_totals"} {
			if err := tx.Exec("DELETE FROM "+table+" WHERE plan = ?", p).Error; err != nil {
				return fmt.Errorf("store: unable to clear %s: %w", table, err)
			}
		}
	}
	type at struct{ slice, period, feature, segment, stage int }
	var cells []at
	for sl := range b.plans {
		for pi := range b.periods {
			for fi := range b.features {
				for se := range b.segments {
					for st := range b.stages {
						if b.cell(sl, pi, fi, se, st).EntitledAccounts > 0 {
							cells = append(cells, at{sl, pi, fi, se, st})
						}
					}
				}
			}
		}
	}
	err := bulkWrite(tx, "INSERT INTO feature_totals (plan, kind, period, feature_id, segment, stage, entitled_accounts,"+
		" adopting_accounts, active_users, feature_users, arr_at_stake) VALUES ", "", 11, len(cells),
		func(i int, args []any) []any {
			c := cells[i]
			t := b.cell(c.slice, c.period, c.feature, c.segment, c.stage)
			p := b.periods[c.period]
			return append(args, b.plans[c.slice], p.kind, p.key, b.features[c.feature].ID, b.segments[c.segment], b.stages[c.stage],
				t.EntitledAccounts, t.AdoptingAccounts, t.ActiveUsers, t.FeatureUsers, t.ARRAtStake)
		}, nil)
	if err != nil {
		return fmt.Errorf("store: unable to write adoption totals: %w", err)
	}
	type uat struct{ slice, product, segment, stage int }
	var unused []uat
	for sl := range b.plans {
		for pr := 0; pr <= len(b.products); pr++ {
			for se := range b.segments {
				for st := range b.stages {
					if b.unusedAt(sl, pr, se, st).accounts > 0 {
						unused = append(unused, uat{sl, pr, se, st})
					}
				}
			}
		}
	}
	err = bulkWrite(tx, "INSERT INTO feature_unused_totals (plan, product, segment, stage, accounts, arr) VALUES ", "", 6, len(unused),
		func(i int, args []any) []any {
			u := unused[i]
			c := b.unusedAt(u.slice, u.product, u.segment, u.stage)
			product := ""
			if u.product > 0 {
				product = b.products[u.product-1]
			}
			return append(args, b.plans[u.slice], product, b.segments[u.segment], b.stages[u.stage], c.accounts, c.arr)
		}, nil)
	if err != nil {
		return fmt.Errorf("store: unable to write unused totals: %w", err)
	}
	keys := make([]planKey, 0, len(b.plan))
	for k := range b.plan {
		keys = append(keys, k)
	}
	err = bulkWrite(tx, "INSERT INTO feature_plan_totals (plan, grant_plan, feature_id, segment, stage, accounts, adopting, arr) VALUES ", "", 8, len(keys),
		func(i int, args []any) []any {
			k := keys[i]
			c := b.plan[k]
			feature := int64(0)
			if k.feature >= 0 {
				feature = b.features[k.feature].ID
			}
			return append(args, b.plans[k.slice], k.grant, feature, b.segments[k.segment], b.stages[k.stage], c.accounts, c.adopting, c.arr)
		}, nil)
	if err != nil {
		return fmt.Errorf("store: unable to write feature × plan totals: %w", err)
	}
	return nil
}

// entitledPairs selects the distinct (account_id, feature_id) pairs entitled on a day
// (two parameters: the day twice), as metrics.Entitles defines it: an entitlement
// active that day, for the feature's product, listing no features or this one.
var entitledPairs = "SELECT DISTINCT e.account_id, f.id AS feature_id FROM entitlements e" +
	" JOIN features f ON f.product_id = e.product_id" +
	" WHERE " + activeOn("e") +
	" AND (NOT EXISTS (SELECT 1 FROM entitlement_features ef WHERE ef.entitlement_id = e.id)" +
	" OR EXISTS (SELECT 1 FROM entitlement_features ef WHERE ef.entitlement_id = e.id AND ef.feature_id = f.id))"

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
		" LEFT JOIN account_windows au ON au.as_of = ? AND au.account_id = x.account_id"+
		// Stored feature by feature, by ARR: a feature's accounts are then a few
		// neighbouring pages to read, not one page each.
		" ORDER BY x.feature_id, a.arr DESC",
		today, today, asOf, asOf).Error
	if err != nil {
		return fmt.Errorf("store: unable to list entitled pairs: %w", err)
	}
	return nil
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
		ps, err := snapshotPositions(h.Metrics)
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
					ps, err := snapshotPositions(h.Metrics)
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

// snapshotPositions decodes only the positions of a stored metrics document.
func snapshotPositions(doc string) ([]metrics.Position, error) {
	var r struct {
		Entitlements []metrics.Position `json:"entitlements"`
	}
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return nil, fmt.Errorf("store: unable to decode snapshot positions: %w", err)
	}
	return r.Entitlements, nil
}
