// Package ingest accepts Segment-compatible usage messages (SPEC §3): it parses and
// validates a request into messages, then stores them exactly once, in one
// transaction with the rollups the metrics are computed from.
package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Limits of SPEC §3.
const (
	MaxBodyBytes     = 500 * 1024
	MaxMessageBytes  = 32 * 1024
	MaxBatchMessages = 2500
	MaxMessageIDLen  = 99 // messageId must be shorter than 100 characters
	MaxFutureSkew    = 24 * time.Hour
)

// Types a message may have. screen and alias are valid Segment types: they are
// stored, and screen counts as a page view would not (SPEC counts track and page only).
var knownTypes = map[string]bool{"track": true, "page": true, "identify": true, "group": true, "screen": true, "alias": true}

// lenient accepts what Segment's own API accepts: repeated member names (the last
// wins) and names in any case.
var lenient = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsonv2.MatchCaseInsensitiveNames(true))

// Message is one validated usage message.
type Message struct {
	Type      string
	UserKey   string // userId, or "anon:"+anonymousId when there is none
	MessageID string
	Event     string // track: event; page: name
	GroupID   string // group: groupId; others: context.groupId
	Timestamp time.Time
	DeviceID  string  // context.device.id
	Duration  float64 // properties.duration_seconds
	Meter     string  // properties.meter
	Quantity  float64 // properties.quantity
	Traits    Traits
	HasTraits bool
	Payload   []byte // the message as received, with the batch context merged in
	// Duplicate is set by Writer.Write when the messageId was stored before.
	Duplicate bool
}

// Traits are the identify traits Sightline keeps (latest identify wins).
type Traits struct {
	Email, Name, Department, Level string
}

// Problem is why one message of a request was refused.
type Problem struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// RequestError refuses a whole request: 400 for invalid messages, 413 over the limits.
type RequestError struct {
	Status   int
	Message  string
	Problems []Problem
}

