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

// BenchmarkWrite500 measures the write path alone (PostgreSQL from TEST_DATABASE_URL)
// with SDK-shaped batches: runs of 25 messages from one user's session.
func BenchmarkWrite500(b *testing.B) {
	store := dbtest.Postgres(b)
	w := ingest.NewWriter(store)
	now := time.Now().UTC()
	n := 0
	var bodies [][]byte
	for range 200 {
		var msgs []string
		for i := 0; i < 500; i++ {
			n++
			user := (n / 25) % 20000
			msgs = append(msgs, fmt.Sprintf(`{"type":"track","messageId":"m-%d","userId":"user-%d","event":"Event %d","timestamp":%q,"context":{"device":{"id":"d-%d"}}}`,
				n, user, n%11, now.Add(-time.Duration(user%6)*time.Hour).Format(time.RFC3339), user))
		}
		bodies = append(bodies, []byte(`{"batch":[`+strings.Join(msgs, ",")+`]}`))
	}
	i := 0
	b.ResetTimer()
	for b.Loop() {
		parsed, err := ingest.ParseBatch(bodies[i%len(bodies)], now)
		if err != nil {
			b.Fatal(err)
		}
		i++
		if _, err := w.Write(context.Background(), parsed, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/msg")
}
