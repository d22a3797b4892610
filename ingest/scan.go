package ingest

import (
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// A fast path for the messages of a batch. The batch decoder has already checked that
// each message is valid JSON, so reading the few members Sightline needs is a matter
// of finding them: no reflection, no allocation. The scanner accepts only what it is
// sure the general decoder (jsonv2 with the lenient options) reads the same way —
// plain ASCII member names, each known member once, the expected kinds of value —
// and reports false for anything else, which then goes through the general decoder
// (and its error messages). FuzzFastParseMatchesDecoder holds the two paths equal.

// fastParse switches the fast path off in tests that compare the two.
var fastParse = true

// Member names as the lenient decoder matches them: case-insensitive, without '_'
// or '-' (jsonv2's folding).
const (
	nType              = "TYPE"
	nUserID            = "USERID"
	nAnonymousID       = "ANONYMOUSID"
	nEvent             = "EVENT"
	nName              = "NAME"
	nGroupID           = "GROUPID"
	nMessageID         = "MESSAGEID"
	nTimestamp         = "TIMESTAMP"
	nOriginalTimestamp = "ORIGINALTIMESTAMP"
	nSentAt            = "SENTAT"
	nWriteKey          = "WRITEKEY"
	nProperties        = "PROPERTIES"
	nTraits            = "TRAITS"
	nContext           = "CONTEXT"
	nDurationSeconds   = "DURATIONSECONDS"
	nMeter             = "METER"
	nQuantity          = "QUANTITY"
	nEmail             = "EMAIL"
	nDepartment        = "DEPARTMENT"
	nLevel             = "LEVEL"
	nDevice            = "DEVICE"
	nID                = "ID"
)

// scanWire fills w from a message known to be valid JSON, or reports false.
func scanWire(raw []byte, w *wire) bool {
	var seen uint32
	return scanObject(raw, func(name, val []byte) bool {
		var bit uint32
		var dst *jsontext.Value
		var buf [24]byte
		f, ok := fold(name, buf[:0])
		if !ok {
			return false
		}
		switch string(f) {
		case nType:
			if s, ok := plainString(val); ok {
				w.Type = internType(s)
				bit = 1 << 0
				break
			}
			return false
		case nUserID:
			bit, dst = 1<<1, &w.UserID
		case nAnonymousID:
			bit, dst = 1<<2, &w.AnonymousID
		case nEvent:
			bit, dst = 1<<3, &w.Event
		case nName:
			bit, dst = 1<<4, &w.Name
		case nGroupID:
			bit, dst = 1<<5, &w.GroupID
		case nMessageID:
			bit, dst = 1<<6, &w.MessageID
		case nTimestamp:
			bit, dst = 1<<7, &w.Timestamp
		case nOriginalTimestamp:
			bit, dst = 1<<8, &w.OriginalTimestamp
		case nContext:
			bit, dst = 1<<9, &w.Context
		case nSentAt:
			bit, dst = 1<<12, &w.SentAt
		case nWriteKey:
			bit, dst = 1<<13, &w.WriteKey
		case nProperties:
			bit = 1 << 10
			if !isNull(val) {
				if !scanObject(val, func(name, val []byte) bool {
					return scanMember(name, val, &w.Properties.DurationSeconds, nDurationSeconds, &w.Properties.Meter, nMeter, &w.Properties.Quantity, nQuantity)
				}) {
					return false
				}
			}
		case nTraits:
			bit = 1 << 11
			if !isNull(val) {
				w.Traits = &wireTraits{}
				t := w.Traits
				if !scanObject(val, func(name, val []byte) bool {
					return scanMember(name, val, &t.Email, nEmail, &t.Name, nName, &t.Department, nDepartment, &t.Level, nLevel)
				}) {
					return false
				}
			}
		default:
			return true // an unknown member is skipped, as the decoder does
		}
		if seen&bit != 0 {
			return false // a repeated member: the decoder's merge rules apply
		}
		seen |= bit
		if dst != nil {
			*dst = jsontext.Value(val)
		}
		return true
	})
}

// scanContext fills c from a context known to be valid JSON, or reports false.
func scanContext(raw []byte, c *wireContext) bool {
	var seenGroup, seenDevice, seenTraits bool
	return scanObject(raw, func(name, val []byte) bool {
		switch {
		case folded(name, nTraits):
			if seenTraits {
				return false
			}
			seenTraits = true
			c.Traits = jsontext.Value(val)
		case folded(name, nGroupID):
			if seenGroup {
				return false
			}
			seenGroup = true
			c.GroupID = jsontext.Value(val)
		case folded(name, nDevice):
			if seenDevice {
				return false
			}
			seenDevice = true
			if isNull(val) {
				return true
			}
			return scanObject(val, func(name, val []byte) bool {
				return scanMember(name, val, &c.Device.ID, nID)
			})
		default:
			return known(name)
		}
		return true
	})
}

// scanMember stores val in the destination whose folded name matches, once; the
// arguments are pairs of destination and name.
func scanMember(name, val []byte, pairs ...any) bool {
	for i := 0; i < len(pairs); i += 2 {
		if folded(name, pairs[i+1].(string)) {
			dst := pairs[i].(*jsontext.Value)
			if *dst != nil {
				return false
			}
			*dst = jsontext.Value(val)
			return true
		}
	}
	return known(name)
}

// known reports whether a name the scanner does not use is plain enough to be sure
// the decoder does not match it to a member either.
func known(name []byte) bool {
	for _, c := range name {
		if c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

// fold appends a raw member name folded as the decoder folds it (ASCII only, no
// escapes: ok is false otherwise): upper case, without '_' and '-'.
func fold(name, out []byte) ([]byte, bool) {
	for _, c := range name {
		switch {
		case c == '_' || c == '-':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case c >= 0x80 || c == '\\':
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}

// folded compares a raw member name with a folded one: ASCII only, no escapes, case
// ignored, '_' and '-' dropped.
func folded(name []byte, want string) bool {
	var buf [24]byte
	f, ok := fold(name, buf[:0])
	return ok && string(f) == want
}

// internType returns the known type names as constants, so a message's type holds
// no bytes of its own (string(b) in a switch does not allocate).
func internType(b []byte) string {
	switch string(b) {
	case "track":
		return "track"
	case "page":
		return "page"
	case "identify":
		return "identify"
	case "group":
		return "group"
	}
	return string(b)
}

// plainString reads a string value without escapes (its bytes), or null (none).
func plainString(val []byte) ([]byte, bool) {
	if isNull(val) {
		return nil, true
	}
	if len(val) < 2 || val[0] != '"' {
		return nil, false
	}
	inner := val[1 : len(val)-1]
	for _, c := range inner {
		if c == '\\' {
			return nil, false
		}
	}
	return inner, true
}

// scanObject calls fn with each member of a JSON object (name without its quotes,
// value without surrounding space). It reports false when raw is not an object or
// fn returns false.
func scanObject(raw []byte, fn func(name, val []byte) bool) bool {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return skipSpace(raw, i+1) == len(raw)
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return false
		}
		end := skipString(raw, i)
		if end < 0 {
			return false
		}
		name := raw[i+1 : end-1]
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return false
		}
		i = skipSpace(raw, i+1)
		vend := skipValue(raw, i)
		if vend < 0 {
			return false
		}
		if !fn(name, raw[i:vend]) {
			return false
		}
		i = skipSpace(raw, vend)
		if i >= len(raw) {
			return false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return skipSpace(raw, i+1) == len(raw)
		default:
			return false
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i], or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		start := i
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		if i == start {
			return -1
		}
		return i
	}
}

// fastNumber reads a JSON number token as the decoder would; ok is false for
// anything else (strings, overflow), which takes the general path.
func fastNumber(raw []byte) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
}
