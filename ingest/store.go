package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"sightline/models"
)

// Result tells what a stored request changed.
type Result struct {
	Accepted   int // messages new to Sightline, now stored (and counted if usage)
	Counted    int // of those, usage messages (track and page)
	Duplicates int // messages whose messageId was seen before: acknowledged, not counted
}

// chunk bounds the rows of one multi-row statement (SQLite allows 32,766 parameters).
const chunk = 500

// Writer stores messages for one database. Requests that arrive together are
// committed together (group commit): one transaction per group stores the raw
// messages, whose unique messageId makes retries no-ops, and applies what the new ones
// add to the end users and the rollups, in a few large statements for the whole
// group instead of a dozen small ones per request. A request is answered once its
// group has committed: durable, counted exactly once, and visible to every read. A
// crash at any point leaves a group all stored or not at all, and the client's retry
// then stores it or is acknowledged as a duplicate.
//
// It remembers end-user ids, which never change once created, so known users cost no
// query.
type Writer struct {
	store *models.Store
	mu    sync.Mutex
	users map[string]int64
	group groupState
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

// request is one Write waiting for its group.
type request struct {
	msgs       []*Message // sorted by messageId (the caller's, not copied); gather drops repeats
	writeKeyID int64
	res        Result
	err        error
	done       chan struct{}
}

// ErrWriteKeyRevoked refuses a request whose write key was revoked since the caller
// authenticated it: the group's transaction checks every key it stores with, so a
// caller may remember keys it has seen live without storing anything after a
// revocation.
var ErrWriteKeyRevoked = errors.New("ingest: the write key is revoked")

// revokedKeys is the error of a group whose transaction found revoked write keys.
type revokedKeys map[int64]bool

func (revokedKeys) Error() string { return ErrWriteKeyRevoked.Error() }

type groupState struct {
	mu      sync.Mutex
	queue   []*request
	leaders int // goroutines committing groups
}

// groupMessages bounds the messages of one group (memory, statement sizes); a group
// always takes at least one request.
const groupMessages = 20_000

// maxLeaders is how many groups commit at once. On PostgreSQL two: while one group
// waits for its commit, or for the server, the next is already on its way; more
// only split the requests into smaller groups. SQLite has one writer.
func (w *Writer) maxLeaders() int {
	if w.store.Dialect() == models.Postgres {
		return 2
	}
	return 1
}

// Write stores a request's messages exactly once and returns when they are committed
// with their rollups.
func (w *Writer) Write(ctx context.Context, msgs []Message, writeKeyID int64) (Result, error) {
	req := &request{msgs: sortedMessages(msgs), writeKeyID: writeKeyID, done: make(chan struct{})}
	g := &w.group
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if g.leaders < w.maxLeaders() {
		g.leaders++
		go w.lead()
	}
	g.mu.Unlock()
	select {
	case <-req.done:
		return req.res, req.err
	case <-ctx.Done():
		// The group may still commit it: the client's retry is then a duplicate.
		return Result{}, ctx.Err()
	}
}

// lead commits groups while requests wait.
func (w *Writer) lead() {
	g := &w.group
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.leaders--
			g.mu.Unlock()
			return
		}
		n, size := 0, 0
		for n < len(g.queue) && (n == 0 || size+len(g.queue[n].msgs) <= groupMessages) {
			size += len(g.queue[n].msgs)
			n++
		}
		group := slices.Clone(g.queue[:n])
		g.queue = slices.Delete(g.queue, 0, n)
		g.mu.Unlock()
		w.commitGroup(group)
	}
}

// commitGroup stores a group in one transaction and answers its requests.
func (w *Writer) commitGroup(group []*request) {
	// Not a request's context: the group serves several.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	answered := false
	defer func() {
		// This runs outside any request, where no middleware would recover a panic:
		// fail the group's requests instead of the process.
		if p := recover(); p != nil && !answered {
			for _, r := range group {
				r.err = fmt.Errorf("ingest: group commit failed: %v", p)
				close(r.done)
			}
		}
	}()
	for {
		msgs, owner := gather(group)
		known, ids, err := w.transact(ctx, msgs, owner, keyIDs(group))
		var revoked revokedKeys
		if errors.As(err, &revoked) {
			// Refuse the requests of revoked keys, and store the others without them.
			live := group[:0:0]
			for _, r := range group {
				if revoked[r.writeKeyID] {
					r.err = ErrWriteKeyRevoked
					close(r.done)
				} else {
					live = append(live, r)
				}
			}
			if group = live; len(group) > 0 {
				continue
			}
			answered = true
			return
		}
		if err != nil {
			w.forget() // in case a user it knew is gone
		} else {
			w.remember(ids)
			for i, m := range msgs {
				if known[m.MessageID] {
					owner[i].res.Duplicates++
					m.Duplicate = true
				} else {
					owner[i].res.Accepted++
					if countsAsUsage(m) {
						owner[i].res.Counted++
					}
				}
			}
		}
		answered = true
		for _, r := range group {
			r.err = err
			close(r.done)
		}
		return
	}
}

