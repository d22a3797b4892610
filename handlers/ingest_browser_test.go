package handlers_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

// raw posts an ingestion request exactly as given: no key unless in the headers.
func (a *testApp) raw(method, path string, body []byte, headers ...string) response {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	return response{rec, a.t}
}

func basic(key string) string {
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.SetBasicAuth(key, "")
	return req.Header.Get("Authorization")
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// TestShortRoutesAndBodyKey sends what analytics.js sends: one message per short
// route, text/plain, the key in the body and in Basic auth; and screen and alias,
// which are stored but not counted.
func TestShortRoutesAndBodyKey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		key, _ := app.writeKey()
		ts := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
		sends := []struct{ path, body string }{
			{"/v1/i", `{"userId":"u1","messageId":"i1","traits":{"level":"executive"},"timestamp":"` + ts + `"}`},
			{"/v1/g", `{"userId":"u1","groupId":"acme","messageId":"g1","timestamp":"` + ts + `"}`},
			{"/v1/t", `{"userId":"u1","event":"Signed In","messageId":"t1","timestamp":"` + ts + `"}`},
			{"/v1/p", `{"userId":"u1","name":"Home","messageId":"p1","timestamp":"` + ts + `"}`},
			{"/v1/s", `{"userId":"u1","name":"Main","messageId":"s1","timestamp":"` + ts + `"}`},
			{"/v1/a", `{"userId":"u1","previousId":"anon-1","messageId":"a1","timestamp":"` + ts + `"}`},
			{"/v1/screen", `{"userId":"u1","name":"Main","messageId":"s2","timestamp":"` + ts + `"}`},
			{"/v1/alias", `{"userId":"u1","previousId":"anon-2","messageId":"a2","timestamp":"` + ts + `"}`},
			{"/v1/b", `{"batch":[{"type":"track","userId":"u1","event":"Report Run","messageId":"b1","timestamp":"` + ts + `"}]}`},
		}
		for i, m := range sends {
			body := strings.Replace(m.body, "{", `{"writeKey":"`+key+`",`, 1)
			headers := []string{"Content-Type", "text/plain"}
			if i%2 == 0 { // the key in the body alone, or in both places, as analytics.js does
				headers = append(headers, "Authorization", basic(key))
			}
			app.raw(http.MethodPost, m.path, []byte(body), headers...).expect(http.StatusOK)
		}
		got := totals(t, s)
		if got.Raw != 9 || got.Messages != 3 || got.Events != 2 {
			t.Fatalf("stored %+v, want 9 raw messages, 3 counted (2 tracks, 1 page)", got)
		}
		if g, lvl := memberOf(t, s, "u1"); g != "acme" || lvl != "executive" {
			t.Fatalf("u1 group %q level %q", g, lvl)
		}
		// The key is a secret: it is not kept in the stored messages.
		var withKey int
		s.DB().Raw("SELECT count(*) FROM usage_messages WHERE payload"+textCast(s)+" LIKE ?", "%"+key+"%").Scan(&withKey)
		if withKey != 0 {
			t.Fatalf("%d stored messages still hold the write key", withKey)
		}
		var types []string
		s.DB().Raw("SELECT type FROM usage_messages WHERE message_id IN ('s1', 'a1') ORDER BY message_id").Scan(&types)
		if strings.Join(types, ",") != "alias,screen" {
			t.Fatalf("screen and alias stored as %v", types)
		}

		// Without an Authorization header the body's key is used; with one, only the header.
		body := []byte(`{"writeKey":"` + key + `","userId":"u1","event":"x"}`)
		app.raw(http.MethodPost, "/v1/t", body, "Authorization", "Bearer nope").expect(http.StatusUnauthorized)
		app.raw(http.MethodPost, "/v1/t", []byte(`{"writeKey":"wk_unknown","userId":"u1","event":"x"}`)).expect(http.StatusUnauthorized)
		r := app.raw(http.MethodPost, "/v1/t", []byte(`{"userId":"u1","event":"x"}`)).expect(http.StatusUnauthorized)
		if !strings.Contains(r.Body.String(), "writeKey") {
			t.Fatalf("401 does not say where the key goes: %s", r.Body.String())
		}
		// A gzipped body is read for its key too, whatever its Content-Type.
		app.raw(http.MethodPost, "/v1/t", gzipped(t, []byte(`{"writeKey":"`+key+`","userId":"u1","event":"Signed In","messageId":"z1","timestamp":"`+ts+`"}`)),
			"Content-Encoding", "gzip", "Content-Type", "application/x-www-form-urlencoded").expect(http.StatusOK)
		if got := totals(t, s); got.Messages != 4 {
			t.Fatalf("after the gzipped message %+v", got)
		}
	})
}

