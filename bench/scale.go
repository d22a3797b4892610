package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"sightline/models"
)

// Scale of the page benchmark (issue 5): 10,000 accounts, 1,000,000 users and the
// rollups of more than 10,000,000 usage messages over 90 days.
const (
	scaleAccounts = 10_000
	scaleUsers    = 1_000_000
	scaleFeatures = 50
	scaleDays     = 90
)

// scaleRun fills a database at scale and measures the pages under 8 concurrent clients.
func scaleRun(pg *postgres, bin string) error {
	fmt.Println("== Pages at scale (PostgreSQL; 10,000 accounts, 1,000,000 users, 90 days) ==")
	const db = "scale"
	ctx := context.Background()
	kept := keptDB(pg, db, scaleAccounts)
	if !kept {
		if err := createDB(pg, db); err != nil {
			return err
		}
	}
	store, err := models.Open(pg.url(db))
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	today := models.Today()
	var token string
	if kept {
		fmt.Println("   (data set kept from an earlier run in BENCH_DATA: generation and snapshots skipped)")
		if token, _, err = store.CreateAPIToken(ctx, "bench", models.RolePM, nil); err != nil {
			return err
		}
	} else if token, err = scaleSetup(ctx, store, pg.url(db), today); err != nil {
		return err
	}
	if !kept || os.Getenv("BENCH_REFRESH") != "off" {
		start := time.Now()
		if err := store.RefreshFeatureWeeks(ctx, today.AddDays(-26*7), today); err != nil {
			return err
		}
		fmt.Printf("   feature adoption tables (26 weeks, and the totals) refreshed in %.1f s\n", time.Since(start).Seconds())
	}
	// What a write to accounts or entitlements costs the next /features view: a rebuild
	// of the adoption totals (forced here by marking them stale).
	if err := store.DB().Exec("UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'").Error; err != nil {
		return err
	}
	start := time.Now()
	if err := store.BuildFeatureTotals(ctx, today); err != nil {
		return err
	}
	fmt.Printf("   adoption totals rebuilt (as after a write to accounts or entitlements) in %.1f s\n", time.Since(start).Seconds())

	// The alert rules at every account, as `sightline alerts evaluate` runs them (its own
	// process): the first run opens the alerts, the second finds each one current.
	// Target (issue 15): under 60 s at 10,000 accounts.
	for _, run := range []string{"first run, opening the alerts", "second run, nothing changed"} {
		start := time.Now()
		cmd := exec.Command(bin, "alerts", "evaluate")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+pg.url(db), "LOG_LEVEL=error")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("alerts evaluate: %v\n%s", err, out)
		}
		fmt.Printf("   alert evaluation of every account, %s: %.1f s (target < 60 s): %s\n", run, time.Since(start).Seconds(), strings.TrimSpace(string(out)))
	}

	// A renewal history for /renewals' backtest: one closed renewal per account, due 20
	// days ago, lost at a third of them (written once; kept data sets keep it).
	var renewals int64
	if err := store.DB().Raw("SELECT count(*) FROM renewals").Scan(&renewals).Error; err != nil {
		return err
	}
	if renewals == 0 {
		var csv strings.Builder
		csv.WriteString("account,key,due_on,arr_before,outcome,arr_after,closed_on,note\n")
		due := today.AddDays(-20)
		for i := range scaleAccounts {
			outcome := []string{"renewed", "expanded", "contracted", "renewed", "churned", "renewed"}[i%6]
			after := map[string]string{"renewed": "", "expanded": "24000", "contracted": "8000", "churned": "0"}[outcome]
			fmt.Fprintf(&csv, "acct-%05d,fy26,%s,12000,%s,%s,%s,\n", i, due, outcome, after, due)
		}
		if _, err := store.ImportCSV(ctx, models.KindRenewals, strings.NewReader(csv.String())); err != nil {
			return err
		}
	}
	for _, lead := range models.BacktestLeads {
		start = time.Now()
		b, err := store.RenewalBacktest(ctx, lead, today)
		if err != nil {
			return err
		}
		fmt.Printf("   renewal backtest at %d days (first, uncached): %.1f s for %d scored, %d excluded\n", lead, time.Since(start).Seconds(), b.Renewals, b.Excluded)
	}
	start = time.Now()
	if _, err := store.SuggestScorecardWeights(ctx, today); err != nil {
		return err
	}
	fmt.Printf("   suggested weights fitted (5 folds): %.1f s\n", time.Since(start).Seconds())

	// What the daily job adds for /features' licence model fit: every account's
	// recommendations (44 days of rollups each).
	start = time.Now()
	nrec, err := store.RefreshRecommendations(ctx, today)
	if err != nil {
		return err
	}
	fmt.Printf("   recommendations of every account refreshed (daily job) in %.1f s: %d stored\n", time.Since(start).Seconds(), nrec)

	addr := freeAddr()
	srv, err := startServer(bin, pg.url(db), addr)
	if err != nil {
		return err
	}
	defer srv.stop()
	jar, err := login("http://"+addr, "bench@x.test", "bench-password")
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(3, 3))
	randomAccount := func() string { return fmt.Sprintf("acct-%05d", rng.IntN(scaleAccounts)) }
	var mu sync.Mutex
	pick := func() string { mu.Lock(); defer mu.Unlock(); return randomAccount() }

	base := "http://" + addr
	hz := throughput(base+"/healthz", nil, "", 3*time.Second)
	fmt.Printf("   /healthz baseline: %.0f req/s (8 clients)\n", hz)
	for _, probe := range []struct {
		name, target string
		path         func() string
		cookie       bool
		bearer       bool
		perClient    int
		warmUp       int
	}{
		{"account page /accounts/{key}", "p99 ≤ 50 ms", func() string { return "/accounts/" + pick() }, true, false, 200, 1},
		{"health API /api/v1/accounts/{key}/health", "p99 ≤ 50 ms", func() string { return "/api/v1/accounts/" + pick() + "/health" }, false, true, 200, 1},
		{"portfolio /?sort=health&dir=desc (50 rows)", "p99 ≤ 100 ms", func() string { return "/?sort=health&dir=desc" }, true, false, 100, 1},
		{"portfolio /?sort=health&page=37", "p99 ≤ 100 ms", func() string { return "/?sort=health&page=37" }, true, false, 100, 1},
		{"features /features", "p99 ≤ 150 ms", func() string { return "/features" }, true, false, 50, 1},
		{"features, 12 filter combinations", "p99 ≤ 150 ms", featureFilters(), true, false, 50, len(featureViews)},
		{"renewals /renewals (90 days)", "p99 ≤ 500 ms", func() string { return "/renewals" }, true, false, 20, 1},
		{"renewals /renewals?within=30", "p99 ≤ 500 ms", func() string { return "/renewals?within=30" }, true, false, 20, 1},
	} {
		// BENCH_PROBE narrows a run to the probes whose name contains it.
		if !strings.Contains(probe.name, os.Getenv("BENCH_PROBE")) {
			continue
		}
		var c *cookiejar.Jar
		if probe.cookie {
			c = jar
		}
		tok := ""
		if probe.bearer {
			tok = token
		}
		// A warm-up first, alone: the first view of a filter after a change pays for
		// loading what later ones share (an adoption-totals slice); the slowest warm-up
		// request is reported on its own.
		var first time.Duration
		for range max(1, probe.warmUp) {
			t0 := time.Now()
			if code := get(newClient(c, 60*time.Second), base+probe.path(), tok); code != http.StatusOK {
				return fmt.Errorf("%s: warm-up status %d", probe.name, code)
			}
			first = max(first, time.Since(t0))
		}
		lat, codes, rate := latencies(base, probe.path, c, tok, 8, probe.perClient)
		fmt.Printf("   %-44s p50 %6.1f ms  p99 %6.1f ms  %6.0f req/s  (%.1f%% of /healthz)  target %s  statuses %v  (slowest warm-up %.0f ms)\n",
			probe.name, ms(lat, 0.50), ms(lat, 0.99), rate, 100*rate/hz, probe.target, codes, float64(first.Microseconds())/1000)
	}
	fmt.Println()
	return nil
}

