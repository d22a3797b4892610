package handlers_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"

	"sightline/handlers"
	"sightline/models"
	"sightline/models/dbtest"
)

// send posts an ingestion request with a write key.
func (a *testApp) send(path, writeKey, body string, headers ...string) response {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if writeKey != "" {
		req.SetBasicAuth(writeKey, "")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	return response{rec, a.t}
}

func (a *testApp) writeKey() (string, int64) {
	a.t.Helper()
	plain, wk, err := a.store.CreateWriteKey(context.Background(), models.WriteKeyInput{Name: "test"}, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return plain, wk.ID
}

// usageTotals sums what the rollups hold, for exact-count assertions.
type usageTotals struct {
	Raw, Messages, Events, Users int
	Duration, Quantity           float64
	Devices                      int
}

func totals(t *testing.T, s *models.Store) usageTotals {
	t.Helper()
	var u usageTotals
	db := s.DB()
	db.Raw("SELECT count(*) FROM usage_messages").Scan(&u.Raw)
	db.Raw("SELECT COALESCE(sum(messages), 0) FROM usage_user_days").Scan(&u.Messages)
	db.Raw("SELECT COALESCE(sum(events), 0) FROM usage_user_event_days").Scan(&u.Events)
	db.Raw("SELECT COALESCE(sum(duration_seconds), 0) FROM usage_user_event_days").Scan(&u.Duration)
	db.Raw("SELECT COALESCE(sum(quantity), 0) FROM usage_user_meter_days").Scan(&u.Quantity)
	db.Raw("SELECT count(*) FROM usage_user_device_days").Scan(&u.Devices)
	db.Raw("SELECT count(*) FROM end_users").Scan(&u.Users)
	return u
}

func track(id, user, event string, ts time.Time, extra string) string {
	return fmt.Sprintf(`{"type":"track","messageId":%q,"userId":%q,"event":%q,"timestamp":%q%s}`, id, user, event, ts.Format(time.RFC3339), extra)
}

func TestIngestAuthAndRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		key, id := app.writeKey()
		ts := time.Now().UTC().Add(-time.Hour)
		good := `{"batch":[` + track("m1", "u1", "Signed In", ts, "") + `]}`

		app.send("/v1/batch", "", good).expect(http.StatusUnauthorized)
		app.send("/v1/batch", "wk_wrong", good).expect(http.StatusUnauthorized)

		// One bad message refuses the whole batch, listing it by index; nothing is stored.
		r := app.send("/v1/batch", key, `{"batch":[`+track("m1", "u1", "Signed In", ts, "")+`,{"type":"track","userId":"u1"}]}`).expect(http.StatusBadRequest)
		var body struct {
			Error   string `json:"error"`
			Details []struct {
				Index  int    `json:"index"`
				Reason string `json:"reason"`
			} `json:"details"`
		}
		if err := json.Unmarshal(r.Body.Bytes(), &body); err != nil || len(body.Details) != 1 || body.Details[0].Index != 1 || body.Details[0].Reason != "track without event" {
			t.Fatalf("400 body %s", r.Body.String())
		}
		if got := totals(t, s); got != (usageTotals{}) {
			t.Fatalf("a refused batch left %+v", got)
		}
		app.send("/v1/batch", key, `{"batch":[`+strings.Repeat(`{"type":"page","userId":"u"},`, 2500)+`{"type":"page","userId":"u"}]}`).expect(http.StatusRequestEntityTooLarge)
		app.send("/v1/batch", key, `{"batch":[],"pad":"`+strings.Repeat("x", 501*1024)+`"}`).expect(http.StatusRequestEntityTooLarge)
		app.send("/v1/track", key, `{"userId":"u1","event":"x","messageId":"`+strings.Repeat("m", 100)+`"}`).expect(http.StatusRequestEntityTooLarge)

		r = app.send("/v1/batch", key, good).expect(http.StatusOK)
		if strings.TrimSpace(r.Body.String()) != `{"success":true}` {
			t.Fatalf("200 body %s", r.Body.String())
		}
		// The settings page shows when a key was last used.
		keys, err := s.ListWriteKeys(context.Background())
		if err != nil || len(keys) != 1 || keys[0].LastUsedAt == nil || time.Since(*keys[0].LastUsedAt) > time.Minute {
			t.Fatalf("write keys after use %+v, %v", keys, err)
		}
		// A revoked key stops working at once, although the server has seen it live,
		// whatever the request: a batch to store, one with nothing new in it, a bad one
		// (refused as a revoked key, not as bad input), an empty one, a single message.
		if err := s.RevokeWriteKey(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		app.send("/v1/batch", key, good).expect(http.StatusUnauthorized)
		before := totals(t, s)
		for _, sent := range []struct{ path, body string }{
			{"/v1/batch", `{"batch":[` + track("after-revocation", "u9", "Signed In", time.Now(), "") + `]}`},
			{"/v1/batch", good},
			{"/v1/batch", `{"batch":[{"type":"track","userId":"u"}]}`},
			{"/v1/batch", `{"batch":[]}`},
			{"/v1/track", `{"userId":"u1","event":"x"}`},
		} {
			key, id := app.writeKey()
			app.send("/v1/batch", key, `{"batch":[]}`).expect(http.StatusOK) // now the server knows it
			if err := s.RevokeWriteKey(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			app.send(sent.path, key, sent.body).expect(http.StatusUnauthorized)
		}
		if got := totals(t, s); got != before {
			t.Fatalf("a revoked key stored %+v, had %+v", got, before)
		}
	})
}

func TestIngestCountsEachMessageOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		key, _ := app.writeKey()
		day := time.Now().UTC().Add(-26 * time.Hour).Truncate(time.Hour)
		b := `{"context":{"device":{"id":"dev-1"}},"batch":[` + strings.Join([]string{
			track("a", "u1", "Signed In", day, ""),
			track("b", "u1", "Session Ended", day.Add(time.Minute), `,"properties":{"duration_seconds":600}`),
			track("c", "u2", "Usage Reported", day, `,"properties":{"meter":"api_calls","quantity":40}`),
			track("c", "u2", "Usage Reported", day, `,"properties":{"meter":"api_calls","quantity":40}`), // repeated inside the batch
			`{"type":"page","messageId":"d","anonymousId":"x9","name":"Home"}`,
			`{"type":"identify","messageId":"e","userId":"u1","traits":{"level":"executive"}}`,
		}, ",") + `]}`
		want := usageTotals{Raw: 5, Messages: 4, Events: 3, Users: 3, Duration: 600, Quantity: 40, Devices: 3}
		for i := 0; i < 3; i++ { // the client retries twice
			app.send("/v1/batch", key, b).expect(http.StatusOK)
			if got := totals(t, s); got != want {
				t.Fatalf("after send %d: %+v, want %+v", i+1, got, want)
			}
		}
		// The single-message endpoints share the dedupe.
		app.send("/v1/track", key, track("a", "u1", "Signed In", day, "")).expect(http.StatusOK)
		app.send("/v1/page", key, `{"messageId":"f","userId":"u1","name":"Settings"}`).expect(http.StatusOK)
		want.Raw, want.Messages = 6, 5
		if got := totals(t, s); got != want {
			t.Fatalf("after single sends: %+v, want %+v", got, want)
		}
		// gzip bodies are accepted too.
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		io.WriteString(zw, `{"batch":[`+track("g", "u3", "Signed In", day, "")+`]}`)
		zw.Close()
		app.send("/v1/batch", key, zb.String(), "Content-Encoding", "gzip").expect(http.StatusOK)
		if got := totals(t, s); got.Raw != 7 || got.Messages != 6 {
			t.Fatalf("gzip batch not counted: %+v", got)
		}
	})
}

