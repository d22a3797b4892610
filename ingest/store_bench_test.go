package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sightline/ingest"
	"sightline/models/dbtest"
)

// BenchmarkStore500 measures the write path alone (PostgreSQL from TEST_DATABASE_URL).
func BenchmarkStore500(b *testing.B) {
	store := dbtest.Postgres(b)
	now := time.Now().UTC()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		var msgs []string
		for i := 0; i < 500; i++ {
			n++
			msgs = append(msgs, fmt.Sprintf(`{"type":"track","messageId":"m-%d","userId":"user-%d","event":"Report Run","timestamp":%q,"context":{"device":{"id":"d-%d"}}}`,
				n, n%20000, now.Add(-time.Duration(n%720)*time.Hour).Format(time.RFC3339), n%20000))
		}
		parsed, err := ingest.ParseBatch([]byte(`{"batch":[`+strings.Join(msgs, ",")+`]}`), now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ingest.Store(context.Background(), store, parsed, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/msg")
}
