package models

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"sightline/metrics"
)

// PortfolioQuery is what the portfolio is filtered, sorted and paged by. It round-trips
// through the URL so a view can be shared.
type PortfolioQuery struct {
	Search  string
	Segment string
	Stage   string
	CSM     string
	Color   string // one of HealthColors, "" for all
	Risk    string // one of RiskFlags, "" for all
	// Renews keeps the accounts renewing within this many days from today (one of
	// RenewalWindows; 0 for all).
	Renews  int
	Sort    string // one of PortfolioSorts
	Desc    bool
	Page    int // 1-based
	PerPage int
}

// Flags of a portfolio row, worded as the page shows them. They come from the
// account's open alerts, so the portfolio, the account page and the inbox agree. The
// first two are opportunities (more was used than sold), the rest risks.
const (
	RiskOverused     = "overused"
	RiskNearLimit    = "nearing limit"
	RiskUnderused    = "underused"
	RiskRenewal      = "renewal at risk"
	RiskHealthDrop   = "health dropped"
	RiskGoneDark     = "gone dark"
	RiskExecLost     = "executive lost"
	RiskGoals        = "goals at risk"
	PortfolioPerPage = 50
)

// RiskFlags lists the portfolio's flags in display order.
var RiskFlags = []string{RiskOverused, RiskNearLimit, RiskUnderused, RiskRenewal, RiskHealthDrop, RiskGoneDark, RiskExecLost, RiskGoals}

// Opportunity tells the flags that are a chance to sell more, not a risk.
func Opportunity(flag string) bool { return flag == RiskOverused || flag == RiskNearLimit }

// flagAlerts is the SQL condition on an open alert (alias al) behind each flag.
var flagAlerts = map[string]string{
	RiskOverused:   "al.kind = 'consumption' AND al.threshold >= 1",
	RiskNearLimit:  "al.kind = 'consumption' AND al.threshold < 1",
	RiskUnderused:  "al.kind = 'underuse'",
	RiskRenewal:    "al.kind = 'renewal_risk'",
	RiskHealthDrop: "al.kind = 'health_drop'",
	RiskGoneDark:   "al.kind = 'gone_dark'",
	RiskExecLost:   "al.kind = 'executive_lost'",
	RiskGoals:      "al.kind = 'goal_at_risk'",
}

// flagOf is the flag an open alert raises.
func flagOf(a Alert) string {
	switch a.Kind {
	case "consumption":
		if a.Threshold != nil && *a.Threshold < 1 {
			return RiskNearLimit
		}
		return RiskOverused
	case "underuse":
		return RiskUnderused
	case "renewal_risk":
		return RiskRenewal
	case "health_drop":
		return RiskHealthDrop
	case "gone_dark":
		return RiskGoneDark
	case "executive_lost":
		return RiskExecLost
	case "goal_at_risk":
		return RiskGoals
	}
	return ""
}

// RenewalWindows are the "renews within" choices, in days.
var RenewalWindows = []int{30, 60, 90, 180}

// HealthColors are the colours a health score can have.
var HealthColors = []string{"green", "yellow", "red"}

// PortfolioSorts maps sort names to their SQL, whitelisted. The expressions refer to
// the columns of portfolioRows (alias a), so health sorts run in SQL on the latest
// snapshot; accounts without a snapshot sort last either way.
var PortfolioSorts = map[string]string{
	"name":       "lower(a.name)",
	"arr":        "a.arr",
	"renewal":    "a.renewal_on",
	"segment":    "a.segment",
	"stage":      "a.lifecycle_stage",
	"csm":        "a.csm_email",
	"health":     "a.health_score",
	"usage":      "a.daily_usage_rate",
	"activation": "a.seat_activation",
	"attention":  attentionOrder,
}

// attentionOrder puts first what needs someone: the weight of the account's open
// alerts (a critical one outweighs any number of warnings, a warning any number of
// notes), then the lowest health, then the nearest renewal.
const attentionOrder = `(SELECT COALESCE(sum(CASE al.severity WHEN 'critical' THEN 10000 WHEN 'warning' THEN 100 ELSE 1 END), 0)
	FROM alerts al WHERE al.account_id = a.id AND al.state = 'open') DESC,
	CASE WHEN a.health_score IS NULL THEN 1 ELSE 0 END, a.health_score ASC,
	CASE WHEN a.renewal_on IS NULL THEN 1 ELSE 0 END, a.renewal_on ASC`

