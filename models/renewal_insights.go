package models

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"sightline/metrics"
)

// How well the health score predicted the closed renewals (SPEC §9). Each renewal is
// scored as of due_on − lead days: that day's snapshot, else computed from the usage
// rollups under today's scorecard; an account with no usage by then (no snapshot with
// a score, no user seen) is left out and counted as excluded.

// BacktestLeads are the lead times /renewals charts.
var BacktestLeads = []int{30, 60, 90, 180}

// DefaultLeadDays is the lead time of GET /api/v1/insights/renewals without lead_days.
const DefaultLeadDays = 90

// backtestCache keeps scored renewals per lead and day: scoring recomputes health for
// renewals without a snapshot, too much for every page view. A renewal or scorecard
// written through this process empties it; others' writes show within backtestFor.
type backtestCache struct {
	mu      sync.Mutex
	entries map[backtestKey]backtestEntry
	weights map[int]weightsEntry // by day
	// flight makes concurrent views of a cold cache wait for one computation.
	flight singleflight.Group
}

type weightsEntry struct {
	at time.Time
	w  metrics.WeightSuggestion
}

type backtestKey struct{ lead, day int }

type backtestEntry struct {
	at       time.Time
	scored   []metrics.ScoredRenewal
	excluded int
	backtest metrics.Backtest
}

const backtestFor = 10 * time.Minute

func (c *backtestCache) reset() {
	c.mu.Lock()
	c.entries, c.weights = nil, nil
	c.mu.Unlock()
}

// RenewalBacktest is SPEC §9's insight at one lead time, as of today.
func (s *Store) RenewalBacktest(ctx context.Context, lead int, today Date) (metrics.Backtest, error) {
	e, err := s.backtestEntry(ctx, lead, today)
	return e.backtest, err
}

// ScoredRenewals are the closed renewals (due by today) with the account's health as of
// due_on − lead, and how many were left out for lack of usage by then.
func (s *Store) ScoredRenewals(ctx context.Context, lead int, today Date) ([]metrics.ScoredRenewal, int, error) {
	e, err := s.backtestEntry(ctx, lead, today)
	return e.scored, e.excluded, err
}

