package models

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"gorm.io/gorm"

	"sightline/metrics"
)

// FeatureQuery is what the /features page and its exports are filtered and sorted by.
// It round-trips through the URL so a view can be shared.
type FeatureQuery struct {
	Segment string // accounts of this segment ("" all)
	Compare string // a second segment charted beside the first ("" none)
	Product string // features of this product ("" all)
	Stage   string // accounts in this lifecycle stage ("" all)
	Plan    string // accounts holding an entitlement with this key active today ("" all)
	Feature string // a feature whose entitled accounts are listed ("" none)
	Sort    string // one of FeatureSorts
	Desc    bool
	// Limit caps the rows of the account lists (0: all, for the CSV exports); it is
	// not part of the URL.
	Limit int
}

// FeatureSorts are the columns the feature table sorts by.
var FeatureSorts = []string{"feature", "product", "entitled", "adopting", "rate", "trend", "at_stake"}

// ParseFeatureQuery reads the query from URL parameters; unknown sorts fall back to
// ARR at stake, highest first.
func ParseFeatureQuery(v url.Values) FeatureQuery {
	q := FeatureQuery{
		Segment: strings.TrimSpace(v.Get("segment")),
		Compare: strings.TrimSpace(v.Get("compare")),
		Product: strings.TrimSpace(v.Get("product")),
		Stage:   strings.TrimSpace(v.Get("stage")),
		Plan:    strings.TrimSpace(v.Get("plan")),
		Feature: strings.TrimSpace(v.Get("feature")),
		Sort:    v.Get("sort"),
		Desc:    v.Get("dir") == "desc",
	}
	if !slices.Contains(FeatureSorts, q.Sort) {
		q.Sort, q.Desc = "at_stake", true
	}
	if q.Compare == q.Segment {
		q.Compare = ""
	}
	return q
}

// Values encodes the query back into URL parameters, leaving out defaults.
func (q FeatureQuery) Values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{{"segment", q.Segment}, {"compare", q.Compare}, {"product", q.Product},
		{"stage", q.Stage}, {"plan", q.Plan}, {"feature", q.Feature}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if q.Sort != "at_stake" || !q.Desc {
		v.Set("sort", q.Sort)
		if q.Desc {
			v.Set("dir", "desc")
		}
	}
	return v
}

// FeatureSeries is one feature's weekly adoption: the cohort's, and the comparison
// segment's when one is chosen.
type FeatureSeries struct {
	Feature string                  `json:"feature"`
	Name    string                  `json:"-"`
	Product string                  `json:"product"`
	Series  []metrics.AdoptionPoint `json:"series"`
	Compare []metrics.AdoptionPoint `json:"compare,omitempty"`
}

// AdoptionReport is the weekly adoption of every feature, for the charts and the API.
type AdoptionReport struct {
	Weeks    []string        `json:"weeks"`
	Features []FeatureSeries `json:"features"`
}

// FeatureReport is everything the /features page shows.
type FeatureReport struct {
	Query    FeatureQuery
	Today    Date
	Adoption AdoptionReport
	Table    []metrics.FeatureRow
	// Unused are the accounts × features entitled today and unused for 30 days, by ARR:
	// all UnusedCount of them, for the export (empty when Query.Limit is set).
	Unused      []metrics.EntitledAccount
	UnusedCount int
	// UnusedARR sums the ARR of the distinct accounts with an unused feature.
	UnusedARR float64
	// Entitled lists the accounts entitled to Query.Feature (when set), by ARR (the
	// first Query.Limit of EntitledCount).
	Entitled      []metrics.EntitledAccount
	EntitledCount int
	Leakage       metrics.LeakageReport
	Facets        FeatureFacets
	// Seen says, per feature, when its events last arrived and which never did.
	Seen map[string]FeatureSeen
	// UnusedAccounts groups the unused pairs by account (the first UnusedAccountsListed
	// of UnusedAccountCount; all without Query.Limit), each account's ARR counted once.
	UnusedAccounts     []UnusedAccount
	UnusedAccountCount int
	Packaging          *Packaging
	// ModelFit: the accounts in view whose positions fit another licence model (the
	// first ModelFitListed on a page, all in the CSV).
	ModelFit *ModelFit
}

// ModelFitListed is how many positions /features lists under the licence model fit.
const ModelFitListed = 25

// FeatureFacets are the choices the filters offer.
type FeatureFacets struct {
	Segments []string
	Products []string
	Plans    []string
	Features []string
}

