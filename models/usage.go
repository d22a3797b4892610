package models

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Levels of seniority a user's identify traits may carry; anything else is "unknown".
var Levels = []string{"executive", "manager", "individual", "unknown"}

// NormalizeLevel maps a trait value onto Levels.
func NormalizeLevel(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if oneOf(s, Levels) {
		return s
	}
	return "unknown"
}

// EndUser is a person using the vendor's product.
type EndUser struct {
	ID          int64      `gorm:"column:id;primaryKey"`
	UserKey     string     `gorm:"column:user_key"`
	GroupKey    *string    `gorm:"column:group_key"`
	GroupAt     *time.Time `gorm:"column:group_at"`
	Email       string     `gorm:"column:email"`
	Name        string     `gorm:"column:name"`
	Department  string     `gorm:"column:department"`
	Level       string     `gorm:"column:level"`
	TraitsAt    *time.Time `gorm:"column:traits_at"`
	FirstSeenAt time.Time  `gorm:"column:first_seen_at"`
	LastSeenAt  time.Time  `gorm:"column:last_seen_at"`
}

// TableName maps the struct to its table.
func (EndUser) TableName() string { return "end_users" }

// EpochDay is the UTC day of a moment, as days since 1970-01-01.
func EpochDay(t time.Time) int {
	u := t.Unix()
	if u < 0 {
		return int((u - 86399) / 86400)
	}
	return int(u / 86400)
}

// Rollup rows. Each is an increment: applying it adds to what is stored.
type (
	// UserDay counts a user's track and page messages on a day and the UTC hours they fell in.
	UserDay struct {
		EndUserID int64
		Day       int
		Messages  int
		HoursMask int // bit h set: active in hour h (0–23)
	}
	// UserEventDay counts one track event name for a user on a day.
	UserEventDay struct {
		EndUserID       int64
		Day             int
		EventName       string
		Events          int
		DurationSeconds float64 // sum of properties.duration_seconds
	}
	// UserMeterDay sums "Usage Reported" quantities of one meter for a user on a day.
	UserMeterDay struct {
		EndUserID int64
		Day       int
		Meter     string
		Quantity  float64
	}
	// UserDeviceDay records that a user used a device on a day.
	UserDeviceDay struct {
		EndUserID int64
		Day       int
		DeviceID  string
	}
)

type userDayKey struct {
	user int64
	day  int
}
type userDayNameKey struct {
	user int64
	day  int
	name string
}

// Rollups accumulates the increments of many messages before one bulk write.
// It is the single place that decides what a usage message adds to the rollups;
// ingestion and the demo generator both go through it.
type Rollups struct {
	days    map[userDayKey]*UserDay
	events  map[userDayNameKey]*UserEventDay
	meters  map[userDayNameKey]*UserMeterDay
	devices map[userDayNameKey]struct{}
}

// NewRollups returns an empty accumulator.
func NewRollups() *Rollups {
	return &Rollups{
		days:    map[userDayKey]*UserDay{},
		events:  map[userDayNameKey]*UserEventDay{},
		meters:  map[userDayNameKey]*UserMeterDay{},
		devices: map[userDayNameKey]struct{}{},
	}
}

// Len is the number of rows the rollups will write.
func (r *Rollups) Len() int { return len(r.days) + len(r.events) + len(r.meters) + len(r.devices) }

// AddActivity counts one track or page message.
func (r *Rollups) AddActivity(user int64, at time.Time) {
	at = at.UTC()
	k := userDayKey{user, EpochDay(at)}
	d := r.days[k]
	if d == nil {
		d = &UserDay{EndUserID: user, Day: k.day}
		r.days[k] = d
	}
	d.Messages++
	d.HoursMask |= 1 << at.Hour()
}

// AddEvent counts one track event by name, with its duration_seconds property (0 if none).
func (r *Rollups) AddEvent(user int64, at time.Time, name string, durationSeconds float64) {
	k := userDayNameKey{user, EpochDay(at), name}
	e := r.events[k]
	if e == nil {
		e = &UserEventDay{EndUserID: user, Day: k.day, EventName: name}
		r.events[k] = e
	}
	e.Events++
	e.DurationSeconds += durationSeconds
}

// AddMeter adds a reported quantity of a meter.
func (r *Rollups) AddMeter(user int64, at time.Time, meter string, quantity float64) {
	k := userDayNameKey{user, EpochDay(at), meter}
	m := r.meters[k]
	if m == nil {
		m = &UserMeterDay{EndUserID: user, Day: k.day, Meter: meter}
		r.meters[k] = m
	}
	m.Quantity += quantity
}

// AddDevice records a device id seen.
func (r *Rollups) AddDevice(user int64, at time.Time, deviceID string) {
	r.devices[userDayNameKey{user, EpochDay(at), deviceID}] = struct{}{}
}