func (e *RequestError) Error() string {
	if len(e.Problems) == 0 {
		return e.Message
	}
	parts := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		parts = append(parts, fmt.Sprintf("message %d: %s", p.Index, p.Reason))
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// wire is the Segment message as sent. Identifiers are raw so that numbers are accepted
// as well as strings, as Segment's own API does.
type wire struct {
	Type              string         `json:"type"`
	UserID            jsontext.Value `json:"userId"`
	AnonymousID       jsontext.Value `json:"anonymousId"`
	Event             jsontext.Value `json:"event"`
	Name              jsontext.Value `json:"name"`
	GroupID           jsontext.Value `json:"groupId"`
	MessageID         jsontext.Value `json:"messageId"`
	Timestamp         jsontext.Value `json:"timestamp"`
	OriginalTimestamp jsontext.Value `json:"originalTimestamp"`
	SentAt            jsontext.Value `json:"sentAt"`
	WriteKey          jsontext.Value `json:"writeKey"`   // analytics.js sends it in every message
	Properties        wireProperties `json:"properties"` // a value: one allocation less a message
	Traits            *wireTraits    `json:"traits"`
	Context           jsontext.Value `json:"context"`
}

type wireProperties struct {
	DurationSeconds jsontext.Value `json:"duration_seconds"`
	Meter           jsontext.Value `json:"meter"`
	Quantity        jsontext.Value `json:"quantity"`
}

type wireTraits struct {
	Email      jsontext.Value `json:"email"`
	Name       jsontext.Value `json:"name"`
	Department jsontext.Value `json:"department"`
	Level      jsontext.Value `json:"level"`
}

// wireContext is the part of a context Sightline reads.
type wireContext struct {
	GroupID jsontext.Value `json:"groupId"`
	Device  wireDevice     `json:"device"`
	Traits  jsontext.Value `json:"traits"` // read for identify calls only
}

type wireDevice struct {
	ID jsontext.Value `json:"id"`
}

type batchEnvelope struct {
	Batch   []jsontext.Value `json:"batch"`
	Context jsontext.Value   `json:"context"`
	SentAt  jsontext.Value   `json:"sentAt"`
}

// ParseBatch reads a /v1/batch body. Every message is checked; when any is invalid
// the whole request is refused with each bad message's index and reason.
func ParseBatch(body []byte, received time.Time) ([]Message, error) {
	if len(body) > MaxBodyBytes {
		return nil, &RequestError{Status: 413, Message: fmt.Sprintf("request body is %d bytes; the limit is %d", len(body), MaxBodyBytes)}
	}
	var env batchEnvelope
	if err := jsonv2.Unmarshal(body, &env, lenient); err != nil {
		return nil, &RequestError{Status: 400, Message: "body is not a valid batch: " + jsonReason(err)}
	}
	if env.Batch == nil {
		return nil, &RequestError{Status: 400, Message: `body has no "batch" array`}
	}
	if len(env.Batch) > MaxBatchMessages {
		return nil, &RequestError{Status: 413, Message: fmt.Sprintf("batch has %d messages; the limit is %d", len(env.Batch), MaxBatchMessages)}
	}
	outer := env.Context
	if isNull(outer) {
		outer = nil
	} else if len(bytes.TrimSpace(outer)) == 0 || bytes.TrimSpace(outer)[0] != '{' {
		return nil, &RequestError{Status: 400, Message: "the batch context must be an object"}
	}
	return parseAll(env.Batch, outer, env.SentAt, "", received, true)
}

// ParseSingle reads the body of /v1/track, /v1/identify, /v1/group or /v1/page; the
// route gives the type.
func ParseSingle(body []byte, typ string, received time.Time) ([]Message, error) {
	if len(body) > MaxBodyBytes {
		return nil, &RequestError{Status: 413, Message: fmt.Sprintf("request body is %d bytes; the limit is %d", len(body), MaxBodyBytes)}
	}
	return parseAll([]jsontext.Value{body}, nil, nil, typ, received, false)
}

// parseAll parses each message; validated tells that the batch decoder has checked
// they are valid JSON, which the fast path (scan.go) relies on.
func parseAll(raws []jsontext.Value, outer, sentAt jsontext.Value, routeType string, received time.Time, validated bool) ([]Message, error) {
	msgs := make([]Message, 0, len(raws))
	var problems []Problem
	b := newBatchContext(outer) // the same for every message: read once
	b.sentAt = sentAt
	tooBig := false
	for i, raw := range raws {
		if len(raw) > MaxMessageBytes {
			problems = append(problems, Problem{i, fmt.Sprintf("message is %d bytes; the limit is %d", len(raw), MaxMessageBytes)})
			tooBig = true
			continue
		}
		m, status, reason := parseOne(raw, b, routeType, received, validated)
		if reason != "" {
			if status == 413 {
				tooBig = true
			}
			problems = append(problems, Problem{i, reason})
			continue
		}
		msgs = append(msgs, m)
	}
	if len(problems) > 0 {
		if tooBig {
			return nil, &RequestError{Status: 413, Message: "a message is over the limits", Problems: problems}
		}
		return nil, &RequestError{Status: 400, Message: "invalid messages; nothing was stored", Problems: problems}
	}
	return msgs, nil
}

// batchContext is the batch's context, read once for all its messages.
type batchContext struct {
	ids    *contextIDs // nil when there is none
	idsBuf contextIDs
	// The members mergedPayload adds: as the message's context when it has none of its
	// own, beside it otherwise (nil without a batch context).
	asContext, besideContext []byte
	sentAt                   jsontext.Value // the batch's, for messages without their own
}

func newBatchContext(outer jsontext.Value) *batchContext {
	b := &batchContext{}
	b.ids = readContext(outer, &b.idsBuf)
	if !isNull(outer) {
		b.asContext = append(append([]byte(`"context":`), outer...), ',')
		b.besideContext = append(append([]byte(`"batchContext":`), outer...), ',')
	}
	return b
}

// parseOne validates one message; it returns a reason (and 400 or 413) when invalid.
func parseOne(raw jsontext.Value, b *batchContext, routeType string, received time.Time, validated bool) (Message, int, string) {
	var w wire
	if !validated || !fastParse || !scanWire(raw, &w) {
		w = wire{}
		if err := jsonv2.Unmarshal(raw, &w, lenient); err != nil {
			return Message{}, 400, "bad JSON: " + jsonReason(err)
		}
	}
	if w.WriteKey != nil {
		// Browser SDKs put the write key in each message: it is a secret, not usage,
		// and is not stored. (The members read above are unchanged by dropping it.)
		raw = dropMember(raw, "writeKey")
	}
	sentType := w.Type
	if routeType != "" {
		if w.Type != "" && w.Type != routeType {
			return Message{}, 400, fmt.Sprintf("type %q sent to the /v1/%s endpoint", w.Type, routeType)
		}
		w.Type = routeType
	}
	m := Message{Type: w.Type}
	if !knownTypes[w.Type] {
		if w.Type == "" {
			return m, 400, "type is missing"
		}
		return m, 400, fmt.Sprintf("unknown type %q (want track, page, identify, group, screen or alias)", w.Type)
	}
	userID, err := idString(w.UserID)
	if err != nil {
		return m, 400, "userId: " + err.Error()
	}
	anonID, err := idString(w.AnonymousID)
	if err != nil {
		return m, 400, "anonymousId: " + err.Error()
	}
	switch {
	case userID != "":
		m.UserKey = userID
	case anonID != "":
		m.UserKey = "anon:" + anonID
	default:
		return m, 400, "userId or anonymousId is required"
	}
	if m.Event, err = idString(w.Event); err != nil {
		return m, 400, "event: " + err.Error()
	}
	if m.Type == "track" && m.Event == "" {
		return m, 400, "track without event"
	}
	if m.Type == "page" || m.Type == "screen" {
		if m.Event, err = idString(w.Name); err != nil {
			return m, 400, "name: " + err.Error()
		}
	}
	if m.GroupID, err = idString(w.GroupID); err != nil {
		return m, 400, "groupId: " + err.Error()
	}
	if m.Type == "group" && m.GroupID == "" {
		return m, 400, "group without groupId"
	}
	if m.MessageID, err = idString(w.MessageID); err != nil {
		return m, 400, "messageId: " + err.Error()
	}
	if len(m.MessageID) > MaxMessageIDLen {
		return m, 413, fmt.Sprintf("messageId is %d characters; it must be shorter than 100", len(m.MessageID))
	}

	// Read groupId and device.id from the message's context, then from the batch's.
	var own contextIDs
	for _, ids := range []*contextIDs{readContext(w.Context, &own), b.ids} {
		if ids == nil {
			continue
		}
		if ids.reason != "" {
			return m, 400, ids.reason
		}
		if m.GroupID == "" {
			if ids.groupReason != "" {
				return m, 400, ids.groupReason
			}
			m.GroupID = ids.groupID
		}
		if m.DeviceID == "" {
			m.DeviceID = ids.deviceID
		}
	}

	var reason string
	if m.Timestamp, reason = eventTime(&w, b.sentAt, received); reason != "" {
		return m, 400, reason
	}
	if m.Timestamp.After(received.Add(MaxFutureSkew)) {
		return m, 400, fmt.Sprintf("timestamp %s is more than 24 h in the future", m.Timestamp.UTC().Format(time.RFC3339))
	}
	m.Timestamp = m.Timestamp.UTC()

	if m.Type == "track" {
		m.Duration = number(w.Properties.DurationSeconds)
		if m.Event == UsageReportedEvent {
			m.Meter, _ = idString(w.Properties.Meter)
			m.Quantity = number(w.Properties.Quantity)
		}
	}
	if m.Type == "identify" && w.Traits == nil && !isNull(w.Context) && !isNull(own.traits) {
		// RudderStack's browser SDK sends identify traits in context.traits alone.
		var t wireTraits
		if jsonv2.Unmarshal(own.traits, &t, lenient) == nil {
			w.Traits = &t
		}
	}
	if m.Type == "identify" && w.Traits != nil {
		m.HasTraits = true
		m.Traits.Email, _ = idString(w.Traits.Email)
		m.Traits.Name, _ = idString(w.Traits.Name)
		m.Traits.Department, _ = idString(w.Traits.Department)
		m.Traits.Level, _ = idString(w.Traits.Level)
	}

	m.Payload = mergedPayload(raw, w.Context, b, routeType, sentType)
	if m.MessageID == "" {
		// Without a messageId, an identical resend is the same message.
		sum := sha256.Sum256(raw)
		m.MessageID = "sha256:" + hex.EncodeToString(sum[:20])
	}
	return m, 0, ""
}

// eventTime is the message's time (SPEC §3): its timestamp as sent; else its
// originalTimestamp, corrected for the device's clock by the sentAt of the message or
// its batch (received − (sentAt − originalTimestamp)); else the time received.
func eventTime(w *wire, batchSentAt jsontext.Value, received time.Time) (time.Time, string) {
	if !isNull(w.Timestamp) {
		t, err := parseTime(w.Timestamp)
		if err != nil {
			return t, "timestamp: " + err.Error()
		}
		return t, ""
	}
	if isNull(w.OriginalTimestamp) {
		return received, ""
	}
	orig, err := parseTime(w.OriginalTimestamp)
	if err != nil {
		return orig, "originalTimestamp: " + err.Error()
	}
	name, sent := "sentAt", w.SentAt
	if isNull(sent) {
		name, sent = "batch sentAt", batchSentAt
	}
	if isNull(sent) {
		return orig, ""
	}
	sentAt, err := parseTime(sent)
	if err != nil {
		return orig, name + ": " + err.Error()
	}
	return received.Add(-sentAt.Sub(orig)), ""
}

// dropMember returns a JSON object without its members of this name (the object as
// it was when it cannot be read: the parser then says why).
func dropMember(raw jsontext.Value, name string) jsontext.Value {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' || enc.WriteToken(jsontext.BeginObject) != nil {
		return raw
	}
	for dec.PeekKind() != '}' {
		key, err := dec.ReadToken()
		if err != nil {
			return raw
		}
		member := key.String() // before the next read voids the token
		val, err := dec.ReadValue()
		if err != nil {
			return raw
		}
		if member == name {
			continue
		}
		if enc.WriteToken(jsontext.String(member)) != nil || enc.WriteValue(val) != nil {
			return raw
		}
	}
	if _, err := dec.ReadToken(); err != nil || enc.WriteToken(jsontext.EndObject) != nil {
		return raw
	}
	return bytes.TrimSpace(out.Bytes())
}