// scaleSetup generates the data set, two days of snapshots and the bench's user, and
// returns a pm API token.
func scaleSetup(ctx context.Context, store *models.Store, dbURL string, today models.Date) (string, error) {
	start := time.Now()
	messages, err := fillScale(ctx, store, dbURL, today)
	if err != nil {
		return "", err
	}
	fmt.Printf("   generated %d accounts, %d users, %d features, rollups of %d messages in %.0f s\n",
		scaleAccounts, scaleUsers, scaleFeatures, messages, time.Since(start).Seconds())
	start = time.Now()
	n, err := store.SnapshotHealth(ctx, today.AddDays(-7), today.AddDays(-7))
	if err != nil {
		return "", err
	}
	m, err := store.SnapshotHealth(ctx, today, today)
	if err != nil {
		return "", err
	}
	fmt.Printf("   health snapshots: %d account-days in %.1f s\n", n+m, time.Since(start).Seconds())
	if _, err := store.CreateTeamMember(ctx, "bench@x.test", "Bench", models.RoleCSM, "bench-password"); err != nil {
		return "", err
	}
	token, _, err := store.CreateAPIToken(ctx, "bench", models.RolePM, nil)
	return token, err
}

// featureFilters cycles through segment, comparison, stage, product, plan and feature
// filters of /features, so the probe is not one cached view.
var featureViews = []string{"", "?segment=enterprise", "?segment=smb&compare=enterprise", "?stage=renewal",
	"?product=insights", "?plan=api", "?plan=seats&stage=adoption", "?feature=feature-07",
	"?segment=mid-market&product=platform", "?sort=rate&dir=desc", "?feature=feature-31&segment=smb", "?stage=onboarding&compare=smb"}

