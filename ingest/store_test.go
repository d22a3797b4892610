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

// TestRawMessagesAreStoredAsReceived reads every column of the raw messages back
// (PostgreSQL takes them in a hand-written binary COPY): text beyond ASCII,
// escapes, timestamps before 2000 and with microseconds, and both a write key and none.
func TestRawMessagesAreStoredAsReceived(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, store *models.Store) {
		now := time.Now().UTC()
		msgs, err := ingest.ParseBatch([]byte(`{"batch":[
			{"type":"track","userId":"ü-1","event":"Café \"ouvert\"\n","messageId":"m-é","timestamp":"1999-12-31T23:59:59.123456Z","context":{"groupId":"acme ☃"}},
			{"type":"page","anonymousId":"a\\b","name":"Home","messageId":"m-2","timestamp":"2026-03-04T05:06:07.000001+02:00"}],
			"context":{"library":{"name":"t"}}}`), now)
		if err != nil {
			t.Fatal(err)
		}
		_, wk, err := store.CreateWriteKey(context.Background(), models.WriteKeyInput{Name: "k"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []int64{0, wk.ID} {
			store.DB().Exec("DELETE FROM usage_messages")
			if _, err := ingest.Store(context.Background(), store, msgs, key); err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				var got struct {
					Type, UserKey, Event, GroupKey, Payload string
					Ts, ReceivedAt                          time.Time
					WriteKeyID                              *int64
				}
				err := store.DB().Raw(`SELECT type, user_key, event, group_key, payload, ts, received_at, write_key_id
					FROM usage_messages WHERE message_id = ?`, m.MessageID).Row().
					Scan(&got.Type, &got.UserKey, &got.Event, &got.GroupKey, &got.Payload, &got.Ts, &got.ReceivedAt, &got.WriteKeyID)
				if err != nil {
					t.Fatalf("%s: %v", m.MessageID, err)
				}
				if got.Type != m.Type || got.UserKey != m.UserKey || got.Event != m.Event || got.GroupKey != m.GroupID || got.Payload != string(m.Payload) {
					t.Errorf("%s stored as %+v, want %+v", m.MessageID, got, m)
				}
				if !got.Ts.Equal(m.Timestamp) || got.ReceivedAt.Sub(now).Abs() > time.Minute {
					t.Errorf("%s: ts %v (want %v), received %v", m.MessageID, got.Ts, m.Timestamp, got.ReceivedAt)
				}
				if (key == 0) != (got.WriteKeyID == nil) || (key != 0 && *got.WriteKeyID != key) {
					t.Errorf("%s: write key %v, want %d", m.MessageID, got.WriteKeyID, key)
				}
			}
		}
	})
}
