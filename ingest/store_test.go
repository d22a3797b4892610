package ingest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"sightline/ingest"
	"sightline/models"
	"sightline/models/dbtest"
)

// FuzzIngestIsAllOrNothing sends a valid message together with a fuzzed one: either
// the batch is refused and nothing at all is stored, or both are stored.
func FuzzIngestIsAllOrNothing(f *testing.F) {
	f.Add(`{"type":"track","userId":"u2","event":"x","messageId":"m2"}`)
	f.Add(`{"type":"track","userId":"u2"}`)
	f.Add(`{"type":"group","userId":"u2","groupId":"g","context":{"device":{"id":5}}}`)
	f.Add(`{"type":"identify","anonymousId":"a","traits":{"level":[]}}`)
	store := dbtest.SQLite(f)
	now := time.Now().UTC()
	f.Fuzz(func(t *testing.T, fuzzed string) {
		store.DB().Exec("DELETE FROM usage_messages")
		body := []byte(`{"batch":[{"type":"track","userId":"u1","event":"Signed In","messageId":"good-one"},` + fuzzed + `]}`)
		msgs, err := ingest.ParseBatch(body, now)
		var rerr *ingest.RequestError
		if errors.As(err, &rerr) {
			return // refused before any write
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.Store(context.Background(), store, msgs, 0); err != nil {
			t.Fatalf("valid batch not stored: %v", err)
		}
		var n int
		store.DB().Raw("SELECT count(*) FROM usage_messages").Scan(&n)
		distinct := map[string]bool{}
		for _, m := range msgs {
			distinct[m.MessageID] = true
		}
		if n != len(distinct) {
			t.Fatalf("stored %d of %d messages", n, len(distinct))
		}
	})
}

func TestPruneRawKeepsRollups(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, store *models.Store) {
		msgs, err := ingest.ParseBatch([]byte(`{"batch":[{"type":"track","userId":"u","event":"x","messageId":"old"},{"type":"track","userId":"u","event":"x","messageId":"new"}]}`), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.Store(context.Background(), store, msgs, 0); err != nil {
			t.Fatal(err)
		}
		store.DB().Exec("UPDATE usage_messages SET received_at = ? WHERE message_id = 'old'", time.Now().UTC().Add(-48*time.Hour))
		n, err := ingest.PruneRaw(context.Background(), store, 24*time.Hour)
		if err != nil || n != 1 {
			t.Fatalf("pruned %d, %v", n, err)
		}
		var raw, counted int
		store.DB().Raw("SELECT count(*) FROM usage_messages").Scan(&raw)
		store.DB().Raw("SELECT sum(messages) FROM usage_user_days").Scan(&counted)
		if raw != 1 || counted != 2 {
			t.Fatalf("raw %d, counted %d", raw, counted)
		}
	})
}
