package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"sightline/models/dbtest"
	"sightline/static"

	"github.com/PuerkitoBio/goquery"
)

func TestHealthReadinessAndMetrics(t *testing.T) {
	s := dbtest.SQLite(t)
	app := newApp(t, s)
	c := app.client()
	c.get("/healthz").expect(http.StatusOK)
	c.get("/readyz").expect(http.StatusOK)
	c.get("/login").expect(http.StatusOK)
	m := c.get("/metrics").expect(http.StatusOK).Body.String()
	if !strings.Contains(m, `sightline_http_requests_total{method="GET",route="/login",status="200"} 1`) {
		t.Fatalf("metrics lack the login request:\n%s", m)
	}
	if !strings.Contains(m, "go_goroutines") {
		t.Fatal("metrics lack the Go collector")
	}
	// The database goes away: still alive, no longer ready.
	s.Close()
	c.get("/healthz").expect(http.StatusOK)
	c.get("/readyz").expect(http.StatusServiceUnavailable)
}

func TestSecurityHeaders(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	r := app.client().get("/login")
	csp := r.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP %q", csp)
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"} {
		if got := r.Header().Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	// No inline script anywhere in the page: every <script> has a src.
	doc := r.doc()
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if _, ok := s.Attr("src"); !ok {
			t.Errorf("inline script: %s", s.Text())
		}
	})
	for _, ck := range r.Result().Cookies() {
		if !ck.HttpOnly {
			t.Errorf("cookie %s is not HttpOnly", ck.Name)
		}
	}
}

func TestStaticAssetsAreCachedByHash(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	c := app.client()
	url := static.URL("app.css")
	r := c.get(url).expect(http.StatusOK)
	if cc := r.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Fatalf("hashed asset Cache-Control %q", cc)
	}
	if !strings.Contains(r.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("content type %q", r.Header().Get("Content-Type"))
	}
	if cc := c.get("/static/app.css?v=old").Header().Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("stale-hash Cache-Control %q", cc)
	}
	c.get(static.URL("vendor/htmx-2.0.11.min.js")).expect(http.StatusOK)
	c.get("/static/../go.mod").expect(http.StatusNotFound)
	c.get("/static/nope.js").expect(http.StatusNotFound)
}

func TestUnknownPageIsAFriendly404(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	doc := app.client().get("/no/such/page").expect(http.StatusNotFound).doc()
	if doc.Find(`[data-testid=error-page]`).Length() != 1 {
		t.Fatal("404 is not the friendly page")
	}
}

func TestFavicon(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	r := app.client().get("/favicon.ico").expect(http.StatusMovedPermanently)
	loc := r.Header().Get("Location")
	if !strings.HasPrefix(loc, "/static/favicon.svg?v=") {
		t.Fatalf("favicon at %q", loc)
	}
	if got := app.client().get(loc).expect(http.StatusOK); !strings.Contains(got.Body.String(), "<svg") {
		t.Fatal("the favicon is not an SVG")
	}
}
