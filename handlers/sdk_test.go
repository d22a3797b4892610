package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sightline/handlers"
	"sightline/models"
	"sightline/models/dbtest"
)

// The real SDKs, pinned in testdata/npm/package-lock.json and installed there with
// `npm ci` (.ci/run does), send usage to a Sightline on 127.0.0.1, each as its
// documentation says; the counts are then read through the health API. See
// testdata/npm/README.md for what each one sends.

const sdkDir = "testdata/npm"

// needSDKs skips when the npm packages are not installed, or fails where CI requires them.
func needSDKs(t *testing.T) {
	t.Helper()
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(sdkDir, "node_modules", "@segment", "analytics-next"))
	if nodeErr != nil || modErr != nil {
		if os.Getenv("SIGHTLINE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("SDK packages missing (node: %v, packages: %v): run npm ci in handlers/%s", nodeErr, modErr, sdkDir)
		}
		t.Skipf("SDK packages not installed (npm ci in handlers/%s)", sdkDir)
	}
}

// sdkServer is a Sightline with one account entitled to the "reports" feature, ready
// for an SDK to send to.
type sdkServer struct {
	t     *testing.T
	store *models.Store
	srv   *httptest.Server
	token string
}

func newSDKServer(t *testing.T, s *models.Store) *sdkServer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(handlers.NewRouter(handlers.Deps{Store: s, SessionSecret: testSecret, Logger: log}))
	t.Cleanup(srv.Close)
	tok, _, err := s.CreateAPIToken(context.Background(), "sdk test", models.RoleAdmin, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := &sdkServer{t: t, store: s, srv: srv, token: tok}
	x.call(http.MethodPut, "/api/v1/features/reports", `{"name":"Reports","product":"core","event_names":["Report Viewed"]}`, nil)
	return x
}

func (x *sdkServer) call(method, path, body string, out any) {
	x.t.Helper()
	req, _ := http.NewRequest(method, x.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+x.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		x.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		x.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			x.t.Fatal(err)
		}
	}
}

// account creates an account with 10 seats of the core product.
func (x *sdkServer) account(key string) {
	x.t.Helper()
	x.call(http.MethodPut, "/api/v1/accounts/"+key, `{"name":"`+key+`","arr":1000}`, nil)
	x.call(http.MethodPut, "/api/v1/accounts/"+key+"/entitlements/seats",
		`{"product":"core","features":[],"model":"user","quantity":10,"starts_on":"2020-01-01"}`, nil)
}

func (x *sdkServer) writeKey(origins string) string {
	x.t.Helper()
	plain, _, err := x.store.CreateWriteKey(context.Background(), models.WriteKeyInput{Name: "sdk", Origins: origins}, nil)
	if err != nil {
		x.t.Fatal(err)
	}
	return plain
}

type sdkHealth struct {
	ActiveUsers       int            `json:"active_users"`
	DepartmentsActive int            `json:"departments_active"`
	Exposure          map[string]int `json:"exposure"`
	FeatureAdoption   []struct {
		Feature string `json:"feature"`
		Users   int    `json:"users"`
	} `json:"feature_adoption"`
	Entitlements []struct {
		Key      string  `json:"key"`
		Consumed float64 `json:"consumed"`
	} `json:"entitlements"`
}

// expectCounted checks what the account's health says the SDK delivered: u1, a
// manager in Finance, used the reports feature; usage is the account's track and
// page messages; stored is every message of the run's users.
func (x *sdkServer) expectCounted(account, userPrefix string, usage, stored int) {
	x.t.Helper()
	var h sdkHealth
	x.call(http.MethodGet, "/api/v1/accounts/"+account+"/health", "", &h)
	if h.ActiveUsers != 1 || h.DepartmentsActive != 1 || h.Exposure["manager"] != 1 ||
		len(h.FeatureAdoption) != 1 || h.FeatureAdoption[0].Users != 1 ||
		len(h.Entitlements) != 1 || h.Entitlements[0].Consumed != 1 {
		x.t.Fatalf("health of %s after the SDK's run: %+v", account, h)
	}
	if got := usageOf(x.t, x.store, account); got != usage {
		x.t.Fatalf("%s: %d usage messages counted, want %d", account, got, usage)
	}
	var n int
	x.store.DB().Raw("SELECT count(*) FROM usage_messages WHERE user_key LIKE ?", userPrefix+"%").Scan(&n)
	if n != stored {
		x.t.Fatalf("%s: %d messages stored, want %d", account, n, stored)
	}
}

