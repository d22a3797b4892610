package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"

	"gorm.io/gorm"

	"sightline/models"
)

// applyUsage is the second half of a group's transaction on SQLite: the end users of
// the new messages (created when unknown), their latest group and traits, and the
// rollup increments. It returns the end-user ids to remember once the transaction
// commits.
func (w *Writer) applyUsage(ctx context.Context, tx *gorm.DB, fresh []*Message) (map[string]int64, error) {
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
	if err := models.ApplyRollups(ctx, db, rollupsOf(fresh, ids)); err != nil {
		return nil, err
	}
	return ids, injectedFault()
}

// usageStatementsPG are what the new messages add to the end users and the rollups
// on PostgreSQL. created are the users this transaction inserted.
func usageStatementsPG(fresh []*Message, ids map[string]int64, updates []userUpdate, created map[string]bool) []models.Statement {
	if len(fresh) == 0 {
		return nil
	}
	var out []models.Statement
	if st, ok := membershipStatementPG(updates, ids, created); ok {
		out = append(out, st)
	}
	// A user created here has an id nobody else has seen yet: no rollup row can hold it.
	createdIDs := make(map[int64]bool, len(created))
	for key := range created {
		createdIDs[ids[key]] = true
	}
	return append(out, models.RollupStatementsPG(rollupsOf(fresh, ids), func(user int64) bool { return createdIDs[user] })...)
}

// indexPlans keeps PostgreSQL from planning a scan of a whole table for the group's
// statements, which all probe a few rows by key: the generic plans it settles on
// after a few executions of a prepared statement, made while end_users was small,
// scanned all of it, at ten times the cost. Forcing custom plans instead cost a
// twelfth of PostgreSQL's time in planning; generic plans with index probes need
// none (TestGroupStatementsProbeByIndex).
const indexPlans = "SELECT set_config('enable_seqscan', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)"

// commitFault, when set by a test, runs inside each group's transaction before its
// last round trip (PostgreSQL) or at its very end (SQLite); an error it returns aborts
// the transaction as a crash before COMMIT would.
var commitFault func() error

func injectedFault() error {
	if commitFault == nil {
		return nil
	}
	return commitFault()
}

// rollupsOf is what the new messages add to the rollups.
func rollupsOf(fresh []*Message, ids map[string]int64) *models.Rollups {
	r := models.NewRollups()
	for _, m := range fresh {
		addToRollups(r, ids[m.UserKey], m)
	}
	return r
}

// countsAsUsage tells the messages SPEC §5 counts as usage: track and page.
func countsAsUsage(m *Message) bool { return m.Type == "track" || m.Type == "page" }

