package handlers_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestBrowserRecordRenewalOutcome is a manager's afternoon: a renewal came due last
// week; they record it as contracted on the account page (the panel swaps in place),
// and /renewals moves it from the pipeline to the past renewals with its ARR change.
func TestBrowserRecordRenewalOutcome(t *testing.T) {
	ctx, problems := browser(t)
	store := dbtest.SQLite(t)
	bg := context.Background()
	today := models.Today()
	seedAccounts(t, store, models.Account{Key: "acme", Name: "Acme", ARR: 12000})
	due := today.AddDays(-5)
	if _, err := store.UpsertRenewal(bg, "acme", &models.Renewal{Key: "fy26", DueOn: due, ARRBefore: 12000, Outcome: models.OutcomePending}, models.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateTeamMember(bg, "manager@demo.test", "Morgan", models.RoleManager, "demo"); err != nil {
		t.Fatal(err)
	}
	srv := browserServer(t, store)
	b := tab{t: t, ctx: ctx, timeout: 10 * time.Second}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	b.must(chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/renewals"),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), "manager@demo.test"),
		chromedp.SendKeys(css("#password"), "demo"),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css("[data-testid=upcoming-table]")),
	))
	if n := b.evalInt("document.querySelectorAll('[data-testid=upcoming-row][data-account=acme]').length"); n != 1 {
		t.Fatalf("the overdue renewal is not in the pipeline (%d rows)", n)
	}
	if s := b.text("[data-testid=upcoming-summary]"); s != "1 renewals, $12,000 ARR, of which 1 overdue. CSV" {
		t.Fatalf("summary %q", s)
	}

	b.must(chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/accounts/acme"),
		chromedp.WaitVisible(css("[data-testid=account-renewals]")),
		chromedp.Evaluate[chromedp.Void]("window.__marker = 1; undefined"),
		chromedp.Click(css("[data-testid=record-outcome]")),
		chromedp.WaitVisible(css("#renewal-fy26-outcome")),
		chromedp.SetValue(css("#renewal-fy26-outcome"), "contracted"),
		chromedp.SendKeys(css("#renewal-fy26-arr_after"), "9000"),
		chromedp.SendKeys(css("#renewal-fy26-note"), "Cut the seats nobody used"),
		chromedp.Click(css("[data-testid=renewal-form-fy26] [data-testid=renewal-submit]")),
	))
	b.waitFor("!!document.querySelector('[data-testid=renewal][data-key=fy26][data-outcome=contracted]') && !!document.querySelector('[data-testid=renewal-saved]')")
	if b.evalString("String(window.__marker)") != "1" {
		t.Fatal("the page reloaded instead of swapping the renewals panel")
	}
	if n := b.evalInt("document.querySelectorAll('[data-testid^=renewal-form-fy26]').length"); n != 0 {
		t.Fatal("a closed renewal still offers its outcome form")
	}

	b.must(chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/renewals"),
		chromedp.WaitVisible(css("[data-testid=past-table]")),
	))
	if n := b.evalInt("document.querySelectorAll('[data-testid=upcoming-row]').length"); n != 0 {
		t.Fatalf("%d renewals still in the pipeline", n)
	}
	if n := b.evalInt("document.querySelectorAll('[data-testid=past-row][data-account=acme][data-outcome=contracted]').length"); n != 1 {
		t.Fatal("the outcome is not among the past renewals")
	}
	if nrr, grr := b.text("[data-testid=nrr]"), b.text("[data-testid=grr]"); nrr != "75%" || grr != "75%" {
		t.Fatalf("retention %s / %s, want 75%% / 75%%", nrr, grr)
	}
	if len(*problems) > 0 {
		t.Fatalf("browser reported problems: %v", *problems)
	}
}
