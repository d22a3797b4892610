package ingest

import (
	"context"
	"errors"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestGroupRefusesRevokedKeys: a group holding requests of a revoked write key and
// of a live one answers the first with ErrWriteKeyRevoked, storing none of their
// messages, and stores the others.
func TestGroupRefusesRevokedKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		_, live, err := store.CreateWriteKey(ctx, "live", nil)
		if err != nil {
			t.Fatal(err)
		}
		_, gone, err := store.CreateWriteKey(ctx, "gone", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.RevokeWriteKey(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		msg := func(id string) *Message {
			return &Message{Type: "track", UserKey: "u-" + id, MessageID: id, Event: "Signed In", Timestamp: now, Payload: []byte(`{}`)}
		}
		group := []*request{
			{msgs: []*Message{msg("a"), msg("b")}, writeKeyID: live.ID, done: make(chan struct{})},
			{msgs: []*Message{msg("b"), msg("c")}, writeKeyID: gone.ID, done: make(chan struct{})},
			{msgs: []*Message{msg("d")}, repeats: 1, writeKeyID: live.ID, done: make(chan struct{})},
		}
		NewWriter(store).commitGroup(group)
		if !errors.Is(group[1].err, ErrWriteKeyRevoked) {
			t.Fatalf("revoked key's request: %v", group[1].err)
		}
		for _, i := range []int{0, 2} {
			if group[i].err != nil {
				t.Fatalf("request %d: %v", i, group[i].err)
			}
		}
		if group[0].res != (Result{Accepted: 2}) || group[2].res != (Result{Accepted: 1, Duplicates: 1}) {
			t.Fatalf("results %+v, %+v", group[0].res, group[2].res)
		}
		var ids []string
		if err := store.DB().Raw("SELECT message_id FROM usage_messages ORDER BY message_id").Scan(&ids).Error; err != nil {
			t.Fatal(err)
		}
		var users int
		store.DB().Raw("SELECT count(*) FROM end_users").Scan(&users)
		if len(ids) != 3 || ids[0] != "a" || ids[1] != "b" || ids[2] != "d" || users != 3 {
			t.Fatalf("stored %v and %d users, want a, b, d and 3", ids, users)
		}
	})
}
