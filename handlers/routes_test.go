package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"sightline/handlers"
	"sightline/models"
	"sightline/models/dbtest"
)

// fillPath replaces route parameters with values that exist in the test data.
func fillPath(p string) string {
	r := strings.NewReplacer(":key", "acme", ":ekey", "seats", ":kind", "accounts", ":id", "999999", ":table", "unused.csv", ":feature", "reports", "*", "app.css")
	return r.Replace(p)
}

// TestEveryRouteEnforcesTheRoleMatrix walks the route table: each role gets through
// exactly the routes SPEC §1 allows, and 403 on the rest; anonymous callers are
// sent to log in (pages) or refused with 401 (API).
func TestEveryRouteEnforcesTheRoleMatrix(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		seedAccounts(t, s, models.Account{Key: "acme", Name: "Acme", ARR: 1000})
		clients := map[models.Role]*client{}
		tokens := map[models.Role]string{}
		for _, role := range models.Roles {
			clients[role] = app.loggedIn(role)
			tokens[role] = app.token(role)
		}
		routes := handlers.RouteList()
		if len(routes) < 5 {
			t.Fatalf("route table has %d routes", len(routes))
		}
		for _, rt := range routes {
			if rt.Perm == "" {
				continue
			}
			path := fillPath(rt.Path)
			for _, role := range models.Roles {
				allowed := role.Can(rt.Perm)
				var r response
				if rt.API {
					r = app.api(rt.Method, path, tokens[role], nil)
				} else {
					c := clients[role]
					req := httptest.NewRequest(rt.Method, base.ResolveReference(mustURL(path)).String(), nil)
					if rt.Method != http.MethodGet {
						req.Header.Set("X-CSRF-Token", c.csrf("/"))
					}
					r = c.do(req)
				}
				code := r.Code
				toLogin := code == http.StatusSeeOther && strings.HasPrefix(r.Header().Get("Location"), "/login")
				if allowed && (code == http.StatusForbidden || code == http.StatusUnauthorized || toLogin) {
					t.Errorf("%s %s as %s: status %d, but the role may", rt.Method, path, role, code)
				}
				if !allowed && code != http.StatusForbidden {
					t.Errorf("%s %s as %s: status %d, want 403", rt.Method, path, role, code)
				}
			}
			// Nobody logged in.
			if rt.API {
				r := app.api(rt.Method, path, "", nil)
				if r.Code != http.StatusUnauthorized || !strings.Contains(r.Header().Get("Content-Type"), "json") {
					t.Errorf("%s %s without token: %d %s", rt.Method, path, r.Code, r.Header().Get("Content-Type"))
				}
			} else if rt.Method == http.MethodGet {
				if code := app.client().get(path).Code; code != http.StatusSeeOther {
					t.Errorf("%s %s anonymous: status %d, want 303 to /login", rt.Method, path, code)
				}
			}
		}
	})
}

func TestForbiddenPageIsFriendly(t *testing.T) {
	// No route needs more than read yet for GET pages; check the 403 rendering through
	// an API route for JSON and through a page for HTML once a page exists that needs it.
	app := newApp(t, dbtest.SQLite(t))
	r := app.api(http.MethodGet, "/api/v1/accounts", "sl_not-a-token", nil).expect(http.StatusUnauthorized)
	var body struct {
		Error   string `json:"error"`
		Details []any  `json:"details"`
	}
	if err := json.Unmarshal(r.Body.Bytes(), &body); err != nil || body.Error == "" || body.Details == nil {
		t.Fatalf("error body %s (%v)", r.Body.String(), err)
	}
}

func TestRevokedTokenIsRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		plain, tok, err := s.CreateAPIToken(context.Background(), "ci", models.RolePM, nil)
		if err != nil {
			t.Fatal(err)
		}
		app.api(http.MethodGet, "/api/v1/accounts", plain, nil).expect(http.StatusOK)
		if err := s.RevokeAPIToken(context.Background(), tok.ID); err != nil {
			t.Fatal(err)
		}
		app.api(http.MethodGet, "/api/v1/accounts", plain, nil).expect(http.StatusUnauthorized)
		// Only the hash is stored.
		var stored string
		s.DB().Raw("SELECT token_hash FROM api_tokens WHERE id = ?", tok.ID).Scan(&stored)
		if stored == plain || stored != models.HashSecret(plain) {
			t.Fatalf("token stored as %q", stored)
		}
	})
}

func TestAPIAccountsPaging(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		app := newApp(t, s)
		for _, k := range []string{"delta", "alpha", "echo", "charlie", "bravo"} {
			seedAccounts(t, s, models.Account{Key: k, Name: strings.ToUpper(k)})
		}
		tok := app.token(models.RoleCSM)
		var keys []string
		cursor := ""
		for pages := 0; pages < 10; pages++ {
			r := app.api(http.MethodGet, "/api/v1/accounts?limit=2&cursor="+url.QueryEscape(cursor), tok, nil).expect(http.StatusOK)
			var body struct {
				Accounts   []models.Account `json:"accounts"`
				NextCursor string           `json:"next_cursor"`
			}
			if err := json.Unmarshal(r.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			for _, a := range body.Accounts {
				keys = append(keys, a.Key)
			}
			if body.NextCursor == "" {
				break
			}
			cursor = body.NextCursor
		}
		if got := strings.Join(keys, ","); got != "alpha,bravo,charlie,delta,echo" {
			t.Fatalf("paged keys %s", got)
		}
		app.api(http.MethodGet, "/api/v1/accounts?limit=0", tok, nil).expect(http.StatusBadRequest)
		app.api(http.MethodGet, "/api/v1/accounts/nope", tok, nil).expect(http.StatusNotFound)
		r := app.api(http.MethodGet, "/api/v1/accounts/alpha", tok, nil).expect(http.StatusOK)
		if !strings.Contains(r.Body.String(), `"key":"alpha"`) {
			t.Fatalf("account body %s", r.Body.String())
		}
	})
}