func featureFilters() func() string {
	views := featureViews
	var mu sync.Mutex
	i := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		i++
		return "/features" + views[i%len(views)]
	}
}

// get sends one GET and returns its status (0 when it failed).
func get(client *http.Client, u, token string) int {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// newClient is a bench client with the session's cookies (when jar is set) that does
// not follow redirects.
func newClient(jar *cookiejar.Jar, timeout time.Duration) *http.Client {
	client := &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if jar != nil { // a nil *Jar in the interface would not be a nil interface
		client.Jar = jar
	}
	return client
}

func ms(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(q*float64(len(sorted)-1))].Microseconds()) / 1000
}

// latencies sends n requests from each of c clients and returns the sorted latencies.
func latencies(base string, path func() string, jar *cookiejar.Jar, token string, clients, n int) ([]time.Duration, map[int]int, float64) {
	var mu sync.Mutex
	var all []time.Duration
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := newClient(jar, 30*time.Second)
			for j := 0; j < n; j++ {
				u := base + path()
				t0 := time.Now()
				code := get(client, u, token)
				d := time.Since(t0)
				mu.Lock()
				all = append(all, d)
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rate := float64(clients*n) / time.Since(start).Seconds()
	slices.Sort(all)
	return all, codes, rate
}

// throughput measures requests per second of one URL from 8 clients.
func throughput(u string, jar *cookiejar.Jar, token string, d time.Duration) float64 {
	var count atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			if jar != nil {
				client.Jar = jar
			}
			for time.Now().Before(deadline) {
				resp, err := client.Get(u)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					count.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / d.Seconds()
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// login signs in through the form and returns the cookie jar.
func login(base, email, password string) (*cookiejar.Jar, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/login")
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfInput.FindSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("no CSRF token on /login")
	}
	resp, err = client.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "email": {email}, "password": {password}})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("login: status %d", resp.StatusCode)
	}
	return jar, nil
}

