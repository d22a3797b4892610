package models

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

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
	// Unused are the accounts × features entitled today and unused for 30 days, by ARR.
	Unused []metrics.EntitledAccount
	// UnusedARR sums the ARR of the distinct accounts in Unused.
	UnusedARR float64
	// Entitled lists the accounts entitled to Query.Feature (when set), by ARR.
	Entitled []metrics.EntitledAccount
	Leakage  metrics.LeakageReport
	Facets   FeatureFacets
}

// FeatureFacets are the choices the filters offer.
type FeatureFacets struct {
	Segments []string
	Products []string
	Plans    []string
	Features []string
}

// adoptionCohort is the accounts and features a query covers.
type adoptionCohort struct {
	accounts []metrics.AdoptionAccount
	features []metrics.Feature
	names    map[string]string
	where    string // SQL condition on accounts a
	args     []any
}

// accountFilter is the SQL condition on accounts (alias a) for the query's filters;
// segments are the segments charted (empty: all). Plan is narrowed here to accounts
// holding the key at all, and in Go to those where it is active on the day.
func accountFilter(q FeatureQuery, segments []string) (string, []any) {
	conds, args := []string{"1 = 1"}, []any{}
	if len(segments) > 0 {
		conds = append(conds, "a.segment IN ?")
		args = append(args, segments)
	}
	if q.Stage != "" {
		conds = append(conds, "a.lifecycle_stage = ?")
		args = append(args, q.Stage)
	}
	if q.Plan != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM entitlements pe WHERE pe.account_id = a.id AND pe.key = ?)")
		args = append(args, q.Plan)
	}
	return strings.Join(conds, " AND "), args
}

// cohortSegments are the segments the query needs usage of: none means every account.
func cohortSegments(q FeatureQuery) []string {
	if q.Segment == "" {
		return nil
	}
	if q.Compare != "" {
		return []string{q.Segment, q.Compare}
	}
	return []string{q.Segment}
}

// loadCohort reads the filtered accounts with their entitlements, and the catalog
// features of the query's product.
func (s *Store) loadCohort(ctx context.Context, q FeatureQuery, today Date) (*adoptionCohort, error) {
	db := s.db.WithContext(ctx)
	c := &adoptionCohort{names: map[string]string{}}
	c.where, c.args = accountFilter(q, cohortSegments(q))

	fs, err := s.allFeatures(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if q.Product == "" || f.Product == q.Product {
			c.features = append(c.features, metrics.Feature{Key: f.Key, Product: f.Product, EventNames: f.EventNames})
			c.names[f.Key] = f.Name
		}
	}

	var accounts []struct {
		ID             int64
		Key            string
		Name           string
		Segment        string
		LifecycleStage string
		ARR            float64 `gorm:"column:arr"`
	}
	err = db.Raw("SELECT a.id, a.key, a.name, a.segment, a.lifecycle_stage, a.arr FROM accounts a WHERE "+c.where+" ORDER BY a.key", c.args...).
		Scan(&accounts).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list accounts for adoption: %w", err)
	}
	var ents []struct {
		ID        int64
		AccountID int64
		Key       string
		Product   string
		StartsOn  Date
		EndsOn    Date
	}
	err = db.Raw("SELECT e.id, e.account_id, e.key, p.key AS product, e.starts_on, e.ends_on FROM entitlements e"+
		" JOIN products p ON p.id = e.product_id JOIN accounts a ON a.id = e.account_id WHERE "+c.where+" ORDER BY e.id", c.args...).
		Scan(&ents).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list entitlements for adoption: %w", err)
	}
	var listed []struct {
		EntitlementID int64
		Key           string
	}
	err = db.Raw("SELECT ef.entitlement_id, f.key FROM entitlement_features ef JOIN features f ON f.id = ef.feature_id"+
		" JOIN entitlements e ON e.id = ef.entitlement_id JOIN accounts a ON a.id = e.account_id WHERE "+c.where, c.args...).
		Scan(&listed).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list entitlement features for adoption: %w", err)
	}
	featuresOf := map[int64][]string{}
	for _, l := range listed {
		featuresOf[l.EntitlementID] = append(featuresOf[l.EntitlementID], l.Key)
	}
	entsOf := map[int64][]metrics.Entitlement{}
	day := metricsDay(today)
	planned := map[int64]bool{}
	for _, e := range ents {
		me := metrics.Entitlement{Key: e.Key, Product: e.Product, Features: featuresOf[e.ID],
			StartsOn: metricsDay(e.StartsOn), EndsOn: metricsDay(e.EndsOn)}
		entsOf[e.AccountID] = append(entsOf[e.AccountID], me)
		if e.Key == q.Plan && me.ActiveOn(day) {
			planned[e.AccountID] = true
		}
	}
	for _, a := range accounts {
		if q.Plan != "" && !planned[a.ID] {
			continue
		}
		c.accounts = append(c.accounts, metrics.AdoptionAccount{ID: a.ID, Key: a.Key, Name: a.Name,
			Segment: a.Segment, Stage: a.LifecycleStage, ARR: a.ARR, Entitlements: entsOf[a.ID]})
	}
	return c, nil
}

