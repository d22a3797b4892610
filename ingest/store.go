package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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

// Writer stores messages for one database. It remembers end-user ids, which never
// change once created, so known users cost no query.
type Writer struct {
	store *models.Store
	mu    sync.Mutex
	users map[string]int64
}

// maxCachedUsers bounds the id cache (about 100 bytes an entry).
const maxCachedUsers = 500_000

// NewWriter returns a writer for a store.
func NewWriter(store *models.Store) *Writer {
	return &Writer{store: store, users: map[string]int64{}}
}

// Store writes messages with a writer of its own (no warm cache): for tests and tools.
func Store(ctx context.Context, store *models.Store, msgs []Message, writeKeyID int64) (Result, error) {
	return NewWriter(store).Write(ctx, msgs, writeKeyID)
}

// Write stores a request's messages exactly once. Everything happens in one
// transaction: the raw messages (whose unique messageId makes retries no-ops), the
// end users, their latest traits and account, and the rollup increments of the
// messages that were new. The caller acknowledges only after it returns nil.
func (w *Writer) Write(ctx context.Context, msgs []Message, writeKeyID int64) (Result, error) {
	store := w.store
	var res Result
	var ids map[string]int64
	var err error
	// Two writers racing on the same rows can deadlock on PostgreSQL; one of them is
	// rolled back and simply tried again.
	for attempt := 0; attempt < 4; attempt++ {
		err = store.Transaction(ctx, func(tx *gorm.DB) error {
			res, ids, err = w.write(ctx, tx, msgs, writeKeyID)
			return err
		})
		if err == nil {
			w.remember(ids)
		} else {
			w.forget() // in case a user it knew is gone
		}
		if !retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return res, err
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

func (w *Writer) write(ctx context.Context, tx *gorm.DB, msgs []Message, writeKeyID int64) (Result, map[string]int64, error) {
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
	// Sorted, so concurrent writers take row locks in one order.
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
	ids, err := w.endUserIDs(db, fresh)
	if err != nil {
		return res, nil, err
	}
	if err := applyMembershipAndTraits(db, fresh, ids); err != nil {
		return res, nil, err
	}
	r := models.NewRollups()
	for _, m := range fresh {
		addToRollups(r, ids[m.UserKey], m)
	}
	if err := models.ApplyRollups(ctx, tx, r); err != nil {
		return res, nil, err
	}
	return res, ids, nil
}

// addToRollups is what one new message adds to the rollups (SPEC §5 counts track and
// page messages as usage).
func addToRollups(r *models.Rollups, user int64, m Message) {
	if m.Type != "track" && m.Type != "page" {
		return
	}
	r.AddActivity(user, m.Timestamp)
	if m.DeviceID != "" {
		r.AddDevice(user, m.Timestamp, m.DeviceID)
	}
	if m.Type != "track" {
		return
	}
	r.AddEvent(user, m.Timestamp, m.Event, m.Duration)
	if m.Event == UsageReportedEvent && m.Meter != "" {
		r.AddMeter(user, m.Timestamp, m.Meter, m.Quantity)
	}
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

// remember caches ids once the transaction that created them has committed.
func (w *Writer) remember(ids map[string]int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.users)+len(ids) > maxCachedUsers {
		w.users = map[string]int64{} // start over rather than track recency
	}
	for k, id := range ids {
		w.users[k] = id
	}
}

func (w *Writer) forget() {
	w.mu.Lock()
	w.users = map[string]int64{}
	w.mu.Unlock()
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

// endUserIDs creates the users not seen before and returns every user's id by key.
func (w *Writer) endUserIDs(db *gorm.DB, msgs []Message) (map[string]int64, error) {
	ids := make(map[string]int64, len(msgs))
	var keys []string
	first := map[string]time.Time{}
	w.mu.Lock()
	for _, m := range msgs {
		if id, ok := w.users[m.UserKey]; ok {
			ids[m.UserKey] = id
			continue
		}
		if t, ok := first[m.UserKey]; !ok {
			keys = append(keys, m.UserKey)
			first[m.UserKey] = m.Timestamp
		} else if m.Timestamp.Before(t) {
			first[m.UserKey] = m.Timestamp
		}
	}
	w.mu.Unlock()
	slices.Sort(keys)
	now := time.Now().UTC()
	scanUserIDs := func(rows *sql.Rows, err error) error {
		if err != nil {
			return fmt.Errorf("ingest: unable to read end users: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var key string
			if err := rows.Scan(&id, &key); err != nil {
				return fmt.Errorf("ingest: unable to read end users: %w", err)
			}
			ids[key] = id
		}
		return rows.Err()
	}
	ctx := db.Statement.Context
	if models.IsPostgres(db) && len(keys) > 0 {
		firsts := make([]time.Time, len(keys))
		for i, k := range keys {
			firsts[i] = first[k]
		}
		_, err := db.Statement.ConnPool.ExecContext(ctx, `INSERT INTO end_users (user_key, first_seen_at, last_seen_at)
			SELECT k, f, $3 FROM unnest($1::text[], $2::timestamptz[]) AS x(k, f) ON CONFLICT (user_key) DO NOTHING`, keys, firsts, now)
		if err != nil {
			return nil, fmt.Errorf("ingest: unable to create end users: %w", err)
		}
		if err := scanUserIDs(db.Statement.ConnPool.QueryContext(ctx, "SELECT id, user_key FROM end_users WHERE user_key = ANY($1)", keys)); err != nil {
			return nil, err
		}
		return ids, nil
	}
	for part := range slices.Chunk(keys, chunk) {
		b := models.NewBulk(db, "INSERT INTO end_users (user_key, first_seen_at, last_seen_at) VALUES ")
		for _, k := range part {
			b.Row(k, first[k], now)
		}
		b.SQL(" ON CONFLICT (user_key) DO NOTHING")
		if _, err := b.Exec(ctx, db); err != nil {
			return nil, fmt.Errorf("ingest: unable to create end users: %w", err)
		}
		q := models.NewBulk(db, "SELECT id, user_key FROM end_users WHERE user_key IN ")
		q.List(part)
		if err := scanUserIDs(q.Query(ctx, db)); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// applyMembershipAndTraits records each user's latest group and identify. "Latest" is
// by message timestamp, not arrival, so a late-arriving older call changes nothing.
func applyMembershipAndTraits(db *gorm.DB, msgs []Message, ids map[string]int64) error {
	type latest struct {
		at time.Time
		m  Message
	}
	groups := map[string]latest{}
	traits := map[string]latest{}
	for _, m := range msgs {
		if m.GroupID != "" {
			if g, ok := groups[m.UserKey]; !ok || !m.Timestamp.Before(g.at) {
				groups[m.UserKey] = latest{m.Timestamp, m}
			}
		}
		if m.HasTraits {
			if t, ok := traits[m.UserKey]; !ok || !m.Timestamp.Before(t.at) {
				traits[m.UserKey] = latest{m.Timestamp, m}
			}
		}
	}
	for _, key := range sortedKeys(groups) {
		g := groups[key]
		err := db.Exec("UPDATE end_users SET group_key = ?, group_at = ? WHERE id = ? AND (group_at IS NULL OR group_at <= ?)",
			g.m.GroupID, g.at, ids[key], g.at).Error
		if err != nil {
			return fmt.Errorf("ingest: unable to record group: %w", err)
		}
	}
	for _, key := range sortedKeys(traits) {
		t := traits[key]
		tr := t.m.Traits
		// Traits an identify leaves out keep their earlier value.
		sets := []string{"traits_at = ?"}
		args := []any{t.at}
		for _, f := range []struct{ col, val string }{
			{"email", tr.Email}, {"name", tr.Name}, {"department", tr.Department},
		} {
			if f.val != "" {
				sets = append(sets, f.col+" = ?")
				args = append(args, f.val)
			}
		}
		if tr.Level != "" {
			sets = append(sets, "level = ?")
			args = append(args, models.NormalizeLevel(tr.Level))
		}
		args = append(args, ids[key], t.at)
		err := db.Exec("UPDATE end_users SET "+strings.Join(sets, ", ")+" WHERE id = ? AND (traits_at IS NULL OR traits_at <= ?)", args...).Error
		if err != nil {
			return fmt.Errorf("ingest: unable to record traits: %w", err)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
