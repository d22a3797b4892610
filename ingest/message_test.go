package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func batch(msgs ...string) []byte {
	return []byte(`{"batch":[` + strings.Join(msgs, ",") + `]}`)
}

func TestBadMessagesAreRefusedWithIndexAndReason(t *testing.T) {
	good := `{"type":"track","userId":"u1","event":"Signed In","messageId":"m0"}`
	cases := []struct {
		name   string
		body   []byte
		status int
		index  int
		reason string
	}{
		{"unknown type", batch(good, `{"type":"jump","userId":"u1","messageId":"m1"}`), 400, 1, `unknown type "jump"`},
		{"missing type", batch(`{"userId":"u1","event":"x"}`), 400, 0, "type is missing"},
		{"no user", batch(good, good, `{"type":"track","event":"x"}`), 400, 2, "userId or anonymousId is required"},
		{"empty user ids", batch(`{"type":"page","userId":"","anonymousId":null}`), 400, 0, "userId or anonymousId is required"},
		{"track without event", batch(`{"type":"track","userId":"u1"}`), 400, 0, "track without event"},
		{"group without groupId", batch(`{"type":"group","userId":"u1"}`), 400, 0, "group without groupId"},
		{"far future", batch(`{"type":"track","userId":"u1","event":"x","timestamp":"2026-11-21T12:00:01Z"}`), 400, 0, "more than 24 h in the future"},
		{"bad timestamp", batch(`{"type":"track","userId":"u1","event":"x","timestamp":"yesterday"}`), 400, 0, "timestamp"},
		{"bad JSON in a message", batch(good, `"just a string"`), 400, 1, "bad JSON"},
		{"NUL in an id", batch(good, `{"type":"track","userId":"a\u0000b","event":"x"}`), 400, 1, "userId: must not contain NUL"},
		{"wrong id type", batch(`{"type":"track","userId":{"a":1},"event":"x"}`), 400, 0, "userId: want a string"},
		{"message over 32 KB", batch(`{"type":"track","userId":"u1","event":"x","properties":{"p":"` + strings.Repeat("a", 33*1024) + `"}}`), 413, 0, "32768"},
		{"messageId of 100 characters", batch(`{"type":"track","userId":"u1","event":"x","messageId":"` + strings.Repeat("m", 100) + `"}`), 413, 0, "shorter than 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msgs, err := ParseBatch(tc.body, now)
			var rerr *RequestError
			if !errors.As(err, &rerr) {
				t.Fatalf("accepted %d messages, want refusal", len(msgs))
			}
			if rerr.Status != tc.status {
				t.Fatalf("status %d, want %d (%v)", rerr.Status, tc.status, rerr)
			}
			if len(rerr.Problems) != 1 || rerr.Problems[0].Index != tc.index || !strings.Contains(rerr.Problems[0].Reason, tc.reason) {
				t.Fatalf("problems %+v, want index %d with %q", rerr.Problems, tc.index, tc.reason)
			}
		})
	}
}

func TestWholeRequestRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		body   []byte
		status int
	}{
		"not JSON":         {[]byte(`{"batch":[`), 400},
		"no batch":         {[]byte(`{"messages":[]}`), 400},
		"batch not a list": {[]byte(`{"batch":{}}`), 400},
		"over 500 KB":      {[]byte(`{"batch":[],"pad":"` + strings.Repeat("x", 500*1024) + `"}`), 413},
		"over 2500":        {batch(strings.Repeat(`{"type":"page","userId":"u"},`, 2500) + `{"type":"page","userId":"u"}`), 413},
	} {
		_, err := ParseBatch(tc.body, now)
		var rerr *RequestError
		if !errors.As(err, &rerr) || rerr.Status != tc.status {
			t.Errorf("%s: %v, want status %d", name, err, tc.status)
		}
	}
	// Every bad message is listed, not only the first.
	_, err := ParseBatch(batch(`{"type":"x","userId":"u"}`, `{"type":"track","userId":"u","event":"ok"}`, `{"type":"track","userId":"u"}`), now)
	var rerr *RequestError
	if !errors.As(err, &rerr) || len(rerr.Problems) != 2 || rerr.Problems[0].Index != 0 || rerr.Problems[1].Index != 2 {
		t.Fatalf("problems %+v", err)
	}
	// The limits are inclusive: 2,500 messages and a 99-character messageId pass.
	if _, err := ParseBatch(batch(strings.Repeat(`{"type":"page","userId":"u"},`, 2499)+`{"type":"page","userId":"u","messageId":"`+strings.Repeat("m", 99)+`"}`), now); err != nil {
		t.Fatal(err)
	}
}

