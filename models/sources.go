package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ParseOrigins reads a list of browser origins separated by commas or spaces and
// returns it in its stored form (lower case, space-separated, no repeats). An origin
// is scheme://host[:port] with no path; "https://*.example.com" allows every
// subdomain of example.com (not example.com itself).
func ParseOrigins(list string) (string, error) {
	var out []string
	for _, o := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		o = strings.ToLower(strings.TrimSuffix(o, "/"))
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return "", fmt.Errorf("%q is not an origin: write it as https://app.example.com (scheme and host, no path)", o)
		}
		host := u.Hostname()
		if strings.Contains(strings.TrimPrefix(host, "*."), "*") || host == "*." {
			return "", fmt.Errorf("%q: a wildcard may only open the host, as in https://*.example.com", o)
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return strings.Join(out, " "), nil
}

// AllowsOrigin tells whether a browser request from origin may use the key. A request
// without an Origin header (a server SDK, curl) is not a browser's and is allowed:
// the list keeps other sites' pages from sending with a key published in a product's
// page, which is all an origin can prove.
func (k *WriteKey) AllowsOrigin(origin string) bool {
	if k.AllowedOrigins == "" || origin == "" {
		return true
	}
	origin = strings.ToLower(origin)
	for _, allowed := range strings.Fields(k.AllowedOrigins) {
		if allowed == origin {
			return true
		}
		// https://*.example.com matches https://app.example.com[:port as written].
		scheme, host, ok := strings.Cut(allowed, "://*.")
		if ok && strings.HasPrefix(origin, scheme+"://") {
			rest := strings.TrimPrefix(origin, scheme+"://")
			if strings.HasSuffix(rest, "."+host) && len(rest) > len(host)+1 {
				return true
			}
		}
	}
	return false
}

// TakeIngestRequest counts one request of a rate-limited key in the current UTC
// minute, shared by every process through the database, and tells whether it is
// within the limit; when not, retryAfter is the wait until the next minute.
func (s *Store) TakeIngestRequest(ctx context.Context, keyID int64, limit int, now time.Time) (ok bool, retryAfter time.Duration, err error) {
	minute := now.Unix() / 60
	var n int
	err = s.SQL().QueryRowContext(ctx, `INSERT INTO ingest_rate_windows (write_key_id, minute, requests) VALUES ($1, $2, 1)
		ON CONFLICT (write_key_id, minute) DO UPDATE SET requests = ingest_rate_windows.requests + 1
		RETURNING requests`, keyID, minute).Scan(&n)
	if err != nil {
		return false, 0, fmt.Errorf("store: unable to count an ingest request: %w", err)
	}
	if n == 1 {
		// A new minute: the old ones are no longer read.
		s.SQL().ExecContext(ctx, `DELETE FROM ingest_rate_windows WHERE write_key_id = $1 AND minute < $2`, keyID, minute-1)
	}
	if n <= limit {
		return true, 0, nil
	}
	return false, time.Unix((minute+1)*60, 0).Sub(now), nil
}

// SourceDay is what arrived with one write key on one UTC day.
type SourceDay struct {
	WriteKeyID int64 `gorm:"column:write_key_id;primaryKey"`
	Day        int   `gorm:"column:day;primaryKey"` // epoch day
	// Received counts the messages of accepted requests: Counted (new track and
	// page), Stored (other new messages) and Duplicates (seen before, not counted).
	Received, Counted, Stored, Duplicates int64
	// RefusedRequests were answered 4xx (bad messages, limits, origin), with
	// RefusedMessages in them; RateLimited requests were answered 429.
	RefusedRequests, RefusedMessages, RateLimited int64
	LastMessageAt                                 *time.Time `gorm:"column:last_message_at"`
}

// TableName maps the struct to its table.
func (SourceDay) TableName() string { return "source_days" }

