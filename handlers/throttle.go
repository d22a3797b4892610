package handlers

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"sightline/models"
)

// loginThrottle slows password guessing: every failure waits before answering, and
// after too many failures for one address or one email the form is refused (429)
// until the window has passed. The failures are kept in the database, so the limits
// hold across every serve process.
type loginThrottle struct {
	store    *models.Store
	log      *slog.Logger
	delay    time.Duration
	window   time.Duration
	perEmail int
	perIP    int
}

func newLoginThrottle(store *models.Store, log *slog.Logger, delay time.Duration) *loginThrottle {
	return &loginThrottle{store: store, log: log, delay: delay, window: 15 * time.Minute, perEmail: 5, perIP: 20}
}

// blocked returns how long the caller must wait, or 0 when it may try.
func (t *loginThrottle) blocked(ctx context.Context, ip, email string) time.Duration {
	now := time.Now()
	for _, k := range []struct {
		key   string
		limit int
	}{{"ip:" + ip, t.perIP}, {"email:" + email, t.perEmail}} {
		f, err := t.store.LoginFailuresSince(ctx, k.key, now.Add(-t.window))
		if err != nil {
			t.log.Warn("login throttle", "err", err) // the login itself then fails on the database too
			continue
		}
		if len(f) >= k.limit {
			return t.window - now.Sub(f[0])
		}
	}
	return 0
}

// fail records a failure and makes the caller wait.
func (t *loginThrottle) fail(ctx context.Context, ip, email string) {
	if err := t.store.RecordLoginFailure(ctx, time.Now().Add(-t.window), "ip:"+ip, "email:"+email); err != nil {
		t.log.Warn("login throttle", "err", err)
	}
	time.Sleep(t.delay)
}

// succeed forgets the email's failures (the address keeps its count).
func (t *loginThrottle) succeed(ctx context.Context, email string) {
	if err := t.store.ForgetLoginFailures(ctx, "email:"+email); err != nil {
		t.log.Warn("login throttle", "err", err)
	}
}

func itoaSeconds(d time.Duration) string {
	return strconv.Itoa(int(d.Seconds()) + 1)
}
