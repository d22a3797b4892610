package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// TestMain lets the test binary stand in for `sightline serve`, so the cluster test
// runs real server processes (and can kill -9 one) without building another binary.
func TestMain(m *testing.M) {
	if os.Getenv("SIGHTLINE_TEST_SERVE") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
		if err := run(ctx, []string{"serve"}, nil, os.Stdout, log); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestClusterOfTwoProcessesAndAReplica is SPEC §2's deployment on loopback: a
// PostgreSQL primary, a streaming replica made with pg_basebackup -R that applies
// changes 2 s late (so a read served by it shows), and two serve processes reading
// from it. Nobody sees their own write vanish whichever process serves them, other
// readers are served by the replica, the snapshot job runs once, and ingestion stays
// exact while one process is killed with SIGKILL mid-stream.
func TestClusterOfTwoProcessesAndAReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two PostgreSQL servers and two Sightline processes")
	}
	primary, replica, stopReplica := startPrimaryAndReplica(t)

	// The data the test needs, through the CLI against the primary.
	t.Setenv("DATABASE_URL", primary)
	ctx := context.Background()
	secretOf := func(args ...string) string {
		var out bytes.Buffer
		if err := run(ctx, args, nil, &out, quiet()); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out.String())
	}
	admin := secretOf("token", "create", "--role", "admin", "--name", "writer")
	reader := secretOf("token", "create", "--role", "pm", "--name", "reader")
	writeKey := secretOf("writekey", "create", "--name", "product")
	if err := run(ctx, []string{"user", "create", "--email", "ann@x.test", "--role", "manager", "--password-stdin"},
		strings.NewReader("correct horse\n"), io.Discard, quiet()); err != nil {
		t.Fatal(err)
	}

	// The replica applies changes 2 s late: let it have the schema and the setup.
	pdb, err := sql.Open("pgx", primary)
	if err != nil {
		t.Fatal(err)
	}
	defer pdb.Close()
	rdb, err := sql.Open("pgx", replica)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	var target string
	if err := pdb.QueryRow("SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the replica to replay the setup", func() bool {
		var ok bool
		return rdb.QueryRow("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target).Scan(&ok) == nil && ok
	})

	a, b := startServer(t, primary, replica), startServer(t, primary, replica)
	for _, s := range []*serverProcess{a, b} {
		waitFor(t, 30*time.Second, s.base+" sees its replica", func() bool {
			return strings.Contains(s.get(t, "/readyz", "", nil), ": ok")
		})
	}

	api := func(s *serverProcess, method, path, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	name := func(s *serverProcess, token string) string {
		t.Helper()
		code, body := api(s, http.MethodGet, "/api/v1/accounts/acme", token, "")
		if code == http.StatusNotFound {
			return "(none)"
		}
		m := regexp.MustCompile(`"name":\s*"([^"]*)"`).FindStringSubmatch(body)
		if code != http.StatusOK || m == nil {
			t.Fatalf("GET account: %d %s", code, body)
		}
		return m[1]
	}

	t.Run("read-your-writes through alternating processes", func(t *testing.T) {
		for i, pair := range [][2]*serverProcess{{a, b}, {b, a}, {a, b}} {
			want := fmt.Sprintf("Acme %d", i)
			code, body := api(pair[0], http.MethodPut, "/api/v1/accounts/acme", admin,
				fmt.Sprintf(`{"name":%q,"arr":120000,"renewal_on":"2027-06-30","lifecycle_stage":"adoption","segment":"enterprise"}`, want))
			if code != http.StatusOK && code != http.StatusCreated {
				t.Fatalf("PUT: %d %s", code, body)
			}
			if got := name(pair[1], admin); got != want {
				t.Fatalf("the writer's next read on the other process shows %q, want %q", got, want)
			}
		}
	})

	t.Run("other readers are served by the replica", func(t *testing.T) {
		before := name(b, reader)
		code, body := api(a, http.MethodPut, "/api/v1/accounts/acme", admin,
			`{"name":"Acme Replicated","arr":120000,"renewal_on":"2027-06-30","lifecycle_stage":"adoption","segment":"enterprise"}`)
		if code != http.StatusOK {
			t.Fatalf("PUT: %d %s", code, body)
		}
		if got := name(b, reader); got == "Acme Replicated" || got != before {
			t.Fatalf("a reader who did not write saw %q at once (before: %q): not served by the 2 s late replica", got, before)
		}
		waitFor(t, 15*time.Second, "the replica to apply the change", func() bool { return name(b, reader) == "Acme Replicated" })
		if ready := b.get(t, "/readyz", "", nil); regexp.MustCompile(`, 0 reads`).MatchString(ready) {
			t.Fatalf("/readyz counts no replica reads:\n%s", ready)
		}
		if m := b.get(t, "/metrics", "", nil); !regexp.MustCompile(`sightline_replica_serving\{replica="[^"]+"\} 1`).MatchString(m) ||
			!strings.Contains(m, "sightline_replica_lag_seconds{") {
			t.Fatal("/metrics has no replica lag and state")
		}
	})

	t.Run("a login and a note follow the person across processes", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		login := a.get(t, "/login", "", jar)
		csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(login)
		if csrf == nil {
			t.Fatal("no CSRF token on /login")
		}
		client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.PostForm(a.base+"/login", url.Values{"_csrf": {csrf[1]}, "email": {"ann@x.test"}, "password": {"correct horse"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		page := b.get(t, "/accounts/acme", "", jar) // the fresh session, on the other process
		if !strings.Contains(page, "ann@x.test") {
			t.Fatalf("the other process does not know the fresh login:\n%.400s", page)
		}
		csrf = regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(page)
		resp, err = client.PostForm(b.base+"/accounts/acme/notes", url.Values{"_csrf": {csrf[1]}, "body": {"Called the sponsor"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			t.Fatalf("note: %d", resp.StatusCode)
		}
		if page := a.get(t, "/accounts/acme", "", jar); !strings.Contains(page, "Called the sponsor") {
			t.Fatal("the note just written is missing from the author's next page on the other process")
		}
	})

	db := pdb

	t.Run("the snapshot job runs once", func(t *testing.T) {
		count := func() (all, done int) {
			err := db.QueryRow("SELECT count(*), count(*) FILTER (WHERE state = 'completed') FROM river_job WHERE kind = 'health_snapshots'").Scan(&all, &done)
			if err != nil {
				t.Fatal(err)
			}
			return all, done
		}
		waitFor(t, 60*time.Second, "a snapshot run to complete", func() bool { _, done := count(); return done >= 1 })
		time.Sleep(3 * time.Second) // time for a second run, if anything were to start one
		if all, done := count(); all != 1 || done != 1 {
			t.Fatalf("snapshot jobs: %d, %d completed; want exactly one across both processes", all, done)
		}
	})

	// SDKs reach the processes through nginx, as in docs/deploy.md.
	lb := startNginx(t, a, b)

	t.Run("ingestion through nginx stays exact while a process is killed", func(t *testing.T) {
		const batches, per = 200, 50
		body := func(n int) string {
			var sb strings.Builder
			sb.WriteString(`{"batch":[`)
			for i := range per {
				if i > 0 {
					sb.WriteString(",")
				}
				fmt.Fprintf(&sb, `{"type":"track","messageId":"kill-%d-%d","userId":"u%d","event":"Report Run","timestamp":%q,"context":{"groupId":"acme"}}`,
					n, i, i%7, time.Now().UTC().Format(time.RFC3339))
			}
			sb.WriteString("]}")
			return sb.String()
		}
		send := func(s *serverProcess, n int) bool {
			req, _ := http.NewRequest(http.MethodPost, s.base+"/v1/batch", strings.NewReader(body(n)))
			req.SetBasicAuth(writeKey, "")
			req.Header.Set("Content-Type", "application/json")
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				return false
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		acked := map[int]int{}
		next := 0
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					mu.Lock()
					n := next
					next++
					mu.Unlock()
					if n >= batches {
						return
					}
					if n == batches/3 {
						a.kill(t) // mid-stream, while other batches are in flight
					}
					// An SDK's retry: the same batch again (nginx itself retries a request
					// the killed process dropped on the other one).
					for _, s := range []*serverProcess{lb, lb, lb, lb} {
						if send(s, n) {
							mu.Lock()
							acked[n]++
							mu.Unlock()
							break
						}
						time.Sleep(50 * time.Millisecond)
					}
				}
			}()
		}
		wg.Wait()
		for n := range batches {
			if acked[n] == 0 {
				t.Fatalf("batch %d was never acknowledged", n)
			}
		}
		// Resending acknowledged batches counts nothing twice either.
		for n := range 5 {
			if !send(lb, n) {
				t.Fatalf("resending batch %d failed", n)
			}
		}
		var stored, counted int
		if err := db.QueryRow("SELECT count(*) FROM usage_messages WHERE message_id LIKE 'kill-%'").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow("SELECT coalesce(sum(messages), 0) FROM usage_user_days").Scan(&counted); err != nil {
			t.Fatal(err)
		}
		if stored != batches*per || counted != batches*per {
			t.Fatalf("after a kill -9 and retries: %d messages stored and %d counted, want %d each", stored, counted, batches*per)
		}
	})

	t.Run("reads fall back to the primary when the replica is down", func(t *testing.T) {
		stopReplica()
		waitFor(t, 10*time.Second, "/readyz to tell the replica is down", func() bool {
			return strings.Contains(b.get(t, "/readyz", "", nil), ": down")
		})
		if ready := b.get(t, "/readyz", "", nil); !strings.HasPrefix(ready, "ready\n") || !strings.Contains(ready, "its reads go to the primary") {
			t.Fatalf("/readyz with the replica down:\n%s", ready)
		}
		if m := b.get(t, "/metrics", "", nil); !regexp.MustCompile(`sightline_replica_serving\{replica="[^"]+"\} 0`).MatchString(m) {
			t.Fatal("/metrics does not say the replica serves no reads")
		}
		code, body := api(b, http.MethodPut, "/api/v1/accounts/acme", admin,
			`{"name":"Acme Without Replica","arr":120000,"renewal_on":"2027-06-30","lifecycle_stage":"adoption","segment":"enterprise"}`)
		if code != http.StatusOK {
			t.Fatalf("PUT: %d %s", code, body)
		}
		if got := name(b, reader); got != "Acme Without Replica" {
			t.Fatalf("with the replica down, a reader sees %q: not served by the primary", got)
		}
	})
}

// serverProcess is one `serve` (the test binary, see TestMain) on a loopback port.
type serverProcess struct {
	base string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

func startServer(t *testing.T, primary, replica string) *serverProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &serverProcess{base: "http://" + addr, log: &bytes.Buffer{}}
	s.cmd = exec.Command(os.Args[0], "-test.run=^$")
	s.cmd.Env = append(os.Environ(), "SIGHTLINE_TEST_SERVE=1", "ADDR="+addr, "DATABASE_URL="+primary,
		"DATABASE_REPLICA_URLS="+replica, "SESSION_SECRET=cluster-test-secret-shared-by-both-processes",
		"LOG_LEVEL=warn", "BACKGROUND_WORK=", "SNAPSHOT_JOB=")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", s.base, s.log.String())
		}
	})
	waitFor(t, 60*time.Second, s.base+" to answer", func() bool {
		resp, err := http.Get(s.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

func (s *serverProcess) kill(t *testing.T) {
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("kill: %v", err)
	}
}

func (s *serverProcess) get(t *testing.T, path, token string, jar http.CookieJar) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Jar: jar}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startNginx puts nginx (from the machine, as .ci/run installs it) in front of the
// processes, configured as bench/nginx.conf says; without nginx the processes are
// reached in turn directly, unless SIGHTLINE_REQUIRE_NGINX=1.
func startNginx(t *testing.T, procs ...*serverProcess) *serverProcess {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("SIGHTLINE_REQUIRE_NGINX") == "1" {
			t.Fatal("no nginx, but SIGHTLINE_REQUIRE_NGINX=1")
		}
		t.Log("no nginx: the processes are reached directly")
		return procs[len(procs)-1]
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// The bench's configuration (bench/nginx.conf), filled in as bench/cluster.go does.
	tmpl, err := os.ReadFile(filepath.Join("bench", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var upstreams strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&upstreams, "    server %s max_fails=1 fail_timeout=30s;\n", strings.TrimPrefix(p.base, "http://"))
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(string(tmpl), user, dir, upstreams.String(), addr)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		_ = cmd.Wait()
		if t.Failed() {
			errors, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx:\n%s%s", log.String(), errors)
		}
	})
	lb := &serverProcess{base: "http://" + addr, cmd: cmd, log: &log}
	waitFor(t, 10*time.Second, "nginx to answer", func() bool {
		resp, err := http.Get(lb.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return lb
}

// startPrimaryAndReplica starts a PostgreSQL primary and a streaming replica of it
// (pg_basebackup -R, applying 2 s late) from the machine's binaries, on unix sockets
// in a temporary directory, as the postgres user when run as root (initdb refuses
// root). It returns their URLs; both stop when the test ends.
func startPrimaryAndReplica(t *testing.T) (primary, replica string, stopReplica func()) {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv("SIGHTLINE_REQUIRE_POSTGRES") == "1" {
			t.Fatal("no PostgreSQL binaries in /usr/lib/postgresql/*/bin")
		}
		t.Skip("no PostgreSQL binaries")
	}
	slices.Sort(bins)
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "sightline-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	var as []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		as = []string{"runuser", "-u", "postgres", "--"}
	}
	pg := func(args ...string) {
		t.Helper()
		full := append(slices.Clone(as), args...)
		out, err := exec.Command(full[0], full[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	p, r := filepath.Join(dir, "primary"), filepath.Join(dir, "replica")
	pg("mkdir", p, r)
	pg(filepath.Join(bin, "initdb"), "-D", p+"/data", "-U", "postgres", "-A", "trust", "--no-sync")
	pg(filepath.Join(bin, "pg_ctl"), "-D", p+"/data", "-l", p+"/log", "-w", "start",
		"-o", "-c listen_addresses='' -k "+p+" -c fsync=off -c wal_level=replica -c max_wal_senders=4")
	t.Cleanup(func() {
		for _, d := range []string{r, p} {
			full := append(slices.Clone(as), filepath.Join(bin, "pg_ctl"), "-D", d+"/data", "-m", "immediate", "stop")
			_ = exec.Command(full[0], full[1:]...).Run()
		}
		os.RemoveAll(dir)
	})
	pg(filepath.Join(bin, "pg_basebackup"), "-h", p, "-U", "postgres", "-D", r+"/data", "-R", "-X", "stream", "--no-sync")
	pg(filepath.Join(bin, "pg_ctl"), "-D", r+"/data", "-l", r+"/log", "-w", "start",
		"-o", "-c listen_addresses='' -k "+r+" -c fsync=off -c recovery_min_apply_delay=2s")
	return "postgres://postgres@/postgres?host=" + p + "&sslmode=disable",
		"postgres://postgres@/postgres?host=" + r + "&sslmode=disable",
		func() { pg(filepath.Join(bin, "pg_ctl"), "-D", r+"/data", "-m", "immediate", "stop") }
}
