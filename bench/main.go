// Command bench prints Sightline's load and fault figures (`make bench`). It starts
// its own PostgreSQL (fsync and synchronous_commit on), builds and runs the real
// server as a separate process, and measures everything against a baseline taken
// in the same run.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	// BENCH_DATA keeps the cluster (and the scale data set) in a directory between
	// runs, for iterating on one figure; by default everything is thrown away.
	work := os.Getenv("BENCH_DATA")
	if work == "" {
		tmp, err := os.MkdirTemp("", "sightline-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		work = tmp
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	fmt.Printf("Sightline bench — %s, %d CPUs, %s\n\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), runtime.Version())

	pg, err := startPostgres(work)
	if err != nil {
		return err
	}
	defer pg.stop()

	bin := filepath.Join(work, "sightline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}

	only := os.Getenv("BENCH")
	if only == "" || only == "embedded" {
		if err := embeddedRun(bin); err != nil {
			return err
		}
	}
	if only == "" || only == "ingest" {
		if err := ingestBench(pg, bin); err != nil {
			return err
		}
		if os.Getenv("BENCH_FAULT") == "off" {
			return nil
		}
		if err := faultRun(pg, bin); err != nil {
			return err
		}
	}
	if only == "" || only == "cluster" {
		if err := clusterRun(pg, bin); err != nil {
			return err
		}
	}
	if only == "" || only == "retention" {
		if err := retentionRun(pg, bin); err != nil {
			return err
		}
	}
	if only == "" || only == "scale" {
		return scaleRun(pg, bin)
	}
	return nil
}

// ---- PostgreSQL ----

type postgres struct {
	dir, bin string
	as       []string
}

func (p *postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&sslmode=disable", db, p.dir)
}

func (p *postgres) ctl(args ...string) error {
	cmd := exec.Command(p.as[0], append(p.as[1:], append([]string{filepath.Join(p.bin, "pg_ctl"), "-D", filepath.Join(p.dir, "data")}, args...)...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl %v: %v\n%s", args, err, out)
	}
	return nil
}

func (p *postgres) start() error {
	return p.ctl("-l", filepath.Join(p.dir, "log"), "-w", "start", "-o",
		fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=on -c synchronous_commit=on -c max_connections=200 -c max_wal_size=4GB -c shared_buffers=512MB%s", p.dir, pgStatOption()))
}

// pgStatOption loads pg_stat_statements when BENCH_PGSTAT is set: the ingest runs
// then list where PostgreSQL's time went, statement by statement (it costs a little).
func pgStatOption() string {
	if os.Getenv("BENCH_PGSTAT") == "" {
		return ""
	}
	return " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on"
}

func (p *postgres) stop() { _ = p.ctl("-m", "fast", "-w", "stop") }

func startPostgres(work string) (*postgres, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return nil, fmt.Errorf("no PostgreSQL binaries in /usr/lib/postgresql/*/bin")
	}
	p := &postgres{dir: filepath.Join(work, "pg"), bin: filepath.Dir(matches[len(matches)-1]), as: []string{"env"}}
	if os.Geteuid() == 0 {
		p.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if _, err := os.Stat(filepath.Join(p.dir, "data", "PG_VERSION")); err == nil {
		return p, p.start() // kept from an earlier run (BENCH_DATA)
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		_ = os.Chmod(work, 0o755)
		if err := exec.Command("chown", "-R", "postgres", p.dir).Run(); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(p.as[0], append(p.as[1:], filepath.Join(p.bin, "initdb"), "-D", filepath.Join(p.dir, "data"), "-U", "postgres", "-A", "trust")...)
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return p, p.start()
}

// createDB creates the database afresh.
func createDB(p *postgres, name string) error {
	// Two statements: DROP DATABASE cannot run in a multi-statement string's transaction.
	return pgExec(p.url("postgres"), "DROP DATABASE IF EXISTS "+name, "CREATE DATABASE "+name)
}

// ---- the server process ----

type serverProc struct {
	cmd  *exec.Cmd
	addr string
	env  []string
	bin  string
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startServer(bin, dbURL, addr string) (*serverProc, error) {
	s := &serverProc{addr: addr, bin: bin, env: append(os.Environ(), "DATABASE_URL="+dbURL, "ADDR="+addr, "LOG_LEVEL=error",
		"SESSION_SECRET=bench-secret-bench-secret-bench-secret", "PPROF_ADDR="+os.Getenv("BENCH_PPROF"),
		// The bench writes the snapshots itself; the server's own start-up run would
		// compete with the measured requests.
		"BACKGROUND_WORK=off")}
	return s, s.start()
}

func (s *serverProc) start() error {
	s.cmd = exec.Command(s.bin, "serve")
	s.cmd.Env = s.env
	if f, err := os.OpenFile(filepath.Join(filepath.Dir(s.bin), "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
		s.cmd.Stderr = f // closed with the process; the log is noisy on purpose in the fault run
	}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + s.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("server did not become ready")
}

func (s *serverProc) kill9() {
	_ = s.cmd.Process.Kill() // SIGKILL
	_, _ = s.cmd.Process.Wait()
}

func (s *serverProc) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	_, _ = s.cmd.Process.Wait()
}

// rssMB reads the resident set of a process and its peak.
func rssMB(pid int) (now, peak float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			now = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return now, peak
}

func writeKey(bin, dbURL string) (string, error) {
	cmd := exec.Command(bin, "writekey", "create", "--name", "bench")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "LOG_LEVEL=error")
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// ---- messages ----

var events = []string{"Signed In", "Session Ended", "Dashboard Viewed", "Report Run", "Search Performed", "Alert Created",
	"Item Shared", "Forecast Built", "Funnel Viewed", "Connector Synced", "Usage Reported"}

type msg struct {
	id, typ, user, event, group string
	ts                          time.Time
	counted                     bool // track or page: counted in usage_user_days
}

// genMessages makes n messages for 20,000 users in 500 accounts. Shape "spread" is
// the worst case for the rollups: every message a random user on a random day of the
// last 30, so almost no two messages share a rollup row. Shape "sessions" is what
// SDKs send: consecutive runs of 25 messages come from one user's session in the last
// few hours (a batch of 100 holds four sessions).
func genMessages(rng *rand.Rand, prefix string, n int, shape string) []msg {
	now := time.Now().UTC()
	out := make([]msg, n)
	var u int
	var sessionStart time.Time
	for i := range out {
		var ts time.Time
		if shape == "sessions" {
			if i%25 == 0 {
				u = rng.IntN(20000)
				sessionStart = now.Add(-time.Duration(rng.Int64N(int64(6 * time.Hour))))
			}
			ts = sessionStart.Add(time.Duration(i%25) * 20 * time.Second)
		} else {
			u = rng.IntN(20000)
			ts = now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		}
		m := msg{id: fmt.Sprintf("%s-%d", prefix, i), user: fmt.Sprintf("user-%d", u), group: fmt.Sprintf("acct-%d", u%500), ts: ts}
		switch r := rng.IntN(100); {
		case r < 85:
			m.typ, m.event, m.counted = "track", events[rng.IntN(len(events))], true
		case r < 93:
			m.typ, m.event, m.counted = "page", "Home", true
		case r < 97:
			m.typ = "identify"
		default:
			m.typ = "group"
		}
		out[i] = m
	}
	return out
}

func (m msg) json(b *bytes.Buffer) {
	ts := m.ts.Format(time.RFC3339Nano)
	switch m.typ {
	case "track":
		props := ""
		switch m.event {
		case "Session Ended":
			props = `,"properties":{"duration_seconds":300}`
		case "Usage Reported":
			props = `,"properties":{"meter":"api_calls","quantity":5}`
		}
		fmt.Fprintf(b, `{"type":"track","messageId":%q,"userId":%q,"event":%q,"timestamp":%q,"context":{"device":{"id":"d-%s"}}%s}`, m.id, m.user, m.event, ts, m.user, props)
	case "page":
		fmt.Fprintf(b, `{"type":"page","messageId":%q,"userId":%q,"name":"Home","timestamp":%q}`, m.id, m.user, ts)
	case "identify":
		fmt.Fprintf(b, `{"type":"identify","messageId":%q,"userId":%q,"timestamp":%q,"traits":{"email":"%s@x.test","level":"manager","department":"Sales"}}`, m.id, m.user, ts, m.user)
	case "group":
		fmt.Fprintf(b, `{"type":"group","messageId":%q,"userId":%q,"groupId":%q,"timestamp":%q}`, m.id, m.user, m.group, ts)
	}
}

func batchBody(ms []msg) []byte {
	var b bytes.Buffer
	b.WriteString(`{"batch":[`)
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		m.json(&b)
	}
	b.WriteString(`],"context":{"library":{"name":"bench"}}}`)
	return b.Bytes()
}

// post sends one batch; it reports the status (0 when the connection failed).
func post(client *http.Client, addr, key string, body []byte) int {
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/batch", bytes.NewReader(body))
	req.SetBasicAuth(key, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	// Read to the end, or the transport closes the connection instead of reusing it.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// ---- ingestion throughput ----

func ingestBench(pg *postgres, bin string) error {
	fmt.Println("== Ingestion throughput (PostgreSQL, fsync on, synchronous_commit on, 8 concurrent clients) ==")
	rng := rand.New(rand.NewPCG(1, 2))
	const perRun = 200_000
	// A fresh cluster first creates its WAL files, which made whatever ran first the
	// slowest: a COPY run nobody measures goes first.
	if err := createDB(pg, "ingest_warmup"); err != nil {
		return err
	}
	if _, _, err := copyCeiling(pg, "ingest_warmup", genMessages(rand.New(rand.NewPCG(3, 4)), "warmup", perRun, "sessions"), 100); err != nil {
		return err
	}
	for _, run := range []struct {
		shape string
		size  int
	}{{"sessions", 100}, {"sessions", 500}, {"spread", 100}, {"spread", 500}} {
		size := run.size
		// BENCH_RUNS=sessions-100,spread-500 narrows the run while iterating.
		if only := os.Getenv("BENCH_RUNS"); only != "" && !strings.Contains(","+only+",", fmt.Sprintf(",%s-%d,", run.shape, size)) {
			continue
		}
		db := fmt.Sprintf("ingest_%s_%d", run.shape, size)
		if err := createDB(pg, db); err != nil {
			return err
		}
		msgs := genMessages(rng, db, perRun, run.shape)
		// The ceiling is measured before the run and after it, and the ratio is to their
		// mean: a single measurement swung by a fifth between runs (a busy neighbour, a
		// checkpoint), and the ratio should not follow the luck of one of them.
		ceiling1, ceilingCPU1, err := copyCeiling(pg, db, msgs, size)
		if err != nil {
			return err
		}
		res, err := load(pg, bin, db, msgs, size, fmt.Sprintf("%s-%d", run.shape, size))
		if err != nil {
			return err
		}
		rate, caughtUp, cpu := res.rate, res.caughtUp, res.cpu

		ceiling2, ceilingCPU2, err := copyCeiling(pg, db, msgs, size)
		if err != nil {
			return err
		}
		ceiling := (ceiling1 + ceiling2) / 2
		fmt.Printf("%-8s batches of %-4d %7.0f msg/s via /v1/batch (dedupe + rollups)   COPY ceiling %7.0f msg/s   ratio %5.1f%%   failed batches %d\n",
			run.shape, size, rate, ceiling, 100*rate/ceiling, res.failed)
		fmt.Printf("                        COPY ceiling before the run %.0f msg/s, after it %.0f msg/s: the ratio is to their mean\n", ceiling1, ceiling2)
		fmt.Printf("                        rollups caught up after %.2f s: %7.0f msg/s including the roll-up (%5.1f%% of the ceiling)\n",
			caughtUp.Seconds(), float64(perRun)/caughtUp.Seconds(), 100*float64(perRun)/caughtUp.Seconds()/ceiling)
		fmt.Printf("                        server RSS peak during load %.0f MB (sampled), VmHWM %.0f MB; the clients opened %d connections\n", res.peakRSS, res.hwm, res.connections)
		fmt.Printf("                        CPU until caught up: %s; %.1f s of %.1f core-seconds\n",
			cpu, cpu.server+cpu.postgres+cpu.clients, float64(runtime.NumCPU())*caughtUp.Seconds())
		fmt.Printf("                        CPU of the COPY ceiling, before / after: PostgreSQL %.1f / %.1f s, bench (pgx) %.1f / %.1f s\n",
			ceilingCPU1.postgres, ceilingCPU2.postgres, ceilingCPU1.clients, ceilingCPU2.clients)
		if os.Getenv("BENCH_PGSTAT") != "" {
			if err := printStatements(pg.url(db)); err != nil {
				return err
			}
		}
	}
	fmt.Println()
	return nil
}

// loadResult is what one measured load of the server gave.
type loadResult struct {
	rate         float64       // messages accepted a second
	caughtUp     time.Duration // until the rollups counted every message
	cpu          cpuSplit      // until then
	peakRSS, hwm float64       // MB
	failed       int64         // batches not answered 200
	connections  int64         // the clients opened: 8 when each keeps its own alive
}

// clients is how many send at once, to the server and in the ceiling.
const clients = 8

// load starts the server on db and sends it msgs in batches of size from the clients.
func load(pg *postgres, bin, db string, msgs []msg, size int, name string) (loadResult, error) {
	addr := freeAddr()
	srv, err := startServer(bin, pg.url(db), addr)
	if err != nil {
		return loadResult{}, err
	}
	defer srv.stop()
	key, err := writeKey(bin, pg.url(db))
	if err != nil {
		return loadResult{}, err
	}
	prepare := []string{"CHECKPOINT"} // the ceiling's rows are not the run's to write out
	if os.Getenv("BENCH_PGSTAT") != "" {
		prepare = append(prepare, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()")
	}
	if err := pgExec(pg.url(db), prepare...); err != nil {
		return loadResult{}, err
	}
	var bodies [][]byte
	for i := 0; i < len(msgs); i += size {
		bodies = append(bodies, batchBody(msgs[i:min(i+size, len(msgs))]))
	}
	var next atomic.Int64
	var failed, connections atomic.Int64
	var peakRSS float64
	stopSampler := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopSampler:
				return
			case <-time.After(100 * time.Millisecond):
				if now, _ := rssMB(srv.cmd.Process.Pid); now > peakRSS {
					peakRSS = now
				}
			}
		}
	}()
	counted := 0
	for _, m := range msgs {
		if m.counted {
			counted++
		}
	}
	go profileServer(name, 2)
	runtime.GC()
	cpuBefore := cpuNow(pg, srv.cmd.Process.Pid)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			// A connection of its own, kept alive, as each SDK process has (post reads
			// every answer to the end, or the transport would not reuse it).
			dialer := &net.Dialer{}
			client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1,
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					connections.Add(1)
					return dialer.DialContext(ctx, network, addr)
				}}}
			for {
				i := next.Add(1) - 1
				if int(i) >= len(bodies) {
					return
				}
				if post(client, addr, key, bodies[i]) != 200 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	// Accepted is not the whole story when rollups may lag: wait until they count
	// every message, and report that rate too.
	caughtUp, err := waitRolledUp(pg.url(db), counted, start)
	if err != nil {
		return loadResult{}, err
	}
	cpu := cpuNow(pg, srv.cmd.Process.Pid).since(cpuBefore)
	close(stopSampler)
	_, hwm := rssMB(srv.cmd.Process.Pid)
	return loadResult{rate: float64(len(msgs)) / elapsed.Seconds(), caughtUp: caughtUp, cpu: cpu,
		peakRSS: peakRSS, hwm: hwm, failed: failed.Load(), connections: connections.Load()}, nil
}

// pgExec runs each statement in turn on one connection.
func pgExec(url string, sqls ...string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return err
		}
	}
	return nil
}

// printStatements lists the statements of the run by PostgreSQL time (executor
// time, lock waits included; COMMIT includes the WAL flush).
func printStatements(url string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT calls, total_exec_time, total_plan_time, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time + total_plan_time DESC LIMIT 16`)
	if err != nil {
		return err
	}
	defer rows.Close()
	defer func() {
		// Autovacuum runs during the load count as PostgreSQL's CPU too.
		var vac string
		_ = conn.QueryRow(ctx, `SELECT COALESCE(string_agg(relname || ' ' || autovacuum_count || '/' || autoanalyze_count, ', ' ORDER BY relname), '')
			FROM pg_stat_user_tables WHERE autovacuum_count + autoanalyze_count > 0`).Scan(&vac)
		fmt.Printf("                          autovacuum/autoanalyze runs: %s\n", vac)
	}()
	for rows.Next() {
		var calls int64
		var ms, plan float64
		var query string
		if err := rows.Scan(&calls, &ms, &plan, &query); err != nil {
			return err
		}
		fmt.Printf("                          %7d calls %6.0f ms exec %5.0f ms plan %7.3f ms/call  %s\n", calls, ms, plan, (ms+plan)/float64(calls), query)
	}
	return rows.Err()
}

// waitRolledUp polls until the daily rollups count every track and page message
// sent, and returns the time since start.
func waitRolledUp(url string, counted int, start time.Time) (time.Duration, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var n int
		if err := conn.QueryRow(ctx, "SELECT COALESCE(sum(messages), 0) FROM usage_user_days").Scan(&n); err != nil {
			return 0, err
		}
		if n == counted {
			return time.Since(start), nil
		}
		if n > counted || time.Now().After(deadline) {
			return 0, fmt.Errorf("rollups count %d messages, want %d", n, counted)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// copyCeiling COPYs the same rows into a bare table with one unique index, with the
// same 8-way concurrency and batch size: the most PostgreSQL can take. It starts
// after a checkpoint, as the measured run does, and returns the rate and the CPU.
func copyCeiling(pg *postgres, db string, msgs []msg, size int) (float64, cpuSplit, error) {
	ctx := context.Background()
	if err := pgExec(pg.url(db), `DROP TABLE IF EXISTS bare; CREATE TABLE bare (message_id text, type text, user_key text, event text, group_key text,
		ts timestamptz, received_at timestamptz, payload json); CREATE UNIQUE INDEX ON bare (message_id); CHECKPOINT`); err != nil {
		return 0, cpuSplit{}, err
	}
	runtime.GC() // the garbage of generating the messages is not the clients' work
	cpuBefore := cpuNow(pg, 0)
	var payloads [][]byte
	for _, m := range msgs {
		var b bytes.Buffer
		m.json(&b)
		payloads = append(payloads, b.Bytes())
	}
	var next atomic.Int64
	errs := make(chan error, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			conn, err := pgx.Connect(ctx, pg.url(db))
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(ctx)
			for {
				lo := int(next.Add(int64(size))) - size
				if lo >= len(msgs) {
					return
				}
				hi := min(lo+size, len(msgs))
				rows := make([][]any, 0, hi-lo)
				now := time.Now()
				for i := lo; i < hi; i++ {
					m := msgs[i]
					rows = append(rows, []any{m.id, m.typ, m.user, m.event, m.group, m.ts, now, string(payloads[i])})
				}
				if _, err := conn.CopyFrom(ctx, pgx.Identifier{"bare"},
					[]string{"message_id", "type", "user_key", "event", "group_key", "ts", "received_at", "payload"}, pgx.CopyFromRows(rows)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	rate := float64(len(msgs)) / time.Since(start).Seconds()
	close(errs)
	if err := <-errs; err != nil {
		return 0, cpuSplit{}, err
	}
	return rate, cpuNow(pg, 0).since(cpuBefore), nil
}

// keptDB reports whether a database of that name survives from an earlier run with
// BENCH_DATA and holds the given number of accounts (its set-up finished).
func keptDB(p *postgres, name string, accounts int) bool {
	if os.Getenv("BENCH_DATA") == "" {
		return false
	}
	conn, err := pgx.Connect(context.Background(), p.url(name))
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(), "SELECT count(*) FROM accounts WHERE EXISTS (SELECT 1 FROM team_members WHERE email = 'bench@x.test')").Scan(&n)
	return err == nil && n == accounts
}
