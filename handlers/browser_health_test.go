package handlers_test

import (
	"context"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestBrowserPortfolioHealthAndAccountWindow drives the portfolio's sort and filters
// and the account page's window and as-of day in Chromium, checking what is shown.
func TestBrowserPortfolioHealthAndAccountWindow(t *testing.T) {
	ctx, problems := browser(t)
	store := dbtest.SQLite(t)
	today := seedDemoHealth(t, store, 30, 30)
	if _, err := store.CreateTeamMember(context.Background(), "csm@demo.test", "Casey", models.RoleCSM, "demo"); err != nil {
		t.Fatal(err)
	}
	srv := browserServer(t, store)
	b := tab{t: t, ctx: ctx, timeout: 10 * time.Second}

	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	must := b.must
	waitFor := b.waitFor
	strs := b.evalStrings
	text := b.text
	change := func(sel, value string) {
		t.Helper()
		must(chromedp.Do(ctx,
			chromedp.SetValue(css(sel), value),
			chromedp.Evaluate[chromedp.Void]("document.querySelector('"+sel+"').dispatchEvent(new Event('change', {bubbles: true})); undefined")))
	}
	// settled: no htmx request or swap in flight, so new content is wired up (a click on
	// a link htmx has not processed yet would navigate instead).
	settled := func() {
		t.Helper()
		waitFor("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")
	}
	const scores = "[...document.querySelectorAll('[data-testid=account-row] [data-testid=health]')].map(td => td.dataset.score)"
	const colors = "[...document.querySelectorAll('[data-testid=account-row] [data-testid=health]')].map(td => td.dataset.color)"

	must(chromedp.Do(ctx,
		// The whole portfolio, not the CSM's own book (where a bare "/" lands them).
		chromedp.Navigate(srv.URL+"/?sort=name"),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), "csm@demo.test"),
		chromedp.SendKeys(css("#password"), "demo"),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css("[data-testid=portfolio]")),
	))
	waitFor("document.readyState === 'complete' && typeof htmx !== 'undefined'")
	must(chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void]("window.__marker = 1; undefined")))
	byName := strs(scores)
	if len(byName) != 30 {
		t.Fatalf("portfolio shows %d rows", len(byName))
	}

	// Sort by health, twice for descending: the scores shown are ordered.
	must(chromedp.Do(ctx, chromedp.Click(css("[data-testid=sort-health]"))))
	waitFor("location.search.includes('sort=health') && !location.search.includes('dir=desc')")
	waitFor("document.querySelector('th[aria-sort=ascending] [data-testid=sort-health]') !== null")
	settled()
	must(chromedp.Do(ctx, chromedp.Click(css("[data-testid=sort-health]"))))
	waitFor("location.search.includes('sort=health') && location.search.includes('dir=desc')")
	waitFor("document.querySelector('th[aria-sort=descending] [data-testid=sort-health]') !== null")
	settled()
	desc := strs(scores)
	nums := make([]float64, len(desc))
	for i, s := range desc {
		n, err := strconv.ParseFloat(s, 64)
		must(err)
		nums[i] = n
	}
	if !slices.IsSortedFunc(nums, func(a, b float64) int { return int(b - a) }) || slices.Equal(desc, byName) {
		t.Fatalf("sorted by health descending: %v (by name: %v)", desc, byName)
	}

	// Filter to red: only red rows, worst first, and the total follows.
	change("[data-testid=filter-color]", "red")
	waitFor("location.search.includes('color=red') && location.search.includes('sort=health')")
	waitFor("document.querySelector('[data-testid=portfolio-total]').textContent !== '30 accounts'")
	settled()
	reds := strs(colors)
	if len(reds) == 0 || len(reds) == 30 {
		t.Fatalf("red filter shows %d rows", len(reds))
	}
	for _, c := range reds {
		if c != "red" {
			t.Fatalf("red filter shows a %q row", c)
		}
	}
	if got := text("[data-testid=portfolio-total]"); got != strconv.Itoa(len(reds))+" accounts" {
		t.Fatalf("total %q for %d rows", got, len(reds))
	}
	if href := strs("[document.querySelector('[data-testid=export-csv]').getAttribute('href')]"); href[0] != "/portfolio.csv?color=red&dir=desc&sort=health" {
		t.Fatalf("export link %q", href[0])
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.__marker || 0")); err != nil || n != 1 {
		t.Fatal("sorting or filtering reloaded the page")
	}

	// Open the worst account; switch its charts' window, then its day.
	must(chromedp.Do(ctx,
		chromedp.Click(css("[data-testid=account-row] a")),
		chromedp.WaitVisible(css("[data-testid=scorecard]")),
	))
	waitFor("document.readyState === 'complete' && typeof htmx !== 'undefined'")
	must(chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void]("window.__marker = 2; undefined")))
	usageRows := "document.querySelectorAll('[data-testid=usage-data] tbody tr').length"
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](usageRows))
	must(err)
	if n != 90 {
		t.Fatalf("default window shows %d days", n)
	}
	waitFor("document.querySelectorAll('canvas[data-chart]').length === 3 && [...document.querySelectorAll('canvas[data-chart]')].every(c => Chart.getChart(c))")
	// The goals region loads itself into the page.
	waitFor("document.querySelector('[data-testid=goals]') !== null && document.querySelector('[data-testid=goals-loading]') === null")
	scoreToday := text("[data-testid=health-score]")

	change("[data-testid=window]", "30")
	waitFor("document.querySelector('#account-health').dataset.window === '30'")
	waitFor(usageRows + " === 30 && location.search.includes('window=30')")
	waitFor("[...document.querySelectorAll('canvas[data-chart]')].every(c => Chart.getChart(c) && Chart.getChart(c).data.labels.length <= 30)")
	settled()

	earlier := today.AddDays(-20).String()
	change("[data-testid=as-of]", earlier)
	waitFor("document.querySelector('#account-health').dataset.asOf === '" + earlier + "' && location.search.includes('as_of=" + earlier + "')")
	last := strs("[...document.querySelectorAll('[data-testid=usage-data] tbody tr:last-child td')].map(td => td.textContent)")
	if last[0] != earlier {
		t.Fatalf("usage data ends %v, want %s", last, earlier)
	}
	h, err := store.AccountHealth(context.Background(), strs("[location.pathname.split('/').pop()]")[0], today.AddDays(-20))
	must(err)
	if got, want := text("[data-testid=health-score]"), strconv.FormatFloat(math.Round(*h.Health.Score), 'f', 0, 64); got != want {
		t.Fatalf("score as of %s shows %s, want %s (today %s)", earlier, got, want, scoreToday)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.__marker || 0")); err != nil || n != 2 {
		t.Fatal("switching the window or day reloaded the page")
	}
	if len(*problems) > 0 {
		t.Fatalf("browser reported problems: %v", *problems)
	}
}
