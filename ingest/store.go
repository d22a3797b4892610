package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
}

// maxCachedUsers bounds the id cache (about 100 bytes an entry).
const maxCachedUsers = 500_000

// NewWriter returns a writer for a store.
func NewWriter(store *models.Store) *Writer {
	return &Writer{store: store, users: map[string]int64{}, roll: newRollupState()}
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
	// A duplicate messageId inserted by a concurrent retry fails the transaction on the
	// unique index (see insertRawPG); the next attempt sees those messages as known.
	for attempt := 0; attempt < 4; attempt++ {
		err = w.store.Transaction(ctx, func(tx *gorm.DB) error {
			res, batch, err = w.write(ctx, tx, msgs, writeKeyID)
			return err
		})
		if !retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
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

// write is step 1: raw messages and the pending row of the new ones.
func (w *Writer) write(ctx context.Context, tx *gorm.DB, msgs []Message, writeKeyID int64) (Result, *pendingBatch, error) {
	db := tx.WithContext(ctx)
	var res Result

	// A retry can repeat a messageId inside one batch as well: the first one counts.
	unique := make([]Message, 0, len(msgs))
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		if seen[m.MessageID] {
			res.Duplicates++
			continue
		}
		seen[m.MessageID] = true
		unique = append(unique, m)
	}
	// Sorted, so concurrent writers take index locks in one order.
	slices.SortFunc(unique, func(a, b Message) int { return strings.Compare(a.MessageID, b.MessageID) })

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
	if models.IsPostgres(db) {
		return insertRawPG(db, msgs, byID, now, writeKeyID)
	}
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

// insertRawPG sends the messages as column arrays (see models.applyRollupsPG for why).
func insertRawPG(db *gorm.DB, msgs []Message, byID map[string]Message, now time.Time, writeKeyID int64) ([]Message, error) {
	n := len(msgs)
	ids, types, users, events, groups, payloads := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ts := make([]time.Time, n)
	for i, m := range msgs {
		ids[i], types[i], users[i], events[i], groups[i], ts[i], payloads[i] = m.MessageID, m.Type, m.UserKey, m.Event, m.GroupID, m.Timestamp, string(m.Payload)
	}
	// Known messageIds are looked up first and the rest inserted plainly: on PostgreSQL
	// INSERT … ON CONFLICT … RETURNING costs nearly twice a plain INSERT. A retry
	// racing its original on another connection makes this INSERT fail on the unique
	// index once the original commits; Write then runs the batch again, and the
	// second run sees the messages as known.
	ctx := db.Statement.Context
	rows, err := db.Statement.ConnPool.QueryContext(ctx, "SELECT message_id FROM usage_messages WHERE message_id = ANY($1)", ids)
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
	fresh := make([]Message, 0, n)
	if len(known) > 0 {
		ids, types, users, events, groups, ts, payloads = ids[:0], types[:0], users[:0], events[:0], groups[:0], ts[:0], payloads[:0]
		for _, m := range msgs {
			if !known[m.MessageID] {
				ids, types, users, events, groups = append(ids, m.MessageID), append(types, m.Type), append(users, m.UserKey), append(events, m.Event), append(groups, m.GroupID)
				ts, payloads = append(ts, m.Timestamp), append(payloads, string(m.Payload))
			}
		}
	}
	if len(ids) == 0 {
		return fresh, nil
	}
	_, err = db.Statement.ConnPool.ExecContext(ctx, `
		INSERT INTO usage_messages (message_id, type, user_key, event, group_key, ts, received_at, write_key_id, payload)
		SELECT m, t, u, e, g, ts, $7, NULLIF($8::bigint, 0), p::json
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $9::text[]) AS x(m, t, u, e, g, ts, p)`,
		ids, types, users, events, groups, ts, now, writeKeyID, payloads)
	if err != nil {
		return nil, fmt.Errorf("ingest: unable to store messages: %w", err)
	}
	for _, id := range ids {
		fresh = append(fresh, byID[id])
	}
	slices.SortFunc(fresh, func(a, b Message) int { return strings.Compare(a.MessageID, b.MessageID) })
	return fresh, nil
}
