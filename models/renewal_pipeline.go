package models

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"sightline/metrics"
)

// The /renewals pipeline: what renews next (pending renewals, and accounts whose
// renewal_on falls in the window without a renewal record), with each account's
// health, open alerts, goals and recommendations; and what happened to past renewals.

// RenewalQuery is what /renewals is filtered by; it round-trips through the URL.
type RenewalQuery struct {
	Within  int    // due within this many days (one of RenewalWindows)
	CSM     string // accounts of this CSM ("" all)
	Segment string
	From    Date // past renewals due from …
	To      Date // … to (inclusive)
	Lead    int  // lead time of the backtest (one of BacktestLeads)
	// Limit caps the listed rows (0: all, for the CSV); the totals count every row.
	// It is not part of the URL.
	Limit int
}

// ParseRenewalQuery reads the query; defaults: 90 days ahead, the last 12 months
// behind, a 90-day lead.
func ParseRenewalQuery(v url.Values, today Date) RenewalQuery {
	q := RenewalQuery{Within: 90, Lead: DefaultLeadDays, CSM: strings.TrimSpace(v.Get("csm")), Segment: strings.TrimSpace(v.Get("segment")),
		From: today.AddDays(-365), To: today}
	if n, err := strconv.Atoi(v.Get("within")); err == nil && slices.Contains(RenewalWindows, n) {
		q.Within = n
	}
	if n, err := strconv.Atoi(v.Get("lead")); err == nil && slices.Contains(BacktestLeads, n) {
		q.Lead = n
	}
	if d, err := ParseDate(v.Get("from")); err == nil {
		q.From = d
	}
	if d, err := ParseDate(v.Get("to")); err == nil {
		q.To = d
	}
	if q.To.Before(q.From) {
		q.From, q.To = q.To, q.From
	}
	return q
}