// nullsLast are the sorts whose column may be NULL (no snapshot, or no value).
var nullsLast = map[string]bool{"health": true, "usage": true, "activation": true, "renewal": true}

// ParsePortfolioQuery reads the query from URL parameters, falling back to defaults.
func ParsePortfolioQuery(v url.Values) PortfolioQuery {
	q := PortfolioQuery{
		Search:  strings.TrimSpace(v.Get("q")),
		Segment: v.Get("segment"),
		Stage:   v.Get("stage"),
		CSM:     v.Get("csm"),
		Color:   v.Get("color"),
		Risk:    v.Get("risk"),
		Sort:    v.Get("sort"),
		Desc:    v.Get("dir") == "desc",
		PerPage: PortfolioPerPage,
	}
	if _, ok := PortfolioSorts[q.Sort]; !ok {
		q.Sort, q.Desc = "name", false
	}
	if !slices.Contains(HealthColors, q.Color) {
		q.Color = ""
	}
	if !slices.Contains(RiskFlags, q.Risk) {
		q.Risk = ""
	}
	if n, _ := strconv.Atoi(v.Get("renews")); slices.Contains(RenewalWindows, n) {
		q.Renews = n
	}
	q.Page, _ = strconv.Atoi(v.Get("page"))
	if q.Page < 1 {
		q.Page = 1
	}
	return q
}

// unfiltered reports whether the query keeps every account (it only sorts and pages).
func (q PortfolioQuery) unfiltered() bool {
	return q == PortfolioQuery{Sort: q.Sort, Desc: q.Desc, Page: q.Page, PerPage: q.PerPage}
}

// Values encodes the query back into URL parameters, leaving out defaults.
func (q PortfolioQuery) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("q", q.Search)
	set("segment", q.Segment)
	set("stage", q.Stage)
	set("csm", q.CSM)
	set("color", q.Color)
	set("risk", q.Risk)
	if q.Renews > 0 {
		v.Set("renews", strconv.Itoa(q.Renews))
	}
	if q.Sort != "name" || q.Desc {
		v.Set("sort", q.Sort)
		if q.Desc {
			v.Set("dir", "desc")
		}
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return v
}

// PortfolioRow is one account as the portfolio lists it, with its latest health
// snapshot (all nil or empty when there is none).
type PortfolioRow struct {
	Account
	HealthDay   *Date    `gorm:"column:health_day"`
	HealthScore *float64 `gorm:"column:health_score"`
	HealthColor string   `gorm:"column:health_color"`
	// PreviousScore is the snapshot score 7 days before the latest, for the trend.
	PreviousScore  *float64 `gorm:"column:previous_score"`
	DailyUsageRate *float64 `gorm:"column:daily_usage_rate"`
	SeatActivation *float64 `gorm:"column:seat_activation"`
	Executives     *float64 `gorm:"column:executives"`
	Overused       bool     `gorm:"column:overused"`
	Underused      bool     `gorm:"column:underused"`
	// RiskFlags are the row's flags (RiskFlags order), from its open alerts;
	// FlagSubjects names, per flag, the entitlements it is about.
	RiskFlags    []string            `gorm:"-"`
	FlagSubjects map[string][]string `gorm:"-"`
	// OpenAlerts counts the account's open alerts; WorstSeverity is the gravest.
	OpenAlerts    int    `gorm:"-"`
	WorstSeverity string `gorm:"-"`
}

// setAlerts fills a row's flags and alert counts from its open alerts.
func (r *PortfolioRow) setAlerts(open []Alert) {
	r.RiskFlags, r.FlagSubjects = riskFlags(open)
	r.OpenAlerts = len(open)
	rank := map[string]int{"info": 1, "warning": 2, "critical": 3}
	for _, a := range open {
		if rank[a.Severity] > rank[r.WorstSeverity] {
			r.WorstSeverity = a.Severity
		}
	}
}

