package models

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"
)

// Read replicas (SPEC §2, DATABASE_REPLICA_URLS). GORM's dbresolver routes each read
// to a replica or to the primary; the rule is ours and is simple: a read goes to a
// replica only when its context says it may (ReplicaReads: the HTTP layer marks GET
// requests of people and tokens that did not write in the last few seconds) and a
// replica is within MaxReplicaLag of the primary. Everything else — writes,
// transactions, background jobs, session lookups, reads after one's own write —
// goes to the primary. A replica that is down or lags further is left out until it
// catches up; with none left, reads go to the primary.

// primaryCopies: the per-process copies (models/cache.go and the others checked
// against cache_versions) read their versions and fill themselves on the primary.
// Were the versions read from one source and the data from another (a lagging
// replica), a copy could be kept under a version its data is older than, and stay
// stale until the next change. Version reads are one small row; fills are rare.

// MaxReplicaLag is how far behind the primary a replica may be and still serve reads.
const MaxReplicaLag = 10 * time.Second

type replicaReadsKey struct{}

// ReplicaReads marks ctx: its reads may be served by a read replica.
func ReplicaReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, replicaReadsKey{}, true)
}

// Primary marks ctx: its reads go to the primary, whatever an outer context allowed.
func Primary(ctx context.Context) context.Context {
	return context.WithValue(ctx, replicaReadsKey{}, false)
}

// ReadYourWrites is how long after a write its author's reads stay on the primary: a
// replica that serves reads is at most MaxReplicaLag behind (and measured twice a
// second), so by then every replica has the write.
const ReadYourWrites = MaxReplicaLag + 5*time.Second

// HasReplicas tells whether reads may go to replicas at all.
func (s *Store) HasReplicas() bool { return s.replicas != nil }

func replicaReadsAllowed(ctx context.Context) bool {
	ok, _ := ctx.Value(replicaReadsKey{}).(bool)
	return ok
}

// replica is one read replica's pool and what the monitor last saw of it.
type replica struct {
	name    string // host:port/database, no credentials
	db      *sql.DB
	healthy atomic.Bool
	mu      sync.Mutex
	state   ReplicaState
	reads   atomic.Int64
}

// ReplicaState is what /readyz tells about a replica.
type ReplicaState struct {
	Name       string   `json:"name"`
	State      string   `json:"state"` // "ok", "lagging" or "down"
	LagSeconds *float64 `json:"lag_seconds"`
	Error      string   `json:"error,omitempty"`
	Reads      int64    `json:"reads"` // reads it served since start
}

// replicaSet is the store's replicas, the primary (where reads go when none may
// serve) and the primary's recent WAL positions, which measure the replicas' lag.
type replicaSet struct {
	list    []*replica
	primary *sql.DB
	next    atomic.Uint64
	mu      sync.Mutex
	history []walSample // the primary's position, newest last
}

type walSample struct {
	at  time.Time
	lsn uint64
}

// UseReplicas routes the reads ReplicaReads allows to the PostgreSQL replicas at urls
// and starts watching their lag until ctx ends.
func (s *Store) UseReplicas(ctx context.Context, urls []string) error {
	if len(urls) == 0 {
		return nil
	}
	if s.dialect != Postgres {
		return fmt.Errorf("DATABASE_REPLICA_URLS: read replicas need PostgreSQL as DATABASE_URL")
	}
	set := &replicaSet{primary: s.SQL()}
	var dialectors []gorm.Dialector
	for i, u := range urls {
		dialect, dsn, err := ParseDatabaseURL(strings.TrimSpace(u))
		if err != nil || dialect != Postgres {
			return fmt.Errorf("DATABASE_REPLICA_URLS: replica %d: want a postgres:// URL", i+1)
		}
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return fmt.Errorf("DATABASE_REPLICA_URLS: replica %d: %w", i+1, err)
		}
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(20)
		db.SetConnMaxIdleTime(5 * time.Minute)
		r := &replica{name: replicaName(u), db: db}
		r.state = ReplicaState{Name: r.name, State: "down", Error: "not checked yet"}
		set.list = append(set.list, r)
		dialectors = append(dialectors, postgres.New(postgres.Config{Conn: db}))
	}
	// The primary is the last choice of the read policy, for when no replica may serve.
	dialectors = append(dialectors, postgres.New(postgres.Config{Conn: set.primary}))
	err := s.db.Use(dbresolver.Register(dbresolver.Config{Replicas: dialectors,
		Policy: dbresolver.PolicyFunc(func(pools []gorm.ConnPool) gorm.ConnPool {
			if r := set.pick(); r != nil {
				return r.db
			}
			return pools[len(pools)-1]
		})}))
	if err != nil {
		return fmt.Errorf("store: unable to register read replicas: %w", err)
	}
	// After dbresolver chose a pool: reads whose context does not allow a replica go
	// back to the primary (a transaction keeps its connection).
	primaryUnlessAllowed := func(db *gorm.DB) {
		if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); !inTx && !replicaReadsAllowed(db.Statement.Context) {
			db.Statement.ConnPool = set.primary
		}
	}
	cb := s.db.Callback()
	for _, reg := range []func(string, func(*gorm.DB)) error{
		cb.Query().After("gorm:db_resolver").Before("gorm:query").Register,
		cb.Row().After("gorm:db_resolver").Before("gorm:row").Register,
		cb.Raw().After("gorm:db_resolver").Before("gorm:raw").Register,
	} {
		if err := reg("sightline:read_from", primaryUnlessAllowed); err != nil {
			return fmt.Errorf("store: unable to register read routing: %w", err)
		}
	}
	s.replicas = set
	set.check(ctx)
	go set.watch(ctx)
	return nil
}

