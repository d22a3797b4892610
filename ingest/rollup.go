package ingest

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"sightline/models"
)

// The roll-up stage applies usage_pending rows (step 2 of Writer.Write) to the end
// users (creation, latest group, traits) and the daily rollups. A request waits for
// its batch, and a waiter that finds fewer than maxLeaders roll-ups running leads
// one: it claims every pending row no one else holds (its own, those of the requests
// that committed meanwhile, any left by a crashed instance), applies them in one
// transaction that deletes them, and goes on while batches of this process wait.
// Concurrent requests thus share roll-up transactions with large aggregated
// statements instead of each paying its own, and the answer still follows the
// rollups. Roll-ups claim rows with FOR UPDATE SKIP LOCKED, so two of them, here or
// in other instances, never take the same batch.

// rollUpFault, when set by a test, runs at the very end of each roll-up transaction;
// an error it returns aborts the transaction as a crash before COMMIT would.
var rollUpFault func() error

// claimLimit bounds the batches of one roll-up (≤ 2,500 messages each).
const claimLimit = 64

// pendingBatch is a committed usage_pending row of this process and its messages,
// kept so the roll-up need not read them back.
type pendingBatch struct {
	id      int64
	msgs    []Message
	claimed bool // by a roll-up of this process still running (guarded by rollupState.mu)
	once    sync.Once
	done    chan struct{} // closed once the batch is in the rollups
}

func (b *pendingBatch) finish() { b.once.Do(func() { close(b.done) }) }

// turn is one roll-up: waiters learn from it that it ended, and how.
type turn struct {
	done chan struct{}
	err  error
}

type rollupState struct {
	mu      sync.Mutex // guards the fields below
	waiting map[int64]*pendingBatch
	leaders int   // roll-ups led by waiting requests
	turn    *turn // the next roll-up to end
}

// maxLeaders is how many roll-ups requests run at once. One: batches that commit
// while it runs wait for the next, and so are applied together; two leaders split
// them into twice the transactions, which cost more CPU than the parallelism gained.
func (w *Writer) maxLeaders() int { return 1 }

func newRollupState() rollupState {
	return rollupState{waiting: map[int64]*pendingBatch{}, turn: &turn{done: make(chan struct{})}}
}

// waitRolledUp returns once batch b is in the rollups, leading roll-ups while no one
// else does. An error leaves the batch pending in the database: a later roll-up
// applies it (the client's retry drains it, or the background run, or any instance).
func (w *Writer) waitRolledUp(ctx context.Context, b *pendingBatch) error {
	r := &w.roll
	b.done = make(chan struct{})
	r.mu.Lock()
	r.waiting[b.id] = b
	r.mu.Unlock()
	for {
		r.mu.Lock()
		select {
		case <-b.done:
			r.mu.Unlock()
			return nil
		default:
		}
		// A batch a running roll-up holds needs no second one.
		if !b.claimed && r.leaders < w.maxLeaders() {
			r.leaders++
			r.mu.Unlock()
			if err := w.lead(ctx); err != nil {
				w.abandon(b)
				return err
			}
			continue
		}
		t := r.turn
		r.mu.Unlock()
		select {
		case <-b.done:
			return nil
		case <-t.done:
			select {
			case <-b.done:
				return nil
			default:
			}
			if t.err != nil {
				w.abandon(b)
				return t.err
			}
		case <-ctx.Done():
			w.abandon(b)
			return ctx.Err()
		}
	}
}

// abandon stops waiting for a batch; it stays pending in the database.
func (w *Writer) abandon(b *pendingBatch) {
	w.roll.mu.Lock()
	delete(w.roll.waiting, b.id)
	w.roll.mu.Unlock()
}

// lead runs roll-ups while batches of this process wait.
func (w *Writer) lead(ctx context.Context) error {
	r := &w.roll
	// The batches of other requests ride on this roll-up: the leader's client going
	// away must not cancel it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for {
		n, err := w.rollUp(ctx, true)
		r.mu.Lock()
		// Deciding to stop and stepping down are one step, so a batch registered now
		// finds room to lead itself. With nothing left to claim while another leader
		// runs, the waiting batches are that one's.
		if err != nil || len(r.waiting) == 0 || (n == 0 && r.leaders > 1) {
			r.leaders--
			r.mu.Unlock()
			return err
		}
		r.mu.Unlock()
		if n == 0 {
			// Nothing claimable, yet batches wait: another instance holds them.
			if err := w.settleForeign(ctx); err != nil {
				r.mu.Lock()
				r.leaders--
				r.mu.Unlock()
				return err
			}
		}
	}
}