// accountFilter is the SQL condition on accounts (alias a) for the query's cohort:
// its segment (all when empty), stage and plan (held on today).
func accountFilter(q FeatureQuery, today Date) (string, []any) {
	conds, args := []string{"1 = 1"}, []any{}
	if q.Segment != "" {
		conds = append(conds, "a.segment = ?")
		args = append(args, q.Segment)
	}
	if q.Stage != "" {
		conds = append(conds, "a.lifecycle_stage = ?")
		args = append(args, q.Stage)
	}
	if q.Plan != "" {
		conds = append(conds, holdsPlan)
		args = append(args, q.Plan, today, today)
	}
	return strings.Join(conds, " AND "), args
}

// metricsFeature is a catalog feature as package metrics sees it.
func metricsFeature(f Feature) metrics.Feature {
	return metrics.Feature{Key: f.Key, Product: f.Product, EventNames: f.EventNames}
}

// FeatureAdoption is the weekly adoption of every feature over the last 26 ISO weeks
// (the current one so far), for the query's cohort and, with Compare, that segment's.
func (s *Store) FeatureAdoption(ctx context.Context, q FeatureQuery, today Date) (*AdoptionReport, error) {
	sl, err := s.featureSlice(ctx, q.Plan, today)
	if err != nil {
		return nil, err
	}
	return adoptionReport(sl.reportFeatures(q.Product), q, sl.sums(q), today), nil
}

func adoptionReport(features []Feature, q FeatureQuery, totals cohortTotals, today Date) *AdoptionReport {
	weeks := metrics.Weeks(metricsDay(today), metrics.AdoptionWeeks)
	rep := &AdoptionReport{Weeks: make([]string, len(weeks)), Features: []FeatureSeries{}}
	for i, w := range weeks {
		rep.Weeks[i] = w.End.String()
	}
	series := func(m map[totalsKey]metrics.AdoptionTotals, f Feature) []metrics.AdoptionPoint {
		out := make([]metrics.AdoptionPoint, len(weeks))
		for i, w := range weeks {
			out[i] = m[totalsKey{totalsWeek, int(metrics.WeekEnd(w.End)), f.ID}].Point(w.End)
		}
		return out
	}
	for _, f := range features {
		fs := FeatureSeries{Feature: f.Key, Name: f.Name, Product: f.Product, Series: series(totals.main, f)}
		if q.Compare != "" {
			fs.Compare = series(totals.compare, f)
		}
		rep.Features = append(rep.Features, fs)
	}
	return rep
}

// FeatureReport computes the /features page: weekly adoption, the feature table, the
// entitled-but-unused list, the entitled accounts of one feature and the leakage report.
// Everything but the two account lists (paged in SQL) comes from the plan's slice.
func (s *Store) FeatureReport(ctx context.Context, q FeatureQuery, today Date) (*FeatureReport, error) {
	sl, err := s.featureSlice(ctx, q.Plan, today)
	if err != nil {
		return nil, err
	}
	features, totals := sl.reportFeatures(q.Product), sl.sums(q)
	rep := &FeatureReport{Query: q, Today: today, Adoption: *adoptionReport(features, q, totals, today),
		Leakage: sl.leakage(q), Facets: sl.facets}
	rep.UnusedAccountCount, rep.UnusedARR = sl.unusedAccounts(q)
	ws := metrics.Windows(metricsDay(today))
	for _, f := range features {
		cur := totals.main[totalsKey{totalsWindow, int(ws[1].End), f.ID}]
		prev := totals.main[totalsKey{totalsWindow, int(ws[0].End), f.ID}]
		rep.Table = append(rep.Table, metrics.NewFeatureRow(metricsFeature(f), f.Name, cur, prev))
		rep.UnusedCount += cur.EntitledAccounts - cur.AdoptingAccounts
		if f.Key == q.Feature {
			rep.EntitledCount = cur.EntitledAccounts
		}
	}
	sortFeatureRows(rep.Table, q.Sort, q.Desc)
	// The totals count the lists' rows: an empty list needs no query. Every unused
	// pair is for the export (Limit 0); a page lists the accounts instead.
	rep.Unused, rep.Entitled, rep.UnusedAccounts = []metrics.EntitledAccount{}, []metrics.EntitledAccount{}, []UnusedAccount{}
	if rep.UnusedCount > 0 && q.Limit == 0 {
		if rep.Unused, err = s.entitledAccounts(ctx, q, today, "", true); err != nil {
			return nil, err
		}
	}
	if q.Feature != "" && rep.EntitledCount > 0 {
		if rep.Entitled, err = s.entitledAccounts(ctx, q, today, q.Feature, false); err != nil {
			return nil, err
		}
	}
	if rep.Seen, err = s.featureSeen(ctx, features); err != nil {
		return nil, err
	}
	if rep.UnusedAccountCount > 0 {
		limit := q.Limit
		if limit > 0 {
			limit = min(limit, UnusedAccountsListed)
		}
		if rep.UnusedAccounts, err = s.unusedAccounts(ctx, q, today, limit); err != nil {
			return nil, err
		}
	}
	rep.Packaging = sl.packaging(q, features, rep)
	limit := q.Limit
	if limit > 0 {
		limit = min(limit, ModelFitListed)
	}
	if rep.ModelFit, err = s.modelFit(ctx, q, today, limit); err != nil {
		return nil, err
	}
	return rep, nil
}

