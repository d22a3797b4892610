package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"sightline/models"
	"sightline/models/dbtest"
)

func TestLoginPageHasTheSpecFields(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	doc := app.client().get("/login").expect(http.StatusOK).doc()
	for _, sel := range []string{`form[method=post][action="/login"]`, `input[name=email]`, `input[name=password][type=password]`, `input[name=_csrf]`} {
		if doc.Find(sel).Length() != 1 {
			t.Errorf("login page lacks %s", sel)
		}
	}
}

func TestLoginLogoutAndSessionRenewal(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		email := app.member(models.RoleCSM)
		c := app.client()

		// Anonymous visitors are sent to the login form, keeping where they were going.
		r := c.get("/accounts/acme?as_of=2026-01-01").expect(http.StatusSeeOther)
		if loc := r.Header().Get("Location"); loc != "/login?next="+url.QueryEscape("/accounts/acme?as_of=2026-01-01") {
			t.Fatalf("redirect to %q", loc)
		}

		// Unknown email and wrong password get the very same answer.
		bad := func(email, pw string) string {
			form := url.Values{"_csrf": {c.csrf("/login")}, "email": {email}, "password": {pw}}
			doc := c.post("/login", form).expect(http.StatusUnauthorized).doc()
			return doc.Find(`[data-testid=login-error]`).Text()
		}
		if a, b := bad(email, "wrong"), bad("nobody@test.example", "pw-csm"); a != b || a == "" {
			t.Fatalf("messages differ or are empty: %q vs %q", a, b)
		}

		form := url.Values{"_csrf": {c.csrf("/login")}, "email": {"  CSM@test.example "}, "password": {"pw-csm"}, "next": {"/?q=x"}}
		r = c.post("/login", form).expect(http.StatusSeeOther)
		if loc := r.Header().Get("Location"); loc != "/?q=x" {
			t.Fatalf("after login, redirected to %q", loc)
		}
		firstCookie := sessionCookie(t, c)
		doc := c.get("/").expect(http.StatusOK).doc()
		if got := doc.Find(`[data-testid=viewer]`).Text(); got != email {
			t.Fatalf("viewer %q, want %q", got, email)
		}

		// A second login replaces the session: the old id no longer works.
		form = url.Values{"_csrf": {c.csrf("/")}, "email": {email}, "password": {"pw-csm"}}
		c.post("/login", form).expect(http.StatusSeeOther)
		if sessionCookie(t, c) == firstCookie {
			t.Fatal("session cookie was not renewed at login")
		}
		stale := app.client()
		stale.jar.SetCookies(base, []*http.Cookie{{Name: "sightline_session", Value: firstCookie, Path: "/"}})
		stale.get("/").expect(http.StatusSeeOther)

		// Logout ends the session on the server too.
		kept := sessionCookie(t, c)
		c.post("/logout", url.Values{"_csrf": {c.csrf("/")}}).expect(http.StatusSeeOther)
		c.get("/").expect(http.StatusSeeOther)
		replay := app.client()
		replay.jar.SetCookies(base, []*http.Cookie{{Name: "sightline_session", Value: kept, Path: "/"}})
		replay.get("/").expect(http.StatusSeeOther)
	})
}