// fillScale writes the catalog, accounts and entitlements through the CSV importer,
// then end users and rollups with COPY. It returns the number of usage messages the
// rollups account for. Raw messages are not materialised: no page reads them.
func fillScale(ctx context.Context, store *models.Store, dbURL string, today models.Date) (int64, error) {
	rng := rand.New(rand.NewPCG(11, 13))
	products := []string{"platform", "insights", "connect"}
	var csv bytes.Buffer
	csv.WriteString("key,name,product,event_names,key_feature\n")
	for f := 0; f < scaleFeatures; f++ {
		fmt.Fprintf(&csv, "feature-%02d,Feature %02d,%s,Feature %02d Used,%v\n", f, f, products[f%3], f, f%10 == 0)
	}
	if _, err := store.ImportCSV(ctx, "features", &csv); err != nil {
		return 0, fmt.Errorf("features: %w", err)
	}
	csv.Reset()
	csv.WriteString("key,name,arr,renewal_on,lifecycle_stage,segment,csm_email\n")
	segments := []string{"enterprise", "mid-market", "smb"}
	stages := []string{"onboarding", "adoption", "renewal"}
	for a := 0; a < scaleAccounts; a++ {
		fmt.Fprintf(&csv, "acct-%05d,Account %05d,%d,%s,%s,%s,csm%d@x.test\n", a, a, 5000+rng.IntN(500000),
			today.AddDays(rng.IntN(400)-30), stages[rng.IntN(3)], segments[rng.IntN(3)], a%40)
	}
	if _, err := store.ImportCSV(ctx, "accounts", &csv); err != nil {
		return 0, fmt.Errorf("accounts: %w", err)
	}
	csv.Reset()
	csv.WriteString("account,key,product,features,model,quantity,unit,unit_price,starts_on,ends_on\n")
	start := today.AddDays(-200)
	for a := 0; a < scaleAccounts; a++ {
		fmt.Fprintf(&csv, "acct-%05d,seats,platform,,user,%d,seats,600,%s,%s\n", a, 60+rng.IntN(100), start, today.AddDays(300))
		fmt.Fprintf(&csv, "acct-%05d,insights,insights,,subscription,%d,seats,300,%s,\n", a, 20+rng.IntN(60), start)
		fmt.Fprintf(&csv, "acct-%05d,api,platform,,metered,%d,api_calls,0.01,%s,%s\n", a, 5000+rng.IntN(20000), today.AddDays(-60), today.AddDays(300))
		fmt.Fprintf(&csv, "acct-%05d,old-pilot,connect,,usage,100,gb,1,%s,%s\n", a, today.AddDays(-300), today.AddDays(-100))
	}
	if _, err := store.ImportCSV(ctx, "entitlements", &csv); err != nil {
		return 0, fmt.Errorf("entitlements: %w", err)
	}

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	levels := []string{"executive", "manager", "individual", "individual", "individual", "individual", "unknown"}
	depts := []string{"Sales", "Marketing", "Engineering", "Support", "Finance", "Operations"}
	groupAt := today.AddDays(-scaleDays).Time()
	u := 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"end_users"},
		[]string{"id", "user_key", "group_key", "group_at", "email", "name", "department", "level", "traits_at", "first_seen_at", "last_seen_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if u == scaleUsers {
				return nil, nil
			}
			u++
			key := fmt.Sprintf("user-%07d", u)
			return []any{int64(u), key, fmt.Sprintf("acct-%05d", u%scaleAccounts), groupAt, key + "@x.test", key,
				depts[u%len(depts)], levels[u%len(levels)], groupAt, groupAt, today.Time()}, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("end users: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT setval('end_users_id_seq', $1)", scaleUsers); err != nil {
		return 0, err
	}

	// Per account, a share of users is active; each active user is active on a weekday
	// with probability 0.12 (0.02 at weekends) and then sends a login, a session end
	// and 1–6 feature events.
	activeShare := make([]float64, scaleAccounts)
	for a := range activeShare {
		activeShare[a] = 0.05 + 0.35*rng.Float64()
	}
	first := today.AddDays(-(scaleDays - 1)).EpochDay()
	type dayRow struct {
		user           int64
		day, msgs, hrs int32
	}
	var messages int64
	var days []dayRow
	for uid := 1; uid <= scaleUsers; uid++ {
		a := uid % scaleAccounts
		if rng.Float64() >= activeShare[a] {
			continue
		}
		for d := 0; d < scaleDays; d++ {
			day := first + d
			p := 0.12
			if wd := models.DateFromEpochDay(day).Weekday(); wd == time.Saturday || wd == time.Sunday {
				p = 0.02
			}
			if rng.Float64() >= p {
				continue
			}
			n := 1 + rng.IntN(6) // feature events; plus a login and a session end
			days = append(days, dayRow{int64(uid), int32(day), int32(n + 2), int32(1 << (8 + rng.IntN(9)))})
			messages += int64(n + 2)
		}
	}
	i := 0
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"usage_user_days"}, []string{"end_user_id", "day", "messages", "hours_mask"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(days) {
				return nil, nil
			}
			r := days[i]
			i++
			return []any{r.user, r.day, r.msgs, r.hrs}, nil
		})); err != nil {
		return 0, fmt.Errorf("user days: %w", err)
	}
	// Each user-day's events follow from its row: a login, a session end, and feature
	// events for distinct features ((user + 7f) mod 50 differ for f < 6).
	i, f := 0, -2
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"usage_user_event_days"}, []string{"end_user_id", "day", "event_name", "events", "duration_seconds"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(days) {
				return nil, nil
			}
			r := days[i]
			var row []any
			switch f {
			case -2:
				row = []any{r.user, r.day, "Signed In", int32(1), 0.0}
			case -1:
				row = []any{r.user, r.day, "Session Ended", int32(1), float64(300 + (r.user*31+int64(r.day))%3000)}
			default:
				row = []any{r.user, r.day, fmt.Sprintf("Feature %02d Used", (int(r.user)+f*7)%scaleFeatures), int32(1), 0.0}
			}
			f++
			if f == int(r.msgs)-2 {
				i, f = i+1, -2
			}
			return row, nil
		})); err != nil {
		return 0, fmt.Errorf("event days: %w", err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return 0, err
	}
	return messages, nil
}
