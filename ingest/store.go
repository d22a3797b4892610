package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"sightline/models"
)

// Result tells what a stored request changed.
type Result struct {
	Accepted   int // messages new to Sightline, now counted
	Duplicates int // messages whose messageId was seen before: acknowledged, not counted
}

// chunk bounds the rows of one multi-row statement (SQLite allows 32,766 parameters).
const chunk = 500

// Writer stores messages for one database and applies them to the rollups. It
// remembers end-user ids, which never change once created, so known users cost no
// query.
type Writer struct {
	store *models.Store
	mu    sync.Mutex
	users map[string]int64
	roll  rollupState
	// writers bounds the requests writing at once (step 1): more than the database
	// has cores only adds contention, and the roll-up, which every answer waits for,
	// then gets a smaller share of the CPU.
	writers chan struct{}
}

// maxCachedUsers bounds the id cache (about 100 bytes an entry).
const maxCachedUsers = 500_000

// NewWriter returns a writer for a store.
func NewWriter(store *models.Store) *Writer {
	return &Writer{store: store, users: map[string]int64{}, roll: newRollupState(), writers: make(chan struct{}, concurrentWriters())}
}

// Store writes messages with a writer of its own (no warm cache): for tests and tools.
func Store(ctx context.Context, store *models.Store, msgs []Message, writeKeyID int64) (Result, error) {
	return NewWriter(store).Write(ctx, msgs, writeKeyID)
}

// Write stores a request's messages exactly once, in two steps:
//
//  1. one transaction commits the raw messages (whose unique messageId makes retries
//     no-ops) and a usage_pending row with the roll-up inputs of those that were new;
//  2. the roll-up stage (rollup.go) applies pending rows, this request's and those of
//     concurrent requests together, to the end users and the rollups, deleting them
//     in the same transaction.
//
// It returns once both are committed, so the caller acknowledges messages that every
// read already counts. A crash between the two loses nothing: the pending row is
// applied by the next roll-up, here or in any other instance.
func (w *Writer) Write(ctx context.Context, msgs []Message, writeKeyID int64) (Result, error) {
	var res Result
	var batch *pendingBatch
	var err error
	// A messageId stored before fails the COPY on PostgreSQL's unique index (a retry,
	// or a concurrent retry racing its original); the next attempt looks the known
	// ones up first and stores only the rest.
	for attempt := 0; attempt < 4; attempt++ {
		if w.store.Dialect() == models.Postgres {
			res, batch, err = w.writePG(ctx, msgs, writeKeyID, attempt > 0)
		} else {
			err = w.store.Transaction(ctx, func(tx *gorm.DB) error {
				res, batch, err = w.write(ctx, tx, msgs, writeKeyID)
				return err
			})
		}
		if !retryable(err) {
			break
		}
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
		}
	}
	if err != nil {
		return res, err
	}
	if batch != nil {
		return res, w.waitRolledUp(ctx, batch)
	}
	if res.Duplicates > 0 {
		// The first copy of a duplicate may still be waiting for its roll-up (a racing
		// retry, or an instance that died after committing it).
		return res, w.Drain(ctx)
	}
	return res, nil
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// deadlock, serialization failure, and a duplicate messageId inserted by a
		// concurrent retry (see insertRawPG)
		return pgErr.Code == "40P01" || pgErr.Code == "40001" || pgErr.Code == "23505"
	}
	return false
}

// uniqueMessages drops repeats of a messageId inside one batch (a retry can hold
// them too: the first one counts) and sorts the rest by messageId, so concurrent
// writers take index locks in one order.
func uniqueMessages(msgs []Message) ([]Message, int) {
	dups := 0
	unique := make([]Message, 0, len(msgs))
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		if seen[m.MessageID] {
			dups++
			continue
		}
		seen[m.MessageID] = true
		unique = append(unique, m)
	}
	slices.SortFunc(unique, func(a, b Message) int { return strings.Compare(a.MessageID, b.MessageID) })
	return unique, dups
}

// write is step 1 on SQLite: raw messages and the pending row of the new ones.
func (w *Writer) write(ctx context.Context, tx *gorm.DB, msgs []Message, writeKeyID int64) (Result, *pendingBatch, error) {
	db := tx.WithContext(ctx)
	var res Result
	unique, dups := uniqueMessages(msgs)
	res.Duplicates = dups
	fresh, err := insertRaw(db, unique, writeKeyID)
	if err != nil {
		return res, nil, err
	}
	res.Duplicates += len(unique) - len(fresh)
	res.Accepted = len(fresh)
	if len(fresh) == 0 {
		return res, nil, nil
	}
	var id int64
	err = db.Statement.ConnPool.QueryRowContext(ctx, rebind(db, "INSERT INTO usage_pending (messages, inputs) VALUES (?, ?) RETURNING id"),
		len(fresh), encodeInputs(fresh)).Scan(&id)
	if err != nil {
		return res, nil, fmt.Errorf("ingest: unable to queue messages for the rollups: %w", err)
	}
	return res, &pendingBatch{id: id, msgs: fresh}, nil
}