// PortfolioTrendDays is how far back the portfolio's trend arrow compares.
const PortfolioTrendDays = 7

// Trend is "up", "down" or "flat" against the score 7 days earlier ("" without both).
// Moves under one point count as flat.
func (r PortfolioRow) Trend() string {
	if r.HealthScore == nil || r.PreviousScore == nil {
		return ""
	}
	switch d := *r.HealthScore - *r.PreviousScore; {
	case d >= 1:
		return "up"
	case d <= -1:
		return "down"
	}
	return "flat"
}

// riskFlags is the one place a row's flags are decided: from its open alerts, in
// RiskFlags order, with the entitlements each is about.
func riskFlags(open []Alert) ([]string, map[string][]string) {
	raised := map[string]bool{}
	subjects := map[string][]string{}
	for _, a := range open {
		f := flagOf(a)
		raised[f] = true
		if (a.Kind == "consumption" || a.Kind == "underuse") && !slices.Contains(subjects[f], a.Subject) {
			subjects[f] = append(subjects[f], a.Subject)
		}
	}
	flags := []string{}
	for _, f := range RiskFlags {
		if raised[f] {
			flags = append(flags, f)
		}
	}
	return flags, subjects
}

// AccountRiskFlags are the portfolio's flags of one account, from its open alerts.
func (s *Store) AccountRiskFlags(ctx context.Context, accountID int64) ([]string, error) {
	open, err := s.OpenAlertsByAccount(ctx, []int64{accountID})
	if err != nil {
		return nil, err
	}
	flags, _ := riskFlags(open[accountID])
	return flags, nil
}

// PortfolioPage is one page of the filtered portfolio and the total it was cut from.
type PortfolioPage struct {
	Rows  []PortfolioRow
	Total int64
	ARR   float64 // of every account the filters keep
}

// portfolioRows is every account with its latest snapshot's figures as plain columns,
// so the portfolio filters and sorts on them with the same SQL on both dialects.
func (s *Store) portfolioRows(ctx context.Context) *gorm.DB {
	return s.db.WithContext(ctx).Table("accounts a").
		Joins("LEFT JOIN account_health_latest hs ON hs.account_id = a.id").Select(portfolioColumns)
}

const portfolioColumns = "a.*," +
	" hs.day AS health_day, hs.score AS health_score, COALESCE(hs.color, '') AS health_color," +
	" hs.previous_score," +
	" hs.daily_usage_rate, hs.seat_activation, hs.executives," +
	" COALESCE(hs.overused, FALSE) AS overused, COALESCE(hs.underused, FALSE) AS underused"

// portfolioRowsByID is portfolioRows of some accounts. The ids are repeated for the
// snapshot side: PostgreSQL does not carry an IN list across the join, and would
// otherwise scan every account's snapshot row to join a page of them.
func (s *Store) portfolioRowsByID(ctx context.Context, ids []int64) *gorm.DB {
	return s.db.WithContext(ctx).Table("accounts a").
		Joins("LEFT JOIN account_health_latest hs ON hs.account_id = a.id AND hs.account_id IN ?", ids).
		Select(portfolioColumns).Where("a.id IN ?", ids)
}

// filteredPortfolio applies the query's filters.
func (s *Store) filteredPortfolio(ctx context.Context, q PortfolioQuery) *gorm.DB {
	db := s.db.WithContext(ctx).Table("(?) a", s.portfolioRows(ctx))
	if q.Search != "" {
		like := "%" + escapeLike(strings.ToLower(q.Search)) + "%"
		db = db.Where("(lower(a.name) LIKE ? ESCAPE '\\' OR lower(a.key) LIKE ? ESCAPE '\\')", like, like)
	}
	if q.Segment != "" {
		db = db.Where("a.segment = ?", q.Segment)
	}
	if q.Stage != "" {
		db = db.Where("a.lifecycle_stage = ?", q.Stage)
	}
	if q.CSM != "" {
		db = db.Where("a.csm_email = ?", q.CSM)
	}
	if q.Color != "" {
		db = db.Where("a.health_color = ?", q.Color)
	}
	if cond, ok := flagAlerts[q.Risk]; ok {
		db = db.Where("EXISTS (SELECT 1 FROM alerts al WHERE al.account_id = a.id AND al.state = 'open' AND " + cond + ")")
	}
	if q.Renews > 0 {
		today := Today()
		db = db.Where("a.renewal_on BETWEEN ? AND ?", today, today.AddDays(q.Renews))
	}
	return db
}

