package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// clusterRun is docs/deploy.md's shape on this machine: nginx in front of two serve
// processes, a streaming replica behind them, against one process alone on the same
// data. It reports page and ingest throughput of both, and the exact counts after a
// process is killed with SIGKILL in the middle of ingestion.
func clusterRun(pg *postgres, bin string) error {
	fmt.Println("== Two processes behind nginx with a read replica, against one process (PostgreSQL) ==")
	const db = "cluster"
	if err := createDB(pg, db); err != nil {
		return err
	}
	primary := pg.url(db)
	// The demo's data, written by `sightline demo` on PostgreSQL, stopped once it answers.
	demoSrv := &serverProc{addr: freeAddr(), bin: bin, env: append(os.Environ(), "DATABASE_URL="+primary, "LOG_LEVEL=error",
		"SESSION_SECRET=bench-secret-bench-secret-bench-secret", "BACKGROUND_WORK=off")}
	demoSrv.env = append(demoSrv.env, "ADDR="+demoSrv.addr)
	demoSrv.cmd = exec.Command(bin, "demo")
	demoSrv.cmd.Env = demoSrv.env
	if err := demoSrv.cmd.Start(); err != nil {
		return err
	}
	if err := waitHTTP("http://"+demoSrv.addr+"/login", 5*time.Minute); err != nil {
		return err
	}
	demoSrv.stop()
	key, err := writeKey(bin, primary)
	if err != nil {
		return err
	}
	replica, stopReplica, err := startReplica(pg, db)
	if err != nil {
		return err
	}
	defer stopReplica()

	measure := func(label, base string) (pages map[string]float64, ingest float64, err error) {
		jar, err := login(base, "manager@demo.test", "demo")
		if err != nil {
			return nil, 0, err
		}
		keys, err := accountKeys(base, jar)
		if err != nil {
			return nil, 0, err
		}
		rng := rand.New(rand.NewPCG(3, 3))
		var mu sync.Mutex
		pages = map[string]float64{}
		for _, p := range []struct {
			name string
			path func() string
		}{
			{"account page", func() string { mu.Lock(); defer mu.Unlock(); return "/accounts/" + keys[rng.IntN(len(keys))] }},
			{"portfolio", func() string { return "/" }},
			{"/goals", func() string { return "/goals" }},
		} {
			lat, codes, rate := timedGets(base, p.path, jar, nil, 8, 5*time.Second)
			pages[p.name] = rate
			fmt.Printf("   %-13s %-13s p50 %6.1f ms  p99 %6.1f ms  %6.0f req/s  statuses %v\n", label, p.name, ms(lat, 0.5), ms(lat, 0.99), rate, codes)
		}
		n := 100_000
		msgs := genMessages(rand.New(rand.NewPCG(9, uint64(len(label)))), "cluster-"+strings.ReplaceAll(label, " ", "-"), n, "sessions")
		before := cpuByCommand()
		start := time.Now()
		acked, _ := sendAll(base, key, msgs, 100, nil)
		ingest = float64(n) / time.Since(start).Seconds()
		fmt.Printf("   %-13s ingestion     %6.0f msg/s (batches of 100, 8 clients; %d of %d batches acknowledged)\n", label, ingest, acked, n/100)
		fmt.Printf("   %-13s               CPU: %s\n", "", cpuSpent(before, cpuByCommand()))
		return pages, ingest, nil
	}

	server := func(background string, more ...string) *serverProc {
		p := &serverProc{addr: freeAddr(), bin: bin}
		p.env = append(os.Environ(), "SESSION_SECRET=bench-secret-bench-secret-bench-secret", "LOG_LEVEL=error",
			"BACKGROUND_WORK="+background, "DATABASE_URL="+primary, "ADDR="+p.addr)
		p.env = append(p.env, more...)
		return p
	}
	one := server("off")
	if err := one.start(); err != nil {
		return err
	}
	onePages, oneIngest, err := measure("one process", "http://"+one.addr)
	one.stop()
	if err != nil {
		return err
	}

	var procs []*serverProc
	for range 2 { // no background work, as for the one process: the same work measured
		p := server("off", "DATABASE_REPLICA_URLS="+replica)
		if err := p.start(); err != nil {
			return err
		}
		defer p.stop()
		procs = append(procs, p)
	}
	lb, stopNginx, err := startNginxFor(procs)
	if err != nil {
		return err
	}
	defer stopNginx()
	twoPages, twoIngest, err := measure("two + nginx", "http://"+lb)
	if err != nil {
		return err
	}
	for name, rate := range twoPages {
		fmt.Printf("   ratio, %-13s %.2f× one process\n", name, rate/onePages[name])
	}
	fmt.Printf("   ratio, ingestion     %.2f× one process\n", twoIngest/oneIngest)

	// Killed mid-run: 100,000 messages through nginx, the first process killed when a
	// third is acknowledged; failed batches are retried as SDKs do.
	if err := pgExec(primary, "TRUNCATE usage_user_days"); err != nil {
		return err
	}
	msgs := genMessages(rand.New(rand.NewPCG(21, 22)), "cluster-kill", 100_000, "sessions")
	counted := 0
	for _, m := range msgs {
		if m.counted {
			counted++
		}
	}
	var once sync.Once
	start := time.Now()
	_, retries := sendAll("http://"+lb, key, msgs, 100, func(acked int) {
		if acked >= 334 {
			once.Do(func() { procs[0].kill9() })
		}
	})
	caught, err := waitRolledUp(primary, counted, start)
	if err != nil {
		return fmt.Errorf("after the kill: %w", err)
	}
	var stored int
	conn, err := pgx.Connect(context.Background(), primary)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM usage_messages WHERE message_id LIKE 'cluster-kill%'").Scan(&stored); err != nil {
		return err
	}
	verdict := "EXACT"
	if stored != len(msgs) {
		verdict = "NOT EXACT"
	}
	fmt.Printf("   killed one process a third of the way: %d stored of %d sent, rollups count %d = sent (%.1f s); %d batches retried: %s\n\n",
		stored, len(msgs), counted, caught.Seconds(), retries, verdict)
	return nil
}

