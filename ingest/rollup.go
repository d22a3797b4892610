package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"sightline/models"
)

// applyUsage is the second half of a group's transaction on SQLite: the end users of
// the new messages (created when unknown), their latest group and traits, and the
// rollup increments. It returns the end-user ids to remember once the transaction
// commits.
func (w *Writer) applyUsage(ctx context.Context, tx *gorm.DB, fresh []Message) (map[string]int64, error) {
	if len(fresh) == 0 {
		return nil, nil
	}
	db := tx.WithContext(ctx)
	ids, err := w.endUserIDs(db, fresh)
	if err != nil {
		return nil, err
	}
	if err := applyMembershipAndTraits(db, fresh, ids); err != nil {
		return nil, err
	}
	rollups := models.NewRollups()
	for _, m := range fresh {
		addToRollups(rollups, ids[m.UserKey], m)
	}
	if err := models.ApplyRollups(ctx, db, rollups); err != nil {
		return nil, err
	}
	if commitFault != nil {
		if err := commitFault(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// commitUsagePG is round trip 3 of commitPG: what the new messages add to the end
// users and the rollups, and COMMIT, pipelined.
func commitUsagePG(ctx context.Context, pc *pgx.Conn, fresh []Message, ids map[string]int64) error {
	b := &pgx.Batch{}
	if len(fresh) > 0 {
		rollups := models.NewRollups()
		for _, m := range fresh {
			addToRollups(rollups, ids[m.UserKey], m)
		}
		b.Queue(customPlans)
		for _, st := range membershipStatementsPG(membershipUpdates(fresh, ids)) {
			b.Queue(st.SQL, st.Args...)
		}
		b.Queue("SET LOCAL plan_cache_mode = auto")
		for _, st := range models.RollupStatementsPG(rollups) {
			b.Queue(st.SQL, st.Args...)
		}
	}
	if commitFault != nil {
		if err := commitFault(); err != nil {
			return err
		}
	}
	b.Queue("COMMIT")
	if err := pc.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("ingest: unable to update usage: %w", err)
	}
	if pc.PgConn().TxStatus() != 'I' {
		return fmt.Errorf("ingest: the group's transaction did not commit")
	}
	return nil
}

// customPlans makes PostgreSQL plan the end-user statements for their actual arrays:
// the generic plans it otherwise settles on after a few executions (made while
// end_users was small) scanned the whole table, which cost ten times more. The
// rollup statements keep their cached plans.
const customPlans = "SET LOCAL plan_cache_mode = force_custom_plan"

// commitFault, when set by a test, runs at the very end of each group's transaction;
// an error it returns aborts the transaction as a crash before COMMIT would.
var commitFault func() error

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

// cachedUsers returns the ids of the messages' users this writer knows, and the
// other users' keys (sorted, so concurrent writers lock in one order) with the time
// each was first seen.
func (w *Writer) cachedUsers(msgs []Message) (map[string]int64, []string, map[string]time.Time) {
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
	return ids, keys, first
}

// endUserIDs creates the users not seen before and returns every user's id by key
// (SQLite; PostgreSQL pipelines the same in commitPG).
func (w *Writer) endUserIDs(db *gorm.DB, msgs []Message) (map[string]int64, error) {
	ids, keys, first := w.cachedUsers(msgs)
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

// membershipUpdates decides each user's latest group and traits. "Latest" is by
// message timestamp, not arrival, so a late-arriving older call changes nothing.
// Identify calls are applied in timestamp order, one round per call of a user, so
// traits a later call leaves out keep the value an earlier one gave them, exactly
// as if each had arrived in a request of its own.
func membershipUpdates(msgs []Message, ids map[string]int64) ([]groupUpdate, [][]traitUpdate) {
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
	for _, key := range slices.Sorted(maps.Keys(latestGroup)) {
		g := latestGroup[key]
		groups = append(groups, groupUpdate{ids[key], g.GroupID, g.Timestamp})
	}
	var rounds [][]traitUpdate
	for _, key := range slices.Sorted(maps.Keys(identifies)) {
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
	return groups, rounds
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

// membershipStatementsPG are the PostgreSQL statements of membershipUpdates.
func membershipStatementsPG(groups []groupUpdate, rounds [][]traitUpdate) []models.Statement {
	var out []models.Statement
	if len(groups) > 0 {
		users, keys, ats := make([]int64, len(groups)), make([]string, len(groups)), make([]time.Time, len(groups))
		for i, g := range groups {
			users[i], keys[i], ats[i] = g.user, g.group, g.at
		}
		out = append(out, models.Statement{SQL: `UPDATE end_users u SET group_key = x.g, group_at = x.t
			FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS x(id, g, t)
			WHERE u.id = x.id AND (u.group_at IS NULL OR u.group_at <= x.t)`, Args: []any{users, keys, ats}})
	}
	for _, calls := range rounds {
		n := len(calls)
		users, ats := make([]int64, n), make([]time.Time, n)
		emails, names, depts, levels := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, c := range calls {
			users[i], ats[i], emails[i], names[i], depts[i], levels[i] = c.user, c.at, c.email, c.name, c.department, c.level
		}
		out = append(out, models.Statement{SQL: `UPDATE end_users SET ` + traitSet + `
			FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[]) AS x(id, t, email, name, department, level)
			WHERE end_users.id = x.id AND (end_users.traits_at IS NULL OR end_users.traits_at <= x.t)`,
			Args: []any{users, ats, emails, names, depts, levels}})
	}
	return out
}

// traitSet applies one identify call: traits it leaves out keep the stored value.
const traitSet = `traits_at = x.t,
		email = CASE WHEN x.email <> '' THEN x.email ELSE end_users.email END,
		name = CASE WHEN x.name <> '' THEN x.name ELSE end_users.name END,
		department = CASE WHEN x.department <> '' THEN x.department ELSE end_users.department END,
		level = CASE WHEN x.level <> '' THEN x.level ELSE end_users.level END`

// applyMembershipAndTraits runs membershipUpdates on SQLite, a row at a time (no round
// trips to save in process).
func applyMembershipAndTraits(db *gorm.DB, msgs []Message, ids map[string]int64) error {
	groups, rounds := membershipUpdates(msgs, ids)
	for _, g := range groups {
		err := db.Exec("UPDATE end_users SET group_key = ?, group_at = ? WHERE id = ? AND (group_at IS NULL OR group_at <= ?)",
			g.group, g.at, g.user, g.at).Error
		if err != nil {
			return fmt.Errorf("ingest: unable to record group: %w", err)
		}
	}
	for _, calls := range rounds {
		for _, c := range calls {
			err := db.Exec(`UPDATE end_users SET `+traitSet+` FROM (SELECT ? AS t, ? AS email, ? AS name, ? AS department, ? AS level) AS x
				WHERE end_users.id = ? AND (end_users.traits_at IS NULL OR end_users.traits_at <= x.t)`,
				c.at, c.email, c.name, c.department, c.level, c.user).Error
			if err != nil {
				return fmt.Errorf("ingest: unable to record traits: %w", err)
			}
		}
	}
	return nil
}
