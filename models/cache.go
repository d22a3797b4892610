package models

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"sightline/metrics"
)

// cacheVersions are the version numbers triggers bump whenever the tables behind a
// process's copies change (migrations 00007_health_reads and 00016): the catalog, the
// settings (scorecard), the portfolio's accounts and latest health, the adoption
// totals' inputs, the alerts (00019), the account pages' activity and the team (00020)
// and, on SQLite only, end users and their daily usage.
type cacheVersions struct {
	Catalog, Settings, Portfolio, Adoption, Usage, Alerts, Activity int64
}

// healthCache is the process's copy of the scorecard and the metrics catalog, which
// every account page and health API call needs. It is checked against the stored
// versions on every use, so a write from any process shows on the next page view.
type healthCache struct {
	mu                    sync.Mutex
	loaded                bool
	atCatalog, atSettings int64 // the versions it was filled at
	config                metrics.Config
	catalog               []metrics.Feature
	loads                 int // how often it was (re)filled, for tests
}

type onceKey struct{}

// versionsOnce holds the versions a read-only view read first.
type versionsOnce struct {
	mu   sync.Mutex
	read bool
	v    cacheVersions
}

// ReadOnlyView marks ctx as one view that writes nothing: the cache versions are read
// once, at the first copy it uses, and every later copy is checked against them. Each
// copy's data is still read after its version, so no copy can keep data older than
// its version says, and the view shows nothing older than that first read. A view that
// wrote would not see its own write in a copy, so writes must not use it.
func ReadOnlyView(ctx context.Context) context.Context {
	return context.WithValue(ctx, onceKey{}, &versionsOnce{})
}

// readCacheVersions reads the current versions (the rows of one small table), once
// per read-only view.
func (s *Store) readCacheVersions(ctx context.Context) (cacheVersions, error) {
	once, _ := ctx.Value(onceKey{}).(*versionsOnce)
	if once == nil {
		return s.readVersions(ctx)
	}
	once.mu.Lock()
	defer once.mu.Unlock()
	if !once.read {
		v, err := s.readVersions(ctx)
		if err != nil {
			return v, err
		}
		once.read, once.v = true, v
	}
	return once.v, nil
}

func (s *Store) readVersions(ctx context.Context) (cacheVersions, error) {
	var v cacheVersions
	var name string
	var version int64
	err := rawEach(s.db.WithContext(ctx), "SELECT name, version FROM cache_versions", nil, []any{&name, &version}, func() {
		switch name {
		case "catalog":
			v.Catalog = version
		case "settings":
			v.Settings = version
		case "portfolio":
			v.Portfolio = version
		case "adoption":
			v.Adoption = version
		case "usage":
			v.Usage = version
		case "alerts":
			v.Alerts = version
		case "activity":
			v.Activity = version
		}
	})
	if err != nil {
		return v, fmt.Errorf("store: unable to read cache versions: %w", err)
	}
	return v, nil
}

// healthSettings returns the scorecard and the metrics catalog, from the process's
// copy while the stored versions say it is current. The catalog is shared: callers
// must not modify it. The config is the caller's own.
func (s *Store) healthSettings(ctx context.Context) (metrics.Config, []metrics.Feature, error) {
	// The versions are read before the data: a write committed in between leaves the
	// copy with an older version than stored, so the next call reloads it.
	ctx = Primary(ctx) // the versions and the copy from one source: see primaryCopies
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return metrics.Config{}, nil, err
	}
	c := s.cache
	c.mu.Lock()
	if c.loaded && c.atCatalog == v.Catalog && c.atSettings == v.Settings {
		cfg, catalog := cloneConfig(c.config), c.catalog
		c.mu.Unlock()
		return cfg, catalog, nil
	}
	c.mu.Unlock()

	cfg, err := s.loadScorecard(ctx)
	if err != nil {
		return cfg, nil, err
	}
	catalog, err := s.loadMetricsCatalog(ctx)
	if err != nil {
		return cfg, nil, err
	}
	c.mu.Lock()
	c.loaded, c.atCatalog, c.atSettings, c.config, c.catalog = true, v.Catalog, v.Settings, cloneConfig(cfg), catalog
	c.loads++
	c.mu.Unlock()
	return cfg, catalog, nil
}

// cloneConfig copies the config's map and slices, so a caller changing its copy
// cannot change the cached one.
func cloneConfig(c metrics.Config) metrics.Config {
	c.Measures = maps.Clone(c.Measures)
	c.LoginEvents = slices.Clone(c.LoginEvents)
	c.SessionEvents = slices.Clone(c.SessionEvents)
	return c
}

// loadScorecard reads the stored scorecard, or SPEC §5's defaults when never saved.
func (s *Store) loadScorecard(ctx context.Context) (metrics.Config, error) {
	var cfg metrics.Config
	err := s.GetSetting(ctx, scorecardSetting, &cfg)
	switch {
	case errors.Is(err, ErrNotFound):
		return metrics.DefaultConfig(), nil
	case err != nil:
		return cfg, err
	}
	return cfg.WithDefaults(), nil
}

// portfolioCache is the process's copy of what every unfiltered portfolio view needs:
// each sort's account ids in order (a sort of every account costs more than the
// rest of the page) and the segments and CSMs the filters offer. It is checked
// against the stored portfolio version on every use.
type portfolioCache struct {
	mu       sync.Mutex
	version  int64
	orders   map[string][]int64 // by ORDER BY clause
	facets   bool               // segments and csms are loaded
	segments []string
	csms     []string
	rows     map[int64]PortfolioRow // the accounts' rows read so far
	loads    int                    // how often a sort or the facets were read from the database, for tests
	// every open alert, under their own version
	alertsVersion int64
	open          *openAlertSet
}

// at empties the copy when the stored version moved on from the one it holds. The
// caller holds mu.
func (c *portfolioCache) at(version int64) {
	if c.version != version || c.orders == nil {
		c.version, c.orders, c.facets, c.segments, c.csms = version, map[string][]int64{}, false, nil, nil
		c.rows = map[int64]PortfolioRow{}
	}
}

// healthViewCache is the process's copy of the account pages' health: one account's
// health, trend and history take a few milliseconds to read and compute, and a page
// is opened again and again between two changes. It is kept on SQLite only, where
// triggers keep a 'usage' version of end users and their daily usage (migration
// 00016); every version must match the ones it was computed at.
type healthViewCache struct {
	mu       sync.Mutex
	versions cacheVersions
	views    map[healthViewKey]*HealthView
	fills    int // views computed and kept, for tests
}

type healthViewKey struct {
	account string
	asOf    Date
}

// healthViewsMax bounds the views kept; past it the copy starts again.
const healthViewsMax = 256

func (c *healthViewCache) get(v cacheVersions, key healthViewKey) *HealthView {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.versions != v {
		return nil
	}
	return c.views[key]
}

// put keeps a view computed at versions v (read before its data).
func (c *healthViewCache) put(v cacheVersions, key healthViewKey, view *HealthView) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.versions != v || c.views == nil || len(c.views) >= healthViewsMax {
		c.versions, c.views = v, map[healthViewKey]*HealthView{}
	}
	c.views[key] = view
	c.fills++
}
