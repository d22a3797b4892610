package ingest

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"sightline/models"
)

// Monitor counts what arrives with each write key, for the Sources page: counts per
// day, the last messages and the refused requests. It keeps them in memory and adds
// them to the database (Store.AddSourceActivity) within FlushDelay of the first
// request since its last report, so ingestion gains no statement and no shared row
// lock, and an idle process runs nothing. Several processes each add their own
// counts. A crash loses at most the last FlushDelay of figures, never a message.
type Monitor struct {
	store *models.Store
	log   *slog.Logger
	// FlushDelay is how long counts wait in memory (1 s by default).
	FlushDelay time.Duration

	mu        sync.Mutex
	days      map[dayOfKey]*models.SourceDay
	tails     map[int64][]tailBatch // per key, oldest first, holding the newest SourceTailSize messages
	refusals  map[int64][]models.SourceRefusal
	scheduled bool
	flushing  sync.Mutex // one report at a time, in order
}

type dayOfKey struct {
	key int64
	day int
}

// tailBatch is an accepted request's messages, kept by reference (not copied) until
// the next report: the tail costs a request one slice header.
type tailBatch struct {
	msgs []Message
	at   time.Time
}

// maxTailPayload bounds the payload the tail keeps of a message.
const maxTailPayload = 8 << 10

// NewMonitor returns a monitor reporting to store.
func NewMonitor(store *models.Store, log *slog.Logger) *Monitor {
	return &Monitor{store: store, log: log, FlushDelay: time.Second}
}

// Accepted records a stored request: its messages (flagged Duplicate by Write) and
// what Write made of them.
func (m *Monitor) Accepted(keyID int64, msgs []Message, res Result, now time.Time) {
	if m == nil || keyID == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.day(keyID, now)
	d.Received += int64(len(msgs))
	d.Counted += int64(res.Counted)
	d.Stored += int64(res.Accepted - res.Counted)
	d.Duplicates += int64(res.Duplicates)
	if d.LastMessageAt == nil || now.After(*d.LastMessageAt) {
		t := now
		d.LastMessageAt = &t
	}
	if m.tails == nil {
		m.tails = map[int64][]tailBatch{}
	}
	tail := append(m.tails[keyID], tailBatch{msgs, now})
	// Drop the oldest batches the newer ones make unneeded.
	kept := 0
	for i := len(tail) - 1; i >= 0; i-- {
		if kept >= models.SourceTailSize {
			tail = append(tail[:0], tail[i+1:]...)
			break
		}
		kept += len(tail[i].msgs)
	}
	m.tails[keyID] = tail
	m.schedule()
}

// Refused records a request answered 4xx, with the messages it held (0 when unknown).
func (m *Monitor) Refused(keyID int64, r models.SourceRefusal, messages int) {
	if m == nil || keyID == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.day(keyID, r.ReceivedAt)
	d.RefusedRequests++
	d.RefusedMessages += int64(messages)
	if m.refusals == nil {
		m.refusals = map[int64][]models.SourceRefusal{}
	}
	r.WriteKeyID = keyID
	list := append(m.refusals[keyID], r)
	if over := len(list) - models.SourceTailSize; over > 0 {
		list = append(list[:0], list[over:]...)
	}
	m.refusals[keyID] = list
	m.schedule()
}

// RateLimited records a request answered 429.
func (m *Monitor) RateLimited(keyID int64, now time.Time) {
	if m == nil || keyID == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.day(keyID, now).RateLimited++
	m.schedule()
}

func (m *Monitor) day(keyID int64, now time.Time) *models.SourceDay {
	k := dayOfKey{keyID, int(now.Unix() / 86400)}
	if m.days == nil {
		m.days = map[dayOfKey]*models.SourceDay{}
	}
	d := m.days[k]
	if d == nil {
		d = &models.SourceDay{WriteKeyID: keyID, Day: k.day}
		m.days[k] = d
	}
	return d
}

// schedule arranges a report, once per FlushDelay; m.mu is held.
func (m *Monitor) schedule() {
	if !m.scheduled {
		m.scheduled = true
		time.AfterFunc(m.FlushDelay, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := m.Flush(ctx); err != nil {
				m.log.Warn("ingest: unable to report source activity", "err", err)
			}
		})
	}
}

// Flush reports what was recorded since the last report now.
func (m *Monitor) Flush(ctx context.Context) error {
	if m == nil {
		return nil
	}
	m.flushing.Lock()
	defer m.flushing.Unlock()
	m.mu.Lock()
	var a models.SourceActivity
	for _, d := range m.days {
		a.Days = append(a.Days, *d)
	}
	for keyID, tail := range m.tails {
		a.Messages = append(a.Messages, tailMessages(keyID, tail)...)
	}
	for _, list := range m.refusals {
		a.Refusals = append(a.Refusals, list...)
	}
	m.days, m.tails, m.refusals = nil, nil, nil
	m.scheduled = false
	m.mu.Unlock()
	return m.store.AddSourceActivity(ctx, a)
}

// tailMessages are a key's newest SourceTailSize messages, oldest first.
func tailMessages(keyID int64, tail []tailBatch) []models.SourceMessage {
	out := make([]models.SourceMessage, 0, models.SourceTailSize)
	for bi := len(tail) - 1; bi >= 0 && len(out) < models.SourceTailSize; bi-- {
		b := tail[bi]
		for i := len(b.msgs) - 1; i >= 0 && len(out) < models.SourceTailSize; i-- {
			msg := &b.msgs[i]
			out = append(out, models.SourceMessage{
				WriteKeyID: keyID, ReceivedAt: b.at, Type: msg.Type, Event: msg.Event, UserKey: msg.UserKey,
				GroupKey: msg.GroupID, MessageID: msg.MessageID, Timestamp: msg.Timestamp,
				Duplicate: msg.Duplicate, Payload: truncate(msg.Payload, maxTailPayload),
			})
		}
	}
	slices.Reverse(out)
	return out
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	// Cut on a character boundary: PostgreSQL refuses invalid UTF-8.
	return strings.ToValidUTF8(string(b[:n]), "") + "…"
}