// contextIDs are what a context gives: groupId and device.id, or why it is unusable
// (reason: the context itself; groupReason: its groupId, which only matters when the
// message names no group of its own).
type contextIDs struct {
	groupID, deviceID   string
	reason, groupReason string
	traits              jsontext.Value
}

// readContext reads a context that was checked as JSON (by the batch decoder or the
// message's) into ids, and returns it; nil when there is none. (The caller's ids and
// the fast path spare a message two allocations.)
func readContext(raw jsontext.Value, ids *contextIDs) *contextIDs {
	if isNull(raw) {
		return nil
	}
	var c wireContext
	if !fastParse || !scanContext(raw, &c) {
		var err error
		if c, err = decodeContext(raw); err != nil {
			*ids = contextIDs{reason: "context: " + jsonReason(err)}
			return ids
		}
	}
	*ids = contextIDs{traits: c.Traits}
	var err error
	if ids.groupID, err = idString(c.GroupID); err != nil {
		ids.groupID, ids.groupReason = "", "context.groupId: "+err.Error()
	}
	ids.deviceID, _ = idString(c.Device.ID)
	return ids
}

// decodeContext is readContext's general path, apart so that the fast one keeps its
// context on the stack.
func decodeContext(raw jsontext.Value) (wireContext, error) {
	var c wireContext
	err := jsonv2.Unmarshal(raw, &c, lenient)
	return c, err
}

