package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func BenchmarkParseBatch500(b *testing.B) {
	var msgs []string
	for i := 0; i < 500; i++ {
		msgs = append(msgs, fmt.Sprintf(`{"type":"track","messageId":"m-%d","userId":"user-%d","event":"Report Run","timestamp":"2026-11-20T10:00:00.123Z","context":{"device":{"id":"d-%d"}},"properties":{"duration_seconds":300}}`, i, i, i))
	}
	body := []byte(`{"batch":[` + strings.Join(msgs, ",") + `],"context":{"library":{"name":"bench"}}}`)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBatch(body, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/msg")
}