// gather lists the messages of a group, each with its request; a messageId twice in
// the group (twice in one batch, or a client's retry racing its original) counts once:
// the first, in request order and within a request in batch order.
func gather(group []*request) ([]*Message, []*request) {
	n := 0
	for _, r := range group {
		n += len(r.msgs)
	}
	msgs := make([]*Message, 0, n)
	owner := make([]*request, 0, n)
	seen := make(map[string]bool, n)
	for _, r := range group {
		r.res = Result{}
		for _, m := range r.msgs {
			if seen[m.MessageID] {
				r.res.Duplicates++
				m.Duplicate = true
				continue
			}
			seen[m.MessageID] = true
			msgs = append(msgs, m)
			owner = append(owner, r)
		}
	}
	return msgs, owner
}

// transact runs a group's transaction until it commits or fails for good. A messageId
// stored before fails PostgreSQL's COPY on the unique index (a retry, or one racing
// its original in another group); the next attempt looks the known ones up first and
// stores only the rest. Deadlocks are retried too.
func (w *Writer) transact(ctx context.Context, msgs []*Message, owner []*request, keys []int64) (known map[string]bool, ids map[string]int64, err error) {
	for attempt := 0; attempt < 4; attempt++ {
		if w.store.Dialect() == models.Postgres {
			known, ids, err = w.commitPG(ctx, msgs, owner, keys, attempt > 0)
		} else {
			known, ids, err = w.commitSQLite(ctx, msgs, owner, keys)
		}
		if !retryable(err) || attempt == 3 {
			break
		}
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
		}
	}
	return known, ids, err
}

// keyIDs are the distinct write keys of a group's requests, whether or not they hold
// a new message (0, no key, is left out): each is answered as stored or not.
func keyIDs(group []*request) []int64 {
	var out []int64
	for _, r := range group {
		if r.writeKeyID != 0 && !slices.Contains(out, r.writeKeyID) {
			out = append(out, r.writeKeyID)
		}
	}
	return out
}

// checkKeys returns the keys that are not live as a revokedKeys error (nil when all
// are): in SQLite's transaction, and on PostgreSQL once keysLiveSQL failed its.
func checkKeys(db *gorm.DB, keys []int64) error {
	if len(keys) == 0 {
		return nil
	}
	var live []int64
	if err := db.Raw("SELECT id FROM write_keys WHERE id IN ? AND revoked_at IS NULL", keys).Scan(&live).Error; err != nil {
		return fmt.Errorf("ingest: unable to check write keys: %w", err)
	}
	var revoked revokedKeys
	for _, id := range keys {
		if !slices.Contains(live, id) {
			if revoked == nil {
				revoked = revokedKeys{}
			}
			revoked[id] = true
		}
	}
	if revoked == nil {
		return nil
	}
	return revoked
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// deadlock, serialization failure, and a duplicate messageId inserted by a
		// concurrent group (see commitPG)
		return pgErr.Code == "40P01" || pgErr.Code == "40001" || pgErr.Code == "23505"
	}
	return false
}

// sortedMessages points at a request's messages sorted by messageId (rows are then
// locked in key order); a message is large, and copying them cost more than sorting.
// Repeats stay: gather drops them with those of the rest of the group.
func sortedMessages(msgs []Message) []*Message {
	sorted := make([]*Message, len(msgs))
	for i := range msgs {
		sorted[i] = &msgs[i]
	}
	slices.SortStableFunc(sorted, func(a, b *Message) int { return strings.Compare(a.MessageID, b.MessageID) })
	return sorted
}

