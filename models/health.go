package models

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"gorm.io/gorm"

	"sightline/metrics"
)

// scorecardSetting is the settings key of the admin's scorecard (metrics.Config as JSON).
const scorecardSetting = "scorecard"

// Scorecard is the admin's scorecard, or SPEC §5's defaults when never saved. It is
// checked against the stored version on every computation, so a change shows on the
// next page view.
func (s *Store) Scorecard(ctx context.Context) (metrics.Config, error) {
	cfg, _, err := s.healthSettings(ctx)
	return cfg, err
}

// PutScorecard validates and stores the scorecard; a *ValidationError names each bad field.
func (s *Store) PutScorecard(ctx context.Context, cfg metrics.Config) error {
	trim := func(names []string) []string {
		out := names[:0:0]
		for _, n := range names {
			if n = strings.TrimSpace(n); n != "" {
				out = append(out, n)
			}
		}
		return out
	}
	cfg.LoginEvents, cfg.SessionEvents = trim(cfg.LoginEvents), trim(cfg.SessionEvents)
	verr := &ValidationError{Message: "invalid scorecard"}
	for _, fe := range cfg.Validate() {
		verr.Add(fe.Field, fe.Message)
	}
	if err := verr.OrNil(); err != nil {
		return err
	}
	defer s.backtests.reset() // computed scores follow the scorecard
	return s.PutSetting(ctx, scorecardSetting, cfg)
}

// AccountHealth is SPEC §5's health document plus what moved the score over the
// last 7 and 30 days.
type AccountHealth struct {
	metrics.Result
	Explanation []metrics.Explanation `json:"explanation"`
}

// HealthView is everything the account health page shows about health: the document
// for the day, the daily usage rate and time per login over the 90 days up to it
// (computed from the rollups, so it needs no snapshots), and the stored score history.
type HealthView struct {
	Account      Account
	Entitlements []Entitlement // all of the account's, ordered by key, features filled
	Config       metrics.Config
	Health       AccountHealth
	Trend        []metrics.Point  // 90 days ending on the day, oldest first
	History      []HealthSnapshot // stored daily scores of the same 90 days, oldest first
	// Departments counts the window's active users per department (depth by department).
	Departments []metrics.DepartmentUsers
	// DataSince is the day Sightline first saw one of the account's users; a day
	// whose 30-day window starts before it has no full basis (nil: no users yet).
	DataSince *Date
	// Recommendations: what to change at the account as of the day (SPEC §9), from the
	// same inputs.
	Recommendations []metrics.Recommendation

	memo sync.Map // what was derived from the view alone, by key (see Memo)
}

// Memo returns what build returns for key, built once per view: a view never changes
// once made, so what is derived from it alone can be kept with it, and goes when the
// store's copy of the view goes. The account page keeps its rendered figures here.
// An error is returned and not kept.
func (v *HealthView) Memo(key any, build func() (any, error)) (any, error) {
	if got, ok := v.memo.Load(key); ok {
		return got, nil
	}
	made, err := build()
	if err != nil {
		return nil, err
	}
	got, _ := v.memo.LoadOrStore(key, made) // a concurrent build's result may have won
	return got, nil
}

// TrendDays is how far back the account page's charts go.
const TrendDays = 90

// explainSpans are the days the explanation looks back.
var explainSpans = []int{7, 30}

// AccountHealth computes SPEC §5's health of an account as of a day, with the
// explanation against 7 and 30 days earlier (recomputed from the same rollup rows
// under today's scorecard, so the comparison is like for like).
func (s *Store) AccountHealth(ctx context.Context, accountKey string, asOf Date) (*AccountHealth, error) {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	p, cfg, _, err := s.preparedHealth(ctx, acct, asOf, explainSpans[len(explainSpans)-1], explainSpans[len(explainSpans)-1])
	if err != nil {
		return nil, err
	}
	h := accountHealth(p, cfg, metricsDay(asOf))
	return &h, nil
}

// AccountHealthView gathers everything the account page needs about health in one call.
// The view is shared with later calls: callers must not modify it.
func (s *Store) AccountHealthView(ctx context.Context, accountKey string, asOf Date) (*HealthView, error) {
	if s.views == nil {
		return s.accountHealthView(ctx, accountKey, asOf)
	}
	// The versions are read before the data: a write committed in between leaves the
	// view under older versions than stored, so the next call computes it again.
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return nil, err
	}
	v.Activity = 0 // notes, goals, renewals and the team are no part of health
	key := healthViewKey{accountKey, asOf}
	if view := s.views.get(v, key); view != nil {
		return view, nil
	}
	view, err := s.accountHealthView(ctx, accountKey, asOf)
	if err != nil {
		return nil, err
	}
	s.views.put(v, key, view)
	return view, nil
}