// SourceMessage is one message of the live tail.
type SourceMessage struct {
	ID         int64     `gorm:"column:id;primaryKey"`
	WriteKeyID int64     `gorm:"column:write_key_id"`
	ReceivedAt time.Time `gorm:"column:received_at"`
	Type       string    `gorm:"column:type"`
	Event      string    `gorm:"column:event"`
	UserKey    string    `gorm:"column:user_key"`
	GroupKey   string    `gorm:"column:group_key"`
	MessageID  string    `gorm:"column:message_id"`
	Timestamp  time.Time `gorm:"column:ts"`
	Duplicate  bool      `gorm:"column:duplicate"`
	Payload    string    `gorm:"column:payload"`
}

// TableName maps the struct to its table.
func (SourceMessage) TableName() string { return "source_messages" }

// SourceRefusal is one refused request of a write key.
type SourceRefusal struct {
	ID         int64     `gorm:"column:id;primaryKey"`
	WriteKeyID int64     `gorm:"column:write_key_id"`
	ReceivedAt time.Time `gorm:"column:received_at"`
	Status     int       `gorm:"column:status"`
	Path       string    `gorm:"column:path"`
	Origin     string    `gorm:"column:origin"`
	Error      string    `gorm:"column:error"`
	// Problems is a JSON list of {"index", "reason"}, one per bad message.
	Problems string `gorm:"column:problems"`
}

// TableName maps the struct to its table.
func (SourceRefusal) TableName() string { return "source_refusals" }

// SourceProblem is one bad message of a refused request.
type SourceProblem struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// ProblemList decodes Problems.
func (r SourceRefusal) ProblemList() []SourceProblem {
	var ps []SourceProblem
	json.Unmarshal([]byte(r.Problems), &ps)
	return ps
}

// SourceTailSize is how many messages and refusals are kept per write key.
const SourceTailSize = 50

// SourceActivity is what a process saw arrive since it last reported.
type SourceActivity struct {
	Days     []SourceDay // deltas to add
	Messages []SourceMessage
	Refusals []SourceRefusal
}