// addToRollups is what one new message adds to the rollups.
func addToRollups(r *models.Rollups, user int64, m *Message) {
	if !countsAsUsage(m) {
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
func (w *Writer) cachedUsers(msgs []*Message) (map[string]int64, []string, map[string]time.Time) {
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
func (w *Writer) endUserIDs(db *gorm.DB, msgs []*Message) (map[string]int64, error) {
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

// userUpdate is what a group's messages change on one end user: its latest group
// call, and its identify calls folded into one update. "Latest" is by message
// timestamp, not arrival, so a late-arriving older call changes nothing.
type userUpdate struct {
	key string

	group   string // "" when the group has no group call for the user
	groupAt time.Time

	identified bool      // the group has identify calls for the user
	traitsAt   time.Time // the latest one's timestamp
	// Each trait as the latest call that sent it ("" when none did), with that
	// call's timestamp.
	email, name, department, level         string
	emailAt, nameAt, departmentAt, levelAt time.Time
}

// membershipUpdates folds the new messages into one update per user. Applied with
// userUpdateSet it ends exactly where applying the calls one at a time, in timestamp
// order, would: a call older than the stored traits_at changes nothing, the others
// each set traits_at, and a trait a later call leaves out keeps the value an earlier
// one gave it. So a trait is applied when the call that sent it is not older than
// the stored traits_at (TestMembershipFoldMatchesOneByOne holds the two equal).
func membershipUpdates(msgs []*Message) []userUpdate {
	byUser := map[string]*userUpdate{}
	of := func(key string) *userUpdate {
		u := byUser[key]
		if u == nil {
			u = &userUpdate{key: key}
			byUser[key] = u
		}
		return u
	}
	// A call replaces an earlier one (zero time: none) unless it is older: on equal
	// timestamps the later one in the group wins, as one-by-one application would have it.
	for _, m := range msgs {
		if m.GroupID != "" {
			u := of(m.UserKey)
			if !m.Timestamp.Before(u.groupAt) {
				u.group, u.groupAt = m.GroupID, m.Timestamp
			}
		}
		if !m.HasTraits {
			continue
		}
		u := of(m.UserKey)
		if !m.Timestamp.Before(u.traitsAt) {
			u.traitsAt = m.Timestamp
		}
		u.identified = true
		level := m.Traits.Level
		if level != "" {
			level = models.NormalizeLevel(level)
		}
		for _, f := range []struct {
			v   string
			dst *string
			at  *time.Time
		}{{m.Traits.Email, &u.email, &u.emailAt}, {m.Traits.Name, &u.name, &u.nameAt},
			{m.Traits.Department, &u.department, &u.departmentAt}, {level, &u.level, &u.levelAt}} {
			if f.v != "" && !m.Timestamp.Before(*f.at) {
				*f.dst, *f.at = f.v, m.Timestamp
			}
		}
	}
	out := make([]userUpdate, 0, len(byUser))
	for _, key := range slices.Sorted(maps.Keys(byUser)) { // one lock order for every writer
		out = append(out, *byUser[key])
	}
	return out
}

// userUpdateSet and userUpdateWhere apply a userUpdate x to end_users (both
// dialects); every SET expression reads the row as it was before the update.
const (
	groupApplies  = `x.g <> '' AND (end_users.group_at IS NULL OR end_users.group_at <= x.gt)`
	traitsApplies = `(end_users.traits_at IS NULL OR end_users.traits_at <= %s)`
)

var userUpdateSet = `group_key = CASE WHEN ` + groupApplies + ` THEN x.g ELSE end_users.group_key END,
		group_at = CASE WHEN ` + groupApplies + ` THEN x.gt ELSE end_users.group_at END,
		traits_at = CASE WHEN x.identified AND ` + fmt.Sprintf(traitsApplies, "x.tt") + ` THEN x.tt ELSE end_users.traits_at END,
		email = CASE WHEN x.email <> '' AND ` + fmt.Sprintf(traitsApplies, "x.email_at") + ` THEN x.email ELSE end_users.email END,
		name = CASE WHEN x.name <> '' AND ` + fmt.Sprintf(traitsApplies, "x.name_at") + ` THEN x.name ELSE end_users.name END,
		department = CASE WHEN x.department <> '' AND ` + fmt.Sprintf(traitsApplies, "x.department_at") + ` THEN x.department ELSE end_users.department END,
		level = CASE WHEN x.level <> '' AND ` + fmt.Sprintf(traitsApplies, "x.level_at") + ` THEN x.level ELSE end_users.level END`

var userUpdateWhere = `((` + groupApplies + `) OR (x.identified AND ` + fmt.Sprintf(traitsApplies, "x.tt") + `))`

// userColumns are userUpdates as column arrays, for unnest on PostgreSQL.
type userColumns struct {
	groups, emails, names, depts, levels                      []string
	groupAts, traitsAts, emailAts, nameAts, deptAts, levelAts []time.Time
	identified                                                []bool
}

// columnsOf lays out one row per update (zero values for a nil one).
func columnsOf(rows []*userUpdate) userColumns {
	n := len(rows)
	c := userColumns{
		groups: make([]string, n), emails: make([]string, n), names: make([]string, n), depts: make([]string, n), levels: make([]string, n),
		groupAts: make([]time.Time, n), traitsAts: make([]time.Time, n), emailAts: make([]time.Time, n),
		nameAts: make([]time.Time, n), deptAts: make([]time.Time, n), levelAts: make([]time.Time, n),
		identified: make([]bool, n),
	}
	for i, u := range rows {
		if u == nil {
			continue
		}
		c.groups[i], c.groupAts[i], c.identified[i], c.traitsAts[i] = u.group, u.groupAt, u.identified, u.traitsAt
		c.emails[i], c.names[i], c.depts[i], c.levels[i] = u.email, u.name, u.department, u.level
		c.emailAts[i], c.nameAts[i], c.deptAts[i], c.levelAts[i] = u.emailAt, u.nameAt, u.departmentAt, u.levelAt
	}
	return c
}

// membershipStatementPG is membershipUpdates as one PostgreSQL statement, leaving out
// the users this transaction created (newUsersStatementPG gave them their values).
func membershipStatementPG(all []userUpdate, ids map[string]int64, created map[string]bool) (models.Statement, bool) {
	var rows []*userUpdate
	var users []int64
	for i, u := range all {
		if !created[u.key] {
			rows = append(rows, &all[i])
			users = append(users, ids[u.key])
		}
	}
	if len(rows) == 0 {
		return models.Statement{}, false
	}
	c := columnsOf(rows)
	return models.Statement{SQL: `UPDATE end_users SET ` + userUpdateSet + `
		FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::bool[], $5::timestamptz[],
			$6::text[], $7::timestamptz[], $8::text[], $9::timestamptz[], $10::text[], $11::timestamptz[], $12::text[], $13::timestamptz[])
			AS x(id, g, gt, identified, tt, email, email_at, name, name_at, department, department_at, level, level_at)
		WHERE end_users.id = x.id AND ` + userUpdateWhere,
		Args: []any{users, c.groups, c.groupAts, c.identified, c.traitsAts, c.emails, c.emailAts, c.names, c.nameAts, c.depts, c.deptAts, c.levels, c.levelAts}}, true
}

// newUsersStatementPG creates the users of keys not stored yet, first seen at
// first[key], with the group and traits of their update (if any): what
// membershipStatementPG would set on a new row. It returns the keys it created.
func newUsersStatementPG(keys []string, first map[string]time.Time, updates []userUpdate) models.Statement {
	byKey := make(map[string]*userUpdate, len(updates))
	for i := range updates {
		byKey[updates[i].key] = &updates[i]
	}
	firsts := make([]time.Time, len(keys))
	rows := make([]*userUpdate, len(keys))
	for i, k := range keys {
		firsts[i], rows[i] = first[k], byKey[k]
	}
	c := columnsOf(rows)
	// 'unknown' is the column's default level.
	return models.Statement{SQL: `INSERT INTO end_users (user_key, first_seen_at, last_seen_at, group_key, group_at, traits_at, email, name, department, level)
		SELECT k, f, $3, NULLIF(g, ''), CASE WHEN g <> '' THEN gt END, CASE WHEN identified THEN tt END,
			email, name, department, COALESCE(NULLIF(level, ''), 'unknown')
		FROM unnest($1::text[], $2::timestamptz[], $4::text[], $5::timestamptz[], $6::bool[], $7::timestamptz[],
			$8::text[], $9::text[], $10::text[], $11::text[]) AS x(k, f, g, gt, identified, tt, email, name, department, level)
		ON CONFLICT (user_key) DO NOTHING
		RETURNING user_key`,
		Args: []any{keys, firsts, time.Now().UTC(), c.groups, c.groupAts, c.identified, c.traitsAts, c.emails, c.names, c.depts, c.levels}}
}

// applyMembershipAndTraits runs membershipUpdates on SQLite, a user at a time (no
// round trips to save in process).
func applyMembershipAndTraits(db *gorm.DB, msgs []*Message, ids map[string]int64) error {
	for _, u := range membershipUpdates(msgs) {
		err := db.Exec(`UPDATE end_users SET `+userUpdateSet+`
			FROM (SELECT ? AS g, ? AS gt, ? AS identified, ? AS tt, ? AS email, ? AS email_at, ? AS name, ? AS name_at,
				? AS department, ? AS department_at, ? AS level, ? AS level_at) AS x
			WHERE end_users.id = ? AND `+userUpdateWhere,
			u.group, u.groupAt, u.identified, u.traitsAt, u.email, u.emailAt, u.name, u.nameAt,
			u.department, u.departmentAt, u.level, u.levelAt, ids[u.key]).Error
		if err != nil {
			return fmt.Errorf("ingest: unable to record group and traits: %w", err)
		}
	}
	return nil
}