func TestFieldsAndContextMerge(t *testing.T) {
	body := []byte(`{"context":{"groupId":"acme","device":{"id":"outer-dev"},"library":{"name":"x"}},"batch":[
		{"type":"track","userId":42,"event":"Session Ended","properties":{"duration_seconds":"90.5"},"messageId":"a",
		 "timestamp":"2026-11-20T09:00:00.000+02:00","originalTimestamp":"2026-11-19T00:00:00Z","context":{"device":{"id":"own-dev"}}},
		{"type":"track","anonymousId":"anon-1","event":"Usage Reported","properties":{"meter":"api_calls","quantity":250},"messageId":"b","originalTimestamp":"2026-11-19T23:59:59Z"},
		{"type":"identify","userId":"u2","traits":{"email":"a@b.c","level":"Executive","department":"Sales"}},
		{"type":"page","userId":"u3","name":"Home","context":{"groupId":"bolt"}}
	]}`)
	msgs, err := ParseBatch(body, now)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c, d := msgs[0], msgs[1], msgs[2], msgs[3]
	if a.UserKey != "42" || a.Duration != 90.5 || a.DeviceID != "own-dev" || a.GroupID != "acme" {
		t.Errorf("a = %+v", a)
	}
	if !a.Timestamp.Equal(time.Date(2026, 11, 20, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("timestamp wins over originalTimestamp, in UTC: %v", a.Timestamp)
	}
	if b.UserKey != "anon:anon-1" || b.Meter != "api_calls" || b.Quantity != 250 || b.DeviceID != "outer-dev" {
		t.Errorf("b = %+v", b)
	}
	if !b.Timestamp.Equal(time.Date(2026, 11, 19, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("originalTimestamp used: %v", b.Timestamp)
	}
	if !c.HasTraits || c.Traits.Level != "Executive" || c.Traits.Department != "Sales" || !c.Timestamp.Equal(now) {
		t.Errorf("c = %+v", c)
	}
	if c.MessageID == "" || !strings.HasPrefix(c.MessageID, "sha256:") {
		t.Errorf("a message without messageId gets one from its content: %q", c.MessageID)
	}
	if d.GroupID != "bolt" || d.Event != "Home" {
		t.Errorf("own context.groupId wins: %+v", d)
	}
	// The stored payload carries the merged context.
	var stored struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b.Payload, &stored); err != nil || stored.Context["library"] == nil || stored.Context["device"] == nil {
		t.Errorf("payload context %v (%v)", stored.Context, err)
	}
}

func TestSingleEndpointsTakeTheTypeFromTheRoute(t *testing.T) {
	msgs, err := ParseSingle([]byte(`{"userId":"u1","event":"Signed In"}`), "track", now)
	if err != nil || msgs[0].Type != "track" || !strings.Contains(string(msgs[0].Payload), `"type":"track"`) {
		t.Fatalf("%+v %v", msgs, err)
	}
	if _, err := ParseSingle([]byte(`{"type":"page","userId":"u1"}`), "track", now); err == nil {
		t.Fatal("a page message on /v1/track was accepted")
	}
	if _, err := ParseSingle([]byte(`{"userId":"u1"}`), "group", now); err == nil {
		t.Fatal("group without groupId accepted")
	}
}

// FuzzParseBatch: any input is either refused with reasons or yields messages that
// satisfy every rule; it never panics.
func FuzzParseBatch(f *testing.F) {
	f.Add([]byte(`{"batch":[{"type":"track","userId":"u","event":"e","messageId":"m","timestamp":"2026-11-20T10:00:00Z"}]}`))
	f.Add([]byte(`{"context":{"groupId":"g"},"batch":[{"type":"identify","anonymousId":7,"traits":{"level":"manager"}}]}`))
	f.Add([]byte(`{"batch":[{"type":"group","userId":"u","groupId":"g","originalTimestamp":"2026-11-20T10:00:00"}]}`))
	f.Add([]byte(`{"batch":[null,{},[],"x",1]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, err := ParseBatch(body, now)
		if err != nil {
			var rerr *RequestError
			if !errors.As(err, &rerr) || (rerr.Status != 400 && rerr.Status != 413) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		for i, m := range msgs {
			if m.UserKey == "" || m.MessageID == "" || len(m.MessageID) > MaxMessageIDLen || !knownTypes[m.Type] ||
				(m.Type == "track" && m.Event == "") || (m.Type == "group" && m.GroupID == "") ||
				m.Timestamp.After(now.Add(MaxFutureSkew)) || !json.Valid(m.Payload) {
				t.Fatalf("message %d accepted but invalid: %s", i, fmt.Sprintf("%+v", m))
			}
		}
	})
}

// TestBrowserSDKShapes: what the browser SDKs send differently from the server ones.
func TestBrowserSDKShapes(t *testing.T) {
	// RudderStack's browser SDK: identify traits in context.traits alone; a
	// message's own top-level traits win over them.
	msgs, err := ParseBatch(batch(
		`{"type":"identify","userId":"u1","messageId":"i1","context":{"traits":{"level":"executive","department":"Legal"}}}`,
		`{"type":"identify","userId":"u2","messageId":"i2","traits":{"level":"manager"},"context":{"traits":{"level":"executive"}}}`,
		`{"type":"identify","userId":"u3","messageId":"i3","context":{"traits":"not an object"}}`,
	), now)
	if err != nil {
		t.Fatal(err)
	}
	if m := msgs[0]; !m.HasTraits || m.Traits.Level != "executive" || m.Traits.Department != "Legal" {
		t.Fatalf("context traits: %+v", m)
	}
	if m := msgs[1]; m.Traits.Level != "manager" {
		t.Fatalf("top-level traits lost to context's: %+v", m)
	}
	if m := msgs[2]; m.HasTraits {
		t.Fatalf("unreadable context traits taken: %+v", m)
	}

	// analytics.js puts the write key in every message: it is not stored.
	msgs, err = ParseSingle([]byte(`{"writeKey":"wk_secret","userId":"u","event":"e","messageId":"t1","properties":{"writeKey":"kept"}}`), "track", now)
	if err != nil {
		t.Fatal(err)
	}
	if p := string(msgs[0].Payload); strings.Contains(p, "wk_secret") || !strings.Contains(p, `"properties":{"writeKey":"kept"}`) || !strings.Contains(p, `"event":"e"`) {
		t.Fatalf("stored payload %s", p)
	}

	// originalTimestamp corrected by sentAt; the batch's sentAt when the message has none.
	msgs, err = ParseBatch([]byte(`{"sentAt":"2026-11-20T15:00:00Z","batch":[
		{"type":"track","userId":"u","event":"e","messageId":"a","originalTimestamp":"2026-11-20T14:50:00Z"},
		{"type":"track","userId":"u","event":"e","messageId":"b","originalTimestamp":"2026-11-20T14:50:00Z","sentAt":"2026-11-20T14:51:00Z"},
		{"type":"track","userId":"u","event":"e","messageId":"c","timestamp":"2026-11-20T09:00:00Z","originalTimestamp":"2026-11-20T14:50:00Z"}]}`), now)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Time{now.Add(-10 * time.Minute), now.Add(-time.Minute), time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)} {
		if !msgs[i].Timestamp.Equal(want) {
			t.Fatalf("message %d at %s, want %s", i, msgs[i].Timestamp, want)
		}
	}
	// A correction cannot carry a message past the future limit: the device's own
	// sentAt brings it back to the time received.
	msgs, err = ParseBatch(batch(`{"type":"track","userId":"u","event":"e","originalTimestamp":"2030-01-01T00:00:00Z","sentAt":"2030-01-01T00:00:05Z"}`), now)
	if err != nil || !msgs[0].Timestamp.Equal(now.Add(-5*time.Second)) {
		t.Fatalf("a device clock years fast: %v, %v", msgs, err)
	}
}
