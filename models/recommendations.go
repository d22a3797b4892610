package models

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"

	"sightline/metrics"
)

// recommendChunk is how many accounts' inputs are loaded at once.
const recommendChunk = 200

// AccountRecommendations is what to change at one account as of today (SPEC §9).
func (s *Store) AccountRecommendations(ctx context.Context, accountKey string, today Date) ([]metrics.Recommendation, error) {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	recs, err := s.RecommendationsFor(ctx, []Account{*acct}, today)
	if err != nil {
		return nil, err
	}
	return recs[acct.Key], nil
}

// recommendInput gathers the rules' inputs as of day from an account's prepared usage
// (which must reach back RecommendLookback days before day's window); now is the
// day's result, already computed by the caller.
func recommendInput(p *metrics.Prepared, day metrics.Day, cfg metrics.Config, a Account, today Date, now metrics.Result, names map[string]string) metrics.RecommendInput {
	in := metrics.RecommendInput{Now: now, Earlier: p.Compute(day-metrics.RecommendLookback, cfg),
		PeakConcurrent: p.PeakConcurrent(day), FeatureNames: names}
	if !a.RenewalOn.IsZero() {
		d := today.DaysUntil(a.RenewalOn)
		in.DaysToRenewal = &d
	}
	return in
}

// featureNames names the catalog's features by key.
func (s *Store) featureNames(ctx context.Context) (map[string]string, error) {
	features, err := s.allFeatures(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(features))
	for _, f := range features {
		names[f.Key] = f.Name
	}
	return names, nil
}

// RecommendationsFor computes the recommendations of several accounts as of today,
// from their usage rollups (a chunk of accounts per load), by account key.
func (s *Store) RecommendationsFor(ctx context.Context, accounts []Account, today Date) (map[string][]metrics.Recommendation, error) {
	out := map[string][]metrics.Recommendation{}
	if len(accounts) == 0 {
		return out, nil
	}
	cfg, catalog, err := s.healthSettings(ctx)
	if err != nil {
		return nil, err
	}
	names, err := s.featureNames(ctx)
	if err != nil {
		return nil, err
	}
	day := metricsDay(today)
	for start := 0; start < len(accounts); start += recommendChunk {
		part := accounts[start:min(start+recommendChunk, len(accounts))]
		hs := make([]healthAccount, len(part))
		for i, a := range part {
			hs[i] = healthAccount{a.ID, a.Key}
		}
		ins, _, err := s.loadHealthInputs(ctx, hs, day-metrics.RecommendLookback-metrics.WindowDays+1, day, catalog)
		if err != nil {
			return nil, err
		}
		for _, a := range part {
			p := metrics.Prepare(*ins[a.Key])
			out[a.Key] = metrics.Recommend(recommendInput(p, day, cfg, a, today, p.Compute(day, cfg), names))
		}
	}
	return out, nil
}

// recommendationsByID is RecommendationsFor keyed by account id.
func (s *Store) recommendationsByID(ctx context.Context, accounts []Account, today Date) (map[int64][]metrics.Recommendation, error) {
	byKey, err := s.RecommendationsFor(ctx, accounts, today)
	if err != nil {
		return nil, err
	}
	out := make(map[int64][]metrics.Recommendation, len(byKey))
	for _, a := range accounts {
		out[a.ID] = byKey[a.Key]
	}
	return out, nil
}

// storedRecommendations reads the listed accounts' recommendations as the daily job
// stored them, and the day it computed them (nil when it never ran).
func (s *Store) storedRecommendations(ctx context.Context, ids []int64) (map[int64][]metrics.Recommendation, *Date, error) {
	var day Date
	if err := s.db.WithContext(ctx).Raw("SELECT max(day) FROM account_recommendations").Row().Scan(&day); err != nil {
		return nil, nil, fmt.Errorf("store: unable to read recommendations: %w", err)
	}
	if day.IsZero() {
		return nil, nil, nil
	}
	out := map[int64][]metrics.Recommendation{}
	for part := range slices.Chunk(ids, 1000) {
		var rows []struct {
			AccountID            int64
			Kind                 string
			Entitlement, Feature *string
			Message, Evidence    string
			ARRChange            float64
		}
		err := s.db.WithContext(ctx).Raw("SELECT account_id, kind, entitlement, feature, message, evidence, arr_change FROM account_recommendations"+
			" WHERE account_id IN ? ORDER BY account_id, position", part).Scan(&rows).Error
		if err != nil {
			return nil, nil, fmt.Errorf("store: unable to read recommendations: %w", err)
		}
		for _, r := range rows {
			rec := metrics.Recommendation{Kind: r.Kind, Entitlement: r.Entitlement, Feature: r.Feature, Message: r.Message, ARRChange: r.ARRChange}
			if err := json.Unmarshal([]byte(r.Evidence), &rec.Evidence); err != nil {
				return nil, nil, fmt.Errorf("store: unable to decode a recommendation's evidence: %w", err)
			}
			out[r.AccountID] = append(out[r.AccountID], rec)
		}
	}
	return out, &day, nil
}