func sessionCookie(t *testing.T, c *client) string {
	t.Helper()
	for _, ck := range c.jar.Cookies(base) {
		if ck.Name == "sightline_session" {
			return ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func TestLoginRejectsOffsiteNext(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	email := app.member(models.RoleCSM)
	for _, next := range []string{"https://evil.example/", "//evil.example/", `/\evil.example`} {
		c := app.client()
		form := url.Values{"_csrf": {c.csrf("/login")}, "email": {email}, "password": {"pw-csm"}, "next": {next}}
		if loc := c.post("/login", form).expect(http.StatusSeeOther).Header().Get("Location"); loc != "/" {
			t.Errorf("next=%q redirected to %q", next, loc)
		}
	}
}

// TestLoginLandsEachRoleOnItsPage: a PM lands on /features, where their questions are
// answered; everyone else on the portfolio; a next address wins for anyone.
func TestLoginLandsEachRoleOnItsPage(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	emails := map[models.Role]string{}
	for _, c := range []struct {
		role       models.Role
		next, want string
	}{
		{models.RolePM, "", "/features"},
		{models.RolePM, "/goals", "/goals"},
		{models.RoleCSM, "", "/"},
		{models.RoleManager, "", "/"},
		{models.RoleAdmin, "", "/"},
	} {
		if emails[c.role] == "" {
			emails[c.role] = app.member(c.role)
		}
		cl := app.client()
		form := url.Values{"_csrf": {cl.csrf("/login")}, "email": {emails[c.role]}, "password": {"pw-" + string(c.role)}}
		if c.next != "" {
			form.Set("next", c.next)
		}
		if loc := cl.post("/login", form).expect(http.StatusSeeOther).Header().Get("Location"); loc != c.want {
			t.Errorf("%s with next %q lands on %q, want %q", c.role, c.next, loc, c.want)
		}
	}
}

func TestFormsNeedCSRFToken(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	email := app.member(models.RoleAdmin)
	c := app.client()
	c.get("/login")
	// No token at all, then a wrong one: neither logs in.
	if r := c.post("/login", url.Values{"email": {email}, "password": {"pw-admin"}}); r.Code < 400 {
		t.Fatalf("login without CSRF token: status %d", r.Code)
	}
	if r := c.post("/login", url.Values{"_csrf": {"forged"}, "email": {email}, "password": {"pw-admin"}}); r.Code != http.StatusForbidden {
		t.Fatalf("login with forged CSRF token: status %d", r.Code)
	}
	// A cross-site browser request is refused even with the token (Sec-Fetch-Site).
	tok := c.csrf("/login")
	r := c.post("/login", url.Values{"_csrf": {tok}, "email": {email}, "password": {"pw-admin"}}, "Sec-Fetch-Site", "cross-site")
	if r.Code != http.StatusForbidden {
		t.Fatalf("cross-site login: status %d", r.Code)
	}
	// htmx requests send the token as a header; the layout puts it in hx-headers.
	c.login(email, "pw-admin")
	doc := c.get("/").doc()
	hx, _ := doc.Find("body").Attr("hx-headers")
	if !strings.Contains(hx, "X-CSRF-Token") {
		t.Fatalf("body hx-headers = %q", hx)
	}
	tok = c.csrf("/")
	c.post("/logout", nil, "X-CSRF-Token", tok, "HX-Request", "true").expect(http.StatusSeeOther)
}

func TestRepeatedFailedLoginsAreSlowedThenRefused(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	email := app.member(models.RolePM)
	c := app.client()
	for i := 0; i < 5; i++ {
		form := url.Values{"_csrf": {c.csrf("/login")}, "email": {email}, "password": {"guess"}}
		c.post("/login", form).expect(http.StatusUnauthorized)
	}
	// Even the right password is refused while the account is throttled.
	form := url.Values{"_csrf": {c.csrf("/login")}, "email": {email}, "password": {"pw-pm"}}
	r := c.post("/login", form).expect(http.StatusTooManyRequests)
	if r.Header().Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Another member is not locked out by someone guessing at this one.
	other := app.member(models.RoleCSM)
	app.client().login(other, "pw-csm")
}

func TestDisabledMemberLosesSession(t *testing.T) {
	app := newApp(t, dbtest.SQLite(t))
	c := app.loggedIn(models.RoleCSM)
	c.get("/").expect(http.StatusOK)
	m, err := app.store.TeamMemberByEmail(context.Background(), "csm@test.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.store.SetTeamMemberDisabled(context.Background(), m.ID, true); err != nil {
		t.Fatal(err)
	}
	c.get("/").expect(http.StatusSeeOther)
}
