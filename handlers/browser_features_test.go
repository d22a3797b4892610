package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sightline/demo"
	"sightline/models"
	"sightline/models/dbtest"
)

// TestBrowserFeaturesFilter logs in as a pm, opens a feature in place under its row,
// changes the segment filter and sees the table and the opened chart follow it
// without a page load.
func TestBrowserFeaturesFilter(t *testing.T) {
	ctx, problems := browser(t)
	store := dbtest.SQLite(t)
	if _, err := demo.Seed(context.Background(), store, models.DateOf(time.Now()), demo.Options{Accounts: 30, Days: 14},
		slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if err := store.RefreshFeatureWeeks(context.Background(), models.DateOf(time.Now()).AddDays(-14), models.DateOf(time.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateTeamMember(context.Background(), "pm@demo.test", "Pat", models.RolePM, "demo"); err != nil {
		t.Fatal(err)
	}
	srv := browserServer(t, store)
	b := tab{t: t, ctx: ctx, timeout: 15 * time.Second}

	must := b.must
	eval := b.evalString
	waitFor := b.waitFor
	// What the opened chart (as Chart.js drew it) and the feature table show.
	const chartData = "JSON.stringify([...document.querySelectorAll('[data-testid=adoption-chart] canvas')].map(c => c._chart ? c._chart.data.datasets.map(d => d.label + ':' + d.data.join(',')) : 'no chart'))"
	const tableData = "[...document.querySelectorAll('[data-testid=feature-row]')].map(r => r.dataset.feature + ':' + r.querySelector('[data-testid=entitled]').textContent).join(' ')"
	const chartDrawn = "document.querySelector('[data-testid=adoption-chart] canvas') && document.querySelector('[data-testid=adoption-chart] canvas')._chart !== undefined"

	must(chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/features"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "pm@demo.test"),
		chromedp.SendKeys(chromedp.CSS("#password"), "demo"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=feature-table]")),
		chromedp.Evaluate[chromedp.Void]("window.__marker = 1; undefined"),
	))
	if got := eval("String(document.querySelectorAll('[data-testid=adoption-chart]').length)"); got != "0" {
		t.Fatalf("%s charts before any feature is opened", got)
	}
	// The ranked table is the first thing on the page, above the fold.
	if got := eval("String(document.querySelector('[data-testid=feature-table]').getBoundingClientRect().top < innerHeight)"); got != "true" {
		t.Fatal("the feature table is not on the first screen")
	}
	tableBefore := eval(tableData)
	feature := eval("document.querySelector('[data-testid=feature-row]').dataset.feature")

	// Opening a feature draws its chart in the row right under it, and the address says so.
	open := "[data-testid=feature-row][data-feature=" + feature + "] [data-testid=feature-open]"
	must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(open))))
	waitFor(chartDrawn)
	waitFor("location.search.includes('feature=" + feature + "')")
	if got := eval("document.querySelector('[data-testid=feature-row][data-feature=" + feature + "]').nextElementSibling.dataset.testid"); got != "feature-drill" {
		t.Fatalf("the feature opened into %q, not the row under it", got)
	}
	if got := eval("String(Math.abs(document.querySelector('[data-testid=feature-drill]').getBoundingClientRect().top - document.querySelector('[data-testid=feature-row][data-feature=" + feature + "]').getBoundingClientRect().bottom) < 2)"); got != "true" {
		t.Fatal("the drill-down is not right under its row")
	}
	chartsBefore := eval(chartData)

	// Filtering swaps the report: the table changes, the feature closes.
	must(chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("[data-testid=features-filter-segment]"), "smb"),
		chromedp.Evaluate[chromedp.Void]("document.querySelector('[data-testid=features-filter-segment]').dispatchEvent(new Event('change', {bubbles: true})); undefined"),
	))
	waitFor("location.search.includes('segment=smb')")
	waitFor("(" + tableData + ") !== " + jsString(tableBefore))
	// Opened again, the chart is the segment's.
	must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(open))))
	waitFor(chartDrawn)
	if chartsAfter := eval(chartData); chartsAfter == chartsBefore {
		t.Fatalf("the chart did not change with the segment: %s", chartsAfter)
	}
	if eval("String(window.__marker || 0)") != "1" {
		t.Fatal("filtering or opening reloaded the page instead of swapping")
	}
	if got := eval("JSON.parse(document.querySelector('[data-testid=adoption-chart] canvas').dataset.chart).series[0].label"); got != "smb: accounts" {
		t.Fatalf("first series after filtering: %q", got)
	}
	// Opening the chart's data table loads it (htmx), with the filtered cohort's columns.
	must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("[data-testid=adoption-chart] [data-testid=weekly-details] summary"))))
	waitFor("document.querySelectorAll('[data-testid=adoption-chart] [data-testid=weekly-table] tbody tr').length === 26")
	if got := eval("document.querySelector('[data-testid=weekly-table] thead th:nth-child(2)').textContent"); got != "smb: accounts" {
		t.Fatalf("weekly table's first column: %q", got)
	}
	// Closing it puts the row back and the address with it.
	must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS("[data-testid=feature-close]"))))
	waitFor("document.querySelectorAll('[data-testid=feature-drill]').length === 0 && !location.search.includes('feature=')")
	if len(*problems) > 0 {
		t.Fatalf("browser reported problems: %v", *problems)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b := []byte{'"'}
	for _, r := range s {
		switch r {
		case '"', '\\':
			b = append(b, '\\', byte(r))
		default:
			b = append(b, string(r)...)
		}
	}
	return string(append(b, '"'))
}
