package handlers_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestBrowserInboxSnooze: a CSM logs in, sees the count of their open alerts, snoozes
// one from the inbox and watches it leave the list, the count following; the pages
// of the alerts work hold up at 1440 and 390 px.
func TestBrowserInboxSnooze(t *testing.T) {
	ctx, problems := browser(t)
	store := dbtest.SQLite(t)
	app := newApp(t, store)
	cons, _ := alertsWorld(t, app)
	if _, err := store.CreateTeamMember(context.Background(), "csm@test.example", "Casey", models.RoleCSM, "demo"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateTeamMember(context.Background(), "admin@test.example", "Ada", models.RoleAdmin, "demo"); err != nil {
		t.Fatal(err)
	}
	srv := browserServer(t, store)
	b := tab{t: t, ctx: ctx, timeout: 10 * time.Second}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	login := func(email string) {
		b.must(chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/login"),
			chromedp.WaitVisible(css("#email")),
			chromedp.SendKeys(css("#email"), email),
			chromedp.SendKeys(css("#password"), "demo"),
			chromedp.Submit(css("#password")),
			chromedp.WaitVisible(css("[data-testid=viewer]")),
		))
	}
	login("csm@test.example")
	if got := b.evalString("document.getElementById('nav-alert-count').textContent"); got != ": 1 open for you" {
		t.Fatalf("nav count %q", got)
	}
	b.must(chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/alerts"), chromedp.WaitVisible(css("[data-testid=mine]"))))
	checkPage(b, problems, "alerts inbox")
	b.must(chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900)))
	row := "#alert-" + strconv.FormatInt(cons.ID, 10)
	b.must(chromedp.Do(ctx,
		chromedp.Click(css(row+" [data-testid=snooze-open]")),
		chromedp.WaitVisible(css(row+" [data-testid=snooze-form] input[name=note]")),
		chromedp.SendKeys(css(row+" [data-testid=snooze-form] input[name=note]"), "after the QBR"),
		chromedp.Click(css(row+" [data-testid=snooze-submit]")),
	))
	b.waitFor("document.querySelector(" + strconv.Quote(row) + ") === null")
	b.waitFor("!document.getElementById('notice').hidden && document.getElementById('notice').textContent.startsWith('Snoozed until')")
	b.waitFor("document.getElementById('nav-alert-count').classList.contains('zero')")
	if n := b.evalInt("document.querySelectorAll('[data-testid=mine] [data-testid=alert]').length"); n != 0 {
		t.Fatalf("%d alerts still mine", n)
	}
	a, err := store.AlertByID(context.Background(), cons.ID)
	if err != nil || a.State != models.AlertSnoozed || a.Note != "after the QBR" {
		t.Fatalf("after the click %+v %v", a, err)
	}
	// The snoozed list has it; the account page shows it at the top.
	b.must(chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/alerts?state=snoozed"), chromedp.WaitVisible(css(row))))
	b.must(chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/accounts/acme"), chromedp.WaitVisible(css("[data-testid=account-alerts] "+row))))
	checkPage(b, problems, "account with alerts")
	b.must(chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/profile"), chromedp.WaitVisible(css("[data-testid=digest-form]"))))
	checkPage(b, problems, "profile")

	// The admin's pages of the same work.
	b.must(chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/login")))
	b.must(chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void]("document.querySelector('form[action=\"/logout\"]') && document.querySelector('form[action=\"/logout\"]').submit()")))
	time.Sleep(300 * time.Millisecond)
	login("admin@test.example")
	for _, p := range []struct{ path, sel, name string }{
		{"/settings/alerts", "[data-testid=alert-rules]", "alert rules"},
		{"/settings/webhooks", "[data-testid=webhooks]", "webhooks"},
		{"/settings/writekeys", "[data-testid=writekeys]", "sources"},
	} {
		b.must(chromedp.Do(ctx, chromedp.Navigate(srv.URL+p.path), chromedp.WaitVisible(css(p.sel))))
		checkPage(b, problems, p.name)
	}
	keys, _ := store.ListWriteKeys(context.Background())
	b.must(chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/settings/writekeys/"+strconv.FormatInt(keys[0].ID, 10)),
		chromedp.WaitVisible(css("[data-testid=source-activity]"))))
	checkPage(b, problems, "source")
}

// TestBrowserSourcesLiveTail: an admin watching a source sees a message and a refused
// batch arrive within seconds, without reloading.
func TestBrowserSourcesLiveTail(t *testing.T) {
	ctx, problems := browser(t)
	store := dbtest.SQLite(t)
	if _, err := store.CreateTeamMember(context.Background(), "admin@test.example", "Ada", models.RoleAdmin, "demo"); err != nil {
		t.Fatal(err)
	}
	key, wk, err := store.CreateWriteKey(context.Background(), models.WriteKeyInput{Name: "web app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := browserServer(t, store)
	b := tab{t: t, ctx: ctx, timeout: 15 * time.Second}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	b.must(chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/settings/writekeys/"+strconv.FormatInt(wk.ID, 10)),
		chromedp.WaitVisible(css("#email")),
		chromedp.SendKeys(css("#email"), "admin@test.example"),
		chromedp.SendKeys(css("#password"), "demo"),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css("[data-testid=no-messages]")),
	))
	post := func(body string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/batch", strings.NewReader(body))
		req.SetBasicAuth(key, "")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	post(`{"batch":[{"type":"track","userId":"u1","event":"Report Run"}]}`)
	post(`{"batch":[{"type":"track","userId":"u1"}]}`)
	b.waitFor(`document.querySelectorAll('[data-testid=tail-message]').length === 1`)
	b.waitFor(`(document.querySelector('[data-testid=refusal]') || {}).textContent?.includes('message 0: track without event')`)
	if got := b.text("[data-testid=today-received]"); got != "1 messages" {
		t.Fatalf("received today %q", got)
	}
	if len(*problems) > 0 {
		t.Fatalf("browser problems: %v", *problems)
	}
}