// replicaName is a replica URL without its credentials, for logs and /readyz.
func replicaName(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "replica"
	}
	host := u.Host
	if host == "" {
		host = u.Query().Get("host")
	}
	return host + u.Path
}

// pick returns the next replica that may serve reads, round robin, or nil.
func (set *replicaSet) pick() *replica {
	n := uint64(len(set.list))
	start := set.next.Add(1)
	for i := range n {
		if r := set.list[(start+i)%n]; r.healthy.Load() {
			r.reads.Add(1)
			return r
		}
	}
	return nil
}

// readDB is the pool for a read in ctx outside GORM (eachRow's pgx reads).
func (s *Store) readDB(ctx context.Context) *sql.DB {
	if s.replicas != nil && replicaReadsAllowed(ctx) {
		if r := s.replicas.pick(); r != nil {
			return r.db
		}
	}
	return s.SQL()
}

// watch checks the replicas twice a second until ctx ends.
func (set *replicaSet) watch(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			set.check(ctx)
		}
	}
}

// check samples the primary's WAL position, then each replica's replayed position:
// a replica's lag is how long ago the primary was where the replica is now. A
// replica that replayed everything the primary has written lags 0, however long
// the primary has been idle.
func (set *replicaSet) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	now := time.Now()
	var primaryLSN string
	if err := set.primary.QueryRowContext(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&primaryLSN); err == nil {
		if lsn, err := parseLSN(primaryLSN); err == nil {
			set.mu.Lock()
			set.history = append(set.history, walSample{now, lsn})
			if len(set.history) > 4*int(MaxReplicaLag/time.Second)+8 {
				set.history = set.history[1:]
			}
			set.mu.Unlock()
		}
	}
	for _, r := range set.list {
		st := ReplicaState{Name: r.name} // Reads is read live by ReplicaStates
		var replayed sql.NullString
		err := r.db.QueryRowContext(ctx, "SELECT pg_last_wal_replay_lsn()::text").Scan(&replayed)
		switch {
		case err != nil:
			st.State, st.Error = "down", err.Error()
		case !replayed.Valid:
			st.State, st.Error = "down", "not a replica (pg_last_wal_replay_lsn is null)"
		default:
			lsn, err := parseLSN(replayed.String)
			if err != nil {
				st.State, st.Error = "down", err.Error()
				break
			}
			lag := set.lag(lsn, now).Seconds()
			st.LagSeconds = &lag
			st.State = "ok"
			if lag > MaxReplicaLag.Seconds() {
				st.State = "lagging"
			}
		}
		r.healthy.Store(st.State == "ok")
		r.mu.Lock()
		r.state = st
		r.mu.Unlock()
	}
}

// lag is how long ago the primary was at lsn or before it: 0 when the replica has
// everything of the newest sample, else the time since the first sample past it.
func (set *replicaSet) lag(lsn uint64, now time.Time) time.Duration {
	set.mu.Lock()
	defer set.mu.Unlock()
	h := set.history
	if len(h) == 0 || lsn >= h[len(h)-1].lsn {
		return 0
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].lsn <= lsn {
			return now.Sub(h[i+1].at)
		}
	}
	return now.Sub(h[0].at) + time.Second // behind everything we kept: at least this long
}

// parseLSN reads a PostgreSQL WAL position ("16/B374D848").
func parseLSN(s string) (uint64, error) {
	var hi, lo uint32
	if _, err := fmt.Sscanf(s, "%X/%X", &hi, &lo); err != nil {
		return 0, fmt.Errorf("unexpected WAL position %q", s)
	}
	return uint64(hi)<<32 | uint64(lo), nil
}

// ReplicaStates tells what the monitor last saw of each replica (none without replicas).
func (s *Store) ReplicaStates() []ReplicaState {
	if s.replicas == nil {
		return nil
	}
	out := make([]ReplicaState, len(s.replicas.list))
	for i, r := range s.replicas.list {
		r.mu.Lock()
		out[i] = r.state
		r.mu.Unlock()
		out[i].Reads = r.reads.Load()
	}
	return out
}