func portfolioOrder(q PortfolioQuery) string {
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	col := PortfolioSorts[q.Sort]
	if col == "" {
		col = PortfolioSorts["name"]
	}
	if q.Sort == "attention" {
		return attentionOrder + ", a.key ASC" // one direction only: most in need first
	}
	order := col + " " + dir
	if nullsLast[q.Sort] {
		order = "CASE WHEN " + col + " IS NULL THEN 1 ELSE 0 END, " + order
	}
	return order + ", a.key ASC"
}

// ListPortfolio filters, sorts and pages the accounts; asOf is the day risk flags are
// judged on (today). The sort and the paging run on the account ids alone (a deep
// page's top-N sort of whole rows cost several times more), then the page's rows are
// read by id. Without filters the ids come in order from the process's copy.
func (s *Store) ListPortfolio(ctx context.Context, q PortfolioQuery) (PortfolioPage, error) {
	var page PortfolioPage
	if q.PerPage <= 0 {
		q.PerPage = PortfolioPerPage
	}
	offset := (max(q.Page, 1) - 1) * q.PerPage
	var ids []int64
	// The count and ARR of the whole filtered set (one small aggregate).
	var sums struct {
		N   int64
		ARR float64
	}
	totals := s.filteredPortfolio(ctx, q)
	if q.unfiltered() {
		totals = s.db.WithContext(ctx).Table("accounts a") // no join needed
	}
	if err := totals.Select("count(*) AS n, COALESCE(sum(a.arr), 0) AS arr").Scan(&sums).Error; err != nil {
		return page, fmt.Errorf("store: unable to count portfolio: %w", err)
	}
	page.Total, page.ARR = sums.N, sums.ARR
	// The attention order follows the alerts, which the cached orders do not watch.
	if q.unfiltered() && q.Sort != "attention" {
		all, err := s.sortedPortfolio(ctx, q)
		if err != nil {
			return page, err
		}
		ids = all[min(offset, len(all)):min(offset+q.PerPage, len(all))]
	} else {
		err := s.filteredPortfolio(ctx, q).Order(portfolioOrder(q)).
			Limit(q.PerPage).Offset(offset).Pluck("a.id", &ids).Error
		if err != nil {
			return page, fmt.Errorf("store: unable to list portfolio: %w", err)
		}
	}
	if len(ids) == 0 {
		return page, nil
	}
	byID, err := s.portfolioRowsOf(ctx, ids)
	if err != nil {
		return page, err
	}
	open, err := s.OpenAlertsByAccount(ctx, ids)
	if err != nil {
		return page, err
	}
	for _, id := range ids {
		r, ok := byID[id]
		if !ok {
			continue // deleted since the ids were read
		}
		r.setAlerts(open[r.ID])
		page.Rows = append(page.Rows, r)
	}
	return page, nil
}