func textCast(s *models.Store) string {
	if s.Dialect() == models.Postgres {
		return "::text"
	}
	return ""
}

// TestIngestCORS: preflights on every /v1 route, and Access-Control-Allow-Origin on
// every answer, errors included, so a browser SDK can read them and retry.
func TestIngestCORS(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	key, _ := app.writeKey()
	const origin = "https://app.customer.example"
	for _, path := range []string{"/v1/batch", "/v1/b", "/v1/track", "/v1/t", "/v1/identify", "/v1/i", "/v1/group", "/v1/g", "/v1/page", "/v1/p", "/v1/screen", "/v1/s", "/v1/alias", "/v1/a"} {
		r := app.raw(http.MethodOptions, path, nil, "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization,content-type,x-retry-count,x-custom").expect(http.StatusNoContent)
		h := r.Header()
		if h.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			h.Get("Access-Control-Max-Age") == "" {
			t.Fatalf("%s preflight headers %v", path, h)
		}
		allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
		for _, want := range []string{"authorization", "content-type", "x-retry-count", "x-custom"} {
			if !strings.Contains(allowed, want) {
				t.Fatalf("%s preflight allows headers %q, not %s", path, allowed, want)
			}
		}
	}
	ts := time.Now().UTC().Format(time.RFC3339)
	for _, c := range []struct {
		name    string
		path    string
		body    string
		auth    string
		status  int
		wantACA string
	}{
		{"stored", "/v1/t", `{"userId":"u","event":"e","timestamp":"` + ts + `"}`, basic(key), 200, origin},
		{"no key", "/v1/t", `{"userId":"u","event":"e"}`, "", 401, origin},
		{"bad message", "/v1/t", `{"userId":"u"}`, basic(key), 400, origin},
		{"bad JSON", "/v1/b", `{"batch":[`, basic(key), 400, origin},
		{"too large", "/v1/b", `{"batch":[],"pad":"` + strings.Repeat("x", 501*1024) + `"}`, basic(key), 413, origin},
		{"unknown route", "/v1/nothing", `{}`, basic(key), 404, origin},
	} {
		r := app.raw(http.MethodPost, c.path, []byte(c.body), "Origin", origin, "Authorization", c.auth, "Content-Type", "text/plain")
		if r.Code != c.status || r.Header().Get("Access-Control-Allow-Origin") != c.wantACA {
			t.Fatalf("%s: status %d, Access-Control-Allow-Origin %q; body %s", c.name, r.Code, r.Header().Get("Access-Control-Allow-Origin"), r.Body.String())
		}
	}
	// A server SDK sends no Origin: the answer still allows any.
	r := app.raw(http.MethodPost, "/v1/t", []byte(`{"userId":"u","event":"e"}`), "Authorization", basic(key))
	if r.Code != 200 || r.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("no origin: %d %v", r.Code, r.Header())
	}
}