// RefreshRecommendations recomputes every account's recommendations as of today into
// account_recommendations (the daily snapshot job runs it), a chunk of accounts per
// transaction; it returns how many it stored.
func (s *Store) RefreshRecommendations(ctx context.Context, today Date) (int, error) {
	n, after := 0, ""
	for {
		accounts, err := s.ListAccountsAfter(ctx, after, recommendChunk)
		if err != nil || len(accounts) == 0 {
			return n, err
		}
		after = accounts[len(accounts)-1].Key
		recs, err := s.RecommendationsFor(ctx, accounts, today)
		if err != nil {
			return n, err
		}
		err = s.tx(ctx, func(tx *gorm.DB) error {
			ids := make([]int64, len(accounts))
			for i, a := range accounts {
				ids[i] = a.ID
			}
			if err := tx.Exec("DELETE FROM account_recommendations WHERE account_id IN ?", ids).Error; err != nil {
				return err
			}
			var sb strings.Builder
			var args []any
			for _, a := range accounts {
				for i, r := range recs[a.Key] {
					ev, err := json.Marshal(r.Evidence)
					if err != nil {
						return err
					}
					if len(args) > 0 {
						sb.WriteByte(',')
					}
					sb.WriteString("(?,?,?,?,?,?,?,?,?)")
					args = append(args, a.ID, i, today, r.Kind, r.Entitlement, r.Feature, r.Message, string(ev), r.ARRChange)
					n++
				}
			}
			if len(args) == 0 {
				return nil
			}
			return tx.Exec("INSERT INTO account_recommendations (account_id, position, day, kind, entitlement, feature, message, evidence, arr_change) VALUES "+
				sb.String(), args...).Error
		})
		if err != nil {
			return n, fmt.Errorf("store: unable to store recommendations: %w", err)
		}
	}
}

// ModelShift is one change of licence model across accounts: how many accounts fit it
// and the ARR it would move if they all made it.
type ModelShift struct {
	From, To  string
	Accounts  int // distinct accounts
	Positions int // their entitlements that fit (an account may hold several)
	ARRChange float64
}

// ModelFitRow is one account's position that fits another licence model.
type ModelFitRow struct {
	Account, Name, CSMEmail string
	ARR                     float64
	Entitlement             string
	From, To                string
	Quantity, Consumed      float64
	Suggested               float64
	PeakConcurrent          int
	ARRChange               float64
	Message                 string
}

// ModelFit is the licence model fit of the accounts in view, from the stored
// recommendations: the shifts, and the positions by ARR moved (largest first).
type ModelFit struct {
	Day    *Date // when the recommendations were computed; nil: never
	Shifts []ModelShift
	Rows   []ModelFitRow // the first limit of Count (all without a limit)
	Count  int
}

// modelFit reads the change_model recommendations of the query's cohort.
func (s *Store) modelFit(ctx context.Context, q FeatureQuery, today Date, limit int) (*ModelFit, error) {
	where, args := accountFilter(q, today)
	type row struct {
		Key, Name, CSMEmail string
		ARR                 float64
		Entitlement         *string
		Evidence, Message   string
		ARRChange           float64
		Day                 Date
	}
	var rows []row
	err := s.db.WithContext(ctx).Raw("SELECT a.key, a.name, a.csm_email, a.arr, r.entitlement, r.evidence, r.message, r.arr_change, r.day"+
		" FROM account_recommendations r JOIN accounts a ON a.id = r.account_id WHERE r.kind = ? AND "+where,
		append([]any{metrics.RecChangeModel}, args...)...).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read the licence model fit: %w", err)
	}
	fit := &ModelFit{Count: len(rows)}
	var day Date
	if err := s.db.WithContext(ctx).Raw("SELECT max(day) FROM account_recommendations").Row().Scan(&day); err != nil {
		return nil, fmt.Errorf("store: unable to read the licence model fit: %w", err)
	}
	if !day.IsZero() {
		fit.Day = &day
	}
	shifts, seen := map[[2]string]*ModelShift{}, map[[2]string]map[string]bool{}
	for _, r := range rows {
		var ev struct {
			Model          string  `json:"model"`
			Suggested      string  `json:"suggested_model"`
			Quantity       float64 `json:"quantity"`
			Consumed       float64 `json:"consumed"`
			SuggestedQty   float64 `json:"suggested_quantity"`
			PeakConcurrent int     `json:"peak_concurrent_users"`
		}
		if err := json.Unmarshal([]byte(r.Evidence), &ev); err != nil {
			return nil, fmt.Errorf("store: unable to decode a recommendation's evidence: %w", err)
		}
		fr := ModelFitRow{Account: r.Key, Name: r.Name, CSMEmail: r.CSMEmail, ARR: r.ARR, From: ev.Model, To: ev.Suggested,
			Quantity: ev.Quantity, Consumed: ev.Consumed, Suggested: ev.SuggestedQty, PeakConcurrent: ev.PeakConcurrent,
			ARRChange: r.ARRChange, Message: r.Message}
		if r.Entitlement != nil {
			fr.Entitlement = *r.Entitlement
		}
		k := [2]string{fr.From, fr.To}
		if shifts[k] == nil {
			shifts[k] = &ModelShift{From: fr.From, To: fr.To}
			seen[k] = map[string]bool{}
		}
		if !seen[k][fr.Account] {
			seen[k][fr.Account] = true
			shifts[k].Accounts++
		}
		shifts[k].Positions++
		shifts[k].ARRChange += fr.ARRChange
		fit.Rows = append(fit.Rows, fr)
	}
	for _, sh := range shifts {
		fit.Shifts = append(fit.Shifts, *sh)
	}
	slices.SortFunc(fit.Shifts, func(a, b ModelShift) int {
		return cmp.Or(cmp.Compare(b.Accounts, a.Accounts), cmp.Compare(a.From+a.To, b.From+b.To))
	})
	slices.SortFunc(fit.Rows, func(a, b ModelFitRow) int {
		return cmp.Or(cmp.Compare(abs(b.ARRChange), abs(a.ARRChange)), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Entitlement, b.Entitlement))
	})
	if limit > 0 && len(fit.Rows) > limit {
		fit.Rows = fit.Rows[:limit]
	}
	return fit, nil
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