// TestNodeSDKs runs Segment's and RudderStack's Node SDKs (RudderStack's gzips its
// bodies and labels them as a form).
func TestNodeSDKs(t *testing.T) {
	needSDKs(t)
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		x := newSDKServer(t, s)
		key := x.writeKey("")
		for _, sdk := range []string{"segment", "rudder"} {
			account, prefix := "node-"+sdk, "node-"+sdk+"-"
			x.account(account)
			cmd := exec.Command("node", "node-"+sdk+".mjs")
			cmd.Dir = sdkDir
			cmd.Env = append(os.Environ(), "SIGHTLINE_URL="+x.srv.URL, "WRITE_KEY="+key, "ACCOUNT_ID="+account,
				"RUN_ID="+t.Name(), "USER_PREFIX="+prefix, "TIMEOUT_MS=15000")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s: %v\n%s", sdk, err, out.String())
			}
			// u1's two tracks count for the account; u2's page has no account.
			x.expectCounted(account, prefix, 2, 5)
		}
	})
}

// TestBrowserSDKs loads analytics.js (analytics-next) and RudderStack's JavaScript
// SDK in a page served from another origin, sending one message a request and then
// batching; a key limited to other origins is refused there. On SQLite only: the
// browser adds nothing to storage, which TestNodeSDKs runs on both databases.
func TestBrowserSDKs(t *testing.T) {
	needSDKs(t)
	func(t *testing.T, s *models.Store) {
		x := newSDKServer(t, s)
		pages := httptest.NewServer(http.FileServer(http.Dir(sdkDir)))
		t.Cleanup(pages.Close)
		pageOrigin := pages.URL // another port: another origin
		allowed := x.writeKey(pageOrigin + ", https://app.example.com")
		for _, sdk := range []string{"segment", "rudder"} {
			for _, batch := range []bool{false, true} {
				account := "web-" + sdk
				if batch {
					account += "-batch"
				}
				x.account(account)
				done, failed, harness := runPage(t, pages.URL, sdk, x.srv.URL, allowed, account, batch)
				if !done || failed {
					t.Fatalf("%s: done %v, failed %v: %s", account, done, failed, harness)
				}
				// All five calls are u1's: the two tracks and the page count.
				x.expectCounted(account, account+"-", 3, 5)
			}
		}
		// A key for other origins: every request is refused, and nothing is stored.
		other := x.writeKey("https://app.example.com")
		x.account("web-refused")
		done, failed, harness := runPage(t, pages.URL, "segment", x.srv.URL, other, "web-refused", false)
		if done || !failed || !strings.Contains(harness, "403") {
			t.Fatalf("a page of another origin: done %v, failed %v: %s", done, failed, harness)
		}
		var n int
		s.DB().Raw("SELECT count(*) FROM usage_messages WHERE user_key LIKE 'web-refused-%'").Scan(&n)
		if n != 0 {
			t.Fatalf("%d messages stored from a refused origin", n)
		}
	}(t, dbtest.SQLite(t))
}

// runPage opens an SDK's page in a fresh browser (the SDKs queue in localStorage) and
// waits until its harness says every event was answered 2xx, or one was not.
func runPage(t *testing.T, pagesURL, sdk, host, key, account string, batch bool) (done, failed bool, harness string) {
	t.Helper()
	ctx, _ := browser(t)
	q := url.Values{"host": {host}, "key": {key}, "account": {account}, "run": {t.Name()}, "user_prefix": {account + "-"}}
	if batch {
		q.Set("batch", "1")
	}
	b := tab{t: t, ctx: ctx, timeout: 20 * time.Second}
	_, err := chromedp.Run(ctx, chromedp.Navigate(pagesURL+"/"+sdk+".html?"+q.Encode()))
	b.must(err)
	b.waitFor("window.__done || window.__failed")
	// Let a refused SDK's retries settle before reading the verdict.
	time.Sleep(200 * time.Millisecond)
	var state struct {
		Done    bool            `json:"done"`
		Failed  bool            `json:"failed"`
		Harness json.RawMessage `json:"harness"`
	}
	state, err = chromedp.Run(ctx, chromedp.Evaluate[struct {
		Done    bool            `json:"done"`
		Failed  bool            `json:"failed"`
		Harness json.RawMessage `json:"harness"`
	}]("({done: window.__done, failed: window.__failed, harness: window.__harness})"))
	b.must(err)
	return state.Done, state.Failed, string(state.Harness)
}
