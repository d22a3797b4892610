package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"sightline/metrics"
)

// The /features page's packaging view: each feature in each plan (entitlement key)
// that grants it, which features' events ever arrived, the unused features grouped by
// account, and what metrics.PackagingFindings makes of them. The feature × plan sums
// are built with the adoption totals (feature_plan_totals, migration 00013) and summed
// in memory like them, so they agree with the feature table at any filter.

// FeatureSeen tells an unused feature from one that was never instrumented.
type FeatureSeen struct {
	// Events are the feature's event names.
	Events []string
	// Last is the last day any of the feature's event names was received (nil: never).
	Last *Date
	// Never lists the feature's event names that were never received.
	Never []string
}

// PlanColumn is one plan of the feature × plan view, with the cohort's accounts holding it today.
type PlanColumn struct {
	Key     string
	Holders int
}

// Packaging is the feature × plan view and what to package differently.
type Packaging struct {
	Plans []PlanColumn
	// Cells[feature][plan]; a missing cell is a plan that does not include the feature.
	Cells    map[string]map[string]metrics.PlanCell
	Findings []metrics.Finding
}

// UnusedAccount is an account paying for features it did not use in 30 days.
type UnusedAccount struct {
	Account, Name, Segment, Stage string
	ARR                           float64
	ActiveUsers                   int
	// Features are the unused features' keys, by key.
	Features []string
}

// eventDays is the last day each catalog event name was received (nil: never), as read at a moment.
type eventDays struct {
	at   time.Time
	last map[string]*Date
}

// seenFor is how long the last days of event names are reused: a page view then
// costs no query, and a feature whose first event just arrived shows it within this.
const seenFor = 30 * time.Second

// featureSeen says, per catalog feature, when its event names were last received
// (one index lookup per name: migration 00013).
func (s *Store) featureSeen(ctx context.Context, features []Feature) (map[string]FeatureSeen, error) {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	fresh := time.Since(s.seen.at) < seenFor
	for _, f := range features {
		for _, n := range f.EventNames {
			if _, ok := s.seen.last[n]; !ok {
				fresh = false // a name added to the catalog since
			}
		}
	}
	if !fresh {
		last := map[string]*Date{}
		var name string
		var day *int
		err := rawEach(s.db.WithContext(ctx), "SELECT e.event_name, (SELECT MAX(u.day) FROM usage_user_event_days u WHERE u.event_name = e.event_name)"+
			" FROM (SELECT DISTINCT event_name FROM feature_events) e", nil, []any{&name, &day}, func() {
			last[name] = nil
			if day != nil {
				d := DateFromEpochDay(*day)
				last[name] = &d
			}
		})
		if err != nil {
			return nil, fmt.Errorf("store: unable to read when events were last received: %w", err)
		}
		s.seen = eventDays{at: time.Now(), last: last}
	}
	out := map[string]FeatureSeen{}
	for _, f := range features {
		fs := FeatureSeen{Events: f.EventNames}
		for _, n := range f.EventNames {
			switch d := s.seen.last[n]; {
			case d == nil:
				fs.Never = append(fs.Never, n)
			case fs.Last == nil || d.After(*fs.Last):
				fs.Last = d
			}
		}
		out[f.Key] = fs
	}
	return out, nil
}

