package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"sightline/models"
)

// applyUsage is the second half of a group's transaction: the end users of the new
// messages (created when unknown), their latest group and traits, and the rollup
// increments, all in large statements over the whole group. It returns the end-user
// ids to remember once the transaction commits.
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