// portfolioRowsOf returns the rows of the accounts ids, from the process's copy while
// the stored portfolio version says it is current, reading only those it lacks.
func (s *Store) portfolioRowsOf(ctx context.Context, ids []int64) (map[int64]PortfolioRow, error) {
	ctx = Primary(ctx) // the versions and the copy from one source: see primaryCopies
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return nil, err
	}
	c := s.folio
	c.mu.Lock()
	c.at(v.Portfolio)
	kept := c.rows // version v's, even if a later call replaces it
	out := make(map[int64]PortfolioRow, len(ids))
	var missing []int64
	for _, id := range ids {
		if r, ok := kept[id]; ok {
			out[id] = r
		} else {
			missing = append(missing, id)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	var rows []PortfolioRow
	if err := s.portfolioRowsByID(ctx, missing).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list portfolio: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rows {
		out[r.ID], kept[r.ID] = r, r
	}
	return out, nil
}

// sortedPortfolio is every account id in the query's order (filters ignored), from
// the process's copy while the stored portfolio version says it is current.
func (s *Store) sortedPortfolio(ctx context.Context, q PortfolioQuery) ([]int64, error) {
	// The version is read before the ids: see healthSettings.
	ctx = Primary(ctx) // the versions and the copy from one source: see primaryCopies
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return nil, err
	}
	order := portfolioOrder(q)
	c := s.folio
	c.mu.Lock()
	c.at(v.Portfolio)
	ids, ok := c.orders[order]
	c.mu.Unlock()
	if ok {
		return ids, nil
	}
	filled, err, _ := s.filling.Do(fmt.Sprintf("portfolio %d %s", v.Portfolio, order), func() (any, error) {
		var sorted []int64
		var id int64
		// Shared by the waiting requests, so one leaving does not cancel it for the rest.
		err := s.eachRow(context.WithoutCancel(ctx), "SELECT a.id FROM (SELECT "+portfolioColumns+" FROM accounts a"+
			" LEFT JOIN account_health_latest hs ON hs.account_id = a.id) a ORDER BY "+order, nil,
			[]any{&id}, func() { sorted = append(sorted, id) })
		if err != nil {
			return nil, fmt.Errorf("store: unable to sort portfolio: %w", err)
		}
		c.mu.Lock()
		c.at(v.Portfolio)
		c.orders[order] = sorted
		c.loads++
		c.mu.Unlock()
		return sorted, nil
	})
	if err != nil {
		return nil, err
	}
	return filled.([]int64), nil
}

// ExportPortfolio returns every row the query's filters keep, in its sort order, for
// the CSV export (no paging).
func (s *Store) ExportPortfolio(ctx context.Context, q PortfolioQuery) ([]PortfolioRow, error) {
	var rows []PortfolioRow
	err := s.filteredPortfolio(ctx, q).Select("a.*").Order(portfolioOrder(q)).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to export portfolio: %w", err)
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	open, err := s.OpenAlertsByAccount(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].setAlerts(open[rows[i].ID])
	}
	return rows, nil
}

// escapeLike makes user input literal inside a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// PortfolioChange is an account whose health moved in the last week.
type PortfolioChange struct {
	Key, Name            string
	Score, Previous      float64
	Color, PreviousColor string
}

// Worse tells a colour that got worse.
func (c PortfolioChange) Worse() bool { return colorRank(c.Color) > colorRank(c.PreviousColor) }

func colorRank(c string) int {
	switch c {
	case "yellow":
		return 1
	case "red":
		return 2
	}
	return 0
}

// changesMaxAccounts bounds the sets whose week is summed up: a book, not all 10,000.
const changesMaxAccounts = 1000

// PortfolioChanges lists the accounts the query keeps whose colour changed, or whose
// score moved by minPoints or more, against the snapshot 7 days before the latest:
// colours that got worse first, then the largest moves. Nil for sets larger than a
// book (changesMaxAccounts).
func (s *Store) PortfolioChanges(ctx context.Context, q PortfolioQuery, total int64, minPoints float64, limit int) ([]PortfolioChange, error) {
	if total > changesMaxAccounts {
		return nil, nil
	}
	cfg, err := s.Scorecard(ctx)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Key, Name                  string
		HealthScore, PreviousScore float64
		HealthColor                string
	}
	err = s.filteredPortfolio(ctx, q).Select("a.key, a.name, a.health_score, a.previous_score, a.health_color").
		Where("a.health_score IS NOT NULL AND a.previous_score IS NOT NULL").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read the week's changes: %w", err)
	}
	var out []PortfolioChange
	for _, r := range rows {
		c := PortfolioChange{Key: r.Key, Name: r.Name, Score: r.HealthScore, Previous: r.PreviousScore,
			Color: r.HealthColor, PreviousColor: metrics.Color(r.PreviousScore, cfg)}
		if c.Color != c.PreviousColor || math.Abs(c.Score-c.Previous) >= minPoints {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b PortfolioChange) int {
		if a.Worse() != b.Worse() {
			if a.Worse() {
				return -1
			}
			return 1
		}
		return cmp.Compare(math.Abs(b.Score-b.Previous), math.Abs(a.Score-a.Previous))
	})
	return out[:min(len(out), limit)], nil
}
