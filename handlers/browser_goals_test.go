package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestBrowserCreateGoal sets a goal through the htmx form: a refused target shows its
// SMART message beside the field, the fix goes through, and the goal appears with its
// status, all without a page load.
func TestBrowserCreateGoal(t *testing.T) {
	ctx, problems := browser(t)
	store := dbtest.SQLite(t)
	seedAccounts(t, store, models.Account{Key: "acme", Name: "Acme"})
	if _, err := store.CreateTeamMember(context.Background(), "manager@demo.test", "Morgan", models.RoleManager, "demo"); err != nil {
		t.Fatal(err)
	}
	srv := browserServer(t, store)
	b := tab{t: t, ctx: ctx, timeout: 10 * time.Second}

	must := b.must
	eval := b.evalString
	waitFor := b.waitFor
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	due := time.Now().UTC().AddDate(0, 2, 0).Format("2006-01-02")

	must(chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/accounts/acme/goals"),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), "manager@demo.test"),
		chromedp.SendKeys(css("#password"), "demo"),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css("#goals")),
		// __settled counts finished swaps of the goals region (not of the target's
		// preview): htmx binds the swapped-in form only once it settles.
		chromedp.Evaluate[chromedp.Void]("window.__marker = 1; window.__settled = 0; document.addEventListener('htmx:afterSettle', function (e) { if (e.detail.target && e.detail.target.id === 'goals') window.__settled++; }); undefined"),
		chromedp.Click(css("[data-testid=goal-new]")),
		chromedp.WaitVisible(css("#goal-0-title")),
		chromedp.SendKeys(css("#goal-0-title"), "Grow the active user base"),
		chromedp.SetValue(css("#goal-0-metric"), "active_users"),
		chromedp.SendKeys(css("#goal-0-target"), "0"),
		chromedp.SendKeys(css("#goal-0-relevance"), "The renewal depends on broad use"),
		chromedp.SetValue(css("#goal-0-due_on"), due),
		chromedp.Click(css("[data-testid=goal-submit]")),
	))
	// The refusal comes back beside the target field, with what was typed kept.
	waitFor("window.__settled === 1 && !!document.querySelector('[data-testid=goal-target-error]')")
	msg := eval("document.querySelector('#goal-0-target').closest('.field').querySelector('.field-error').textContent")
	if !strings.HasPrefix(msg, "Attainable: target 0 does not improve on the baseline of 0") {
		t.Fatalf("message beside the target: %q", msg)
	}
	if title := eval("document.querySelector('#goal-0-title').value"); title != "Grow the active user base" {
		t.Fatalf("typed title lost: %q", title)
	}
	if n := eval("String(document.querySelectorAll('[data-testid=goal]').length)"); n != "0" {
		t.Fatalf("a refused goal is listed: %s", n)
	}

	must(chromedp.Do(ctx,
		chromedp.SetValue(css("#goal-0-target"), "25"),
		chromedp.Click(css("[data-testid=goal-submit]")),
	))
	waitFor("window.__settled === 2 && document.querySelectorAll('[data-testid=goal]').length === 1")
	// Acme has no usage: its flat metric cannot reach 25, so the goal is at risk at once.
	if st := eval("document.querySelector('[data-testid=goal-status]').textContent"); st != "at risk" {
		t.Fatalf("status %q", st)
	}
	if p := eval("document.querySelector('[data-testid=goal-pacing]').textContent"); !strings.Contains(p, "target 25") {
		t.Fatalf("pacing %q", p)
	}
	if eval("document.querySelector('[data-testid=goal-target-error]') ? 'error' : ''") != "" {
		t.Fatal("the error stays after the fix")
	}
	if eval("String(window.__marker)") != "1" {
		t.Fatal("the page reloaded instead of swapping the goals region")
	}
	// The chart of the metric path and its dashed target line is drawn.
	waitFor("!!document.querySelector('#goals canvas[data-chart]')._chart")
	if len(*problems) > 0 {
		t.Fatalf("browser reported problems: %v", *problems)
	}
}
