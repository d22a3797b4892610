package ingest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestGroupRefusesRevokedKeys: a group holding requests of a revoked write key and
// of a live one answers the first with ErrWriteKeyRevoked, storing none of their
// messages, and stores the others. On PostgreSQL a group whose users the writer knows
// sends its whole transaction in one write: "known users" takes that path.
func TestGroupRefusesRevokedKeys(t *testing.T) {
	for _, knownUsers := range []bool{false, true} {
		t.Run(map[bool]string{false: "new users", true: "known users"}[knownUsers], func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, store *models.Store) {
				testRevokedKeyInAGroup(t, store, knownUsers)
			})
		})
	}
}

func testRevokedKeyInAGroup(t *testing.T, store *models.Store, knownUsers bool) {
	ctx := context.Background()
	_, live, err := store.CreateWriteKey(ctx, models.WriteKeyInput{Name: "live"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, gone, err := store.CreateWriteKey(ctx, models.WriteKeyInput{Name: "gone"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	msg := func(id, user string) *Message {
		return &Message{Type: "track", UserKey: "u-" + user, MessageID: id, Event: "Signed In", Timestamp: now, Payload: []byte(`{}`)}
	}
	w := NewWriter(store)
	before := 0
	if knownUsers {
		// Both keys were live when their users were first seen.
		for i, key := range []int64{live.ID, gone.ID} {
			var msgs []Message
			for _, u := range []string{"a", "b", "c", "d"} {
				msgs = append(msgs, *msg(fmt.Sprintf("earlier-%d-%s", i, u), u))
			}
			if _, err := w.Write(ctx, msgs, key); err != nil {
				t.Fatal(err)
			}
			before += len(msgs)
		}
	}
	if err := store.RevokeWriteKey(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	group := []*request{
		{msgs: []*Message{msg("a", "a"), msg("b", "b")}, writeKeyID: live.ID, done: make(chan struct{})},
		{msgs: []*Message{msg("b", "b"), msg("c", "c")}, writeKeyID: gone.ID, done: make(chan struct{})},
		{msgs: []*Message{msg("d", "d"), msg("d", "d")}, writeKeyID: live.ID, done: make(chan struct{})},
	}
	w.commitGroup(group)
	if !errors.Is(group[1].err, ErrWriteKeyRevoked) {
		t.Fatalf("revoked key's request: %v", group[1].err)
	}
	for _, i := range []int{0, 2} {
		if group[i].err != nil {
			t.Fatalf("request %d: %v", i, group[i].err)
		}
	}
	if group[0].res != (Result{Accepted: 2, Counted: 2}) || group[2].res != (Result{Accepted: 1, Counted: 1, Duplicates: 1}) {
		t.Fatalf("results %+v, %+v", group[0].res, group[2].res)
	}
	var ids []string
	if err := store.DB().Raw("SELECT message_id FROM usage_messages WHERE message_id NOT LIKE 'earlier-%' ORDER BY message_id").Scan(&ids).Error; err != nil {
		t.Fatal(err)
	}
	var stored, counted, users int
	store.DB().Raw("SELECT count(*) FROM usage_messages").Scan(&stored)
	store.DB().Raw("SELECT COALESCE(sum(messages), 0) FROM usage_user_days").Scan(&counted)
	store.DB().Raw("SELECT count(*) FROM end_users").Scan(&users)
	wantUsers := 3
	if knownUsers {
		wantUsers = 4
	}
	if len(ids) != 3 || ids[0] != "a" || ids[1] != "b" || ids[2] != "d" || stored != before+3 || counted != before+3 || users != wantUsers {
		t.Fatalf("stored %v (%d in all, %d counted) and %d users, want a, b, d (%d) and %d", ids, stored, counted, users, before+3, wantUsers)
	}
}
