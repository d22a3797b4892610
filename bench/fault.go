package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// faultRun loads the server with retrying clients while the server is killed with
// SIGKILL twice and PostgreSQL is stopped and restarted once; at the end the rollups
// must count exactly the distinct messages sent.
func faultRun(pg *postgres, bin string) error {
	fmt.Println("== Fault run: kill -9 the server twice, restart PostgreSQL once, clients retry ==")
	const db = "fault"
	if err := createDB(pg, db); err != nil {
		return err
	}
	addr := freeAddr()
	srv, err := startServer(bin, pg.url(db), addr)
	if err != nil {
		return err
	}
	key, err := writeKey(bin, pg.url(db))
	if err != nil {
		return err
	}
	const total, size = 150_000, 100
	rng := rand.New(rand.NewPCG(7, 7))
	msgs := genMessages(rng, "fault", total, "sessions")
	var bodies [][]byte
	counted := 0
	for i := 0; i < total; i += size {
		bodies = append(bodies, batchBody(msgs[i:min(i+size, total)]))
	}
	for _, m := range msgs {
		if m.counted {
			counted++
		}
	}

	var next, acked, attempts, failures, resent atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			r := rand.New(rand.NewPCG(uint64(c), 99))
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				for backoff := 20 * time.Millisecond; ; backoff = min(backoff*2, time.Second) {
					attempts.Add(1)
					if post(client, addr, key, bodies[i]) == http.StatusOK {
						break
					}
					failures.Add(1)
					time.Sleep(backoff)
				}
				acked.Add(1)
				// Clients sometimes resend what was already acknowledged (a lost response).
				if r.IntN(20) == 0 {
					resent.Add(1)
					for post(client, addr, key, bodies[r.IntN(i+1)]) != http.StatusOK {
						time.Sleep(50 * time.Millisecond)
					}
				}
			}
		}(c)
	}

	waitFor := func(share float64) {
		for float64(acked.Load()) < share*float64(len(bodies)) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	var events []string
	for _, at := range []float64{0.25, 0.5} {
		waitFor(at)
		srv.kill9()
		events = append(events, fmt.Sprintf("kill -9 at %d/%d batches", acked.Load(), len(bodies)))
		time.Sleep(300 * time.Millisecond)
		if err := srv.start(); err != nil {
			return err
		}
	}
	waitFor(0.7)
	pg.stop()
	events = append(events, fmt.Sprintf("PostgreSQL stopped at %d/%d batches", acked.Load(), len(bodies)))
	time.Sleep(2 * time.Second)
	if err := pg.start(); err != nil {
		return err
	}
	wg.Wait()
	elapsed := time.Since(start)
	srv.stop()

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.url(db))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var raw, rolled int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM usage_messages").Scan(&raw); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, "SELECT COALESCE(sum(messages), 0) FROM usage_user_days").Scan(&rolled); err != nil {
		return err
	}
	for _, e := range events {
		fmt.Println("  ", e)
	}
	fmt.Printf("   %d distinct messages in %d batches, %d requests (%d failed and retried, %d acknowledged batches resent), %.1f s\n",
		total, len(bodies), attempts.Load()+resent.Load(), failures.Load(), resent.Load(), elapsed.Seconds())
	fmt.Printf("   raw messages stored %d (want %d)   usage counted in rollups %d (want %d)   ", raw, total, rolled, counted)
	if raw == int64(total) && rolled == int64(counted) {
		fmt.Println("EXACT")
		return nil
	}
	fmt.Println("MISMATCH")
	return fmt.Errorf("fault run: counts differ")
}
