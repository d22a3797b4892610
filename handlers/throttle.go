package handlers

import (
	"strconv"
	"sync"
	"time"
)

// loginThrottle slows password guessing: every failure waits before answering, and
// after too many failures for one address or one email the form is refused (429)
// until the window has passed. State is in memory: one process, and a restart only
// resets a 15-minute window.
type loginThrottle struct {
	mu       sync.Mutex
	delay    time.Duration
	window   time.Duration
	perEmail int
	perIP    int
	failures map[string][]time.Time
}

func newLoginThrottle(delay time.Duration) *loginThrottle {
	return &loginThrottle{
		delay: delay, window: 15 * time.Minute, perEmail: 5, perIP: 20,
		failures: map[string][]time.Time{},
	}
}

// recent prunes and returns the failures inside the window.
func (t *loginThrottle) recent(key string, now time.Time) []time.Time {
	kept := t.failures[key][:0]
	for _, at := range t.failures[key] {
		if now.Sub(at) < t.window {
			kept = append(kept, at)
		}
	}
	if len(kept) == 0 {
		delete(t.failures, key)
		return nil
	}
	t.failures[key] = kept
	return kept
}

// blocked returns how long the caller must wait, or 0 when it may try.
func (t *loginThrottle) blocked(ip, email string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for _, k := range []struct {
		key   string
		limit int
	}{{"ip:" + ip, t.perIP}, {"email:" + email, t.perEmail}} {
		if f := t.recent(k.key, now); len(f) >= k.limit {
			return t.window - now.Sub(f[0])
		}
	}
	return 0
}

// fail records a failure and makes the caller wait.
func (t *loginThrottle) fail(ip, email string) {
	t.mu.Lock()
	now := time.Now()
	t.failures["ip:"+ip] = append(t.failures["ip:"+ip], now)
	t.failures["email:"+email] = append(t.failures["email:"+email], now)
	if len(t.failures) > 100_000 { // bound memory under a spray of addresses
		t.failures = map[string][]time.Time{}
	}
	t.mu.Unlock()
	time.Sleep(t.delay)
}

// succeed forgets the email's failures (the address keeps its count).
func (t *loginThrottle) succeed(_ string, email string) {
	t.mu.Lock()
	delete(t.failures, "email:"+email)
	t.mu.Unlock()
}

func itoaSeconds(d time.Duration) string {
	return strconv.Itoa(int(d.Seconds()) + 1)
}
