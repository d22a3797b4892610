package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// Route is one registered route and the permission that guards it (SPEC §1).
type Route struct {
	Method string
	Path   string
	// Perm is required of the logged-in member or API token; "" marks a public route.
	Perm models.Permission
	API  bool // Bearer-token JSON route rather than a session page
	// Ingest routes authenticate with a write key (HTTP Basic) instead of a role.
	Ingest bool
}

// Every route Sightline serves, in one place. Tests walk this list to prove that each
// route enforces its permission.
func (s *server) routeTable() []struct {
	Route
	h echo.HandlerFunc
} {
	type entry = struct {
		Route
		h echo.HandlerFunc
	}
	public := func(method, path string, h echo.HandlerFunc) entry {
		return entry{Route{Method: method, Path: path}, h}
	}
	page := func(method, path string, perm models.Permission, h echo.HandlerFunc) entry {
		return entry{Route{Method: method, Path: path, Perm: perm}, h}
	}
	api := func(method, path string, perm models.Permission, h echo.HandlerFunc) entry {
		return entry{Route{Method: method, Path: path, Perm: perm, API: true}, h}
	}
	ingestRoute := func(path string, h echo.HandlerFunc) entry {
		return entry{Route{Method: http.MethodPost, Path: path, Ingest: true}, h}
	}
	return []entry{
		// Operations and assets.
		public(http.MethodGet, "/healthz", s.healthz),
		public(http.MethodGet, "/readyz", s.readyz),
		public(http.MethodGet, "/metrics", s.promMetrics),
		public(http.MethodGet, "/static/*", serveStatic),

		// Login.
		public(http.MethodGet, "/login", s.loginShow),
		public(http.MethodPost, "/login", s.loginSubmit),
		public(http.MethodPost, "/logout", s.logout),

		// Pages.
		page(http.MethodGet, "/", models.PermRead, s.portfolioList),
		page(http.MethodGet, "/accounts/:key", models.PermRead, s.accountShow),
		page(http.MethodPost, "/accounts/:key/notes", models.PermWriteNotes, s.noteCreate),
		page(http.MethodPost, "/accounts/:key/csm", models.PermAssignCSM, s.accountAssignCSM),
		page(http.MethodGet, "/settings", models.PermAdmin, s.settingsShow),

		// Usage ingestion, Segment-compatible (SPEC §3).
		ingestRoute("/v1/batch", s.ingestBatch),
		ingestRoute("/v1/track", s.ingestSingle("track")),
		ingestRoute("/v1/identify", s.ingestSingle("identify")),
		ingestRoute("/v1/group", s.ingestSingle("group")),
		ingestRoute("/v1/page", s.ingestSingle("page")),

		// REST API (SPEC §4).
		api(http.MethodGet, "/api/v1/accounts", models.PermRead, s.apiAccountList),
		api(http.MethodGet, "/api/v1/accounts/:key", models.PermRead, s.apiAccountGet),
	}
}

// Routes lists every route with its permission, for tests and documentation.
func (s *server) Routes() []Route {
	var rs []Route
	for _, r := range s.routeTable() {
		rs = append(rs, r.Route)
	}
	return rs
}

func (s *server) routes(e *echo.Echo) {
	for _, r := range s.routeTable() {
		var mw []echo.MiddlewareFunc
		switch {
		case r.Ingest:
			mw = append(mw, s.requireWriteKey)
		case r.API:
			mw = append(mw, s.requireToken(r.Perm))
		case r.Perm != "":
			mw = append(mw, s.requireMember(r.Perm))
		}
		e.Add(r.Method, r.Path, r.h, mw...)
	}
	e.RouteNotFound("/*", func(echo.Context) error { return echo.ErrNotFound })
}

// isMachineRoute tells the JSON API and ingestion routes, authenticated per request.
func isMachineRoute(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/v1/")
}

// RouteList exposes the route table of a router built with the same deps, for tests.
func RouteList() []Route {
	return (&server{}).Routes()
}
