package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sightline/demo"
	"sightline/models"
	"sightline/models/dbtest"
)

// TestBrowserEveryPage looks at every page as a CSM and as an admin, on a laptop and
// a phone, over demo data: no console error (the CSP's included), no sideways scroll,
// nothing serious from axe-core.
func TestBrowserEveryPage(t *testing.T) {
	ctx, problems := browser(t)
	store := dbtest.SQLite(t)
	bg := context.Background()
	today := models.Today()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := demo.Seed(bg, store, today, demo.Options{Accounts: 30, Days: 40}, log); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SnapshotHealth(bg, today.AddDays(-39), today); err != nil {
		t.Fatal(err)
	}
	if err := store.RefreshFeatureWeeks(bg, today.AddDays(-26*7), today); err != nil {
		t.Fatal(err)
	}
	for _, l := range demo.Logins {
		if _, err := store.CreateTeamMember(bg, l.Email, l.Name, l.Role, "demo"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := demo.SeedGoals(bg, store, today, log); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedRenewals(bg, store, today, 40, log); err != nil {
		t.Fatal(err)
	}
	if _, err := store.RefreshRecommendations(bg, today); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.SeedAlerts(bg, store, today, log); err != nil {
		t.Fatal(err)
	}
	wk, _, err := store.CreateWriteKey(bg, models.WriteKeyInput{Name: "web app", Origins: "https://app.example.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = wk
	keys, _ := store.ListWriteKeys(bg)
	accounts, err := store.ListAccountsAfter(bg, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	srv := browserServer(t, store)
	var b tab
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	visit := func(path string) {
		t.Helper()
		*problems = (*problems)[:0]
		b.must(chromedp.Do(b.ctx, chromedp.EmulateViewport(1440, 900), chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(css("main"))))
		checkPage(b, problems, path)
	}
	login := func(email string) {
		b.must(chromedp.Do(b.ctx,
			chromedp.Navigate(srv.URL+"/login"),
			chromedp.WaitVisible(css("#email")),
			chromedp.SendKeys(css("#email"), email),
			chromedp.SendKeys(css("#password"), "demo"),
			chromedp.Submit(css("#password")),
			chromedp.WaitVisible(css("[data-testid=viewer]")),
		))
	}
	b = tab{t: t, ctx: ctx, timeout: 15 * time.Second}
	visit("/login")
	login("csm@demo.test")
	for _, p := range []string{"/", "/accounts/" + accounts[0].Key, "/goals", "/alerts", "/features", "/features?feature=ai-assistant", "/renewals", "/profile"} {
		visit(p)
	}
	// The admin in a browser of their own.
	adminCtx, adminProblems := browser(t)
	b, problems = tab{t: t, ctx: adminCtx, timeout: 15 * time.Second}, adminProblems
	login("admin@demo.test")
	for _, p := range []string{"/settings", "/settings/catalog", "/settings/scorecard", "/settings/tokens", "/settings/writekeys",
		"/settings/writekeys/" + strconv.FormatInt(keys[0].ID, 10), "/settings/alerts", "/settings/webhooks", "/settings/data",
		"/renewals?within=180&lead=30", "/accounts/" + accounts[0].Key} {
		visit(p)
	}
}
