package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// embeddedRun is the newcomer's first ten minutes: `sightline demo` on an empty
// directory (embedded SQLite), how long until it answers, then the pages a manager
// opens, under 8 clients, beside /healthz in the same run.
func embeddedRun(bin string) error {
	fmt.Println("== The embedded default (SQLite; `sightline demo` on an empty directory) ==")
	dir, err := os.MkdirTemp("", "sightline-embedded-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr := freeAddr()
	cmd := exec.Command(bin, "demo")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ADDR="+addr, "LOG_LEVEL=error", "DATABASE_URL=")
	if f, err := os.Create(filepath.Join(dir, "demo.log")); err == nil {
		cmd.Stderr, cmd.Stdout = f, f
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }()
	base := "http://" + addr
	for {
		if resp, err := http.Get(base + "/login"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 3*time.Minute {
			return fmt.Errorf("demo did not answer within 3 minutes (log in %s)", dir)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("   `sightline demo` answered %.1f s after start (target ≤ 15 s; the build excluded)\n", time.Since(start).Seconds())
	// The pages are measured once the server's own start-up work (the day's snapshot
	// job, the alert evaluation) is done: it is idle for a second.
	settle := time.Now()
	for prev := procCPU(cmd.Process.Pid, false); time.Since(settle) < time.Minute; {
		time.Sleep(time.Second)
		cur := procCPU(cmd.Process.Pid, false)
		if cur-prev < 0.05 {
			break
		}
		prev = cur
	}
	fmt.Printf("   its start-up work done %.1f s after it answered\n", time.Since(settle).Seconds())

	jar, err := login(base, "manager@demo.test", "demo")
	if err != nil {
		return err
	}
	keys, err := accountKeys(base, jar)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(5, 5))
	var mu sync.Mutex
	account := func() string { mu.Lock(); defer mu.Unlock(); return "/accounts/" + keys[rng.IntN(len(keys))] }
	hz := throughput(base+"/healthz", nil, "", 3*time.Second)
	fmt.Printf("   /healthz baseline: %.0f req/s (8 clients)\n", hz)
	if strings.Contains("account page", os.Getenv("BENCH_PROBE")) {
		// The account page keeps each account's health until something changes: its
		// first view computes it, later ones read the copy. Each account's first view
		// is measured on its own (8 clients, every account once), then the mix.
		next := 0
		first := func() string {
			mu.Lock()
			defer mu.Unlock()
			if next >= len(keys) {
				return ""
			}
			next++
			return "/accounts/" + keys[next-1]
		}
		lat, codes := firstViews(base, first, jar, 8)
		fmt.Printf("   %-44s p50 %6.1f ms  p99 %6.1f ms  (%d accounts, 8 clients)  statuses %v\n",
			"account page, each account's first view", ms(lat, 0.50), ms(lat, 0.99), len(lat), codes)
	}
	htmx := http.Header{"Hx-Request": {"true"}}
	for _, probe := range []struct {
		name, target string
		path         func() string
		header       http.Header
	}{
		{"account page /accounts/{key}, the mix", "p99 ≤ 50 ms, ≥ 10% of /healthz", account, nil},
		{"portfolio /", "p99 ≤ 50 ms", func() string { return "/" }, nil},
		{"portfolio fragment /?sort=health (htmx)", "p99 ≤ 50 ms", func() string { return "/?sort=health&dir=desc" }, htmx},
		{"goals /goals", "p99 ≤ 50 ms", func() string { return "/goals" }, nil},
		{"alerts /alerts", "—", func() string { return "/alerts" }, nil},
		{"features /features", "—", func() string { return "/features" }, nil},
		{"renewals /renewals", "—", func() string { return "/renewals" }, nil},
	} {
		if !strings.Contains(probe.name, os.Getenv("BENCH_PROBE")) {
			continue
		}
		lat, codes, rate := timedGets(base, probe.path, jar, probe.header, 8, 5*time.Second)
		fmt.Printf("   %-44s p50 %6.1f ms  p99 %6.1f ms  %6.0f req/s  (%.1f%% of /healthz)  target %s  statuses %v\n",
			probe.name, ms(lat, 0.50), ms(lat, 0.99), rate, 100*rate/hz, probe.target, codes)
	}
	fmt.Println()
	return nil
}

// accountKeys reads the demo's account keys from the portfolio's CSV.
func accountKeys(base string, jar *cookiejar.Jar) ([]string, error) {
	resp, err := newClient(jar, 30*time.Second).Get(base + "/portfolio.csv")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(rows) < 2 {
		return nil, fmt.Errorf("portfolio.csv: %d rows, %v", len(rows), err)
	}
	col := slices.Index(rows[0], "account_key")
	if col < 0 {
		col = 0
	}
	var keys []string
	for _, r := range rows[1:] {
		keys = append(keys, r[col])
	}
	return keys, nil
}

// timedGets sends requests from c clients for d and returns the sorted latencies,
// the statuses and the rate.
func timedGets(base string, path func() string, jar *cookiejar.Jar, header http.Header, clients int, d time.Duration) ([]time.Duration, map[int]int, float64) {
	var mu sync.Mutex
	var all []time.Duration
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := newClient(jar, 30*time.Second)
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest(http.MethodGet, base+path(), nil)
				for k, v := range header {
					req.Header[k] = v
				}
				t0 := time.Now()
				code := 0
				if resp, err := client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				dt := time.Since(t0)
				mu.Lock()
				all = append(all, dt)
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rate := float64(len(all)) / time.Since(start).Seconds()
	slices.Sort(all)
	return all, codes, rate
}

// firstViews sends each path next returns once, from c clients, until it returns "",
// and returns the sorted latencies and the statuses.
func firstViews(base string, next func() string, jar *cookiejar.Jar, clients int) ([]time.Duration, map[int]int) {
	var mu sync.Mutex
	var all []time.Duration
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := newClient(jar, 30*time.Second)
			for path := next(); path != ""; path = next() {
				t0 := time.Now()
				code := 0
				if resp, err := client.Get(base + path); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				all = append(all, time.Since(t0))
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(all)
	return all, codes
}