// mergedPayload is the message to store, with the batch context merged in and the
// route's type added for single-message endpoints, spliced as text rather than
// re-encoded (re-encoding cost more than everything else on the ingest path). When the
// message has a context of its own, the batch's is kept beside it as "batchContext":
// nothing is lost, and a reprocessor merges the two with the message's keys winning,
// as the fields counted here already were.
func mergedPayload(raw, own jsontext.Value, b *batchContext, routeType, sentType string) []byte {
	raw = bytes.TrimSpace(raw)
	extra := b.besideContext
	if isNull(own) {
		extra = b.asContext
	}
	if routeType != "" && sentType == "" {
		extra = append(slices.Clip(extra), `"type":`+strconv.Quote(routeType)+`,`...)
	}
	if len(extra) == 0 {
		return raw
	}
	// raw is a JSON object: put the extra members first.
	out := make([]byte, 0, len(raw)+len(extra))
	out = append(out, '{')
	out = append(out, extra...)
	rest := bytes.TrimSpace(raw[1:])
	if len(rest) > 0 && rest[0] == '}' {
		out = out[:len(out)-1] // no members of its own: drop the trailing comma
	}
	return append(out, rest...)
}

// UsageReportedEvent is the track event carrying metered quantities (SPEC §5).
const UsageReportedEvent = "Usage Reported"

func isNull(raw jsontext.Value) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// idString reads a string (or a number, as Segment accepts) identifier.
func idString(raw jsontext.Value) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	switch raw[0] {
	case '"':
		// Most identifiers need no unescaping: take them as they are.
		if len(raw) >= 2 && raw[len(raw)-1] == '"' {
			if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 && utf8.Valid(inner) {
				return strings.TrimSpace(string(inner)), nil
			}
		}
		var s string
		if err := jsonv2.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("not a valid string")
		}
		if strings.IndexByte(s, 0) >= 0 {
			return "", fmt.Errorf("must not contain NUL (\\u0000)")
		}
		return strings.TrimSpace(s), nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), nil // a number token, already validated by the decoder
	}
	return "", fmt.Errorf("want a string")
}

// number reads a numeric property (a number or a numeric string); anything else is 0.
func number(raw jsontext.Value) float64 {
	if isNull(raw) {
		return 0
	}
	if f, ok := fastNumber(raw); ok && fastParse {
		return f
	}
	var f float64
	if jsonv2.Unmarshal(raw, &f) == nil {
		return f
	}
	var s string
	if jsonv2.Unmarshal(raw, &s) == nil {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return f
		}
	}
	return 0
}

func parseTime(raw jsontext.Value) (time.Time, error) {
	s, err := idString(raw)
	if err != nil || len(raw) == 0 || raw[0] != '"' {
		return time.Time{}, fmt.Errorf("want an ISO-8601 date string")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 date", s)
}

func jsonReason(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"jsontext: ", "json: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}
