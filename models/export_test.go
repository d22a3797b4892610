package models

import (
	"context"

	"sightline/metrics"
)

// HealthSettings exposes the cached scorecard and catalog to the package's tests.
func (s *Store) HealthSettings(ctx context.Context) (metrics.Config, []metrics.Feature, error) {
	return s.healthSettings(ctx)
}

// HealthCacheLoads tells how often the store filled its scorecard and catalog copy.
func (s *Store) HealthCacheLoads() int {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return s.cache.loads
}

// PortfolioCacheLoads tells how often the store read a portfolio sort or the facets.
func (s *Store) PortfolioCacheLoads() int {
	s.folio.mu.Lock()
	defer s.folio.mu.Unlock()
	return s.folio.loads
}

// SetMinPlanAccounts lowers the threshold for prebuilding a plan's adoption totals, so
// tests reach both the prebuilt and the on-demand path; it returns the undo.
func SetMinPlanAccounts(n int) func() {
	old := minPlanAccounts
	minPlanAccounts = n
	return func() { minPlanAccounts = old }
}

// HealthViewFills tells how often the store computed an account page's health and
// kept it (0 where it keeps none).
func (s *Store) HealthViewFills() int {
	if s.views == nil {
		return 0
	}
	s.views.mu.Lock()
	defer s.views.mu.Unlock()
	return s.views.fills
}

// ActivityFills tells how often the store read an account's activity and kept it.
func (s *Store) ActivityFills() int {
	s.activity.mu.Lock()
	defer s.activity.mu.Unlock()
	return s.activity.fills
}