// Rows returns the accumulated rows, sorted by key so concurrent writers lock rows
// in the same order (no deadlocks on PostgreSQL).
func (r *Rollups) Rows() ([]UserDay, []UserEventDay, []UserMeterDay, []UserDeviceDay) {
	days := make([]UserDay, 0, len(r.days))
	for _, d := range r.days {
		days = append(days, *d)
	}
	slices.SortFunc(days, func(a, b UserDay) int {
		return cmp.Or(cmp.Compare(a.EndUserID, b.EndUserID), cmp.Compare(a.Day, b.Day))
	})
	events := make([]UserEventDay, 0, len(r.events))
	for _, e := range r.events {
		events = append(events, *e)
	}
	slices.SortFunc(events, func(a, b UserEventDay) int {
		return cmp.Or(cmp.Compare(a.EndUserID, b.EndUserID), cmp.Compare(a.Day, b.Day), strings.Compare(a.EventName, b.EventName))
	})
	meters := make([]UserMeterDay, 0, len(r.meters))
	for _, m := range r.meters {
		meters = append(meters, *m)
	}
	slices.SortFunc(meters, func(a, b UserMeterDay) int {
		return cmp.Or(cmp.Compare(a.EndUserID, b.EndUserID), cmp.Compare(a.Day, b.Day), strings.Compare(a.Meter, b.Meter))
	})
	devices := make([]UserDeviceDay, 0, len(r.devices))
	for k := range r.devices {
		devices = append(devices, UserDeviceDay{EndUserID: k.user, Day: k.day, DeviceID: k.name})
	}
	slices.SortFunc(devices, func(a, b UserDeviceDay) int {
		return cmp.Or(cmp.Compare(a.EndUserID, b.EndUserID), cmp.Compare(a.Day, b.Day), strings.Compare(a.DeviceID, b.DeviceID))
	})
	return days, events, meters, devices
}

// rollupChunk bounds the rows of one multi-row statement on SQLite, whose driver binds
// each parameter by a scan of them all: a statement's cost grows with the square of its
// parameters, so short statements are faster (see sqliteParams).
const rollupChunk = sqliteParams / 5

// ApplyRollups adds the accumulated increments to the stored rollups inside tx.
func ApplyRollups(ctx context.Context, tx *gorm.DB, r *Rollups) error {
	if IsPostgres(tx) {
		for _, st := range RollupStatementsPG(r, nil) {
			if _, err := tx.Statement.ConnPool.ExecContext(ctx, st.SQL, st.Args...); err != nil {
				return fmt.Errorf("store: unable to update usage rollups: %w", err)
			}
		}
		return nil
	}
	days, events, meters, devices := r.Rows()
	for part := range slices.Chunk(days, rollupChunk) {
		b := NewBulk(tx, "INSERT INTO usage_user_days (end_user_id, day, messages, hours_mask) VALUES ")
		for _, d := range part {
			b.Row(d.EndUserID, d.Day, d.Messages, d.HoursMask)
		}
		b.SQL(" ON CONFLICT (end_user_id, day) DO UPDATE SET" +
			" messages = usage_user_days.messages + excluded.messages," +
			" hours_mask = usage_user_days.hours_mask | excluded.hours_mask")
		if _, err := b.Exec(ctx, tx); err != nil {
			return fmt.Errorf("store: unable to update daily usage: %w", err)
		}
	}
	for part := range slices.Chunk(events, rollupChunk) {
		b := NewBulk(tx, "INSERT INTO usage_user_event_days (end_user_id, day, event_name, events, duration_seconds) VALUES ")
		for _, e := range part {
			b.Row(e.EndUserID, e.Day, e.EventName, e.Events, e.DurationSeconds)
		}
		b.SQL(" ON CONFLICT (end_user_id, day, event_name) DO UPDATE SET" +
			" events = usage_user_event_days.events + excluded.events," +
			" duration_seconds = usage_user_event_days.duration_seconds + excluded.duration_seconds")
		if _, err := b.Exec(ctx, tx); err != nil {
			return fmt.Errorf("store: unable to update event usage: %w", err)
		}
	}
	for part := range slices.Chunk(meters, rollupChunk) {
		b := NewBulk(tx, "INSERT INTO usage_user_meter_days (end_user_id, day, meter, quantity) VALUES ")
		for _, m := range part {
			b.Row(m.EndUserID, m.Day, m.Meter, m.Quantity)
		}
		b.SQL(" ON CONFLICT (end_user_id, day, meter) DO UPDATE SET" +
			" quantity = usage_user_meter_days.quantity + excluded.quantity")
		if _, err := b.Exec(ctx, tx); err != nil {
			return fmt.Errorf("store: unable to update metered usage: %w", err)
		}
	}
	for part := range slices.Chunk(devices, rollupChunk) {
		b := NewBulk(tx, "INSERT INTO usage_user_device_days (end_user_id, day, device_id) VALUES ")
		for _, d := range part {
			b.Row(d.EndUserID, d.Day, d.DeviceID)
		}
		b.SQL(" ON CONFLICT (end_user_id, day, device_id) DO NOTHING")
		if _, err := b.Exec(ctx, tx); err != nil {
			return fmt.Errorf("store: unable to update device usage: %w", err)
		}
	}
	return nil
}

// IsPostgres tells whether a transaction runs on PostgreSQL.
func IsPostgres(tx *gorm.DB) bool { return tx.Dialector.Name() == "postgres" }