func (s *Store) accountHealthView(ctx context.Context, accountKey string, asOf Date) (*HealthView, error) {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	// The charts reach back TrendDays but read only the login and session events; the
	// figures (as of the day, the days explained and the recommendations' earlier day)
	// need every event of their windows.
	p, cfg, ents, err := s.preparedHealth(ctx, acct, asOf, TrendDays-1, explainSpans[len(explainSpans)-1])
	if err != nil {
		return nil, err
	}
	day := metricsDay(asOf)
	v := &HealthView{Account: *acct, Config: cfg, Entitlements: ents, Health: accountHealth(p, cfg, day),
		Trend: p.Series(day-TrendDays+1, day, cfg), Departments: p.Departments(day)}
	names, err := s.featureNames(ctx)
	if err != nil {
		return nil, err
	}
	v.Recommendations = metrics.Recommend(recommendInput(p, day, cfg, *acct, asOf, v.Health.Result, names))
	v.History, err = s.HealthScores(ctx, acct.ID, asOf.AddDays(-(TrendDays - 1)), asOf)
	if err != nil {
		return nil, err
	}
	var since Date // SQLite's min() of a datetime is text: Date reads both
	if err := s.SQL().QueryRowContext(ctx, "SELECT min(first_seen_at) FROM end_users WHERE group_key = $1", acct.Key).Scan(&since); err != nil {
		return nil, fmt.Errorf("store: unable to read when usage began: %w", err)
	}
	if !since.IsZero() {
		v.DataSince = &since
	}
	return v, nil
}

// preparedHealth loads one account's inputs for the windows of asOf and lookback days
// before it, every event of the windows of asOf and fullLookback days before it and
// only the login and session events further back; the account's entitlements come
// with them.
func (s *Store) preparedHealth(ctx context.Context, acct *Account, asOf Date, lookback, fullLookback int) (*metrics.Prepared, metrics.Config, []Entitlement, error) {
	cfg, catalog, err := s.healthSettings(ctx)
	if err != nil {
		return nil, cfg, nil, err
	}
	day := metricsDay(asOf)
	from, fullFrom := day-metrics.Day(lookback)-metrics.WindowDays+1, day-metrics.Day(fullLookback)-metrics.WindowDays+1
	series := append(slices.Clone(cfg.LoginEvents), cfg.SessionEvents...)
	ins, ents, err := s.loadHealthInputsFor(ctx, []healthAccount{{acct.ID, acct.Key}}, from, day, fullFrom, series, catalog)
	if err != nil {
		return nil, cfg, nil, err
	}
	return metrics.Prepare(*ins[acct.Key]), cfg, ents[acct.Key], nil
}

func accountHealth(p *metrics.Prepared, cfg metrics.Config, day metrics.Day) AccountHealth {
	h := AccountHealth{Result: p.Compute(day, cfg), Explanation: []metrics.Explanation{}}
	for _, span := range explainSpans {
		h.Explanation = append(h.Explanation, metrics.Explain(h.Result, p.Compute(day-metrics.Day(span), cfg), span))
	}
	return h
}

// HealthSnapshot is one account's stored health for a day.
type HealthSnapshot struct {
	AccountID int64    `gorm:"column:account_id"`
	Day       Date     `gorm:"column:day"`
	Score     *float64 `gorm:"column:score"`
	Color     string   `gorm:"column:color"`
	Metrics   string   `gorm:"column:metrics"` // metrics.Result as JSON
	// The figures the portfolio filters and sorts on, copied out of Metrics.
	DailyUsageRate *float64 `gorm:"column:daily_usage_rate"`
	SeatActivation *float64 `gorm:"column:seat_activation"`
	Executives     *int     `gorm:"column:executives"`
	Overused       bool     `gorm:"column:overused"`
	Underused      bool     `gorm:"column:underused"`
}