// TestWriteKeyOrigins: a key limited to some origins refuses the others' pages with
// 403, and still serves requests without an Origin (server SDKs).
func TestWriteKeyOrigins(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		ctx := context.Background()
		if _, _, err := s.CreateWriteKey(ctx, models.WriteKeyInput{Name: "bad", Origins: "app.example.com"}, nil); err == nil {
			t.Fatal("an origin without a scheme was accepted")
		}
		key, wk, err := s.CreateWriteKey(ctx, models.WriteKeyInput{Name: "web", Origins: "https://app.example.com, https://*.example.org"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if wk.AllowedOrigins != "https://app.example.com https://*.example.org" {
			t.Fatalf("stored origins %q", wk.AllowedOrigins)
		}
		send := func(origin string) response {
			return app.raw(http.MethodPost, "/v1/t", []byte(`{"writeKey":"`+key+`","userId":"u","event":"e"}`), "Origin", origin)
		}
		for origin, want := range map[string]int{
			"https://app.example.com":      200,
			"HTTPS://APP.EXAMPLE.COM":      200,
			"https://eu.example.org":       200,
			"https://example.org":          403,
			"http://app.example.com":       403,
			"https://app.example.com.evil": 403,
			"https://evil.example":         403,
			"":                             200,
		} {
			if r := send(origin); r.Code != want {
				t.Fatalf("origin %q: %d, want %d (%s)", origin, r.Code, want, r.Body.String())
			} else if want == 403 && (!strings.Contains(r.Body.String(), "origin") || r.Header().Get("Access-Control-Allow-Origin") != origin) {
				t.Fatalf("origin %q refused with %s, %v", origin, r.Body.String(), r.Header())
			}
		}
		// The admin opens the key to every origin; the server applies it within its
		// recheck interval (here: a new process, which reads it at once).
		if _, err := s.UpdateWriteKeyLimits(ctx, wk.ID, models.WriteKeyInput{}); err != nil {
			t.Fatal(err)
		}
		app2 := newApp(t, s)
		app2.raw(http.MethodPost, "/v1/t", []byte(`{"writeKey":"`+key+`","userId":"u","event":"e"}`), "Origin", "https://evil.example").expect(200)
	})
}

// TestWriteKeyRateLimit: the limit holds across two processes sharing the database,
// and its 429 says when to retry.
func TestWriteKeyRateLimit(t *testing.T) {
	dbtest.EachTwoProcesses(t, func(t *testing.T, a, b *models.Store) {
		key, _, err := a.CreateWriteKey(context.Background(), models.WriteKeyInput{Name: "web", RateLimit: 3}, nil)
		if err != nil {
			t.Fatal(err)
		}
		one, two := newApp(t, a), newApp(t, b)
		body := func(i int) []byte { return []byte(`{"userId":"u","event":"e","messageId":"` + strconv.Itoa(i) + `"}`) }
		// Stay inside one minute, so the window cannot roll over mid-test.
		if s := time.Now().Second(); s > 55 {
			time.Sleep(time.Duration(61-s) * time.Second)
		}
		for i, app := range []*testApp{one, two, one} {
			app.raw(http.MethodPost, "/v1/t", body(i), "Authorization", basic(key)).expect(200)
		}
		r := two.raw(http.MethodPost, "/v1/t", body(3), "Authorization", basic(key), "Origin", "https://x.example").expect(http.StatusTooManyRequests)
		secs, err := strconv.Atoi(r.Header().Get("Retry-After"))
		if err != nil || secs < 1 || secs > 60 || r.Header().Get("X-RateLimit-Reset") != r.Header().Get("Retry-After") {
			t.Fatalf("429 headers %v", r.Header())
		}
		if !strings.Contains(r.Header().Get("Access-Control-Expose-Headers"), "Retry-After") {
			t.Fatalf("a browser cannot read Retry-After: %v", r.Header())
		}
		if got := totals(t, a); got.Raw != 3 {
			t.Fatalf("stored %d messages, want the 3 within the limit", got.Raw)
		}
		// Counted on the Sources page.
		two.monitor.Flush(context.Background())
		var limited int
		a.DB().Raw("SELECT COALESCE(sum(rate_limited), 0) FROM source_days").Scan(&limited)
		if limited != 1 {
			t.Fatalf("rate-limited requests recorded: %d", limited)
		}
	})
}

