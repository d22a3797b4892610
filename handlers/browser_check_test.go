package handlers_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// axeScript is axe-core from the pinned npm packages (testdata/npm).
func axeScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "npm", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("SIGHTLINE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("axe-core is not installed (npm ci in handlers/testdata/npm): %v", err)
		}
		t.Skip("axe-core is not installed (npm ci in handlers/testdata/npm)")
	}
	return string(b)
}

// checkPage judges the page the tab shows as a person would on a laptop and a phone:
// no sideways scroll at 1440 and 390 px, no console error or exception (the CSP's
// refusals included), and no serious or critical axe-core finding. With
// SIGHTLINE_SCREENSHOTS set to a folder, it saves both widths there as PNG.
func checkPage(b tab, problems *[]string, name string) {
	t := b.t
	t.Helper()
	axe := axeScript(t)
	for _, width := range []int64{1440, 390} {
		b.must(chromedp.Do(b.ctx, chromedp.EmulateViewport(width, 900)))
		b.waitFor("document.readyState === 'complete'")
		// Charts follow their container's new width a moment after the resize.
		time.Sleep(400 * time.Millisecond)
		over := b.evalInt("document.documentElement.scrollWidth - document.documentElement.clientWidth")
		if over > 0 {
			wide := b.evalString(`(() => { const w = document.documentElement.clientWidth; const out = [];
				const clipped = el => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
					if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true; } return false; };
				document.querySelectorAll('body *').forEach(el => { const r = el.getBoundingClientRect();
					if (r.right > w + 1 && out.length < 5 && !clipped(el)) out.push(el.tagName.toLowerCase() + '.' + el.className + ' ' + Math.round(r.right)); });
				return out.join('; '); })()`)
			if wide == "" {
				// Everything too wide is inside a scrolling box: name what reaches furthest.
				wide = b.evalString(`(() => { let best = null, right = 0;
					document.querySelectorAll('body *').forEach(el => { const r = el.getBoundingClientRect().right; if (r > right) { right = r; best = el; } });
					const path = []; for (let p = best; p && p !== document.body; p = p.parentElement) path.unshift(p.tagName.toLowerCase() + (p.className ? '.' + String(p.className).split(' ')[0] : '') + '@' + Math.round(p.getBoundingClientRect().right) + '/' + getComputedStyle(p).overflowX);
					return path.join(' > ') + ' ' + Math.round(right); })()`)
			}
			t.Errorf("%s at %d px scrolls sideways by %d px: %s", name, width, over, wide)
		}
		if dir := os.Getenv("SIGHTLINE_SCREENSHOTS"); dir != "" {
			png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
			b.must(err)
			file := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(name), "-")
			b.must(os.WriteFile(filepath.Join(dir, file+"-"+itoa64(width)+".png"), png, 0o644))
		}
	}
	_, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](axe+";true"))
	b.must(err)
	type violation struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			Target []any `json:"target"`
		} `json:"nodes"`
	}
	res, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]violation](
		`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)`,
		func(p *runtime.EvaluateParams) { yes := true; p.AwaitPromise = &yes }))
	b.must(err)
	for _, v := range res {
		if v.Impact == "serious" || v.Impact == "critical" {
			where, _ := json.Marshal(v.Nodes[0].Target)
			t.Errorf("%s: axe %s (%s): %s, e.g. at %s (%d places)", name, v.ID, v.Impact, v.Help, where, len(v.Nodes))
		}
	}
	if len(*problems) > 0 {
		t.Errorf("%s: console problems: %v", name, *problems)
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// enableLog makes the browser report its own errors (refused by the CSP, failed
// loads), which are not console calls, to the test's listener.
func enableLog() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{})
		return err
	})
}