// Values encodes the query, leaving out defaults.
func (q RenewalQuery) Values(today Date) url.Values {
	v := url.Values{}
	if q.Within != 90 {
		v.Set("within", strconv.Itoa(q.Within))
	}
	if q.Lead != DefaultLeadDays {
		v.Set("lead", strconv.Itoa(q.Lead))
	}
	for _, kv := range [][2]string{{"csm", q.CSM}, {"segment", q.Segment}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if q.From != today.AddDays(-365) {
		v.Set("from", q.From.String())
	}
	if q.To != today {
		v.Set("to", q.To.String())
	}
	return v
}

// PipelineRow is one upcoming renewal.
type PipelineRow struct {
	Account Account
	// Renewal is the pending renewal; nil when the account's renewal_on has none.
	Renewal  *Renewal
	DueOn    Date
	DaysLeft int // negative: overdue
	ARR      float64
	Score    *float64
	Color    string
	Trend    *float64 // score change over 7 days
	Alerts   int      // open alerts
	Goals    int      // open goals
	AtRisk   int      // of them at risk
	Recs     []metrics.Recommendation
	RecsARR  float64 // the ARR the recommendations would move
}

// ColorTotal counts renewals of one colour and their ARR.
type ColorTotal struct {
	Count int
	ARR   float64
}

// Pipeline is the /renewals report.
type Pipeline struct {
	Query     RenewalQuery
	Today     Date
	Upcoming  []PipelineRow
	ARR       float64
	ByColor   map[string]ColorTotal // "" for accounts without a score
	Past      []Renewal             // closed renewals due in [From, To], latest first (the first Query.Limit)
	PastCount int                   // all of them
	// Retention over Past: net (ARR after / ARR before) and gross (capped at before).
	NRR, GRR       *float64
	PastBefore     float64
	PastAfter      float64
	Outcomes       map[string]int
	PendingPast    int // renewals due in the period still pending (not in NRR)
	AccountNames   map[int64]string
	Segments, CSMs []string
	Backtests      []metrics.Backtest // one per BacktestLeads
	Backtest       metrics.Backtest   // at Query.Lead
	Weights        metrics.WeightSuggestion
	// RecsDay is when the stored recommendations were computed (nil: computed now).
	RecsDay *Date
}

// RenewalPipeline builds /renewals; without insights, the tables alone (for the CSV).
func (s *Store) RenewalPipeline(ctx context.Context, q RenewalQuery, today Date, insights bool) (*Pipeline, error) {
	p := &Pipeline{Query: q, Today: today, ByColor: map[string]ColorTotal{}, Outcomes: map[string]int{}, AccountNames: map[int64]string{}}
	var err error
	if p.Segments, p.CSMs, err = s.AccountFacets(ctx); err != nil {
		return nil, err
	}
	if err := s.upcoming(ctx, p); err != nil {
		return nil, err
	}
	if err := s.pastRenewals(ctx, p); err != nil {
		return nil, err
	}
	if !insights {
		return p, nil
	}
	for _, lead := range BacktestLeads {
		b, err := s.RenewalBacktest(ctx, lead, today)
		if err != nil {
			return nil, err
		}
		p.Backtests = append(p.Backtests, b)
		if lead == q.Lead {
			p.Backtest = b
		}
	}
	if p.Weights, err = s.SuggestScorecardWeights(ctx, today); err != nil {
		return nil, err
	}
	return p, nil
}

// cohort is the SQL condition on accounts (alias a) for the query's CSM and segment.
func (q RenewalQuery) cohort() (string, []any) {
	conds, args := []string{"1 = 1"}, []any{}
	if q.CSM != "" {
		conds, args = append(conds, "a.csm_email = ?"), append(args, q.CSM)
	}
	if q.Segment != "" {
		conds, args = append(conds, "a.segment = ?"), append(args, q.Segment)
	}
	return strings.Join(conds, " AND "), args
}

func (s *Store) upcoming(ctx context.Context, p *Pipeline) error {
	db := s.db.WithContext(ctx)
	where, args := p.Query.cohort()
	until := p.Today.AddDays(p.Query.Within)
	// Pending renewals due by the window's end (overdue ones included), and accounts
	// renewing in the window without any pending renewal.
	var rows []struct {
		Account    `gorm:"embedded"`
		RenewalID  *int64
		RenewalKey *string
		DueOn      Date
		ARRBefore  *float64
		Note       *string
	}
	err := db.Raw("SELECT a.*, r.id AS renewal_id, r.key AS renewal_key, r.due_on, r.arr_before, r.note FROM renewals r JOIN accounts a ON a.id = r.account_id"+
		" WHERE r.outcome = 'pending' AND r.due_on <= ? AND "+where+
		" UNION ALL SELECT a.*, NULL, NULL, a.renewal_on, NULL, NULL FROM accounts a WHERE a.renewal_on >= ? AND a.renewal_on <= ? AND "+where+
		" AND NOT EXISTS (SELECT 1 FROM renewals r WHERE r.account_id = a.id AND r.outcome = 'pending')"+
		" ORDER BY due_on, key", append(append(append([]any{until}, args...), p.Today, until), args...)...).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("store: unable to list upcoming renewals: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(rows))
	accounts := make([]Account, 0, len(rows))
	seen := map[int64]bool{}
	for _, r := range rows {
		row := PipelineRow{Account: r.Account, DueOn: r.DueOn, DaysLeft: p.Today.DaysUntil(r.DueOn), ARR: r.Account.ARR}
		if r.RenewalID != nil {
			row.Renewal = &Renewal{ID: *r.RenewalID, AccountID: r.Account.ID, Account: r.Account.Key, Key: *r.RenewalKey,
				DueOn: r.DueOn, ARRBefore: *r.ARRBefore, Outcome: OutcomePending, Note: *r.Note}
			row.ARR = *r.ARRBefore
		}
		p.Upcoming = append(p.Upcoming, row)
		if !seen[r.Account.ID] {
			seen[r.Account.ID] = true
			ids = append(ids, r.Account.ID)
			accounts = append(accounts, r.Account)
		}
	}
	// Health, alerts, goals and recommendations of those accounts.
	health := map[int64]struct {
		score, previous *float64
		color           string
	}{}
	var id int64
	var score, previous *float64
	var color string
	err = s.eachRow(ctx, "SELECT account_id, score, previous_score, color FROM account_health_latest WHERE account_id IN ?", []any{ids},
		[]any{&id, &score, &previous, &color}, func() {
			health[id] = struct {
				score, previous *float64
				color           string
			}{score, previous, color}
		})
	if err != nil {
		return fmt.Errorf("store: unable to read health for renewals: %w", err)
	}
	alerts := map[int64]int{}
	var n int
	err = s.eachRow(ctx, "SELECT account_id, count(*) FROM alerts WHERE state = ? AND account_id IN ? GROUP BY account_id", []any{AlertOpen, ids},
		[]any{&id, &n}, func() { alerts[id] = n })
	if err != nil {
		return fmt.Errorf("store: unable to count open alerts: %w", err)
	}
	goals, err := s.ListGoals(ctx, GoalFilter{AccountIDs: ids}, p.Today)
	if err != nil {
		return err
	}
	goalsOf := map[int64][]MeasuredGoal{}
	for _, g := range goals {
		goalsOf[g.AccountID] = append(goalsOf[g.AccountID], g)
	}
	// What to offer, for the listed rows: as the daily job stored it, computed here only
	// before its first run (a whole window's usage is too much to load on every view).
	listed, listedAccounts := ids, accounts
	if n := p.Query.Limit; n > 0 && len(p.Upcoming) > n {
		seen := map[int64]bool{}
		listed, listedAccounts = nil, nil
		for _, r := range p.Upcoming[:n] {
			if !seen[r.Account.ID] {
				seen[r.Account.ID] = true
				listed, listedAccounts = append(listed, r.Account.ID), append(listedAccounts, r.Account)
			}
		}
	}
	recs, day, err := s.storedRecommendations(ctx, listed)
	if err != nil {
		return err
	}
	p.RecsDay = day
	if day == nil {
		if recs, err = s.recommendationsByID(ctx, listedAccounts, p.Today); err != nil {
			return err
		}
	}
	for i := range p.Upcoming {
		r := &p.Upcoming[i]
		if h, ok := health[r.Account.ID]; ok {
			r.Score, r.Color = h.score, h.color
			if h.score != nil && h.previous != nil {
				d := *h.score - *h.previous
				r.Trend = &d
			}
		}
		r.Alerts = alerts[r.Account.ID]
		for _, g := range goalsOf[r.Account.ID] {
			r.Goals++
			if g.Status == metrics.GoalAtRisk {
				r.AtRisk++
			}
		}
		r.Recs = recs[r.Account.ID]
		for _, rec := range r.Recs {
			r.RecsARR += rec.ARRChange
		}
		p.ARR += r.ARR
		t := p.ByColor[r.Color]
		t.Count++
		t.ARR += r.ARR
		p.ByColor[r.Color] = t
	}
	return nil
}

// pastRenewals totals the renewals due in [From, To] in SQL (outcomes, ARR before and
// after, the gross figure) and lists the closed ones, the first Limit of them.
func (s *Store) pastRenewals(ctx context.Context, p *Pipeline) error {
	where, args := p.Query.cohort()
	from := " FROM renewals r JOIN accounts a ON a.id = r.account_id WHERE r.due_on >= ? AND r.due_on <= ? AND " + where
	args = append([]any{p.Query.From, p.Query.To}, args...)
	var totals []struct {
		Outcome      string
		N            int
		Before       float64
		After, Gross float64
	}
	err := s.db.WithContext(ctx).Raw("SELECT r.outcome, count(*) AS n, sum(r.arr_before) AS before, coalesce(sum(r.arr_after), 0) AS after,"+
		" coalesce(sum(CASE WHEN r.arr_after < r.arr_before THEN r.arr_after ELSE r.arr_before END), 0) AS gross"+from+" GROUP BY r.outcome", args...).Scan(&totals).Error
	if err != nil {
		return fmt.Errorf("store: unable to total past renewals: %w", err)
	}
	gross, closed := 0.0, 0
	for _, t := range totals {
		if t.Outcome == OutcomePending {
			p.PendingPast = t.N
			continue
		}
		closed += t.N
		p.Outcomes[t.Outcome] = t.N
		p.PastBefore += t.Before
		p.PastAfter += t.After
		gross += t.Gross
	}
	p.PastCount = closed
	if p.PastBefore > 0 {
		nrr, grr := p.PastAfter/p.PastBefore, gross/p.PastBefore
		p.NRR, p.GRR = &nrr, &grr
	}
	if closed == 0 {
		return nil
	}
	list := "SELECT r.*, a.key AS account_key, a.name AS account_name" + from + " AND r.outcome <> 'pending' ORDER BY r.due_on DESC, a.key, r.key"
	if p.Query.Limit > 0 {
		list += " LIMIT " + strconv.Itoa(p.Query.Limit)
	}
	var rows []struct {
		Renewal     `gorm:"embedded"`
		AccountKey  string
		AccountName string
	}
	if err := s.db.WithContext(ctx).Raw(list, args...).Scan(&rows).Error; err != nil {
		return fmt.Errorf("store: unable to list past renewals: %w", err)
	}
	for _, r := range rows {
		rn := r.Renewal
		rn.Account = r.AccountKey
		p.AccountNames[rn.AccountID] = r.AccountName
		p.Past = append(p.Past, rn)
	}
	return nil
}

// RenewalTables are /renewals' tables that export as CSV.
var RenewalTables = []string{"upcoming", "past"}

// WriteRenewalsReportCSV writes one table of the pipeline as CSV.
func WriteRenewalsReportCSV(w io.Writer, p *Pipeline, table string) error {
	cw := csv.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	opt := func(v *float64) string {
		if v == nil {
			return ""
		}
		return f(*v)
	}
	switch table {
	case "upcoming":
		_ = cw.Write([]string{"account", "name", "renewal", "due_on", "days_left", "arr", "score", "color", "score_change_7d",
			"open_alerts", "open_goals", "goals_at_risk", "recommendations", "recommendations_arr_change", "csm_email"})
		for _, r := range p.Upcoming {
			key := ""
			if r.Renewal != nil {
				key = r.Renewal.Key
			}
			var recs []string
			for _, rec := range r.Recs {
				recs = append(recs, rec.Message)
			}
			_ = cw.Write([]string{r.Account.Key, r.Account.Name, key, r.DueOn.String(), strconv.Itoa(r.DaysLeft), f(r.ARR), opt(r.Score), r.Color,
				opt(r.Trend), strconv.Itoa(r.Alerts), strconv.Itoa(r.Goals), strconv.Itoa(r.AtRisk), strings.Join(recs, " | "), f(r.RecsARR), r.Account.CSMEmail})
		}
	case "past":
		_ = cw.Write([]string{"account", "name", "renewal", "due_on", "outcome", "arr_before", "arr_after", "arr_change", "closed_on", "note"})
		for _, r := range p.Past {
			_ = cw.Write([]string{r.Account, p.AccountNames[r.AccountID], r.Key, r.DueOn.String(), r.Outcome, f(r.ARRBefore), opt(r.ARRAfter),
				f(*r.ARRAfter - r.ARRBefore), r.ClosedOn.String(), r.Note})
		}
	default:
		return fmt.Errorf("%w: no table %q", ErrNotFound, table)
	}
	cw.Flush()
	return cw.Error()
}