// commitPG is a group's transaction on PostgreSQL, on the pgx connection itself, in
// two round trips whatever the group's size:
//
//  1. BEGIN, the check of the group's write keys (revokedKeys when one is revoked),
//     the lookup of known messageIds (retries only), and the creation of the users
//     this writer has not cached, read back with their ids;
//  2. in one write (finishPG): COPY of the new raw messages, which costs PostgreSQL a
//     fraction of an INSERT of the same rows, the membership and traits updates, the
//     rollup statements, and COMMIT.
//
// Most groups hold no message seen before, so the first attempt does not look them up
// (lookup false): a known one fails the COPY on the unique index, and the retry does.
// Such a group whose users this writer knows has nothing to read in round trip 1: its
// BEGIN and write-key check open the single write instead (openingPG).
//
// It returns the messages that were stored before (duplicates) and the users' ids.
func (w *Writer) commitPG(ctx context.Context, msgs []*Message, owner []*request, keys []int64, lookup bool) (map[string]bool, map[string]int64, error) {
	var known map[string]bool
	var ids map[string]int64
	err := w.store.WithPgx(ctx, func(pc *pgx.Conn) error {
		defer func() {
			// Failed half-way: never hand the pool a connection inside a transaction.
			if pc.PgConn().TxStatus() != 'I' {
				bg := context.WithoutCancel(ctx)
				if _, err := pc.Exec(bg, "ROLLBACK"); err != nil {
					pc.Close(bg) //nolint:errcheck // the pool then drops it
				}
			}
		}()
		// A first attempt takes every message as new (it fails otherwise), so the users it
		// creates get their group and traits as they are inserted, and need no update.
		var updates []userUpdate
		if !lookup {
			updates = membershipUpdates(msgs)
		}
		var created map[string]bool
		opening := openingPG(keys)
		ids, uncached, first := w.cachedUsers(msgs)
		if len(uncached) == 0 && !lookup {
			// Every user is known and every message taken as new: nothing to read first,
			// so the whole transaction goes in one write, opened by the key check.
			known = map[string]bool{}
		} else {
			var err error
			if known, created, err = w.beginGroupPG(ctx, pc, opening, msgs, lookup, updates, ids, uncached, first); err != nil {
				return err
			}
			opening = nil // sent
		}
		freshIdx := make([]int, 0, len(msgs))
		freshMsgs := make([]*Message, 0, len(msgs)) // request by request, each by messageId: ties in the membership rules go to the later one
		for i, m := range msgs {
			if !known[m.MessageID] {
				freshIdx = append(freshIdx, i)
				freshMsgs = append(freshMsgs, m)
			}
		}
		// In messageId order, so two groups holding the same ids (a retry racing its
		// original) wait for each other on the unique index instead of deadlocking.
		slices.SortFunc(freshIdx, func(a, b int) int { return strings.Compare(msgs[a].MessageID, msgs[b].MessageID) })
		now := time.Now().UTC()
		size := 0
		for _, i := range freshIdx {
			size += 128 + len(msgs[i].Payload)
		}
		data := newRawCopy(size)
		defer data.release()
		for _, i := range freshIdx {
			data.row(msgs[i], now, owner[i].writeKeyID)
		}
		if lookup {
			// Users were inserted bare (the new messages were not known yet): update all.
			updates, created = membershipUpdates(freshMsgs), nil
		}
		if err := injectedFault(); err != nil {
			return err
		}
		return finishPG(ctx, pc, opening, data.bytes(), usageStatementsPG(freshMsgs, ids, updates, created))
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == keyRevokedCode {
		// The transaction is rolled back: read which keys were revoked.
		if err = checkKeys(w.store.DB().WithContext(ctx), keys); err == nil {
			err = errors.New("ingest: a write key was revoked and restored meanwhile")
		}
	}
	return known, ids, err
}

// openingPG begins a group's transaction: BEGIN, indexPlans, and the check of its
// write keys, which fails when one is revoked.
func openingPG(keys []int64) []models.Statement {
	out := []models.Statement{{SQL: "BEGIN"}, {SQL: indexPlans}}
	if len(keys) > 0 {
		out = append(out, models.Statement{SQL: keysLiveSQL, Args: []any{keys}})
	}
	return out
}

// keysLiveSQL divides by zero unless every write key of $1 is live: an error, unlike
// a row to read, also stops the rest of a transaction sent in one write. Nothing else
// a group runs divides.
const (
	keysLiveSQL    = "SELECT 1 / (count(*) = cardinality($1::bigint[]))::int FROM write_keys WHERE id = ANY($1::bigint[]) AND revoked_at IS NULL"
	keyRevokedCode = "22012" // division_by_zero
)

// beginGroupPG is round trip 1 of commitPG: the opening statements, then it returns
// the known messageIds (when looked up) and the users it created (keys: those not
// cached, first seen at first), which it inserts with their group and traits from
// updates (when given); it adds their ids to ids.
func (w *Writer) beginGroupPG(ctx context.Context, pc *pgx.Conn, opening []models.Statement, msgs []*Message, lookup bool, updates []userUpdate,
	ids map[string]int64, keys []string, first map[string]time.Time) (known, created map[string]bool, err error) {
	b := &pgx.Batch{}
	for _, st := range opening {
		b.Queue(st.SQL, st.Args...)
	}
	if lookup {
		msgIDs := make([]string, len(msgs))
		for i, m := range msgs {
			msgIDs[i] = m.MessageID
		}
		b.Queue(knownMessagesSQL, msgIDs)
	}
	if len(keys) > 0 {
		st := newUsersStatementPG(keys, first, updates)
		b.Queue(st.SQL, st.Args...)
		b.Queue(userIDsSQL, keys)
	}
	br := pc.SendBatch(ctx, b)
	defer br.Close()
	for range opening {
		if _, err := br.Exec(); err != nil {
			return nil, nil, fmt.Errorf("ingest: unable to begin: %w", err)
		}
	}
	known = map[string]bool{}
	created = map[string]bool{}
	if lookup {
		var id string
		rows, _ := br.Query()
		if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { known[id] = true; return nil }); err != nil {
			return nil, nil, fmt.Errorf("ingest: unable to look up messages: %w", err)
		}
	}
	if len(keys) > 0 {
		var key string
		rows, _ := br.Query()
		if _, err := pgx.ForEachRow(rows, []any{&key}, func() error { created[key] = true; return nil }); err != nil {
			return nil, nil, fmt.Errorf("ingest: unable to create end users: %w", err)
		}
		var id int64
		rows, _ = br.Query()
		if _, err := pgx.ForEachRow(rows, []any{&id, &key}, func() error { ids[key] = id; return nil }); err != nil {
			return nil, nil, fmt.Errorf("ingest: unable to read end users: %w", err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, nil, fmt.Errorf("ingest: unable to begin: %w", err)
	}
	return known, created, nil
}

const (
	knownMessagesSQL = "SELECT message_id FROM usage_messages WHERE message_id = ANY($1::text[])"
	userIDsSQL       = "SELECT id, user_key FROM end_users WHERE user_key = ANY($1::text[])"
)

// commitSQLite is a group's transaction on SQLite.
func (w *Writer) commitSQLite(ctx context.Context, msgs []*Message, owner []*request, keys []int64) (map[string]bool, map[string]int64, error) {
	var known map[string]bool
	var ids map[string]int64
	err := w.store.Transaction(ctx, func(tx *gorm.DB) error {
		db := tx.WithContext(ctx)
		if err := checkKeys(db, keys); err != nil {
			return err
		}
		wks := make([]any, len(msgs))
		for i := range msgs {
			if k := owner[i].writeKeyID; k != 0 {
				wks[i] = k
			}
		}
		stored, err := insertRaw(db, msgs, wks)
		if err != nil {
			return err
		}
		known = make(map[string]bool, len(msgs)-len(stored))
		freshMsgs := make([]*Message, 0, len(stored)) // in the group's order, as on PostgreSQL
		for _, m := range msgs {
			if stored[m.MessageID] {
				freshMsgs = append(freshMsgs, m)
			} else {
				known[m.MessageID] = true
			}
		}
		ids, err = w.applyUsage(ctx, db, freshMsgs)
		return err
	})
	return known, ids, err
}

// insertRaw stores the raw messages (wks: each one's write key id or nil) and
// returns the messageIds that were new.
func insertRaw(db *gorm.DB, msgs []*Message, wks []any) (map[string]bool, error) {
	now := time.Now().UTC()
	fresh := make(map[string]bool, len(msgs))
	for start := 0; start < len(msgs); start += chunk {
		part := msgs[start:min(start+chunk, len(msgs))]
		b := models.NewBulk(db, "INSERT INTO usage_messages (message_id, type, user_key, event, group_key, ts, received_at, write_key_id, payload) VALUES ")
		for i, m := range part {
			b.Row(m.MessageID, m.Type, m.UserKey, m.Event, m.GroupID, m.Timestamp, now, wks[start+i], string(m.Payload))
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
			fresh[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("ingest: unable to store messages: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("ingest: unable to store messages: %w", err)
		}
	}
	return fresh, nil
}