// packaging sums the slice's feature × plan totals over the query's cohort (segment
// and stage; the product through the report's features) and draws the findings.
func (sl *totalsSlice) packaging(q FeatureQuery, features []Feature, rep *FeatureReport) *Packaging {
	pk := &Packaging{Cells: map[string]map[string]metrics.PlanCell{}}
	byID := map[int64]Feature{}
	for _, f := range features {
		byID[f.ID] = f
	}
	holders := map[string]int{}
	missing := map[string]metrics.PlanCell{} // per feature: the product's accounts lacking it
	for _, r := range sl.plans {
		if (q.Segment != "" && r.segment != q.Segment) || (q.Stage != "" && r.stage != q.Stage) {
			continue
		}
		f, listed := byID[r.feature]
		switch {
		case r.feature == 0:
			holders[r.grant] += r.accounts
		case !listed:
		case r.grant == "":
			m := missing[f.Key]
			m.Accounts += r.accounts
			m.UnusedARR += r.arr
			missing[f.Key] = m
		default:
			if pk.Cells[f.Key] == nil {
				pk.Cells[f.Key] = map[string]metrics.PlanCell{}
			}
			c := pk.Cells[f.Key][r.grant]
			c.Plan, c.Feature = r.grant, f.Key
			c.Accounts += r.accounts
			c.Adopting += r.adopting
			c.UnusedARR += r.arr
			pk.Cells[f.Key][r.grant] = c
		}
	}

	// Columns: the plans that include at least one listed feature, most held first.
	var cells []metrics.PlanCell
	inView := map[string]bool{}
	for _, byPlan := range pk.Cells {
		for _, c := range byPlan {
			cells = append(cells, c)
			inView[c.Plan] = true
		}
	}
	for p := range inView {
		pk.Plans = append(pk.Plans, PlanColumn{Key: p, Holders: holders[p]})
	}
	slices.SortFunc(pk.Plans, func(a, b PlanColumn) int {
		if a.Holders != b.Holders {
			return b.Holders - a.Holders
		}
		return strings.Compare(a.Key, b.Key)
	})
	slices.SortFunc(cells, func(a, b metrics.PlanCell) int {
		return strings.Compare(a.Feature+"\x00"+a.Plan, b.Feature+"\x00"+b.Plan)
	})

	var packaged []metrics.PackagedFeature
	for _, r := range rep.Table {
		m := missing[r.Feature]
		packaged = append(packaged, metrics.PackagedFeature{Feature: r.Feature, Product: r.Product,
			Entitled: r.EntitledAccounts, Adopting: r.AdoptingAccounts, Instrumented: rep.Seen[r.Feature].Last != nil,
			ProductAccounts: r.EntitledAccounts + m.Accounts, MissingARR: m.UnusedARR})
	}
	// Plans outgrown: holders whose latest position of that plan is overused.
	overused := map[string]map[string]bool{}
	leakage := map[string]float64{}
	for _, p := range rep.Leakage.Positions {
		if overused[p.Key] == nil {
			overused[p.Key] = map[string]bool{}
		}
		overused[p.Key][p.Account] = true
		leakage[p.Key] += p.Leakage
	}
	var quantities []metrics.PlanQuantity
	for p, accounts := range overused {
		quantities = append(quantities, metrics.PlanQuantity{Plan: p, Holders: holders[p], Overused: len(accounts), Leakage: leakage[p]})
	}
	slices.SortFunc(quantities, func(a, b metrics.PlanQuantity) int { return strings.Compare(a.Plan, b.Plan) })
	pk.Findings = metrics.PackagingFindings(packaged, cells, quantities)
	return pk
}

// UnusedAccountsListed is how many accounts with unused features a page lists (each
// with all its unused features); the CSV has every pair.
const UnusedAccountsListed = 25

// unusedAccounts lists the cohort's accounts with at least one entitled feature (of the
// query's product) unused in 30 days, by ARR, the first limit (all when 0), from the
// per-account rows built with the every-account slice.
func (s *Store) unusedAccounts(ctx context.Context, q FeatureQuery, today Date, limit int) ([]UnusedAccount, error) {
	where, args := accountFilter(q, today)
	sql := "SELECT a.key, a.name, a.segment, a.lifecycle_stage, u.arr, u.active_users, u.features" +
		" FROM feature_unused_accounts u JOIN accounts a ON a.id = u.account_id" +
		" WHERE u.product = ? AND " + where + " ORDER BY u.arr DESC, a.key"
	if limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", limit)
	}
	out := []UnusedAccount{}
	var u UnusedAccount
	var features string
	err := rawEach(s.db.WithContext(ctx), sql, append([]any{q.Product}, args...),
		[]any{&u.Account, &u.Name, &u.Segment, &u.Stage, &u.ARR, &u.ActiveUsers, &features}, func() {
			u.Features = splitList(features)
			out = append(out, u)
		})
	if err != nil {
		return nil, fmt.Errorf("store: unable to list accounts with unused features: %w", err)
	}
	return out, nil
}
