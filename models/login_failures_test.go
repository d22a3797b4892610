package models_test

import (
	"context"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

// Failed logins recorded by one process count in another's throttle; a success
// forgets the email's, and old ones are dropped.
func TestLoginFailuresHoldAcrossProcesses(t *testing.T) {
	dbtest.EachTwoProcesses(t, func(t *testing.T, a, b *models.Store) {
		ctx := context.Background()
		window := time.Now().Add(-15 * time.Minute)
		for range 3 {
			if err := a.RecordLoginFailure(ctx, window, "ip:10.0.0.1", "email:ann@x.test"); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.RecordLoginFailure(ctx, window, "ip:10.0.0.1", "email:bob@x.test"); err != nil {
			t.Fatal(err)
		}
		count := func(s *models.Store, key string, since time.Time) int {
			t.Helper()
			at, err := s.LoginFailuresSince(ctx, key, since)
			if err != nil {
				t.Fatal(err)
			}
			return len(at)
		}
		if n := count(b, "ip:10.0.0.1", window); n != 4 {
			t.Fatalf("process b counts %d failures of the address, want 4", n)
		}
		if n := count(b, "email:ann@x.test", window); n != 3 {
			t.Fatalf("process b counts %d failures of ann, want 3", n)
		}
		if n := count(b, "email:ann@x.test", time.Now().Add(time.Minute)); n != 0 {
			t.Fatalf("%d failures after a later cut-off", n)
		}
		if err := b.ForgetLoginFailures(ctx, "email:ann@x.test"); err != nil {
			t.Fatal(err)
		}
		if n := count(a, "email:ann@x.test", window); n != 0 {
			t.Fatalf("after a success, process a still counts %d failures of ann", n)
		}
		// A later failure drops the ones before its cut-off.
		if err := a.RecordLoginFailure(ctx, time.Now().Add(time.Second), "ip:10.0.0.2"); err != nil {
			t.Fatal(err)
		}
		if n := count(b, "ip:10.0.0.1", time.Time{}); n != 0 {
			t.Fatalf("%d old failures kept", n)
		}
	})
}