// refreshLatestHealth rewrites account_health_latest for the accounts with ids in
// [fromID, toID] from their snapshots: the latest day, and the score 7 days before it.
func (s *Store) refreshLatestHealth(ctx context.Context, fromID, toID int64) error {
	prev := "hs.day - 7"
	if s.dialect == SQLite {
		prev = "date(hs.day, '-7 days')"
	}
	err := s.db.WithContext(ctx).Exec(`INSERT INTO account_health_latest (account_id, day, score, color, previous_score,
			daily_usage_rate, seat_activation, executives, overused, underused)
		SELECT hs.account_id, hs.day, hs.score, hs.color, hp.score, hs.daily_usage_rate, hs.seat_activation,
			hs.executives, hs.overused, hs.underused
		FROM health_snapshots hs
		LEFT JOIN health_snapshots hp ON hp.account_id = hs.account_id AND hp.day = `+prev+`
		WHERE hs.account_id BETWEEN ? AND ?
			AND hs.day = (SELECT max(h2.day) FROM health_snapshots h2 WHERE h2.account_id = hs.account_id)
		ON CONFLICT (account_id) DO UPDATE SET day = excluded.day, score = excluded.score, color = excluded.color,
			previous_score = excluded.previous_score, daily_usage_rate = excluded.daily_usage_rate,
			seat_activation = excluded.seat_activation, executives = excluded.executives,
			overused = excluded.overused, underused = excluded.underused`, fromID, toID).Error
	if err != nil {
		return fmt.Errorf("store: unable to refresh latest health: %w", err)
	}
	return nil
}

// NewHealthSnapshot is the stored form of an account's health on a day.
func NewHealthSnapshot(accountID int64, day Date, r metrics.Result) (HealthSnapshot, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return HealthSnapshot{}, fmt.Errorf("store: unable to encode health of %s: %w", r.Account, err)
	}
	executives := r.Exposure.Executive
	h := HealthSnapshot{AccountID: accountID, Day: day, Score: r.Health.Score, Color: r.Health.Color, Metrics: string(b),
		DailyUsageRate: r.DailyUsageRate, SeatActivation: r.SeatActivation, Executives: &executives}
	h.Overused, h.Underused = positionFlags(r)
	return h, nil
}

// positionFlags tell whether any entitlement position is overused, and any underused.
func positionFlags(r metrics.Result) (overused, underused bool) {
	for _, p := range r.Entitlements {
		overused = overused || p.Status == metrics.StatusOverused
		underused = underused || p.Status == metrics.StatusUnderused
	}
	return overused, underused
}

// TableName maps the struct to its table.
func (HealthSnapshot) TableName() string { return "health_snapshots" }

// Result decodes the stored metrics.
func (h HealthSnapshot) Result() (metrics.Result, error) {
	var r metrics.Result
	if err := json.Unmarshal([]byte(h.Metrics), &r); err != nil {
		return r, fmt.Errorf("store: unable to decode health snapshot of %s: %w", h.Day, err)
	}
	return r, nil
}

// HealthHistory returns an account's snapshots from..to (inclusive), oldest first.
func (s *Store) HealthHistory(ctx context.Context, accountID int64, from, to Date) ([]HealthSnapshot, error) {
	var out []HealthSnapshot
	err := s.db.WithContext(ctx).Where("account_id = ? AND day BETWEEN ? AND ?", accountID, from, to).
		Order("day").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read health history: %w", err)
	}
	return out, nil
}

// HealthScores is HealthHistory without the metrics documents: the score chart needs
// only the day, score and colour, and 90 documents weigh a few hundred kilobytes.
func (s *Store) HealthScores(ctx context.Context, accountID int64, from, to Date) ([]HealthSnapshot, error) {
	var out []HealthSnapshot
	var h HealthSnapshot
	err := s.eachRow(ctx, "SELECT account_id, day, score, color FROM health_snapshots WHERE account_id = ? AND day BETWEEN ? AND ? ORDER BY day",
		[]any{accountID, from, to}, []any{&h.AccountID, &h.Day, &h.Score, &h.Color}, func() { out = append(out, h) })
	if err != nil {
		return nil, fmt.Errorf("store: unable to read health scores: %w", err)
	}
	return out, nil
}

// LatestHealthSnapshots returns each listed account's latest snapshot without its
// metrics JSON, by account id (accounts without one are absent), from
// account_health_latest.
func (s *Store) LatestHealthSnapshots(ctx context.Context, accountIDs []int64) (map[int64]HealthSnapshot, error) {
	out := make(map[int64]HealthSnapshot, len(accountIDs))
	q := "SELECT l.account_id, l.day, l.score, l.color FROM account_health_latest l WHERE l.account_id IN ?"
	for part := range slices.Chunk(accountIDs, 1000) {
		var rows []HealthSnapshot
		if err := s.db.WithContext(ctx).Raw(q, part).Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("store: unable to read latest health: %w", err)
		}
		for _, r := range rows {
			out[r.AccountID] = r
		}
	}
	return out, nil
}