// TestConcurrentRetriesCountOnce races the same batch on many connections at once.
func TestConcurrentRetriesCountOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		key, _ := app.writeKey()
		ts := time.Now().UTC().Add(-time.Hour)
		var msgs []string
		for i := 0; i < 200; i++ {
			msgs = append(msgs, track(fmt.Sprintf("race-%03d", i), fmt.Sprintf("u%d", i%17), "Signed In", ts, ""))
		}
		b := `{"batch":[` + strings.Join(msgs, ",") + `]}`
		var wg sync.WaitGroup
		codes := make(chan int, 8)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := httptest.NewRequest(http.MethodPost, "/v1/batch", strings.NewReader(b))
				req.SetBasicAuth(key, "")
				rec := httptest.NewRecorder()
				app.e.ServeHTTP(rec, req)
				codes <- rec.Code
			}()
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != http.StatusOK {
				t.Fatalf("a racing retry got %d", c)
			}
		}
		if got := totals(t, s); got.Raw != 200 || got.Messages != 200 || got.Events != 200 || got.Users != 17 {
			t.Fatalf("racing retries counted %+v", got)
		}
	})
}

func memberOf(t *testing.T, s *models.Store, user string) (group string, level string) {
	t.Helper()
	var row struct {
		GroupKey *string
		Level    string
	}
	s.DB().Raw("SELECT group_key, level FROM end_users WHERE user_key = ?", user).Scan(&row)
	if row.GroupKey != nil {
		group = *row.GroupKey
	}
	return group, row.Level
}

