package ingest

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// The roll-up inputs of a request's new messages, as stored in usage_pending: every
// field of Message the roll-up stage reads (not the payload or the messageId), so a
// batch claimed from the database is applied exactly as one handed over in memory.
//
//	version 1, uvarint count, then per message: strings (uvarint length + bytes) Type,
//	UserKey, Event, GroupID, DeviceID, Meter; varint Unix seconds, uvarint nanoseconds;
//	flags (1 duration, 2 quantity, 4 traits); float64 Duration and Quantity when
//	flagged; the four trait strings when flagged.
const inputsVersion = 1

const (
	flagDuration = 1 << iota
	flagQuantity
	flagTraits
)

// encodeInputs serialises the roll-up inputs of msgs.
func encodeInputs(msgs []Message) []byte {
	b := make([]byte, 0, 16+len(msgs)*64)
	b = append(b, inputsVersion)
	b = binary.AppendUvarint(b, uint64(len(msgs)))
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, m := range msgs {
		str(m.Type)
		str(m.UserKey)
		str(m.Event)
		str(m.GroupID)
		str(m.DeviceID)
		str(m.Meter)
		b = binary.AppendVarint(b, m.Timestamp.Unix())
		b = binary.AppendUvarint(b, uint64(m.Timestamp.Nanosecond()))
		var flags byte
		if m.Duration != 0 {
			flags |= flagDuration
		}
		if m.Quantity != 0 {
			flags |= flagQuantity
		}
		if m.HasTraits {
			flags |= flagTraits
		}
		b = append(b, flags)
		if flags&flagDuration != 0 {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.Duration))
		}
		if flags&flagQuantity != 0 {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.Quantity))
		}
		if m.HasTraits {
			str(m.Traits.Email)
			str(m.Traits.Name)
			str(m.Traits.Department)
			str(m.Traits.Level)
		}
	}
	return b
}

var errBadInputs = errors.New("ingest: stored roll-up inputs are corrupt")

// decodeInputs reads what encodeInputs wrote; it never panics on bad input.
func decodeInputs(b []byte) ([]Message, error) {
	if len(b) == 0 || b[0] != inputsVersion {
		return nil, errBadInputs
	}
	b = b[1:]
	bad := false
	uvarint := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := uvarint()
		if bad || n > uint64(len(b)) {
			bad = true
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	float := func() float64 {
		if len(b) < 8 {
			bad = true
			return 0
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(b))
		b = b[8:]
		return f
	}
	count := uvarint()
	if bad || count > uint64(len(b)) { // every message takes at least one byte
		return nil, errBadInputs
	}
	msgs := make([]Message, 0, count)
	for range count {
		var m Message
		m.Type, m.UserKey, m.Event, m.GroupID, m.DeviceID, m.Meter = str(), str(), str(), str(), str(), str()
		sec, n := binary.Varint(b)
		if bad || n <= 0 {
			return nil, errBadInputs
		}
		b = b[n:]
		nsec := uvarint()
		if bad || nsec >= uint64(time.Second) || len(b) == 0 {
			return nil, errBadInputs
		}
		m.Timestamp = time.Unix(sec, int64(nsec)).UTC()
		flags := b[0]
		b = b[1:]
		if flags&^(flagDuration|flagQuantity|flagTraits) != 0 {
			return nil, errBadInputs
		}
		if flags&flagDuration != 0 {
			m.Duration = float()
		}
		if flags&flagQuantity != 0 {
			m.Quantity = float()
		}
		if flags&flagTraits != 0 {
			m.HasTraits = true
			m.Traits = Traits{Email: str(), Name: str(), Department: str(), Level: str()}
		}
		if bad {
			return nil, errBadInputs
		}
		msgs = append(msgs, m)
	}
	if len(b) != 0 {
		return nil, errBadInputs
	}
	return msgs, nil
}