// Statement is one SQL statement with its arguments, for callers that pipeline
// several in one round trip.
type Statement struct {
	SQL  string
	Args []any
}

// RollupStatementsPG returns the PostgreSQL statements that add r to the stored
// rollups. Each rollup goes as column arrays unnested server-side: a few parameters
// however many rows, so PostgreSQL parses and plans a tiny statement instead of one
// with thousands of placeholders.
//
// newUser tells the users the caller's transaction created (nil: none), who can have
// no rollup rows yet: their rows are inserted without ON CONFLICT, whose speculative
// insertion costs PostgreSQL an extra index probe and WAL record a row, about a fifth
// of the statement.
func RollupStatementsPG(r *Rollups, newUser func(user int64) bool) []Statement {
	days, events, meters, devices := r.Rows()
	isNew := func(user int64) bool { return newUser != nil && newUser(user) }
	var out []Statement
	for _, part := range partition(days, func(d UserDay) bool { return isNew(d.EndUserID) }) {
		users, ds, msgs, masks := make([]int64, len(part.rows)), make([]int32, len(part.rows)), make([]int32, len(part.rows)), make([]int32, len(part.rows))
		for i, d := range part.rows {
			users[i], ds[i], msgs[i], masks[i] = d.EndUserID, int32(d.Day), int32(d.Messages), int32(d.HoursMask)
		}
		out = append(out, Statement{`INSERT INTO usage_user_days (end_user_id, day, messages, hours_mask)
			SELECT * FROM unnest($1::bigint[], $2::int[], $3::int[], $4::int[])` + part.unless(`
			ON CONFLICT (end_user_id, day) DO UPDATE SET
				messages = usage_user_days.messages + excluded.messages,
				hours_mask = usage_user_days.hours_mask | excluded.hours_mask`), []any{users, ds, msgs, masks}})
	}
	for _, part := range partition(events, func(e UserEventDay) bool { return isNew(e.EndUserID) }) {
		n := len(part.rows)
		users, ds, names, counts, durs := make([]int64, n), make([]int32, n), make([]string, n), make([]int32, n), make([]float64, n)
		for i, e := range part.rows {
			users[i], ds[i], names[i], counts[i], durs[i] = e.EndUserID, int32(e.Day), e.EventName, int32(e.Events), e.DurationSeconds
		}
		out = append(out, Statement{`INSERT INTO usage_user_event_days (end_user_id, day, event_name, events, duration_seconds)
			SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::float8[])` + part.unless(`
			ON CONFLICT (end_user_id, day, event_name) DO UPDATE SET
				events = usage_user_event_days.events + excluded.events,
				duration_seconds = usage_user_event_days.duration_seconds + excluded.duration_seconds`), []any{users, ds, names, counts, durs}})
	}
	for _, part := range partition(meters, func(m UserMeterDay) bool { return isNew(m.EndUserID) }) {
		n := len(part.rows)
		users, ds, names, qty := make([]int64, n), make([]int32, n), make([]string, n), make([]float64, n)
		for i, m := range part.rows {
			users[i], ds[i], names[i], qty[i] = m.EndUserID, int32(m.Day), m.Meter, m.Quantity
		}
		out = append(out, Statement{`INSERT INTO usage_user_meter_days (end_user_id, day, meter, quantity)
			SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::float8[])` + part.unless(`
			ON CONFLICT (end_user_id, day, meter) DO UPDATE SET
				quantity = usage_user_meter_days.quantity + excluded.quantity`), []any{users, ds, names, qty}})
	}
	for _, part := range partition(devices, func(d UserDeviceDay) bool { return isNew(d.EndUserID) }) {
		n := len(part.rows)
		users, ds, ids := make([]int64, n), make([]int32, n), make([]string, n)
		for i, d := range part.rows {
			users[i], ds[i], ids[i] = d.EndUserID, int32(d.Day), d.DeviceID
		}
		out = append(out, Statement{`INSERT INTO usage_user_device_days (end_user_id, day, device_id)
			SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[])` + part.unless(`
			ON CONFLICT (end_user_id, day, device_id) DO NOTHING`), []any{users, ds, ids}})
	}
	return out
}

// rowsPart is the rows of one rollup statement: all new (no ON CONFLICT) or not.
type rowsPart[T any] struct {
	rows  []T
	fresh bool
}

// unless returns the conflict clause, or nothing for new rows.
func (p rowsPart[T]) unless(onConflict string) string {
	if p.fresh {
		return ""
	}
	return onConflict
}

// partition splits rows (in order) into the new ones and the others, leaving out an
// empty part.
func partition[T any](rows []T, isNew func(T) bool) []rowsPart[T] {
	var fresh, other []T
	for _, r := range rows {
		if isNew(r) {
			fresh = append(fresh, r)
		} else {
			other = append(other, r)
		}
	}
	var out []rowsPart[T]
	if len(fresh) > 0 {
		out = append(out, rowsPart[T]{fresh, true})
	}
	if len(other) > 0 {
		out = append(out, rowsPart[T]{other, false})
	}
	return out
}

// Transaction runs fn in one database transaction, for writers that span entities.
func (s *Store) Transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.tx(ctx, fn)
}
