package ingest

import (
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

// PostgreSQL's binary COPY format, written by hand for the raw messages: pgx's
// CopyFrom plans an encoding for every value of every row, which cost the server
// more CPU than the rest of the group's transaction. Each field here is a length and
// the bytes PostgreSQL's binary input functions read: text and json as UTF-8,
// bigint as 8 bytes, timestamptz as microseconds since 2000-01-01 UTC.

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpoch is the origin of PostgreSQL's binary timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// rawCopy accumulates rows of usage_messages (rawColumns) in binary COPY format.
type rawCopy struct{ buf []byte }

// copyBuffers keeps the buffers of finished groups for the next ones: a group's
// data is large, and a fresh buffer costs zeroing and garbage collection.
var copyBuffers sync.Pool

func newRawCopy(sizeHint int) *rawCopy {
	c, _ := copyBuffers.Get().(*rawCopy)
	if c == nil || cap(c.buf) < len(copyHeader)+sizeHint+2 {
		c = &rawCopy{buf: make([]byte, 0, len(copyHeader)+sizeHint+2)}
	}
	c.buf = append(c.buf[:0], copyHeader...)
	return c
}

// release hands the buffer back once the data is sent.
func (c *rawCopy) release() { copyBuffers.Put(c) }

// row appends one message received at now; writeKeyID 0 is stored as NULL.
func (c *rawCopy) row(m *Message, now time.Time, writeKeyID int64) {
	c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(len(rawColumns)))
	c.text(m.MessageID)
	c.text(m.Type)
	c.text(m.UserKey)
	c.text(m.Event)
	c.text(m.GroupID)
	c.timestamp(m.Timestamp)
	c.timestamp(now)
	if writeKeyID == 0 {
		c.buf = binary.BigEndian.AppendUint32(c.buf, 0xffffffff) // NULL
	} else {
		c.buf = binary.BigEndian.AppendUint32(c.buf, 8)
		c.buf = binary.BigEndian.AppendUint64(c.buf, uint64(writeKeyID))
	}
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(len(m.Payload)))
	c.buf = append(c.buf, m.Payload...)
}

func (c *rawCopy) text(s string) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(len(s)))
	c.buf = append(c.buf, s...)
}

func (c *rawCopy) timestamp(t time.Time) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, 8)
	c.buf = binary.BigEndian.AppendUint64(c.buf, uint64(t.UnixMicro()-pgEpoch.UnixMicro()))
}

// bytes ends the data and returns it.
func (c *rawCopy) bytes() []byte {
	return binary.BigEndian.AppendUint16(c.buf, 0xffff)
}

// rawColumns are the columns row writes, in order.
var rawColumns = []string{"message_id", "type", "user_key", "event", "group_key", "ts", "received_at", "write_key_id", "payload"}

// copyRawSQL is the COPY statement the data goes with.
var copyRawSQL = "COPY usage_messages (" + strings.Join(rawColumns, ", ") + ") FROM STDIN (FORMAT binary)"
