package models

import (
	"context"

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
	features, err := s.allFeatures(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, f := range features {
		names[f.Key] = f.Name
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
			in := metrics.RecommendInput{Now: p.Compute(day, cfg), Earlier: p.Compute(day-metrics.RecommendLookback, cfg),
				PeakConcurrent: p.PeakConcurrent(day), FeatureNames: names}
			if !a.RenewalOn.IsZero() {
				d := today.DaysUntil(a.RenewalOn)
				in.DaysToRenewal = &d
			}
			out[a.Key] = metrics.Recommend(in)
		}
	}
	return out, nil
}