// usageOf is the account's message count through the membership join the metrics use.
func usageOf(t *testing.T, s *models.Store, account string) int {
	t.Helper()
	var n int
	s.DB().Raw(`SELECT COALESCE(sum(d.messages), 0) FROM usage_user_days d
		JOIN end_users u ON u.id = d.end_user_id WHERE u.group_key = ?`, account).Scan(&n)
	return n
}

func TestMembershipFollowsTheLatestGroupCall(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		key, _ := app.writeKey()
		t0 := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second)
		at := func(h int) string { return t0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }

		// Usage before any group call is kept, then counts once the group arrives.
		app.send("/v1/batch", key, `{"batch":[`+track("e1", "u1", "Signed In", t0, "")+`,`+track("e2", "u1", "Report Run", t0.Add(time.Hour), "")+`]}`).expect(http.StatusOK)
		if g, _ := memberOf(t, s, "u1"); g != "" || usageOf(t, s, "acme") != 0 {
			t.Fatal("user belongs to an account before any group call")
		}
		app.send("/v1/group", key, `{"messageId":"g1","userId":"u1","groupId":"acme","timestamp":"`+at(5)+`"}`).expect(http.StatusOK)
		if usageOf(t, s, "acme") != 2 {
			t.Fatalf("late group call did not pick up earlier events: %d", usageOf(t, s, "acme"))
		}
		// A group call older than the current one, arriving later, changes nothing.
		app.send("/v1/group", key, `{"messageId":"g0","userId":"u1","groupId":"old-co","timestamp":"`+at(2)+`"}`).expect(http.StatusOK)
		if g, _ := memberOf(t, s, "u1"); g != "acme" {
			t.Fatalf("older group call won: %q", g)
		}
		// A newer one moves the user, past usage included; context.groupId counts as a group call.
		app.send("/v1/track", key, `{"messageId":"e3","userId":"u1","event":"Signed In","timestamp":"`+at(9)+`","context":{"groupId":"bolt"}}`).expect(http.StatusOK)
		if g, _ := memberOf(t, s, "u1"); g != "bolt" || usageOf(t, s, "bolt") != 3 || usageOf(t, s, "acme") != 0 {
			t.Fatalf("moved user: group %q, bolt %d, acme %d", g, usageOf(t, s, "bolt"), usageOf(t, s, "acme"))
		}
		// Latest identify wins for traits, whatever the arrival order.
		app.send("/v1/identify", key, `{"messageId":"i2","userId":"u1","traits":{"level":"Executive","department":"Sales"},"timestamp":"`+at(8)+`"}`).expect(http.StatusOK)
		app.send("/v1/identify", key, `{"messageId":"i1","userId":"u1","traits":{"level":"individual","department":"Ops"},"timestamp":"`+at(1)+`"}`).expect(http.StatusOK)
		if _, lvl := memberOf(t, s, "u1"); lvl != "executive" {
			t.Fatalf("level %q after an older identify arrived late", lvl)
		}
		app.send("/v1/identify", key, `{"messageId":"i3","userId":"u1","traits":{"level":"CEO"},"timestamp":"`+at(10)+`"}`).expect(http.StatusOK)
		if _, lvl := memberOf(t, s, "u1"); lvl != "unknown" {
			t.Fatalf("unrecognised level stored as %q", lvl)
		}
	})
}