// TestClockSkew: originalTimestamp is corrected by sentAt (the message's or the
// batch's) for the device's clock; an explicit timestamp is never changed.
func TestClockSkew(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		key, _ := app.writeKey()
		// The device's clock runs 3 hours fast; the message was made 10 minutes before sending.
		skew := 3 * time.Hour
		made := time.Now().UTC().Add(skew - 10*time.Minute)
		sent := time.Now().UTC().Add(skew)
		iso := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
		app.send("/v1/track", key, `{"userId":"u","event":"e","messageId":"own","originalTimestamp":"`+iso(made)+`","sentAt":"`+iso(sent)+`"}`).expect(200)
		app.send("/v1/batch", key, `{"sentAt":"`+iso(sent)+`","batch":[{"type":"track","userId":"u","event":"e","messageId":"batch","originalTimestamp":"`+iso(made)+`"}]}`).expect(200)
		explicit := time.Now().UTC().Add(-5 * time.Hour).Truncate(time.Second)
		app.send("/v1/track", key, `{"userId":"u","event":"e","messageId":"explicit","timestamp":"`+iso(explicit)+`","originalTimestamp":"`+iso(made)+`","sentAt":"`+iso(sent)+`"}`).expect(200)
		// Without sentAt, originalTimestamp is taken as it is.
		app.send("/v1/track", key, `{"userId":"u","event":"e","messageId":"nosent","originalTimestamp":"`+iso(explicit)+`"}`).expect(200)
		app.send("/v1/track", key, `{"userId":"u","event":"e","messageId":"badsent","originalTimestamp":"`+iso(made)+`","sentAt":"yesterday"}`).expect(400)

		want := time.Now().UTC().Add(-10 * time.Minute)
		for id, at := range map[string]time.Time{"own": want, "batch": want, "explicit": explicit, "nosent": explicit} {
			var ts time.Time
			if err := s.SQL().QueryRow("SELECT ts FROM usage_messages WHERE message_id = $1", id).Scan(&ts); err != nil {
				t.Fatal(id, err)
			}
			if d := ts.Sub(at); d < -5*time.Second || d > 5*time.Second {
				t.Fatalf("%s stored at %s, want about %s", id, ts.UTC(), at)
			}
		}
	})
}

// TestGzipBodies: RudderStack's gzip bodies, and every bad one.
func TestGzipBodies(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	key, _ := app.writeKey()
	batch := []byte(`{"batch":[{"type":"track","userId":"u","event":"e","messageId":"g1"}]}`)
	zipped := gzipped(t, batch)
	bomb := gzipped(t, append([]byte(`{"batch":[],"pad":"`), bytes.Repeat([]byte("x"), 50<<20)...)) // 50 MB inflated
	if len(bomb) > 200<<10 {
		t.Fatalf("the bomb is %d bytes compressed", len(bomb))
	}
	for _, c := range []struct {
		name   string
		body   []byte
		status int
		reason string
	}{
		{"gzip", zipped, 200, ""},
		{"not gzip", batch, 400, "not valid gzip"},
		{"truncated", zipped[:len(zipped)-6], 400, "not valid gzip"},
		{"corrupt", append(append([]byte{}, zipped[:12]...), bytes.Repeat([]byte{0xff}, 40)...), 400, "not valid gzip"},
		{"bomb", bomb, 413, "500 KB"},
	} {
		r := app.raw(http.MethodPost, "/v1/batch", c.body, "Authorization", basic(key), "Content-Encoding", "gzip")
		if r.Code != c.status || !strings.Contains(r.Body.String(), c.reason) {
			t.Fatalf("%s: %d %s", c.name, r.Code, r.Body.String())
		}
	}
}

