package ingest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"sightline/models"
	"sightline/models/dbtest"
)

// counts is what the rollups and the queue hold, for exact assertions.
type counts struct {
	Raw, Pending, Messages, Events, Devices int
	Duration, Quantity                      float64
}

func countsOf(t *testing.T, s *models.Store) counts {
	t.Helper()
	var c counts
	db := s.DB()
	db.Raw("SELECT count(*) FROM usage_messages").Scan(&c.Raw)
	db.Raw("SELECT count(*) FROM usage_pending").Scan(&c.Pending)
	db.Raw("SELECT COALESCE(sum(messages), 0) FROM usage_user_days").Scan(&c.Messages)
	db.Raw("SELECT COALESCE(sum(events), 0) FROM usage_user_event_days").Scan(&c.Events)
	db.Raw("SELECT COALESCE(sum(duration_seconds), 0) FROM usage_user_event_days").Scan(&c.Duration)
	db.Raw("SELECT COALESCE(sum(quantity), 0) FROM usage_user_meter_days").Scan(&c.Quantity)
	db.Raw("SELECT count(*) FROM usage_user_device_days").Scan(&c.Devices)
	return c
}

// testBatch is n track messages of 7 users (a device each), with a duration and
// a metered quantity, ids prefixed so batches can overlap on purpose.
func testBatch(t *testing.T, prefix string, from, n int) []Message {
	t.Helper()
	ts := time.Now().UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour) // one day for all
	var parts []string
	for i := from; i < from+n; i++ {
		parts = append(parts, fmt.Sprintf(`{"type":"track","messageId":"%s-%d","userId":"u%d","event":"%s","timestamp":%q,"context":{"device":{"id":"d%d"}},"properties":{"duration_seconds":2,"meter":"calls","quantity":3}}`,
			prefix, i, i%7, UsageReportedEvent, ts.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i%7))
	}
	msgs, err := ParseBatch([]byte(`{"batch":[`+strings.Join(parts, ",")+`]}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// commitOnly is step 1 of Write alone: what a process that died right after
// committing its raw messages leaves behind.
func commitOnly(t *testing.T, w *Writer, msgs []Message) {
	t.Helper()
	err := w.store.Transaction(context.Background(), func(tx *gorm.DB) error {
		_, _, err := w.write(context.Background(), tx, msgs, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func want(n int) counts {
	return counts{Raw: n, Messages: n, Events: n, Devices: min(n, 7), Duration: 2 * float64(n), Quantity: 3 * float64(n)}
}

// TestCrashBetweenCommitAndRollUp: batches committed by an instance that died before
// rolling them up are counted once, by another writer, however often it drains and
// whatever the clients resend.
func TestCrashBetweenCommitAndRollUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		dead := NewWriter(s)
		commitOnly(t, dead, testBatch(t, "a", 0, 40))
		commitOnly(t, dead, testBatch(t, "a", 40, 10))
		if got := countsOf(t, s); got != (counts{Raw: 50, Pending: 2}) {
			t.Fatalf("after the crash: %+v", got)
		}
		next := NewWriter(s) // a new process: nothing in memory
		if err := next.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if got := countsOf(t, s); got != want(50) {
			t.Fatalf("after the drain: %+v, want %+v", got, want(50))
		}
		if err := next.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		// The client never saw an answer and resends, overlapping new messages.
		res, err := next.Write(ctx, testBatch(t, "a", 30, 30), 0)
		if err != nil || res.Accepted != 10 || res.Duplicates != 20 {
			t.Fatalf("resend: %+v, %v", res, err)
		}
		if got := countsOf(t, s); got != want(60) {
			t.Fatalf("after the resend: %+v, want %+v", got, want(60))
		}
	})
}

// TestCrashInsideRollUp: a roll-up that fails before its commit leaves its batches
// pending and the rollups untouched; the next one counts them once.
func TestCrashInsideRollUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		w := NewWriter(s)
		if _, err := w.Write(ctx, testBatch(t, "b", 0, 20), 0); err != nil {
			t.Fatal(err)
		}
		crash := errors.New("killed")
		rollUpFault = func() error { return crash }
		_, err := w.Write(ctx, testBatch(t, "b", 20, 20), 0)
		rollUpFault = nil
		if !errors.Is(err, crash) {
			t.Fatalf("write during a failing roll-up: %v", err)
		}
		// Acknowledged: 20. Durable but not acknowledged: 20 more, pending.
		if got := countsOf(t, s); got.Raw != 40 || got.Pending != 1 || got.Messages != 20 || got.Events != 20 {
			t.Fatalf("after the failed roll-up: %+v", got)
		}
		// The client retries on the 503: all duplicates, and the answer waits for them.
		res, err := w.Write(ctx, testBatch(t, "b", 20, 20), 0)
		if err != nil || res.Duplicates != 20 {
			t.Fatalf("retry: %+v, %v", res, err)
		}
		if got := countsOf(t, s); got != want(40) {
			t.Fatalf("after the retry: %+v, want %+v", got, want(40))
		}
	})
}

// TestAnswerFollowsTheRollups: concurrent writers (two instances on PostgreSQL, with
// their own pools) find their own messages counted the moment Write returns, while
// other requests' roll-ups share transactions with theirs.
func TestAnswerFollowsTheRollups(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		writers := []*Writer{NewWriter(s), NewWriter(s)}
		if s.Dialect() == models.Postgres {
			writers[1] = NewWriter(dbtest.SecondInstance(t, s))
		}
		const clients, batches, size = 8, 6, 25
		var wg sync.WaitGroup
		errs := make(chan error, clients*batches)
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := writers[c%2]
				user := fmt.Sprintf("client-%d", c)
				for b := range batches {
					var parts []string
					for i := range size {
						parts = append(parts, fmt.Sprintf(`{"type":"page","messageId":"%s-%d-%d","userId":%q,"name":"Home","timestamp":%q}`,
							user, b, i, user, time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)))
					}
					msgs, err := ParseBatch([]byte(`{"batch":[`+strings.Join(parts, ",")+`]}`), time.Now())
					if err == nil {
						_, err = w.Write(ctx, msgs, 0)
					}
					if err != nil {
						errs <- err
						return
					}
					var n int
					s.DB().Raw(`SELECT COALESCE(sum(d.messages), 0) FROM usage_user_days d JOIN end_users u ON u.id = d.end_user_id
						WHERE u.user_key = ?`, user).Scan(&n)
					if n != (b+1)*size {
						errs <- fmt.Errorf("%s: %d counted right after batch %d was acknowledged, want %d", user, n, b, (b+1)*size)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := countsOf(t, s); got.Raw != clients*batches*size || got.Messages != got.Raw || got.Pending != 0 {
			t.Fatalf("totals %+v", got)
		}
	})
}

// TestWaitsForAnotherInstancesRollUp: a batch another instance has claimed is
// acknowledged once that instance commits, not before.
func TestWaitsForAnotherInstancesRollUp(t *testing.T) {
	s := dbtest.Postgres(t)
	ctx := context.Background()
	w := NewWriter(s)
	commitOnly(t, w, testBatch(t, "c", 0, 5))
	var id int64
	s.DB().Raw("SELECT id FROM usage_pending").Scan(&id)
	// The other instance: its roll-up transaction holds the row.
	other, err := s.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, "DELETE FROM usage_pending WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.waitRolledUp(ctx, &pendingBatch{id: id}) }()
	select {
	case err := <-done:
		t.Fatalf("acknowledged while another instance's roll-up was open: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting after the other instance committed")
	}
}

// TestIdentifyCallsInOneRollUp: identify calls applied together behave as if they had
// arrived one by one: the latest by timestamp wins, and traits it leaves out keep the
// value an earlier call gave them.
func TestIdentifyCallsInOneRollUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		at := func(m int) string { return t0.Add(time.Duration(m) * time.Minute).Format(time.RFC3339) }
		msgs, err := ParseBatch([]byte(`{"batch":[
			{"type":"identify","messageId":"i3","userId":"u","timestamp":"`+at(3)+`","traits":{"email":"new@x.test"}},
			{"type":"identify","messageId":"i1","userId":"u","timestamp":"`+at(1)+`","traits":{"email":"old@x.test","department":"Sales","level":"manager"}},
			{"type":"identify","messageId":"i2","userId":"u","timestamp":"`+at(2)+`","traits":{"level":"executive"}},
			{"type":"group","messageId":"g2","userId":"u","groupId":"new-co","timestamp":"`+at(2)+`"},
			{"type":"group","messageId":"g1","userId":"u","groupId":"old-co","timestamp":"`+at(1)+`"}]}`), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Store(context.Background(), s, msgs, 0); err != nil {
			t.Fatal(err)
		}
		var u models.EndUser
		s.DB().Where("user_key = ?", "u").Take(&u)
		if u.Email != "new@x.test" || u.Department != "Sales" || u.Level != "executive" || u.GroupKey == nil || *u.GroupKey != "new-co" {
			t.Fatalf("user %+v", u)
		}
	})
}

// FuzzInputs: stored roll-up inputs decode to exactly what was encoded, and bytes that
// are not such inputs are refused without a panic.
func FuzzInputs(f *testing.F) {
	f.Add([]byte(`{"type":"track","userId":"u","event":"Usage Reported","properties":{"meter":"m","quantity":1.5,"duration_seconds":-3},"context":{"device":{"id":"d"},"groupId":"g"},"timestamp":"0001-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"type":"identify","anonymousId":"a","traits":{"email":"e","name":"n","department":"d","level":"l"},"timestamp":"9999-12-31T23:59:59.999999999Z"}`))
	f.Add(encodeInputs([]Message{{Type: "page", UserKey: "x", Timestamp: time.Unix(-1, 5)}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if stored, err := decodeInputs(data); err == nil {
			if again, err := decodeInputs(encodeInputs(stored)); err != nil || !reflect.DeepEqual(again, stored) {
				t.Fatalf("re-encoding changed %+v into %+v (%v)", stored, again, err)
			}
		}
		msgs, err := ParseSingle(data, "", time.Now())
		if err != nil {
			return
		}
		for i := range msgs {
			msgs[i].MessageID, msgs[i].Payload = "", nil // not part of the inputs
		}
		got, err := decodeInputs(encodeInputs(msgs))
		if err != nil {
			t.Fatal(err)
		}
		for i := range msgs {
			if math.IsNaN(msgs[i].Duration) || math.IsNaN(msgs[i].Quantity) {
				continue // NaN never equals itself; numbers from JSON are never NaN anyway
			}
			if !got[i].Timestamp.Equal(msgs[i].Timestamp) {
				t.Fatalf("timestamp %v became %v", msgs[i].Timestamp, got[i].Timestamp)
			}
			got[i].Timestamp = msgs[i].Timestamp
			if !reflect.DeepEqual(got[i], msgs[i]) {
				t.Fatalf("%+v became %+v", msgs[i], got[i])
			}
		}
	})
}
