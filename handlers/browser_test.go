package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"sightline/demo"
	"sightline/handlers"
	"sightline/models"
	"sightline/models/dbtest"
)

// browser starts headless Chromium, or skips when there is none (CI sets
// SIGHTLINE_REQUIRE_BROWSER=1, where a missing browser fails instead).
func browser(t *testing.T) (context.Context, *[]string) {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if found, err := exec.LookPath(p); err == nil {
				path = found
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("SIGHTLINE_REQUIRE_BROWSER") == "1" {
			t.Fatal("no Chromium found but SIGHTLINE_REQUIRE_BROWSER=1")
		}
		t.Skip("no Chromium: skipping browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		// Nothing but loopback resolves: a stray request to the internet fails loudly.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
	)
	// Collect uncaught exceptions and console errors: a page that breaks fails the test.
	var mu sync.Mutex
	problems := &[]string{}
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			*problems = append(*problems, "exception: "+e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				*problems = append(*problems, "console error")
			}
		case *cdplog.EventEntryAdded:
			// A form refused with 422 or 409 is a normal htmx exchange the test checks.
			expected := e.Entry.Source == cdplog.EntrySourceNetwork &&
				(strings.Contains(e.Entry.Text, "status of 422") || strings.Contains(e.Entry.Text, "status of 409"))
			if e.Entry.Level == cdplog.EntryLevelError && !expected {
				*problems = append(*problems, "browser error: "+e.Entry.Text)
			}
		}
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, enableLog()); err != nil {
		t.Fatal(err)
	}
	return ctx, problems
}

func TestBrowserLoginPortfolioAndAccount(t *testing.T) {
	ctx, problems := browser(t)
	store := dbtest.SQLite(t)
	if _, err := demo.Seed(context.Background(), store, models.DateOf(time.Now()), demo.Options{Accounts: 30, Days: 7},
		slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateTeamMember(context.Background(), "csm@demo.test", "Casey", models.RoleCSM, "demo"); err != nil {
		t.Fatal(err)
	}
	srv := browserServer(t, store)
	b := tab{t: t, ctx: ctx, timeout: 10 * time.Second}

	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	must := b.must
	evalInt := b.evalInt
	text := b.text
	waitFor := b.waitFor

	must(chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/accounts/acme-corp"),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), "csm@demo.test"),
		chromedp.SendKeys(css("#password"), "demo"),
		chromedp.Submit(css("#password")),
		// Login brings us back to the page we asked for.
		chromedp.WaitVisible(css("[data-testid=account-name]")),
		chromedp.Navigate(srv.URL+"/?sort=name"), // the whole portfolio, not the CSM's book
		chromedp.WaitVisible(css("[data-testid=portfolio]")),
	))
	version, err := chromedp.Run(ctx, chromedp.Evaluate[string]("htmx.version"))
	must(err)
	if rows, total := evalInt("document.querySelectorAll('[data-testid=account-row]').length"), text("[data-testid=portfolio-total]"); version != "2.0.11" || rows != 30 || total != "30 accounts" {
		t.Fatalf("portfolio: htmx %q, %d rows, total %q", version, rows, total)
	}

	// Filter through htmx: the table is swapped and the URL follows, without a reload.
	must(chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void]("window.__marker = 1; undefined"),
		chromedp.SetValue(css("[data-testid=filter-stage]"), "renewal"),
		chromedp.Evaluate[chromedp.Void]("document.querySelector('[data-testid=filter-stage]').dispatchEvent(new Event('change', {bubbles: true})); undefined"),
	))
	waitFor("location.search.includes('stage=renewal')")
	waitFor("document.querySelector('[data-testid=portfolio-total]').textContent !== '30 accounts'")
	if evalInt("window.__marker || 0") != 1 {
		t.Fatal("filtering reloaded the page instead of swapping the table")
	}
	stages, err := chromedp.Run(ctx, chromedp.Evaluate[[]string]("[...document.querySelectorAll('[data-testid=account-row] [data-testid=stage]')].map(td => td.textContent)"))
	must(err)
	if len(stages) == 0 {
		t.Fatal("no account in renewal")
	}
	for _, s := range stages {
		if s != "renewal" {
			t.Fatalf("filtered rows include stage %q", s)
		}
	}

	// Open an account and add a note through htmx.
	must(chromedp.Do(ctx,
		chromedp.Click(css("[data-testid=account-row] a")),
		chromedp.WaitVisible(css("[data-testid=account-name]")),
	))
	if name, ents := text("[data-testid=account-name]"), evalInt("document.querySelectorAll('[data-testid=entitlement-row]').length"); name == "" || ents == 0 {
		t.Fatalf("account page: name %q, %d entitlements", name, ents)
	}
	must(chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void]("window.__marker = 2; undefined"),
		chromedp.SendKeys(css("[data-testid=note-body]"), "Renewal call booked"),
		chromedp.Click(css("[data-testid=note-submit]")),
	))
	waitFor("[...document.querySelectorAll('[data-testid=note] p')].some(p => p.textContent === 'Renewal call booked')")
	if evalInt("window.__marker || 0") != 2 {
		t.Fatal("adding a note reloaded the page")
	}
	if len(*problems) > 0 {
		t.Fatalf("browser reported problems: %v", *problems)
	}
}

// browserServer serves the full router on a real 127.0.0.1 listener for Chromium.
func browserServer(t *testing.T, store *models.Store) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(handlers.NewRouter(handlers.Deps{
		Store: store, SessionSecret: testSecret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}))
	t.Cleanup(srv.Close)
	return srv
}

// tab runs the chromedp steps browser tests share, failing the test on any error.
type tab struct {
	t       *testing.T
	ctx     context.Context
	timeout time.Duration // how long waitFor polls
}

func (b tab) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

// waitFor polls a JavaScript condition until it holds.
func (b tab) waitFor(js string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(b.timeout)))
	b.must(err)
}

func (b tab) evalString(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	b.must(err)
	return v
}

func (b tab) evalStrings(js string) []string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](js))
	b.must(err)
	return v
}

func (b tab) evalInt(js string) int {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](js))
	b.must(err)
	return v
}

// text is an element's text, once it is there. Found and read in one evaluation:
// reading a node found by an earlier call failed when htmx swapped it in between.
func (b tab) text(sel string) string {
	b.t.Helper()
	type found struct {
		T string `json:"t"`
	}
	js := "(() => { const el = document.querySelector(" + strconv.Quote(sel) + "); return el && {t: el.innerText} })()"
	v, err := chromedp.Run(b.ctx, chromedp.Poll[found](js, chromedp.WithPollingTimeout(15*time.Second)))
	b.must(err)
	return v.T
}
