package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"sightline/handlers"
	"sightline/ingest"
	"sightline/models"
)

// testApp is the full router over a real database.
type testApp struct {
	t       *testing.T
	e       *echo.Echo
	store   *models.Store
	monitor *ingest.Monitor // flush it to see ingestion on the Sources page
}

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

func newApp(t *testing.T, store *models.Store) *testApp {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	monitor := ingest.NewMonitor(store, log)
	monitor.FlushDelay = time.Hour // tests flush when they look
	e := handlers.NewRouter(handlers.Deps{
		Store: store, Logger: log, SessionSecret: testSecret, LoginFailureDelay: time.Millisecond,
		Monitor: monitor,
	})
	return &testApp{t: t, e: e, store: store, monitor: monitor}
}

// member creates a login with password "pw-<role>".
func (a *testApp) member(role models.Role) string {
	a.t.Helper()
	email := string(role) + "@test.example"
	if _, err := a.store.CreateTeamMember(context.Background(), email, strings.ToUpper(string(role)), role, "pw-"+string(role)); err != nil {
		a.t.Fatal(err)
	}
	return email
}

// token creates an API token of a role.
func (a *testApp) token(role models.Role) string {
	a.t.Helper()
	plain, _, err := a.store.CreateAPIToken(context.Background(), "test "+string(role), role, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return plain
}

// client is a browser stand-in: it keeps cookies and goes through e.ServeHTTP.
type client struct {
	app *testApp
	jar *cookiejar.Jar
}

var base, _ = url.Parse("http://sightline.test/")

func (a *testApp) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{app: a, jar: jar}
}

type response struct {
	*httptest.ResponseRecorder
	t *testing.T
}

func (c *client) do(req *http.Request) response {
	for _, ck := range c.jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	c.app.e.ServeHTTP(rec, req)
	c.jar.SetCookies(req.URL, rec.Result().Cookies())
	return response{rec, c.app.t}
}

func (c *client) get(path string, headers ...string) response {
	req := httptest.NewRequest(http.MethodGet, base.ResolveReference(mustURL(path)).String(), nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

func (c *client) post(path string, form url.Values, headers ...string) response {
	req := httptest.NewRequest(http.MethodPost, base.ResolveReference(mustURL(path)).String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// csrf fetches a page and returns the token its forms carry.
func (c *client) csrf(path string) string {
	c.app.t.Helper()
	doc := c.get(path).doc()
	tok, ok := doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		c.app.t.Fatalf("no CSRF token on %s", path)
	}
	return tok
}

// login logs in through the form and fails the test if it does not work.
func (c *client) login(email, password string) {
	c.app.t.Helper()
	form := url.Values{"_csrf": {c.csrf("/login")}, "email": {email}, "password": {password}}
	r := c.post("/login", form)
	if r.Code != http.StatusSeeOther {
		c.app.t.Fatalf("login %s: status %d, body %s", email, r.Code, r.Body.String())
	}
}

// loggedIn returns a client logged in as a new member of the role.
func (a *testApp) loggedIn(role models.Role) *client {
	email := a.member(role)
	c := a.client()
	c.login(email, "pw-"+string(role))
	return c
}

func (r response) doc() *goquery.Document {
	r.t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(r.Body.String()))
	if err != nil {
		r.t.Fatal(err)
	}
	return doc
}

// rowsDoc parses a fragment of table rows, which outside a <table> would lose their tags.
func (r response) rowsDoc() *goquery.Document {
	r.t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader("<table><tbody>" + r.Body.String() + "</tbody></table>"))
	if err != nil {
		r.t.Fatal(err)
	}
	return doc
}

func (r response) expect(status int) response {
	r.t.Helper()
	if r.Code != status {
		body := r.Body.String()
		if len(body) > 600 {
			body = body[:600]
		}
		r.t.Fatalf("status %d, want %d; body: %s", r.Code, status, body)
	}
	return r
}

// apiGet calls the JSON API with a bearer token ("" sends none).
func (a *testApp) api(method, path, token string, body io.Reader) response {
	req := httptest.NewRequest(method, path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	return response{rec, a.t}
}

// seedAccounts writes accounts and entitlements for page tests.
func seedAccounts(t *testing.T, s *models.Store, accounts ...models.Account) {
	t.Helper()
	for i := range accounts {
		if _, err := s.UpsertAccount(context.Background(), &accounts[i]); err != nil {
			t.Fatal(err)
		}
	}
}