// TestIngestAnswers503WhileTheDatabaseIsDown: SDKs retry on 503, so nothing is lost.
func TestIngestAnswers503WhileTheDatabaseIsDown(t *testing.T) {
	s := dbtest.SQLite(t)
	app := newApp(t, s)
	key, _ := app.writeKey()
	s.Close()
	r := app.send("/v1/batch", key, `{"batch":[`+track("m", "u", "x", time.Now().Add(-time.Minute), "")+`]}`)
	if r.Code != http.StatusServiceUnavailable || r.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", r.Code, r.Header().Get("Retry-After"))
	}
}

// TestIngestRecoversWhenPostgresConnectionsDrop kills every server connection of the
// pool, as a PostgreSQL restart does, and expects ingestion to carry on by itself.
func TestIngestRecoversWhenPostgresConnectionsDrop(t *testing.T) {
	s := dbtest.Postgres(t)
	app := newApp(t, s)
	key, _ := app.writeKey()
	send := func(id string) int {
		return app.send("/v1/batch", key, `{"batch":[`+track(id, "u", "Signed In", time.Now().Add(-time.Minute), "")+`]}`).Code
	}
	if c := send("before"); c != http.StatusOK {
		t.Fatalf("status %d", c)
	}
	admin, err := models.Open(dbtest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var dbName string
	s.DB().Raw("SELECT current_database()").Scan(&dbName)
	admin.DB().Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ?", dbName)
	// The client retries on 503, as SDKs do; within a few tries it is stored.
	ok := false
	for i := 0; i < 5 && !ok; i++ {
		ok = send("after") == http.StatusOK
	}
	if !ok {
		t.Fatal("ingestion did not recover after the connections dropped")
	}
	if got := totals(t, s); got.Messages != 2 {
		t.Fatalf("counted %d messages, want 2", got.Messages)
	}
}

// TestSegmentGoSDK points the official Segment Go SDK at Sightline, unchanged.
func TestSegmentGoSDK(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		srv := httptest.NewServer(handlers.NewRouter(handlers.Deps{Store: s, SessionSecret: testSecret,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
		defer srv.Close()
		plain, _, err := s.CreateWriteKey(context.Background(), models.WriteKeyInput{Name: "sdk"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		client, err := analytics.NewWithConfig(plain, analytics.Config{Endpoint: srv.URL, BatchSize: 7, Interval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ts := time.Now().UTC().Add(-2 * time.Hour)
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(client.Enqueue(analytics.Identify{UserId: "sdk-user", Timestamp: ts, Traits: analytics.NewTraits().SetEmail("ann@acme.test").Set("level", "manager").Set("department", "Finance")}))
		must(client.Enqueue(analytics.Group{UserId: "sdk-user", GroupId: "acme", Timestamp: ts}))
		for i := 0; i < 20; i++ {
			must(client.Enqueue(analytics.Track{UserId: "sdk-user", Event: "Report Run", Timestamp: ts.Add(time.Duration(i) * time.Second)}))
		}
		must(client.Enqueue(analytics.Track{UserId: "sdk-user", Event: "Session Ended", Timestamp: ts, Properties: analytics.NewProperties().Set("duration_seconds", 321)}))
		must(client.Enqueue(analytics.Page{AnonymousId: "visitor-1", Name: "Pricing", Timestamp: ts}))
		must(client.Close()) // flushes
		got := totals(t, s)
		if got.Raw != 24 || got.Messages != 22 || got.Events != 21 || got.Duration != 321 {
			t.Fatalf("SDK messages counted %+v", got)
		}
		if g, lvl := memberOf(t, s, "sdk-user"); g != "acme" || lvl != "manager" {
			t.Fatalf("sdk-user group %q level %q", g, lvl)
		}
	})
}