// precomputed names the tables (migration 00004) that loadUsage reads and the column
// that keys their periods.
type precomputed struct {
	features, active, column string
}

var (
	weeklyUsage = precomputed{"account_feature_weeks", "account_weeks", "week"}
	windowUsage = precomputed{"account_feature_windows", "account_windows", "as_of"}
)

// loadUsage reads, per account of the cohort, the distinct users of each feature and
// the distinct active users in each period from the tables RefreshFeatureWeeks keeps;
// keys[i] is period i's key there (a week's Sunday, a window's as-of day).
func (s *Store) loadUsage(ctx context.Context, c *adoptionCohort, t precomputed, keys []int) (metrics.AdoptionUsage, error) {
	usage := metrics.AdoptionUsage{}
	if len(keys) == 0 || len(c.accounts) == 0 {
		return usage, nil
	}
	period := map[int]int{}
	for i, k := range keys {
		period[k] = i
	}
	inCohort := make(map[int64]bool, len(c.accounts))
	for _, a := range c.accounts {
		inCohort[a.ID] = true
	}
	get := func(id int64) []metrics.PeriodUsage {
		ps := usage[id]
		if ps == nil {
			ps = make([]metrics.PeriodUsage, len(keys))
			usage[id] = ps
		}
		return ps
	}
	db := s.db.WithContext(ctx)

	args := append([]any{keys}, c.args...)
	rows, err := db.Raw("SELECT r.account_id, r."+t.column+", r.active_users FROM "+t.active+" r JOIN accounts a ON a.id = r.account_id"+
		" WHERE r."+t.column+" IN ? AND "+c.where, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read active users for adoption: %w", err)
	}
	for rows.Next() {
		var id int64
		var key, users int
		if err := rows.Scan(&id, &key, &users); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: unable to read active users for adoption: %w", err)
		}
		if inCohort[id] {
			get(id)[period[key]].ActiveUsers = users
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unable to read active users for adoption: %w", err)
	}

	if len(c.features) == 0 {
		return usage, nil
	}
	featureKeys := make([]string, len(c.features))
	for i, f := range c.features {
		featureKeys[i] = f.Key
	}
	args = append([]any{featureKeys, keys}, c.args...)
	rows, err = db.Raw("SELECT r.account_id, f.key, r."+t.column+", r.users FROM "+t.features+" r"+
		" JOIN features f ON f.id = r.feature_id AND f.key IN ? JOIN accounts a ON a.id = r.account_id"+
		" WHERE r."+t.column+" IN ? AND r.users > 0 AND "+c.where, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("store: unable to read feature users for adoption: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var feature string
		var key, users int
		if err := rows.Scan(&id, &feature, &key, &users); err != nil {
			return nil, fmt.Errorf("store: unable to read feature users for adoption: %w", err)
		}
		if !inCohort[id] {
			continue
		}
		p := &get(id)[period[key]]
		if p.FeatureUsers == nil {
			p.FeatureUsers = map[string]int{}
		}
		p.FeatureUsers[feature] = users
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unable to read feature users for adoption: %w", err)
	}
	return usage, nil
}

// weekKeys are the weeks' Sundays, their keys in account_feature_weeks.
func weekKeys(weeks []metrics.Period) []int {
	keys := make([]int, len(weeks))
	for i, w := range weeks {
		keys[i] = int(metrics.WeekEnd(w.End))
	}
	return keys
}

// windowKeys are the windows' last days, their keys in account_feature_windows.
func windowKeys(windows []metrics.Period) []int {
	keys := make([]int, len(windows))
	for i, w := range windows {
		keys[i] = int(w.End)
	}
	return keys
}

// FeatureAdoption is the weekly adoption of every feature over the last 26 ISO weeks
// (the current one so far), for the query's cohort and, with Compare, that segment's.
func (s *Store) FeatureAdoption(ctx context.Context, q FeatureQuery, today Date) (*AdoptionReport, error) {
	c, err := s.loadCohort(ctx, q, today)
	if err != nil {
		return nil, err
	}
	weeks := metrics.Weeks(metricsDay(today), metrics.AdoptionWeeks)
	usage, err := s.loadUsage(ctx, c, weeklyUsage, weekKeys(weeks))
	if err != nil {
		return nil, err
	}
	return adoptionReport(c, q, usage, weeks), nil
}

func adoptionReport(c *adoptionCohort, q FeatureQuery, usage metrics.AdoptionUsage, weeks []metrics.Period) *AdoptionReport {
	rep := &AdoptionReport{Weeks: make([]string, len(weeks)), Features: []FeatureSeries{}}
	for i, w := range weeks {
		rep.Weeks[i] = w.End.String()
	}
	main, compare := splitSegments(c.accounts, q)
	for _, f := range c.features {
		fs := FeatureSeries{Feature: f.Key, Name: c.names[f.Key], Product: f.Product,
			Series: metrics.AdoptionSeries(main, usage, f, weeks)}
		if q.Compare != "" {
			fs.Compare = metrics.AdoptionSeries(compare, usage, f, weeks)
		}
		rep.Features = append(rep.Features, fs)
	}
	return rep
}

// splitSegments separates the query's cohort (Segment, or all) from the comparison segment.
func splitSegments(accounts []metrics.AdoptionAccount, q FeatureQuery) (main, compare []metrics.AdoptionAccount) {
	for _, a := range accounts {
		if q.Segment == "" || a.Segment == q.Segment {
			main = append(main, a)
		}
		if q.Compare != "" && a.Segment == q.Compare {
			compare = append(compare, a)
		}
	}
	return main, compare
}

// FeatureReport computes the /features page: weekly adoption, the feature table, the
// entitled-but-unused list, the entitled accounts of one feature and the leakage report.
func (s *Store) FeatureReport(ctx context.Context, q FeatureQuery, today Date) (*FeatureReport, error) {
	c, err := s.loadCohort(ctx, q, today)
	if err != nil {
		return nil, err
	}
	day := metricsDay(today)
	weeks := metrics.Weeks(day, metrics.AdoptionWeeks)
	weekly, err := s.loadUsage(ctx, c, weeklyUsage, weekKeys(weeks))
	if err != nil {
		return nil, err
	}
	windows, err := s.loadUsage(ctx, c, windowUsage, windowKeys(metrics.Windows(day)))
	if err != nil {
		return nil, err
	}
	main, _ := splitSegments(c.accounts, q)
	rep := &FeatureReport{Query: q, Today: today, Adoption: *adoptionReport(c, q, weekly, weeks),
		Table:  metrics.FeatureTable(main, windows, c.features, c.names, day),
		Unused: metrics.EntitledAccounts(main, windows, c.features, day, true)}
	sortFeatureRows(rep.Table, q.Sort, q.Desc)
	seen := map[string]bool{}
	for _, u := range rep.Unused {
		if !seen[u.Account] {
			seen[u.Account] = true
			rep.UnusedARR += u.ARR
		}
	}
	if q.Feature != "" {
		for _, f := range c.features {
			if f.Key == q.Feature {
				rep.Entitled = metrics.EntitledAccounts(main, windows, []metrics.Feature{f}, day, false)
			}
		}
	}
	snaps, err := s.overuseSnapshots(ctx, c, today, q.Product)
	if err != nil {
		return nil, err
	}
	rep.Leakage = metrics.Leakage(main, snaps)
	rep.Facets, err = s.featureFacets(ctx)
	if err != nil {
		return nil, err
	}
	return rep, nil
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

// overuseSnapshots reads, for the cohort's accounts whose latest snapshot (up to today)
// holds an overused position, the positions then and 30 days earlier (else 7).
// The LIKE keeps the JSON of accounts without overuse from being read at all.
func (s *Store) overuseSnapshots(ctx context.Context, c *adoptionCohort, today Date, product string) (map[int64]metrics.SnapshotPositions, error) {
	db := s.db.WithContext(ctx)
	inCohort := map[int64]bool{}
	for _, a := range c.accounts {
		inCohort[a.ID] = true
	}
	var latest []HealthSnapshot
	args := append([]any{today}, c.args...)
	err := db.Raw("SELECT hs.account_id, hs.day, hs.metrics FROM accounts a JOIN health_snapshots hs ON hs.account_id = a.id"+
		" AND hs.day = (SELECT max(h2.day) FROM health_snapshots h2 WHERE h2.account_id = a.id AND h2.day <= ?)"+
		" WHERE "+c.where+` AND hs.metrics LIKE '%"status":"overused"%'`, args...).Scan(&latest).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read latest snapshots for leakage: %w", err)
	}
	out := map[int64]metrics.SnapshotPositions{}
	type want struct {
		id  int64
		day Date
	}
	var pending []want
	for _, h := range latest {
		if !inCohort[h.AccountID] {
			continue
		}
		ps, err := snapshotPositions(h.Metrics, product)
		if err != nil {
			return nil, err
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
					return nil, fmt.Errorf("store: unable to read earlier snapshots for leakage: %w", err)
				}
				for _, h := range rows {
					ps, err := snapshotPositions(h.Metrics, product)
					if err != nil {
						return nil, err
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
	return out, nil
}

// snapshotPositions decodes only the positions of a stored metrics document.
func snapshotPositions(doc, product string) ([]metrics.Position, error) {
	var r struct {
		Entitlements []metrics.Position `json:"entitlements"`
	}
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return nil, fmt.Errorf("store: unable to decode snapshot positions: %w", err)
	}
	if product == "" {
		return r.Entitlements, nil
	}
	out := r.Entitlements[:0]
	for _, p := range r.Entitlements {
		if p.Product == product {
			out = append(out, p)
		}
	}
	return out, nil
}

// featureFacets lists the segments, products, plans (entitlement keys) and features to filter by.
func (s *Store) featureFacets(ctx context.Context) (FeatureFacets, error) {
	db := s.db.WithContext(ctx)
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
