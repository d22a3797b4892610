package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"time"

	"github.com/jackc/pgx/v5"

	"sightline/ingest"
	"sightline/models"
)

// retentionRun measures the daily retention job at volume: a million raw messages
// past RAW_RETENTION_DAYS are deleted (batched deletes of 10,000, ingest.PruneRaw)
// while the server ingests, against the same ingestion with nothing pruned; then
// whether the table grows when the freed space is written again.
func retentionRun(pg *postgres, bin string) error {
	fmt.Println("== Raw-message retention at volume (PostgreSQL, 8 ingesting clients) ==")
	const db, old, perRun = "retention", 1_000_000, 200_000
	if err := createDB(pg, db); err != nil {
		return err
	}
	url := pg.url(db)
	migrate := exec.Command(bin, "migrate")
	migrate.Env = append(os.Environ(), "DATABASE_URL="+url, "LOG_LEVEL=error")
	if out, err := migrate.CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %v\n%s", err, out)
	}
	start := time.Now()
	// Messages received 500 days ago, shaped like stored ones.
	err := pgExec(url, fmt.Sprintf(`INSERT INTO usage_messages (message_id, type, user_key, event, group_key, ts, received_at, payload)
		SELECT 'old-' || i, 'track', 'user-' || (i %% 20000), 'Report Run', 'acct-' || (i %% 500),
			now() - interval '500 days', now() - interval '500 days',
			jsonb_build_object('type', 'track', 'event', 'Report Run', 'userId', 'user-' || (i %% 20000), 'messageId', 'old-' || i)
		FROM generate_series(1, %d) AS i`, old), "VACUUM ANALYZE usage_messages")
	if err != nil {
		return err
	}
	size := func() string { return tableSize(url) }
	fmt.Printf("   %d messages older than the retention written in %.1f s; usage_messages %s\n", old, time.Since(start).Seconds(), size())

	rng := rand.New(rand.NewPCG(7, 8))
	run := func(name string) (loadResult, error) {
		if err := pgExec(url, "TRUNCATE usage_user_days"); err != nil { // load() waits for its own count
			return loadResult{}, err
		}
		return load(pg, bin, db, genMessages(rng, name, perRun, "sessions"), 100, name)
	}
	base, err := run("retention-baseline")
	if err != nil {
		return err
	}
	fmt.Printf("   ingestion, nothing pruned:    %7.0f msg/s\n", base.rate)

	store, err := models.Open(url)
	if err != nil {
		return err
	}
	defer store.Close()
	type pruned struct {
		n   int64
		d   time.Duration
		err error
	}
	done := make(chan pruned, 1)
	go func() {
		t0 := time.Now()
		n, err := ingest.PruneRaw(context.Background(), store, ingest.DefaultRetention)
		done <- pruned{n, time.Since(t0), err}
	}()
	during, err := run("retention-during")
	if err != nil {
		return err
	}
	p := <-done
	if p.err != nil {
		return p.err
	}
	fmt.Printf("   ingestion while pruning:      %7.0f msg/s (%.0f%% of the baseline)\n", during.rate, 100*during.rate/base.rate)
	fmt.Printf("   pruned %d messages in %.1f s (%.0f a second, in deletes of 10,000); usage_messages %s\n",
		p.n, p.d.Seconds(), float64(p.n)/p.d.Seconds(), size())
	if p.n != old {
		return fmt.Errorf("pruned %d messages, want the %d old ones", p.n, old)
	}
	if err := pgExec(url, "VACUUM usage_messages"); err != nil { // what autovacuum does on its own
		return err
	}
	fmt.Printf("   after VACUUM (not FULL): usage_messages %s\n", size())
	if _, err := run("retention-after"); err != nil {
		return err
	}
	fmt.Printf("   after another %d messages: usage_messages %s (the freed space is written again)\n\n", perRun, size())
	return nil
}

// tableSize is usage_messages' size with its indexes, and its live rows.
func tableSize(url string) string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err.Error()
	}
	defer conn.Close(ctx)
	var pretty string
	var rows int64
	err = conn.QueryRow(ctx, "SELECT pg_size_pretty(pg_total_relation_size('usage_messages')), (SELECT count(*) FROM usage_messages)").Scan(&pretty, &rows)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s, %d rows", pretty, rows)
}