// snapshotChunk is how many accounts one round of snapshot queries covers. The
// rollup reads of a round are scans, so rounds are few and large (memory stays
// around 100 MB for 2,500 accounts of 100 users).
const snapshotChunk = 2500

// SnapshotHealth computes and stores (replacing) the health snapshot of every account
// for each day from..to. Accounts go in chunks: a handful of queries load a chunk's
// rollups for all the days at once, then every day is computed in memory.
// It returns the number of snapshots written.
func (s *Store) SnapshotHealth(ctx context.Context, from, to Date) (int, error) {
	if to.Before(from) {
		return 0, nil
	}
	cfg, catalog, err := s.healthSettings(ctx)
	if err != nil {
		return 0, err
	}
	first, last := metricsDay(from), metricsDay(to)
	written := 0
	var after int64
	for {
		var accounts []healthAccount
		err := s.db.WithContext(ctx).Raw("SELECT id, key FROM accounts WHERE id > ? ORDER BY id LIMIT ?", after, snapshotChunk).
			Scan(&accounts).Error
		if err != nil {
			return written, fmt.Errorf("store: unable to list accounts for snapshots: %w", err)
		}
		if len(accounts) == 0 {
			return written, nil
		}
		after = accounts[len(accounts)-1].ID
		rows, err := s.computeSnapshots(ctx, accounts, first, last, cfg, catalog)
		if err != nil {
			return written, err
		}
		if err := s.putSnapshots(ctx, rows); err != nil {
			return written, err
		}
		if err := s.refreshLatestHealth(ctx, accounts[0].ID, after); err != nil {
			return written, err
		}
		written += len(rows)
	}
}

// computeSnapshots reads the accounts' inputs and computes their snapshots of days
// first … last, a part of the accounts on each core (reads run side by side on both
// databases); each part fills its own slots of the result.
func (s *Store) computeSnapshots(ctx context.Context, accounts []healthAccount, first, last metrics.Day, cfg metrics.Config, catalog []metrics.Feature) ([]HealthSnapshot, error) {
	days := int(last - first + 1)
	rows := make([]HealthSnapshot, len(accounts)*days)
	parts := runtime.GOMAXPROCS(0)
	per := (len(accounts) + parts - 1) / parts
	g, ctx := errgroup.WithContext(ctx)
	for lo := 0; lo < len(accounts); lo += per {
		part := accounts[lo:min(lo+per, len(accounts))]
		g.Go(func() error {
			ins, _, err := s.loadHealthInputs(ctx, part, first-metrics.WindowDays+1, last, catalog)
			if err != nil {
				return err
			}
			for i, a := range part {
				p := metrics.Prepare(*ins[a.Key])
				for d := range days {
					day := first + metrics.Day(d)
					h, err := NewHealthSnapshot(a.ID, DateFromEpochDay(int(day)), p.Compute(day, cfg))
					if err != nil {
						return err
					}
					rows[(lo+i)*days+d] = h
				}
			}
			return nil
		})
	}
	return rows, g.Wait()
}

// PutSnapshots stores snapshots made elsewhere (the demo's history of health from
// before its usage begins).
func (s *Store) PutSnapshots(ctx context.Context, rows []HealthSnapshot) error {
	return s.putSnapshots(ctx, rows)
}

// putSnapshots upserts snapshots in multi-row statements, in one transaction.
func (s *Store) putSnapshots(ctx context.Context, rows []HealthSnapshot) error {
	return s.tx(ctx, func(db *gorm.DB) error {
		return putSnapshotRows(db, rows)
	})
}

func putSnapshotRows(db *gorm.DB, rows []HealthSnapshot) error {
	err := bulkWrite(db, "INSERT INTO health_snapshots (account_id, day, score, color, metrics,"+
		" daily_usage_rate, seat_activation, executives, overused, underused) VALUES ",
		" ON CONFLICT (account_id, day) DO UPDATE SET score = excluded.score,"+
			" color = excluded.color, metrics = excluded.metrics, daily_usage_rate = excluded.daily_usage_rate,"+
			" seat_activation = excluded.seat_activation, executives = excluded.executives,"+
			" overused = excluded.overused, underused = excluded.underused",
		10, len(rows), func(i int, args []any) []any {
			r := rows[i]
			return append(args, r.AccountID, r.Day, r.Score, r.Color, r.Metrics,
				r.DailyUsageRate, r.SeatActivation, r.Executives, r.Overused, r.Underused)
		}, nil)
	if err != nil {
		return fmt.Errorf("store: unable to write health snapshots: %w", err)
	}
	return nil
}