// sendAll posts msgs in batches of size from 8 clients, retrying a batch until it is
// acknowledged; progress is told the number acknowledged so far. It returns the
// batches acknowledged and the retries.
func sendAll(base, key string, msgs []msg, size int, progress func(acked int)) (int, int) {
	var bodies [][]byte
	for i := 0; i < len(msgs); i += size {
		bodies = append(bodies, batchBody(msgs[i:min(i+size, len(msgs))]))
	}
	addr := strings.TrimPrefix(base, "http://")
	var next, acked, retries atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for {
				i := next.Add(1) - 1
				if int(i) >= len(bodies) {
					return
				}
				for try := 0; try < 20; try++ {
					if post(client, addr, key, bodies[i]) == http.StatusOK {
						n := acked.Add(1)
						if progress != nil {
							progress(int(n))
						}
						break
					}
					retries.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	return int(acked.Load()), int(retries.Load())
}

// startReplica makes a streaming replica of the bench cluster with pg_basebackup -R
// and starts it on its own socket directory.
func startReplica(pg *postgres, db string) (string, func(), error) {
	dir := filepath.Join(filepath.Dir(pg.dir), "replica")
	_ = os.RemoveAll(dir)
	as := func(args ...string) error {
		cmd := exec.Command(pg.as[0], append(pg.as[1:], args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", args[0], err, out)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	if os.Geteuid() == 0 {
		if err := exec.Command("chown", "postgres", dir).Run(); err != nil {
			return "", nil, err
		}
	}
	if err := as(filepath.Join(pg.bin, "pg_basebackup"), "-h", pg.dir, "-U", "postgres", "-D", dir+"/data", "-R", "-X", "stream"); err != nil {
		return "", nil, err
	}
	if err := as(filepath.Join(pg.bin, "pg_ctl"), "-D", dir+"/data", "-l", dir+"/log", "-w", "start",
		"-o", "-c listen_addresses='' -k "+dir+" -c max_connections=200 -c shared_buffers=256MB"); err != nil { // max_connections as the primary's
		log, _ := os.ReadFile(dir + "/log")
		return "", nil, fmt.Errorf("%w\n%s", err, log)
	}
	stop := func() {
		_ = as(filepath.Join(pg.bin, "pg_ctl"), "-D", dir+"/data", "-m", "fast", "-w", "stop")
		_ = os.RemoveAll(dir)
	}
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&sslmode=disable", db, dir), stop, nil
}

// startNginxFor runs nginx in front of the processes, as docs/deploy.md configures it.
func startNginxFor(procs []*serverProc) (string, func(), error) {
	dir, err := os.MkdirTemp("", "sightline-nginx-")
	if err != nil {
		return "", nil, err
	}
	addr := freeAddr()
	addrs := make([]string, len(procs))
	for i, p := range procs {
		addrs[i] = p.addr
	}
	conf, err := nginxConf("bench/nginx.conf", dir, addr, addrs)
	if err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command("nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("nginx: %w", err)
	}
	stop := func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait(); _ = os.RemoveAll(dir) }
	if err := waitHTTP("http://"+addr+"/healthz", 10*time.Second); err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
}

// nginxConf fills the nginx configuration at path (bench/nginx.conf, which the cluster
// test reads too) for the processes at addrs, with nginx's files in dir.
func nginxConf(path, dir, listen string, addrs []string) (string, error) {
	tmpl, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var upstreams strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&upstreams, "    server %s max_fails=1 fail_timeout=30s;\n", a)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	return fmt.Sprintf(string(tmpl), user, dir, upstreams.String(), listen), nil
}

// waitHTTP waits until u answers 200.
func waitHTTP(u string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %s", u, d)
}
