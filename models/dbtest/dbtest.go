// Package dbtest gives tests a freshly migrated database on SQLite and on PostgreSQL.
//
// PostgreSQL comes from TEST_DATABASE_URL (a server where we may CREATE DATABASE);
// each test gets its own database, cloned from a migrated template. Without
// TEST_DATABASE_URL the PostgreSQL half is skipped, unless SIGHTLINE_REQUIRE_POSTGRES=1
// (set by `make test` and CI), where skipping would hide a failure, so it fails.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"sightline/models"
)

func init() {
	// Hashing at production cost would dominate the test run.
	models.BcryptCost = bcrypt.MinCost
}

// Each runs fn as a subtest on every database: "sqlite" and "postgres".
func Each(t *testing.T, fn func(t *testing.T, s *models.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns a migrated database in a temporary file.
func SQLite(t testing.TB) *models.Store {
	t.Helper()
	return open(t, sqliteURL(t))
}

// sqliteURL migrates a database in a temporary file and returns its DATABASE_URL.
func sqliteURL(t testing.TB) string {
	t.Helper()
	url := "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	s, err := models.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return url
}

// open opens a store that is closed when the test ends.
func open(t testing.TB, url string) *models.Store {
	t.Helper()
	s, err := models.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	remember(s, url)
	return s
}

// EachTwoProcesses runs fn on every database with two stores opened on the same
// database, as two server processes would: what one caches, the other may change.
func EachTwoProcesses(t *testing.T, fn func(t *testing.T, a, b *models.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		url := sqliteURL(t)
		fn(t, open(t, url), open(t, url))
	})
	t.Run("postgres", func(t *testing.T) {
		url := postgresURL(t)
		fn(t, open(t, url), open(t, url))
	})
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// PostgresURL returns the server URL, skipping (or failing) the test when there is none.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		if os.Getenv("SIGHTLINE_REQUIRE_POSTGRES") == "1" {
			t.Fatal("TEST_DATABASE_URL is not set but SIGHTLINE_REQUIRE_POSTGRES=1: PostgreSQL tests must run")
		}
		t.Skip("TEST_DATABASE_URL not set: skipping PostgreSQL (make test starts a cluster)")
	}
	return u
}

// withDatabase returns the server URL pointed at another database.
func withDatabase(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Postgres returns a migrated database of its own on the test server, dropped afterwards.
func Postgres(t testing.TB) *models.Store {
	t.Helper()
	return open(t, postgresURL(t))
}

// postgresURL creates a migrated database of its own on the test server, dropped when
// the test ends, and returns its DATABASE_URL.
func postgresURL(t testing.TB) string {
	t.Helper()
	server := PostgresURL(t)
	admin, err := models.Open(server)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	templateOnce.Do(func() {
		templateName = randomName("sl_tpl_")
		if templateErr = admin.DB().Exec("CREATE DATABASE " + templateName).Error; templateErr != nil {
			return
		}
		var tpl *models.Store
		if tpl, templateErr = models.Open(withDatabase(server, templateName)); templateErr != nil {
			return
		}
		_, templateErr = tpl.Migrate(ctx)
		tpl.Close()
	})
	if templateErr != nil {
		t.Fatalf("dbtest: template database: %v", templateErr)
	}
	name := randomName("sl_test_")
	if err := admin.DB().Exec(fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, templateName)).Error; err != nil {
		t.Fatal(err)
	}
	// Registered before the stores' Close, so it runs after them.
	t.Cleanup(func() {
		if a, err := models.Open(server); err == nil {
			a.DB().Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			a.Close()
		}
	})
	return withDatabase(server, name)
}

var (
	urlsMu sync.Mutex
	urls   = map[*models.Store]string{}
)

func remember(s *models.Store, url string) {
	urlsMu.Lock()
	defer urlsMu.Unlock()
	urls[s] = url
}

// OpenAgain opens a second store on s's database, as another server process would.
func OpenAgain(t testing.TB, s *models.Store) *models.Store {
	t.Helper()
	urlsMu.Lock()
	url := urls[s]
	urlsMu.Unlock()
	return open(t, url)
}

// URLOf is the DATABASE_URL of a store this package opened.
func URLOf(t testing.TB, s *models.Store) string {
	t.Helper()
	urlsMu.Lock()
	defer urlsMu.Unlock()
	u, ok := urls[s]
	if !ok {
		t.Fatal("dbtest: URLOf a store dbtest did not open")
	}
	return u
}