// entitledAccounts pages the pairs entitled today (from the every-account slice's
// entitled pairs) of the query's cohort and product: those of one feature, or with
// unusedOnly those not used in 30 days; by ARR, highest first, then account and feature.
func (s *Store) entitledAccounts(ctx context.Context, q FeatureQuery, today Date, feature string, unusedOnly bool) ([]metrics.EntitledAccount, error) {
	where, args := accountFilter(q, today)
	if unusedOnly {
		where += " AND x.users = 0"
	}
	if feature != "" {
		where += " AND f.key = ?"
		args = append(args, feature)
	}
	if q.Product != "" {
		where += " AND p.key = ?"
		args = append(args, q.Product)
	}
	sql := "SELECT a.key, a.name, a.segment, a.lifecycle_stage, x.arr, f.key, p.key, x.users, x.active_users" +
		" FROM feature_entitled_accounts x JOIN accounts a ON a.id = x.account_id" +
		" JOIN features f ON f.id = x.feature_id JOIN products p ON p.id = f.product_id" +
		" WHERE " + where + " ORDER BY x.arr DESC, a.key, f.key"
	if q.Limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	out := []metrics.EntitledAccount{}
	var e metrics.EntitledAccount
	err := rawEach(s.db.WithContext(ctx), sql, args, []any{&e.Account, &e.Name, &e.Segment, &e.Stage, &e.ARR, &e.Feature, &e.Product, &e.Users, &e.ActiveUsers},
		func() { out = append(out, e) })
	if err != nil {
		return nil, fmt.Errorf("store: unable to list entitled accounts: %w", err)
	}
	return out, nil
}

// sortFeatureRows orders the feature table by a column of FeatureSorts; nil rates sort lowest.
func sortFeatureRows(rows []metrics.FeatureRow, column string, desc bool) {
	rate := func(v *float64) float64 {
		if v == nil {
			return -1e18
		}
		return *v
	}
	slices.SortStableFunc(rows, func(x, y metrics.FeatureRow) int {
		var c int
		switch column {
		case "feature":
			c = strings.Compare(x.Feature, y.Feature)
		case "product":
			c = strings.Compare(x.Product, y.Product)
		case "entitled":
			c = cmp.Compare(x.EntitledAccounts, y.EntitledAccounts)
		case "adopting":
			c = cmp.Compare(x.AdoptingAccounts, y.AdoptingAccounts)
		case "rate":
			c = cmp.Compare(rate(x.AccountRate), rate(y.AccountRate))
		case "trend":
			c = cmp.Compare(rate(x.Trend), rate(y.Trend))
		default:
			c = cmp.Compare(x.ARRAtStake, y.ARRAtStake)
		}
		if desc {
			c = -c
		}
		return cmp.Or(c, strings.Compare(x.Feature, y.Feature))
	})
}

// loadFeatureFacets lists the segments, products, plans (entitlement keys) and features to filter by.
func loadFeatureFacets(db *gorm.DB) (FeatureFacets, error) {
	var f FeatureFacets
	for _, q := range []struct {
		sql string
		out *[]string
	}{
		{"SELECT DISTINCT segment FROM accounts WHERE segment <> '' ORDER BY segment", &f.Segments},
		{"SELECT key FROM products ORDER BY key", &f.Products},
		{"SELECT DISTINCT key FROM entitlements ORDER BY key", &f.Plans},
		{"SELECT key FROM features ORDER BY key", &f.Features},
	} {
		if err := db.Raw(q.sql).Scan(q.out).Error; err != nil {
			return f, fmt.Errorf("store: unable to list feature filters: %w", err)
		}
	}
	return f, nil
}