// TestSourcesPage: an admin sees what arrived with a key, the counted and stored
// split, the live tail and a refused batch's reasons.
func TestSourcesPage(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		key, id := app.writeKey()
		ts := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
		app.send("/v1/batch", key, `{"batch":[
			{"type":"identify","userId":"u1","messageId":"m1","timestamp":"`+ts+`"},
			{"type":"track","userId":"u1","event":"Report Run","messageId":"m2","timestamp":"`+ts+`"},
			{"type":"page","userId":"u1","name":"Home","messageId":"m3","timestamp":"`+ts+`"}]}`).expect(200)
		app.send("/v1/track", key, `{"userId":"u1","event":"Report Run","messageId":"m2","timestamp":"`+ts+`"}`).expect(200) // a retry
		app.send("/v1/batch", key, `{"batch":[{"type":"track","userId":"u1","messageId":"ok"},{"type":"nope","userId":"u1"}]}`).expect(400)
		if err := app.monitor.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		admin := app.loggedIn(models.RoleAdmin)
		list := admin.get("/settings/writekeys").expect(200).doc()
		if got := strings.TrimSpace(list.Find(`[data-testid=writekey-row] [data-testid=received-today]`).Text()); got != "4" {
			t.Fatalf("received today %q, want 4", got)
		}
		page := admin.get("/settings/writekeys/" + strconv.FormatInt(id, 10)).expect(200).doc()
		for sel, want := range map[string]string{
			"today-received": "4 messages", "today-counted": "2", "today-stored": "1", "today-duplicates": "1",
			"today-refused": "1 requests, 0 over the rate limit",
		} {
			if got := strings.TrimSpace(page.Find(`[data-testid=` + sel + `]`).Text()); got != want {
				t.Fatalf("%s: %q, want %q", sel, got, want)
			}
		}
		if n := page.Find(`[data-testid=tail-message]`).Length(); n != 4 {
			t.Fatalf("tail shows %d messages, want 4", n)
		}
		if page.Find(`[data-testid=tail-message]`).First().Find(".badge").Text() != "duplicate" {
			t.Fatal("the retried message is not marked as a duplicate at the top of the tail")
		}
		refusal := page.Find(`[data-testid=refusal]`).Text()
		if !strings.Contains(refusal, "message 0: track without event") || !strings.Contains(refusal, `message 1: unknown type "nope"`) {
			t.Fatalf("refusal shows %q", refusal)
		}
		// The live region alone, as htmx polls it.
		frag := admin.get("/settings/writekeys/"+strconv.FormatInt(id, 10)+"/activity", "HX-Request", "true").expect(200)
		if strings.Contains(frag.Body.String(), "<html") || !strings.Contains(frag.Body.String(), `id="source-activity"`) {
			t.Fatalf("activity fragment: %.300s", frag.Body.String())
		}
		// Limits are set on the page.
		tok := admin.csrf("/settings/writekeys/" + strconv.FormatInt(id, 10))
		r := admin.post("/settings/writekeys/"+strconv.FormatInt(id, 10), map[string][]string{"_csrf": {tok}, "origins": {"ftp://x"}, "rate_limit": {"10"}})
		r.expect(http.StatusUnprocessableEntity)
		if !strings.Contains(r.Body.String(), "not an origin") {
			t.Fatalf("bad origin refused with %.500s", r.Body.String())
		}
		admin.post("/settings/writekeys/"+strconv.FormatInt(id, 10), map[string][]string{"_csrf": {tok}, "origins": {"https://app.example.com"}, "rate_limit": {"10"}}).expect(200)
		wk, err := s.WriteKeyByID(context.Background(), id)
		if err != nil || wk.AllowedOrigins != "https://app.example.com" || wk.RateLimit != 10 {
			t.Fatalf("key after saving limits %+v %v", wk, err)
		}
		// Other roles may not look.
		app.loggedIn(models.RoleManager).get("/settings/writekeys/" + strconv.FormatInt(id, 10)).expect(http.StatusForbidden)
	})
}

// TestSourceTailKeepsFifty: the tail and the refusals keep each key's newest 50.
func TestSourceTailKeepsFifty(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		key, id := app.writeKey()
		for round := 0; round < 3; round++ {
			var msgs []string
			for i := 0; i < 40; i++ {
				msgs = append(msgs, `{"type":"track","userId":"u","event":"e`+strconv.Itoa(round*40+i)+`"}`)
			}
			app.send("/v1/batch", key, `{"batch":[`+strings.Join(msgs, ",")+`]}`).expect(200)
			app.send("/v1/batch", key, `{"batch":[{"type":"x","userId":"u"}]}`).expect(400)
			if err := app.monitor.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		tail, refusals, err := s.SourceTail(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(tail) != 50 || tail[0].Event != "e119" || tail[49].Event != "e70" || len(refusals) != 3 {
			t.Fatalf("tail %d (first %q, last %q), refusals %d", len(tail), tail[0].Event, tail[len(tail)-1].Event, len(refusals))
		}
		var rows int
		s.DB().Raw("SELECT count(*) FROM source_messages").Scan(&rows)
		if rows != 50 {
			t.Fatalf("%d tail rows kept", rows)
		}
		var ps []models.SourceProblem
		json.Unmarshal([]byte(refusals[0].Problems), &ps)
		if len(ps) != 1 || ps[0].Index != 0 {
			t.Fatalf("problems %+v", ps)
		}
	})
}
