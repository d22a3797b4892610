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
	s, err := models.Open("sqlite:" + filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
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
	s, err := models.Open(withDatabase(server, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		if a, err := models.Open(server); err == nil {
			a.DB().Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			a.Close()
		}
	})
	return s
}

// SecondInstance opens another connection pool on a PostgreSQL test database, as a
// second server process would have; it is closed after the test.
func SecondInstance(t testing.TB, s *models.Store) *models.Store {
	t.Helper()
	var name string
	if err := s.DB().Raw("SELECT current_database()").Scan(&name).Error; err != nil {
		t.Fatal(err)
	}
	other, err := models.Open(withDatabase(PostgresURL(t), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}