// backtestEntry scores the renewals at a lead and runs the backtest, or reads both from
// the cache; concurrent callers of a cold entry wait for one computation.
func (s *Store) backtestEntry(ctx context.Context, lead int, today Date) (backtestEntry, error) {
	key := backtestKey{lead, today.EpochDay()}
	c := &s.backtests
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && time.Since(e.at) < backtestFor {
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()
	v, err, _ := c.flight.Do(fmt.Sprintf("scored %d %d", lead, key.day), func() (any, error) {
		scored, excluded, err := s.scoreRenewals(ctx, lead)
		if err != nil {
			return nil, err
		}
		e := backtestEntry{time.Now(), scored, excluded, metrics.RunBacktest(lead, scored, excluded)}
		c.mu.Lock()
		if c.entries == nil {
			c.entries = map[backtestKey]backtestEntry{}
		}
		c.entries[key] = e
		c.mu.Unlock()
		return e, nil
	})
	if err != nil {
		return backtestEntry{}, err
	}
	return v.(backtestEntry), nil
}

func (s *Store) scoreRenewals(ctx context.Context, lead int) ([]metrics.ScoredRenewal, int, error) {
	type closed struct {
		AccountID  int64
		AccountKey string
		Key        string
		DueOn      Date
		Outcome    string
	}
	var rs []closed
	err := s.db.WithContext(ctx).Raw("SELECT r.account_id, a.key AS account_key, r.key, r.due_on, r.outcome FROM renewals r" +
		" JOIN accounts a ON a.id = r.account_id WHERE r.outcome <> 'pending' ORDER BY a.key, r.key").Scan(&rs).Error
	if err != nil {
		return nil, 0, fmt.Errorf("store: unable to list closed renewals: %w", err)
	}
	if len(rs) == 0 {
		return nil, 0, nil
	}
	type at struct {
		account int64
		day     int
	}
	want := map[at]bool{}
	ids := map[int64]bool{}
	days := map[Date]bool{}
	for _, r := range rs {
		want[at{r.AccountID, r.DueOn.AddDays(-lead).EpochDay()}] = true
		ids[r.AccountID] = true
		days[r.DueOn.AddDays(-lead)] = true
	}
	dayList := make([]Date, 0, len(days))
	for d := range days {
		dayList = append(dayList, d)
	}
	idList := make([]int64, 0, len(ids))
	for id := range ids {
		idList = append(idList, id)
	}
	// That day's snapshots (only the days wanted: a year of snapshots is a lot of JSON).
	snaps := map[at]*metrics.Health{}
	for start := 0; start < len(idList); start += 1000 {
		part := idList[start:min(start+1000, len(idList))]
		var rows []HealthSnapshot
		if err := s.db.WithContext(ctx).Where("account_id IN ? AND day IN ?", part, dayList).Select("account_id, day, score, metrics").Find(&rows).Error; err != nil {
			return nil, 0, fmt.Errorf("store: unable to read snapshots for the backtest: %w", err)
		}
		for _, h := range rows {
			k := at{h.AccountID, h.Day.EpochDay()}
			if !want[k] {
				continue
			}
			var res metrics.Result
			if err := json.Unmarshal([]byte(h.Metrics), &res); err != nil {
				return nil, 0, fmt.Errorf("store: unable to decode a snapshot: %w", err)
			}
			snaps[k] = &res.Health
		}
	}
	// When each account's usage began (its first user seen).
	since := map[int64]Date{}
	var id int64
	var first Date
	err = s.eachRow(ctx, "SELECT a.id, min(u.first_seen_at) FROM accounts a JOIN end_users u ON u.group_key = a.key WHERE a.id IN ? GROUP BY a.id",
		[]any{idList}, []any{&id, &first}, func() { since[id] = first })
	if err != nil {
		return nil, 0, fmt.Errorf("store: unable to read when usage began: %w", err)
	}
	cfg, catalog, err := s.healthSettings(ctx)
	if err != nil {
		return nil, 0, err
	}
	// The days without a snapshot whose account had usage by then are computed, a day
	// and a chunk of accounts per load, and stored as that day's snapshot (what a
	// backfill would have written), so they are computed once.
	missing := map[Date][]healthAccount{}
	queued := map[at]bool{}
	for _, r := range rs {
		day := r.DueOn.AddDays(-lead)
		k := at{r.AccountID, day.EpochDay()}
		if began, ok := since[r.AccountID]; ok && snaps[k] == nil && !began.After(day) && !queued[k] {
			queued[k] = true
			missing[day] = append(missing[day], healthAccount{r.AccountID, r.AccountKey})
		}
	}
	var computed []HealthSnapshot
	for day, accounts := range missing {
		md := metricsDay(day)
		for part := range slices.Chunk(accounts, 500) {
			ins, _, err := s.loadHealthInputs(ctx, part, md-metrics.WindowDays+1, md, catalog)
			if err != nil {
				return nil, 0, err
			}
			for _, a := range part {
				res := metrics.Prepare(*ins[a.Key]).Compute(md, cfg)
				snaps[at{a.ID, day.EpochDay()}] = &res.Health
				h, err := NewHealthSnapshot(a.ID, day, res)
				if err != nil {
					return nil, 0, err
				}
				computed = append(computed, h)
			}
		}
	}
	if len(computed) > 0 {
		if err := s.putSnapshots(ctx, computed); err != nil {
			return nil, 0, err
		}
	}
	var out []metrics.ScoredRenewal
	excluded := 0
	for _, r := range rs {
		sr := metrics.ScoredRenewal{ID: r.AccountKey + "/" + r.Key, Lost: r.Outcome == OutcomeChurned || r.Outcome == OutcomeContracted}
		if h := snaps[at{r.AccountID, r.DueOn.AddDays(-lead).EpochDay()}]; h != nil {
			sr.Health = *h
		}
		if sr.Health.Score == nil {
			excluded++
			continue
		}
		out = append(out, sr)
	}
	return out, excluded, nil
}

// SuggestScorecardWeights fits the scorecard's weights on the closed renewals scored
// at the default lead time (see metrics.SuggestWeights for how, and its caveats).
// The fit is cached with the scored renewals.
func (s *Store) SuggestScorecardWeights(ctx context.Context, today Date) (metrics.WeightSuggestion, error) {
	c := &s.backtests
	c.mu.Lock()
	if e, ok := c.weights[today.EpochDay()]; ok && time.Since(e.at) < backtestFor {
		c.mu.Unlock()
		return e.w, nil
	}
	c.mu.Unlock()
	scored, _, err := s.ScoredRenewals(ctx, DefaultLeadDays, today)
	if err != nil {
		return metrics.WeightSuggestion{}, err
	}
	cfg, _, err := s.healthSettings(ctx)
	if err != nil {
		return metrics.WeightSuggestion{}, err
	}
	v, err, _ := c.flight.Do(fmt.Sprintf("weights %d", today.EpochDay()), func() (any, error) {
		w := metrics.SuggestWeights(scored, cfg)
		c.mu.Lock()
		if c.weights == nil {
			c.weights = map[int]weightsEntry{}
		}
		c.weights[today.EpochDay()] = weightsEntry{time.Now(), w}
		c.mu.Unlock()
		return w, nil
	})
	if err != nil {
		return metrics.WeightSuggestion{}, err
	}
	return v.(metrics.WeightSuggestion), nil
}
