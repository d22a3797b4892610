package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sightline/models"
	_ "sightline/models/dbtest" // lowers the bcrypt cost for tests
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCreateCommandsPrintOneSecretLine(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "cli.db")
	t.Setenv("DATABASE_URL", dbURL)
	ctx := context.Background()

	var out bytes.Buffer
	if err := run(ctx, []string{"token", "create", "--role", "pm", "--name", "bi"}, nil, &out, quiet()); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSuffix(out.String(), "\n")
	if strings.Contains(token, "\n") || !strings.HasPrefix(token, "sl_") {
		t.Fatalf("token output %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"writekey", "create", "--name", "web"}, nil, &out, quiet()); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	if err := run(ctx, []string{"token", "create", "--role", "boss", "--name", "x"}, nil, io.Discard, quiet()); err == nil {
		t.Fatal("unknown role accepted")
	}
	if err := run(ctx, []string{"user", "create", "--email", "ann@x.test", "--role", "admin", "--password-stdin"},
		strings.NewReader("correct horse\n"), io.Discard, quiet()); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"user", "create", "--email", "bob@x.test", "--role", "admin"}, nil, io.Discard, quiet()); err == nil {
		t.Fatal("user create without --password-stdin accepted")
	}

	store, err := models.Open(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if tok, err := store.APITokenBySecret(ctx, token); err != nil || tok.Role != models.RolePM {
		t.Fatalf("token not usable: %v", err)
	}
	if _, err := store.WriteKeyBySecret(ctx, key); err != nil {
		t.Fatalf("write key not usable: %v", err)
	}
	if _, err := store.Authenticate(ctx, "ann@x.test", "correct horse"); err != nil {
		t.Fatalf("user cannot log in: %v", err)
	}
}

// TestServeShutsDownGracefully starts the real server, and on cancellation (what
// SIGTERM does) expects a request already in flight to complete.
func TestServeShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("ADDR", addr)
	t.Setenv("DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "serve.db"))
	t.Setenv("SESSION_SECRET", "")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, nil, io.Discard, quiet()) }()
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never became ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A slow client is in the middle of sending a request body when shutdown begins.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "email=a%40x.test&password=secret"
	head := "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := conn.Write([]byte(head + body[:10])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	time.Sleep(200 * time.Millisecond)
	if _, err := conn.Write([]byte(body[10:])); err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(conn)
	// Without its CSRF token the login is refused, but it is answered, not cut off.
	if !strings.HasPrefix(string(reply), "HTTP/1.1 4") {
		t.Fatalf("in-flight request got %q", reply)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after shutdown")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}

func TestSnapshotCommandBackfills(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "snap.db")
	t.Setenv("DATABASE_URL", dbURL)
	ctx := context.Background()
	if err := run(ctx, []string{"migrate"}, nil, io.Discard, quiet()); err != nil {
		t.Fatal(err)
	}
	store, err := models.Open(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, k := range []string{"a1", "a2"} {
		if _, err := store.UpsertAccount(ctx, &models.Account{Key: k, Name: k}); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"snapshot", "--as-of", "2025-06-01", "--days", "3"}, nil, &out, quiet()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "6 health snapshots written for 2025-05-30 … 2025-06-01") {
		t.Fatalf("output %q", out.String())
	}
	a1, _ := store.AccountByKey(ctx, "a1")
	hist, err := store.HealthHistory(ctx, a1.ID, models.NewDate(2025, 5, 1), models.NewDate(2025, 6, 30))
	if err != nil || len(hist) != 3 || hist[0].Day.String() != "2025-05-30" || hist[0].Color != "red" {
		t.Fatalf("history %+v %v", hist, err)
	}
	for _, bad := range [][]string{{"snapshot", "--as-of", "2025-02-30"}, {"snapshot", "--days", "0"}} {
		if err := run(ctx, bad, nil, io.Discard, quiet()); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestDemoStartsOnAnEmptyDirectory runs the README's first command as written: `demo`
// in an empty directory (the embedded SQLite under data/), then logs in as the demo's
// manager and finds the book on the portfolio. How fast it starts is `make bench`'s.
func TestDemoStartsOnAnEmptyDirectory(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Chdir(t.TempDir())
	t.Setenv("ADDR", addr)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("SESSION_SECRET", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"demo"}, nil, io.Discard, quiet()) }()
	base := "http://" + addr
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if resp, err := http.Get(base + "/login"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("demo stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("demo never answered")
		}
		time.Sleep(100 * time.Millisecond)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on /login")
	}
	resp, err = client.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "email": {"manager@demo.test"}, "password": {"demo"}})
	if err != nil {
		t.Fatal(err)
	}
	home, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(home), "Acme Corp") || !strings.Contains(string(home), "manager@demo.test") {
		t.Fatalf("after logging in: %d, %.300s", resp.StatusCode, home)
	}
	if _, err := os.Stat(filepath.Join("data", "demo.db")); err != nil {
		t.Errorf("the demo's database is not where the README says: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop")
	}
}
