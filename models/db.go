// Package models is Sightline's data layer: one Store over GORM, one file per entity.
// Methods take ctx first, return ErrNotFound for missing rows and wrap other
// errors with what they were doing ("store: unable to …: %w").
package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"golang.org/x/sync/singleflight"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"sightline/migrations"
)

// Dialect names the SQL database behind a Store.
type Dialect string

// The two supported databases.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Store is the data layer. It is safe for concurrent use.
type Store struct {
	db      *gorm.DB
	dialect Dialect
	// totalsMu serialises rebuilds of the adoption totals in this process.
	totalsMu sync.Mutex
	// slices caches loaded adoption-total slices by plan (see featureSlice); loadMu
	// lets one request at a time load them.
	loadMu   sync.Mutex
	slicesMu sync.Mutex
	slices   map[string]*totalsSlice
	cache    *healthCache // scorecard and catalog, checked against stored versions
	folio    *portfolioCache
	views    *healthViewCache // account pages' health, on SQLite only (nil on PostgreSQL)
	activity *activityCache   // account pages' notes, alerts, changes and renewals; the team
	replicas *replicaSet      // read replicas, nil without
	// filling lets concurrent misses of a cached copy wait for one read instead of
	// each repeating it (every client's first view after a start or a change).
	filling *singleflight.Group
	// jobs takes the background work a change needs, in the change's transaction.
	jobs Jobs
	// baseURL is where people reach Sightline, for links in webhooks and e-mails.
	baseURL string
	// backtests caches scored renewals (renewal_insights.go).
	backtests backtestCache
	// seen caches the last day each catalog event name arrived (packaging.go).
	seenMu sync.Mutex
	seen   eventDays
	// docs keeps decoded snapshot documents for the goal lists (goals.go).
	docs snapshotDocs
}

// ParseDatabaseURL splits DATABASE_URL into its dialect and the driver's DSN:
// postgres://… or postgresql://… for PostgreSQL, sqlite:PATH for the embedded database.
func ParseDatabaseURL(url string) (Dialect, string, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return Postgres, url, nil
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return "", "", errors.New("DATABASE_URL sqlite: needs a file path, e.g. sqlite:data/sightline.db")
		}
		if q := strings.IndexByte(path, '?'); q >= 0 {
			path = path[:q] // pragmas are ours to choose
		}
		// WAL lets readers run beside the writer; immediate transactions take the
		// write lock up front so busy_timeout applies instead of failing on upgrade.
		// A 32 MB page cache per connection (2 MB by default) keeps a large write's
		// pages in memory until commit instead of spilling them to the file.
		dsn := path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
			"&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_pragma=cache_size(-32768)&_pragma=mmap_size(1073741824)&_pragma=temp_store(2)&_txlock=immediate"
		return SQLite, dsn, nil
	default:
		return "", "", fmt.Errorf("DATABASE_URL %q: want postgres://… or sqlite:PATH", url)
	}
}

// Open connects to the database named by a DATABASE_URL. It does not migrate.
func Open(url string) (*Store, error) {
	dialect, dsn, err := ParseDatabaseURL(url)
	if err != nil {
		return nil, err
	}
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		PrepareStmt:            false,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	var db *gorm.DB
	switch dialect {
	case Postgres:
		db, err = gorm.Open(postgres.Open(dsn), cfg)
	case SQLite:
		path := dsn[:strings.IndexByte(dsn, '?')]
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("store: unable to create %s: %w", dir, err)
			}
		}
		db, err = gorm.Open(sqlite.Open(dsn), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to open %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("store: unable to reach connection pool: %w", err)
	}
	// Every connection is kept: database/sql closes all but 2 idle ones by default,
	// and a new SQLite connection parses the whole schema and starts with a cold
	// page cache (a third of an account page's time went there).
	conns := 20
	if dialect == SQLite {
		conns = 8
	}
	sqlDB.SetMaxOpenConns(conns)
	sqlDB.SetMaxIdleConns(conns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	store := &Store{db: db, dialect: dialect, cache: &healthCache{}, folio: &portfolioCache{},
		activity: &activityCache{}, filling: &singleflight.Group{}}
	if dialect == SQLite { // where a 'usage' version exists (migration 00016)
		store.views = &healthViewCache{}
	}
	return store, nil
}

// Dialect tells which database the store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB exposes the GORM handle for packages that own their SQL (ingestion, benches).
func (s *Store) DB() *gorm.DB { return s.db }

// SQL exposes the database/sql pool.
func (s *Store) SQL() *sql.DB {
	sqlDB, _ := s.db.DB()
	return sqlDB
}

// Close releases the connection pool.
func (s *Store) Close() error { return s.SQL().Close() }

// Ping checks that the database answers, for /readyz.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.SQL().PingContext(ctx); err != nil {
		return fmt.Errorf("store: unable to ping database: %w", err)
	}
	var one int
	if err := s.SQL().QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: unable to query database: %w", err)
	}
	return nil
}

// Migrate applies every pending migration of the store's dialect. On PostgreSQL an
// advisory session lock keeps two instances starting together from racing.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	dir, err := fs.Sub(migrations.FS, string(s.dialect))
	if err != nil {
		return nil, fmt.Errorf("store: unable to read migrations: %w", err)
	}
	var opts []goose.ProviderOption
	gooseDialect := goose.DialectSQLite3
	if s.dialect == Postgres {
		gooseDialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("store: unable to create migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(gooseDialect, s.SQL(), dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: unable to load migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: unable to migrate: %w", err)
	}
	applied := make([]string, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}

// tx runs fn in one transaction.
func (s *Store) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.WithContext(ctx).Transaction(fn)
}

// notFound turns GORM's missing-row error into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