// settleForeign finishes the waiting batches another instance has rolled up, and
// pauses briefly when it is still at work on them.
func (w *Writer) settleForeign(ctx context.Context) error {
	r := &w.roll
	r.mu.Lock()
	ids := make([]int64, 0, len(r.waiting))
	for id := range r.waiting {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	still := map[int64]bool{}
	args := make([]any, len(ids))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args[i], marks[i] = id, "?"
	}
	rows, err := w.store.SQL().QueryContext(ctx, rebind(w.store.DB(), "SELECT id FROM usage_pending WHERE id IN ("+strings.Join(marks, ",")+")"), args...)
	if err != nil {
		return fmt.Errorf("ingest: unable to read pending batches: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("ingest: unable to read pending batches: %w", err)
		}
		still[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ingest: unable to read pending batches: %w", err)
	}
	r.mu.Lock()
	for _, id := range ids {
		if b := r.waiting[id]; b != nil && !still[id] {
			delete(r.waiting, id)
			b.finish()
		}
	}
	r.mu.Unlock()
	if len(still) > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Drain applies every pending batch, waiting for those another instance is applying,
// so that what was committed before the call is in the rollups when it returns.
func (w *Writer) Drain(ctx context.Context) error {
	for {
		n, err := w.rollUp(ctx, false)
		if err != nil || n < claimLimit {
			return err
		}
	}
}

// RunRollups applies, every interval until ctx ends, batches that no request is
// waiting for: those of an instance that died between its two transactions.
func (w *Writer) RunRollups(ctx context.Context, every time.Duration, log *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		for {
			n, err := w.rollUp(ctx, true)
			if err != nil && ctx.Err() == nil {
				log.Warn("roll-up", "err", err)
			}
			if err != nil || n < claimLimit {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// rollUp runs one roll-up transaction and returns how many batches it applied.
// skipLocked leaves batches another instance is applying to it; otherwise it waits
// for them.
func (w *Writer) rollUp(ctx context.Context, skipLocked bool) (int, error) {
	r := &w.roll
	var n int
	var applied []*pendingBatch
	var ids map[string]int64
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = w.store.Transaction(ctx, func(tx *gorm.DB) error {
			n, applied, ids, err = w.rollUpTx(ctx, tx, skipLocked)
			return err
		})
		if err != nil {
			// Rolled back: its batches are pending again.
			r.mu.Lock()
			for _, b := range applied {
				b.claimed = false
			}
			r.mu.Unlock()
			applied = nil
		}
		if !retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	if err != nil {
		w.forget() // in case a user it knew is gone
	} else {
		w.remember(ids)
	}
	r.mu.Lock()
	for _, b := range applied {
		b.claimed = false
		if err == nil {
			delete(r.waiting, b.id)
			b.finish()
		}
	}
	if err == nil && n == 0 {
		r.mu.Unlock()
		return 0, nil // nothing changed: no one to wake
	}
	t := r.turn
	r.turn = &turn{done: make(chan struct{})}
	r.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("ingest: roll-up failed: %w", err)
	}
	t.err = err
	close(t.done)
	return n, err
}

func (w *Writer) rollUpTx(ctx context.Context, tx *gorm.DB, skipLocked bool) (int, []*pendingBatch, map[string]int64, error) {
	db := tx.WithContext(ctx)
	if models.IsPostgres(db) {
		// The roll-up need not wait for its WAL flush: the messages are durable since
		// their own commit, and a roll-up lost in a database crash is lost whole, its
		// pending rows included, so the next one applies them. Visibility is at once.
		if _, err := db.Statement.ConnPool.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return 0, nil, nil, fmt.Errorf("ingest: unable to start the roll-up: %w", err)
		}
	}
	r := &w.roll
	r.mu.Lock()
	local := make(map[int64]*pendingBatch, len(r.waiting))
	localIDs := make([]int64, 0, len(r.waiting))
	for id, b := range r.waiting {
		local[id] = b
		localIDs = append(localIDs, id)
	}
	r.mu.Unlock()

	claimed, err := claimPending(db, localIDs, skipLocked)
	if err != nil {
		return 0, nil, nil, err
	}
	var msgs []Message
	var applied []*pendingBatch
	r.mu.Lock()
	for _, c := range claimed {
		if b := local[c.id]; b != nil {
			b.claimed = true
			applied = append(applied, b)
		}
	}
	r.mu.Unlock()
	for _, c := range claimed {
		if b := local[c.id]; b != nil {
			msgs = append(msgs, b.msgs...)
			continue
		}
		stored, err := decodeInputs(c.inputs)
		if err != nil {
			return 0, applied, nil, fmt.Errorf("pending batch %d: %w", c.id, err)
		}
		msgs = append(msgs, stored...)
	}
	if len(msgs) == 0 {
		return len(claimed), applied, nil, nil
	}
	ids, err := w.endUserIDs(db, msgs)
	if err != nil {
		return 0, applied, nil, err
	}
	if err := applyMembershipAndTraits(db, msgs, ids); err != nil {
		return 0, applied, nil, err
	}
	rollups := models.NewRollups()
	for _, m := range msgs {
		addToRollups(rollups, ids[m.UserKey], m)
	}
	if err := models.ApplyRollups(ctx, tx, rollups); err != nil {
		return 0, applied, nil, err
	}
	if rollUpFault != nil {
		if err := rollUpFault(); err != nil {
			return 0, applied, nil, err
		}
	}
	return len(claimed), applied, ids, nil
}

type claimedBatch struct {
	id     int64
	inputs []byte // nil when the batch is in memory
}

// claimPending deletes up to claimLimit pending rows, oldest first, and returns them
// in id order; their inputs are read only when not in memory (local).
func claimPending(db *gorm.DB, local []int64, skipLocked bool) ([]claimedBatch, error) {
	ctx := db.Statement.Context
	var rows *sql.Rows
	var err error
	if models.IsPostgres(db) {
		lock := "FOR UPDATE"
		if skipLocked {
			lock += " SKIP LOCKED"
		}
		rows, err = db.Statement.ConnPool.QueryContext(ctx, `DELETE FROM usage_pending
			WHERE id IN (SELECT id FROM usage_pending ORDER BY id LIMIT $1 `+lock+`)
			RETURNING id, CASE WHEN id = ANY($2) THEN NULL ELSE inputs END`, claimLimit, local)
	} else {
		// One SQLite writer at a time: nothing to skip or wait for.
		rows, err = db.Statement.ConnPool.QueryContext(ctx, `DELETE FROM usage_pending
			WHERE id IN (SELECT id FROM usage_pending ORDER BY id LIMIT ?) RETURNING id, inputs`, claimLimit)
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: unable to claim pending batches: %w", err)
	}
	defer rows.Close()
	var out []claimedBatch
	for rows.Next() {
		var c claimedBatch
		if err := rows.Scan(&c.id, &c.inputs); err != nil {
			return nil, fmt.Errorf("ingest: unable to claim pending batches: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ingest: unable to claim pending batches: %w", err)
	}
	// Batches are applied in the order they were committed, so among identify calls
	// with equal timestamps the later one wins, as it would have one by one.
	slices.SortFunc(out, func(a, b claimedBatch) int { return cmp.Compare(a.id, b.id) })
	return out, nil
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

// applyMembershipAndTraits records each user's latest group and traits. "Latest" is
// by message timestamp, not arrival, so a late-arriving older call changes nothing.
// Identify calls are applied in timestamp order, one round per call of a user, so
// traits a later call leaves out keep the value an earlier one gave them, exactly
// as if each had arrived in a request of its own.
func applyMembershipAndTraits(db *gorm.DB, msgs []Message, ids map[string]int64) error {
	latestGroup := map[string]Message{}
	identifies := map[string][]Message{}
	for _, m := range msgs {
		if m.GroupID != "" {
			if g, ok := latestGroup[m.UserKey]; !ok || !m.Timestamp.Before(g.Timestamp) {
				latestGroup[m.UserKey] = m
			}
		}
		if m.HasTraits {
			identifies[m.UserKey] = append(identifies[m.UserKey], m)
		}
	}
	var groups []groupUpdate
	for _, key := range sortedKeys(latestGroup) {
		g := latestGroup[key]
		groups = append(groups, groupUpdate{ids[key], g.GroupID, g.Timestamp})
	}
	if err := updateGroups(db, groups); err != nil {
		return err
	}
	var rounds [][]traitUpdate
	for _, key := range sortedKeys(identifies) {
		calls := identifies[key]
		slices.SortStableFunc(calls, func(a, b Message) int { return a.Timestamp.Compare(b.Timestamp) })
		for i, m := range calls {
			if i == len(rounds) {
				rounds = append(rounds, nil)
			}
			level := m.Traits.Level
			if level != "" {
				level = models.NormalizeLevel(level)
			}
			rounds[i] = append(rounds[i], traitUpdate{ids[key], m.Timestamp, m.Traits.Email, m.Traits.Name, m.Traits.Department, level})
		}
	}
	for _, round := range rounds {
		if err := updateTraits(db, round); err != nil {
			return err
		}
	}
	return nil
}

type groupUpdate struct {
	user  int64
	group string
	at    time.Time
}

type traitUpdate struct {
	user                           int64
	at                             time.Time
	email, name, department, level string // "" keeps the stored value
}

// updateGroups moves users to their latest group unless a later call is stored.
func updateGroups(db *gorm.DB, groups []groupUpdate) error {
	if len(groups) == 0 {
		return nil
	}
	if models.IsPostgres(db) {
		users, keys, ats := make([]int64, len(groups)), make([]string, len(groups)), make([]time.Time, len(groups))
		for i, g := range groups {
			users[i], keys[i], ats[i] = g.user, g.group, g.at
		}
		_, err := db.Statement.ConnPool.ExecContext(db.Statement.Context, `UPDATE end_users u SET group_key = x.g, group_at = x.t
			FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS x(id, g, t)
			WHERE u.id = x.id AND (u.group_at IS NULL OR u.group_at <= x.t)`, users, keys, ats)
		if err != nil {
			return fmt.Errorf("ingest: unable to record groups: %w", err)
		}
		return nil
	}
	for _, g := range groups {
		err := db.Exec("UPDATE end_users SET group_key = ?, group_at = ? WHERE id = ? AND (group_at IS NULL OR group_at <= ?)",
			g.group, g.at, g.user, g.at).Error
		if err != nil {
			return fmt.Errorf("ingest: unable to record group: %w", err)
		}
	}
	return nil
}

// updateTraits applies one identify call per user unless a later one is stored.
func updateTraits(db *gorm.DB, calls []traitUpdate) error {
	const set = `traits_at = x.t,
		email = CASE WHEN x.email <> '' THEN x.email ELSE end_users.email END,
		name = CASE WHEN x.name <> '' THEN x.name ELSE end_users.name END,
		department = CASE WHEN x.department <> '' THEN x.department ELSE end_users.department END,
		level = CASE WHEN x.level <> '' THEN x.level ELSE end_users.level END`
	if models.IsPostgres(db) {
		n := len(calls)
		users, ats := make([]int64, n), make([]time.Time, n)
		emails, names, depts, levels := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, c := range calls {
			users[i], ats[i], emails[i], names[i], depts[i], levels[i] = c.user, c.at, c.email, c.name, c.department, c.level
		}
		_, err := db.Statement.ConnPool.ExecContext(db.Statement.Context, `UPDATE end_users SET `+set+`
			FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[]) AS x(id, t, email, name, department, level)
			WHERE end_users.id = x.id AND (end_users.traits_at IS NULL OR end_users.traits_at <= x.t)`,
			users, ats, emails, names, depts, levels)
		if err != nil {
			return fmt.Errorf("ingest: unable to record traits: %w", err)
		}
		return nil
	}
	for _, c := range calls {
		err := db.Exec(`UPDATE end_users SET `+set+` FROM (SELECT ? AS t, ? AS email, ? AS name, ? AS department, ? AS level) AS x
			WHERE end_users.id = ? AND (end_users.traits_at IS NULL OR end_users.traits_at <= x.t)`,
			c.at, c.email, c.name, c.department, c.level, c.user).Error
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
