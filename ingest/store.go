package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// Store writes a request's messages exactly once. Everything happens in one
// transaction: the raw messages (whose unique messageId makes retries no-ops), the
// end users, their latest traits and account, and the rollup increments of the
// messages that were new. The caller acknowledges only after it returns nil.
func Store(ctx context.Context, store *models.Store, msgs []Message, writeKeyID int64) (Result, error) {
	var res Result
	var err error
	// Two writers racing on the same rows can deadlock on PostgreSQL; one of them is
	// rolled back and simply tried again.
	for attempt := 0; attempt < 4; attempt++ {
		err = store.Transaction(ctx, func(tx *gorm.DB) error {
			res, err = write(ctx, tx, msgs, writeKeyID)
			return err
		})
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
		return pgErr.Code == "40P01" || pgErr.Code == "40001" // deadlock, serialization failure
	}
	return false
}

func write(ctx context.Context, tx *gorm.DB, msgs []Message, writeKeyID int64) (Result, error) {
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
		return res, err
	}
	res.Duplicates += len(unique) - len(fresh)
	res.Accepted = len(fresh)
	if len(fresh) == 0 {
		return res, nil
	}
	ids, err := endUserIDs(db, fresh)
	if err != nil {
		return res, err
	}
	if err := applyMembershipAndTraits(db, fresh, ids); err != nil {
		return res, err
	}
	r := models.NewRollups()
	for _, m := range fresh {
		addToRollups(r, ids[m.UserKey], m)
	}
	if err := models.ApplyRollups(ctx, tx, r); err != nil {
		return res, err
	}
	return res, nil
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
	for part := range slices.Chunk(msgs, chunk) {
		var sb strings.Builder
		args := make([]any, 0, len(part)*9)
		sb.WriteString("INSERT INTO usage_messages (message_id, type, user_key, event, group_key, ts, received_at, write_key_id, payload) VALUES ")
		for i, m := range part {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?,?,?,?,?,?,?)")
			args = append(args, m.MessageID, m.Type, m.UserKey, m.Event, m.GroupID, m.Timestamp, now, wk, string(m.Payload))
		}
		sb.WriteString(" ON CONFLICT (message_id) DO NOTHING RETURNING message_id")
		var inserted []string
		if err := db.Raw(sb.String(), args...).Scan(&inserted).Error; err != nil {
			return nil, fmt.Errorf("ingest: unable to store messages: %w", err)
		}
		for _, id := range inserted {
			fresh = append(fresh, byID[id])
		}
	}
	slices.SortFunc(fresh, func(a, b Message) int { return strings.Compare(a.MessageID, b.MessageID) })
	return fresh, nil
}

// endUserIDs creates the users not seen before and returns every user's id by key.
func endUserIDs(db *gorm.DB, msgs []Message) (map[string]int64, error) {
	var keys []string
	first := map[string]time.Time{}
	for _, m := range msgs {
		if t, ok := first[m.UserKey]; !ok {
			keys = append(keys, m.UserKey)
			first[m.UserKey] = m.Timestamp
		} else if m.Timestamp.Before(t) {
			first[m.UserKey] = m.Timestamp
		}
	}
	slices.Sort(keys)
	now := time.Now().UTC()
	ids := make(map[string]int64, len(keys))
	for part := range slices.Chunk(keys, chunk) {
		var sb strings.Builder
		args := make([]any, 0, len(part)*3)
		sb.WriteString("INSERT INTO end_users (user_key, first_seen_at, last_seen_at) VALUES ")
		for i, k := range part {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?)")
			args = append(args, k, first[k], now)
		}
		sb.WriteString(" ON CONFLICT (user_key) DO NOTHING")
		if err := db.Exec(sb.String(), args...).Error; err != nil {
			return nil, fmt.Errorf("ingest: unable to create end users: %w", err)
		}
		var rows []struct {
			ID      int64
			UserKey string
		}
		if err := db.Raw("SELECT id, user_key FROM end_users WHERE user_key IN ?", part).Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("ingest: unable to read end users: %w", err)
		}
		for _, r := range rows {
			ids[r.UserKey] = r.ID
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