// AddSourceActivity adds a process's counts to the totals and keeps the newest
// messages and refusals of each key, in one transaction.
func (s *Store) AddSourceActivity(ctx context.Context, a SourceActivity) error {
	if len(a.Days) == 0 && len(a.Messages) == 0 && len(a.Refusals) == 0 {
		return nil
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, d := range a.Days {
			err := tx.Exec(`INSERT INTO source_days (write_key_id, day, received, counted, stored, duplicates,
					refused_requests, refused_messages, rate_limited, last_message_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (write_key_id, day) DO UPDATE SET
					received = source_days.received + excluded.received,
					counted = source_days.counted + excluded.counted,
					stored = source_days.stored + excluded.stored,
					duplicates = source_days.duplicates + excluded.duplicates,
					refused_requests = source_days.refused_requests + excluded.refused_requests,
					refused_messages = source_days.refused_messages + excluded.refused_messages,
					rate_limited = source_days.rate_limited + excluded.rate_limited,
					last_message_at = CASE WHEN source_days.last_message_at IS NULL
						OR source_days.last_message_at < excluded.last_message_at
						THEN excluded.last_message_at ELSE source_days.last_message_at END`,
				d.WriteKeyID, d.Day, d.Received, d.Counted, d.Stored, d.Duplicates,
				d.RefusedRequests, d.RefusedMessages, d.RateLimited, d.LastMessageAt).Error
			if err != nil {
				return err
			}
		}
		keys := map[int64]bool{}
		if len(a.Messages) > 0 {
			if err := tx.CreateInBatches(a.Messages, 100).Error; err != nil {
				return err
			}
			for _, m := range a.Messages {
				if !keys[m.WriteKeyID] {
					keys[m.WriteKeyID] = true
					if err := trimTail(tx, "source_messages", m.WriteKeyID); err != nil {
						return err
					}
				}
			}
		}
		if len(a.Refusals) > 0 {
			if err := tx.CreateInBatches(a.Refusals, 100).Error; err != nil {
				return err
			}
			clear(keys)
			for _, r := range a.Refusals {
				if !keys[r.WriteKeyID] {
					keys[r.WriteKeyID] = true
					if err := trimTail(tx, "source_refusals", r.WriteKeyID); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		// A key revoked and deleted meanwhile fails the foreign key: nothing to keep.
		return fmt.Errorf("store: unable to add source activity: %w", err)
	}
	return nil
}

// trimTail keeps a key's newest SourceTailSize rows of a tail table.
func trimTail(tx *gorm.DB, table string, keyID int64) error {
	return tx.Exec(`DELETE FROM `+table+` WHERE write_key_id = ? AND id <= (
		SELECT id FROM `+table+` WHERE write_key_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
		keyID, keyID, SourceTailSize).Error
}

// SourceSummary is what the Sources page shows for one key.
type SourceSummary struct {
	Today, Week   SourceDay // Week: the 7 days ending today, summed
	LastMessageAt *time.Time
}

// SourceSummaries returns every key's figures for today and the 7 days ending today.
func (s *Store) SourceSummaries(ctx context.Context, today Date) (map[int64]SourceSummary, error) {
	var days []SourceDay
	t := today.EpochDay()
	if err := s.db.WithContext(ctx).Where("day > ? AND day <= ?", t-7, t).Find(&days).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read source days: %w", err)
	}
	out := map[int64]SourceSummary{}
	for _, d := range days {
		sum := out[d.WriteKeyID]
		if d.Day == t {
			sum.Today = d
		}
		w := &sum.Week
		w.WriteKeyID = d.WriteKeyID
		w.Received += d.Received
		w.Counted += d.Counted
		w.Stored += d.Stored
		w.Duplicates += d.Duplicates
		w.RefusedRequests += d.RefusedRequests
		w.RefusedMessages += d.RefusedMessages
		w.RateLimited += d.RateLimited
		if d.LastMessageAt != nil && (sum.LastMessageAt == nil || d.LastMessageAt.After(*sum.LastMessageAt)) {
			sum.LastMessageAt = d.LastMessageAt
		}
		out[d.WriteKeyID] = sum
	}
	// A key quiet for a week still shows when it last sent.
	var last []struct {
		WriteKeyID int64
		Last       *time.Time
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT write_key_id, max(last_message_at) AS last FROM source_days
		WHERE day <= ? - 7 GROUP BY write_key_id`, t).Scan(&last).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read source days: %w", err)
	}
	for _, l := range last {
		sum := out[l.WriteKeyID]
		if sum.LastMessageAt == nil && l.Last != nil {
			sum.LastMessageAt = l.Last
			out[l.WriteKeyID] = sum
		}
	}
	return out, nil
}

// SourceTail returns a key's newest messages and refusals, newest first.
func (s *Store) SourceTail(ctx context.Context, keyID int64) ([]SourceMessage, []SourceRefusal, error) {
	var msgs []SourceMessage
	var refusals []SourceRefusal
	db := s.db.WithContext(ctx)
	if err := db.Where("write_key_id = ?", keyID).Order("id DESC").Limit(SourceTailSize).Find(&msgs).Error; err != nil {
		return nil, nil, fmt.Errorf("store: unable to read source messages: %w", err)
	}
	if err := db.Where("write_key_id = ?", keyID).Order("id DESC").Limit(SourceTailSize).Find(&refusals).Error; err != nil {
		return nil, nil, fmt.Errorf("store: unable to read source refusals: %w", err)
	}
	return msgs, refusals, nil
}

// WriteKeyByID returns a key, live or revoked.
func (s *Store) WriteKeyByID(ctx context.Context, id int64) (*WriteKey, error) {
	var k WriteKey
	if err := s.db.WithContext(ctx).Take(&k, id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("store: unable to read write key: %w", err)
	}
	return &k, nil
}