// writePG is step 1 on PostgreSQL, on the pgx connection itself: the raw messages go
// in with COPY, which costs PostgreSQL a fraction of an INSERT of the same rows (and
// needs no parameter arrays built here). Most batches hold no message seen before,
// so the first attempt does not look them up (lookup false): a known one fails the
// COPY on the unique index, and Write tries again with the lookup.
func (w *Writer) writePG(ctx context.Context, msgs []Message, writeKeyID int64, lookup bool) (Result, *pendingBatch, error) {
	var res Result
	var batch *pendingBatch
	unique, dups := uniqueMessages(msgs)
	res.Duplicates = dups
	select {
	case w.writers <- struct{}{}:
		defer func() { <-w.writers }()
	case <-ctx.Done():
		return res, nil, ctx.Err()
	}
	conn, err := w.store.SQL().Conn(ctx)
	if err != nil {
		return res, nil, fmt.Errorf("ingest: unable to reach the database: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(driverConn any) error {
		pc := driverConn.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return fmt.Errorf("ingest: unable to begin: %w", err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
		fresh := unique
		if lookup {
			if fresh, err = withoutKnown(ctx, tx, unique); err != nil {
				return err
			}
		}
		res.Duplicates = dups + len(unique) - len(fresh)
		res.Accepted = len(fresh)
		if len(fresh) == 0 {
			return nil
		}
		now := time.Now().UTC()
		var wk any
		if writeKeyID != 0 {
			wk = writeKeyID
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"usage_messages"}, rawColumns, pgx.CopyFromSlice(len(fresh), func(i int) ([]any, error) {
			m := &fresh[i]
			return []any{m.MessageID, m.Type, m.UserKey, m.Event, m.GroupID, m.Timestamp, now, wk, m.Payload}, nil
		}))
		if err != nil {
			return fmt.Errorf("ingest: unable to store messages: %w", err)
		}
		var id int64
		if err := tx.QueryRow(ctx, "INSERT INTO usage_pending (messages, inputs) VALUES ($1, $2) RETURNING id", len(fresh), encodeInputs(fresh)).Scan(&id); err != nil {
			return fmt.Errorf("ingest: unable to queue messages for the rollups: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("ingest: unable to commit messages: %w", err)
		}
		batch = &pendingBatch{id: id, msgs: fresh}
		return nil
	})
	return res, batch, err
}

var rawColumns = []string{"message_id", "type", "user_key", "event", "group_key", "ts", "received_at", "write_key_id", "payload"}

// withoutKnown drops the messages whose messageId is stored already.
func withoutKnown(ctx context.Context, tx pgx.Tx, msgs []Message) ([]Message, error) {
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.MessageID
	}
	rows, err := tx.Query(ctx, "SELECT message_id FROM usage_messages WHERE message_id = ANY($1)", ids)
	if err != nil {
		return nil, fmt.Errorf("ingest: unable to look up messages: %w", err)
	}
	known := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ingest: unable to look up messages: %w", err)
		}
		known[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ingest: unable to look up messages: %w", err)
	}
	if len(known) == 0 {
		return msgs, nil
	}
	fresh := make([]Message, 0, len(msgs)-len(known))
	for _, m := range msgs {
		if !known[m.MessageID] {
			fresh = append(fresh, m)
		}
	}
	return fresh, nil
}

// rebind turns ? placeholders into PostgreSQL's $n (the statements here hold no
// question marks of their own).
func rebind(db *gorm.DB, query string) string {
	if !models.IsPostgres(db) {
		return query
	}
	var sb strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			sb.WriteString("$" + strconv.Itoa(n))
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// insertRaw stores the raw messages and returns those that were new.
func insertRaw(db *gorm.DB, msgs []Message, writeKeyID int64) ([]Message, error) {
	byID := make(map[string]Message, len(msgs))
	for _, m := range msgs {
		byID[m.MessageID] = m
	}
	var wk any
	if writeKeyID != 0 {
		wk = writeKeyID
	}
	now := time.Now().UTC()
	fresh := make([]Message, 0, len(msgs))
	for part := range slices.Chunk(msgs, chunk) {
		b := models.NewBulk(db, "INSERT INTO usage_messages (message_id, type, user_key, event, group_key, ts, received_at, write_key_id, payload) VALUES ")
		for _, m := range part {
			b.Row(m.MessageID, m.Type, m.UserKey, m.Event, m.GroupID, m.Timestamp, now, wk, string(m.Payload))
		}
		b.SQL(" ON CONFLICT (message_id) DO NOTHING RETURNING message_id")
		rows, err := b.Query(db.Statement.Context, db)
		if err != nil {
			return nil, fmt.Errorf("ingest: unable to store messages: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("ingest: unable to read stored messages: %w", err)
			}
			fresh = append(fresh, byID[id])
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("ingest: unable to store messages: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("ingest: unable to store messages: %w", err)
		}
	}
	slices.SortFunc(fresh, func(a, b Message) int { return strings.Compare(a.MessageID, b.MessageID) })
	return fresh, nil
}

// concurrentWriters is INGEST_WRITERS, else 2.
func concurrentWriters() int {
	if n, err := strconv.Atoi(os.Getenv("INGEST_WRITERS")); err == nil && n > 0 {
		return n
	}
	return 2
}
