package handlers

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"sightline/ingest"
)

// countingReader counts what the server reads of a body.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestGzipBombIsNotInflated: a body that inflates to a gigabyte is refused having
// read only about the limit's worth of it.
func TestGzipBombIsNotInflated(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestCompression)
		io.Copy(zw, io.LimitReader(zeros{}, 1<<30)) // 1 GB inflated, ~1 MB compressed
		zw.Close()
		pw.Close()
	}()
	body := &countingReader{r: pr}
	req := httptest.NewRequest(http.MethodPost, "/v1/batch", body)
	req.Header.Set("Content-Encoding", "gzip")
	_, err := readBody(req)
	pr.CloseWithError(errors.New("done"))
	var he *echo.HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("bomb: %v", err)
	}
	// 500 KB of zeros compress to about 500 bytes; allow for the reader's buffers.
	if body.n > 64<<10 {
		t.Fatalf("read %d compressed bytes (%d MB inflated) before refusing", body.n, body.n*1000/(1<<20))
	}
}

// FuzzGzipBody: any body sent as gzip is read back exactly when it is valid and
// within the limit, and refused with 400 or 413 otherwise; never a panic, never more
// than the limit.
func FuzzGzipBody(f *testing.F) {
	zip := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	f.Add(zip([]byte(`{"batch":[]}`)), false)
	f.Add(zip(bytes.Repeat([]byte("a"), ingest.MaxBodyBytes+1)), false)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, true)
	f.Add([]byte("not gzip"), true)
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		sent := data
		if !raw {
			sent = zip(data)
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/batch", bytes.NewReader(sent))
		req.Header.Set("Content-Encoding", "gzip")
		got, err := readBody(req)
		if err != nil {
			var he *echo.HTTPError
			if !errors.As(err, &he) || (he.Code != 400 && he.Code != 413) {
				t.Fatalf("error %v", err)
			}
			if !raw && len(data) <= ingest.MaxBodyBytes {
				t.Fatalf("a valid body of %d bytes refused: %v", len(data), err)
			}
			return
		}
		if len(got) > ingest.MaxBodyBytes {
			t.Fatalf("read %d bytes, over the limit", len(got))
		}
		if !raw && !bytes.Equal(got, data) {
			t.Fatalf("read %q, sent %q", got, data)
		}
	})
}
