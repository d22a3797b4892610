package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/static"
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
		public(http.MethodGet, "/favicon.ico", func(c echo.Context) error {
			// Browsers ask for it before reading the page's <link rel="icon">.
			return c.Redirect(http.StatusMovedPermanently, static.URL("favicon.svg"))
		}),

		// Login.
		public(http.MethodGet, "/login", s.loginShow),
		public(http.MethodPost, "/login", s.loginSubmit),
		public(http.MethodPost, "/logout", s.logout),

		// Pages.
		page(http.MethodGet, "/", models.PermRead, s.portfolioList),
		page(http.MethodGet, "/portfolio.csv", models.PermRead, s.portfolioExport),
		page(http.MethodPost, "/views", models.PermRead, s.viewSave),
		page(http.MethodPost, "/views/:id/delete", models.PermRead, s.viewDelete),
		page(http.MethodGet, "/accounts/:key", models.PermRead, s.accountShow),
		page(http.MethodPost, "/accounts/:key/notes", models.PermWriteNotes, s.noteCreate),
		page(http.MethodPost, "/accounts/:key/csm", models.PermAssignCSM, s.accountAssignCSM),
		page(http.MethodGet, "/accounts/:key/goals", models.PermRead, s.accountGoalsShow),
		page(http.MethodGet, "/accounts/:key/goals/preview", models.PermManageGoals, s.goalPreview),
		page(http.MethodPost, "/accounts/:key/goals", models.PermManageGoals, s.goalCreate),
		page(http.MethodPost, "/accounts/:key/goals/:id", models.PermManageGoals, s.goalUpdate),
		page(http.MethodPost, "/accounts/:key/goals/:id/comments", models.PermCommentGoals, s.goalCommentCreate),
		page(http.MethodGet, "/goals", models.PermRead, s.goalsList),
		page(http.MethodPost, "/accounts/:key/renewals", models.PermRenewals, s.renewalRecord),
		page(http.MethodGet, "/renewals", models.PermRead, s.renewalsShow),
		page(http.MethodGet, "/renewals/:table", models.PermRead, s.renewalsExport),
		page(http.MethodPost, "/renewals/weights", models.PermAdmin, s.renewalWeightsApply),
		page(http.MethodGet, "/alerts", models.PermRead, s.alertsList),
		page(http.MethodGet, "/alerts/:id/history", models.PermRead, s.alertHistory),
		page(http.MethodPost, "/alerts/:id/snooze", models.PermActOnAlerts, s.alertAction("snooze")),
		page(http.MethodPost, "/alerts/:id/resolve", models.PermActOnAlerts, s.alertAction("resolve")),
		page(http.MethodPost, "/alerts/:id/reopen", models.PermActOnAlerts, s.alertAction("reopen")),
		page(http.MethodPost, "/alerts/:id/take", models.PermActOnAlerts, s.alertAction("take")),
		page(http.MethodPost, "/alerts/:id/assign", models.PermAssignAlerts, s.alertAction("assign")),
		page(http.MethodGet, "/profile", models.PermRead, s.profileShow),
		page(http.MethodPost, "/profile", models.PermRead, s.profileUpdate),
		page(http.MethodGet, "/features", models.PermRead, s.featuresShow),
		page(http.MethodGet, "/features/:table", models.PermRead, s.featuresExport),
		page(http.MethodGet, "/features/weekly/:feature", models.PermRead, s.featuresWeekly),
		page(http.MethodGet, "/features/detail/:feature", models.PermRead, s.featuresDetail),
		page(http.MethodGet, "/settings", models.PermAdmin, s.settingsShow),
		page(http.MethodPost, "/settings/members", models.PermAdmin, s.memberCreate),
		page(http.MethodPost, "/settings/members/:id/role", models.PermAdmin, s.memberRoleUpdate),
		page(http.MethodPost, "/settings/members/:id/status", models.PermAdmin, s.memberStatusUpdate),
		page(http.MethodGet, "/settings/tokens", models.PermAdmin, s.tokenList),
		page(http.MethodPost, "/settings/tokens", models.PermAdmin, s.tokenCreate),
		page(http.MethodPost, "/settings/tokens/:id/revoke", models.PermAdmin, s.tokenRevoke),
		page(http.MethodGet, "/settings/writekeys", models.PermAdmin, s.writeKeyList),
		page(http.MethodPost, "/settings/writekeys", models.PermAdmin, s.writeKeyCreate),
		page(http.MethodPost, "/settings/writekeys/:id/revoke", models.PermAdmin, s.writeKeyRevoke),
		page(http.MethodGet, "/settings/writekeys/:id", models.PermAdmin, s.writeKeyShow),
		page(http.MethodPost, "/settings/writekeys/:id", models.PermAdmin, s.writeKeyUpdate),
		page(http.MethodGet, "/settings/writekeys/:id/activity", models.PermAdmin, s.writeKeyActivity),
		page(http.MethodGet, "/settings/catalog", models.PermAdmin, s.catalogShow),
		page(http.MethodPost, "/settings/catalog", models.PermAdmin, s.featureCreate),
		page(http.MethodPost, "/settings/catalog/:key", models.PermAdmin, s.featureUpdate),
		page(http.MethodGet, "/settings/scorecard", models.PermAdmin, s.scorecardShow),
		page(http.MethodPost, "/settings/scorecard", models.PermAdmin, s.scorecardUpdate),
		page(http.MethodGet, "/settings/alerts", models.PermAdmin, s.alertRulesShow),
		page(http.MethodPost, "/settings/alerts", models.PermAdmin, s.alertRulesUpdate),
		page(http.MethodGet, "/settings/webhooks", models.PermAdmin, s.webhooksShow),
		page(http.MethodPost, "/settings/webhooks", models.PermAdmin, s.webhookCreate),
		page(http.MethodPost, "/settings/webhooks/:key/delete", models.PermAdmin, s.webhookDelete),
		page(http.MethodPost, "/settings/webhooks/deliveries/:id/resend", models.PermAdmin, s.webhookResend),
		page(http.MethodGet, "/settings/data", models.PermAdmin, s.dataShow),
		page(http.MethodPost, "/settings/import/:kind", models.PermAdmin, s.csvImport),
		page(http.MethodGet, "/settings/export/:kind", models.PermAdmin, s.apiExport),

		// Usage ingestion, Segment-compatible (SPEC §3).
		// The short forms are analytics.js's; screen and alias are stored, not counted.
		// Every /v1 answer carries CORS headers, and preflights are answered (ingestCORS).
		ingestRoute("/v1/batch", s.ingestBatch),
		ingestRoute("/v1/b", s.ingestBatch),
		ingestRoute("/v1/track", s.ingestSingle("track")),
		ingestRoute("/v1/t", s.ingestSingle("track")),
		ingestRoute("/v1/identify", s.ingestSingle("identify")),
		ingestRoute("/v1/i", s.ingestSingle("identify")),
		ingestRoute("/v1/group", s.ingestSingle("group")),
		ingestRoute("/v1/g", s.ingestSingle("group")),
		ingestRoute("/v1/page", s.ingestSingle("page")),
		ingestRoute("/v1/p", s.ingestSingle("page")),
		ingestRoute("/v1/screen", s.ingestSingle("screen")),
		ingestRoute("/v1/s", s.ingestSingle("screen")),
		ingestRoute("/v1/alias", s.ingestSingle("alias")),
		ingestRoute("/v1/a", s.ingestSingle("alias")),

		// REST API (SPEC §4).
		// Every /api/v1 route must also be in handlers/openapi.json (a test checks it).
		api(http.MethodGet, "/api/v1/openapi.json", models.PermRead, s.apiOpenAPI),
		api(http.MethodGet, "/api/v1/features", models.PermRead, s.apiFeatureList),
		// Static beats the :key parameter in Echo's router, so this path stays reachable.
		api(http.MethodGet, "/api/v1/features/adoption", models.PermRead, s.apiFeatureAdoption),
		api(http.MethodGet, "/api/v1/features/:key", models.PermRead, s.apiFeatureGet),
		api(http.MethodPut, "/api/v1/features/:key", models.PermAdmin, s.apiFeaturePut),
		api(http.MethodDelete, "/api/v1/features/:key", models.PermAdmin, s.apiFeatureDelete),
		api(http.MethodGet, "/api/v1/accounts", models.PermRead, s.apiAccountList),
		api(http.MethodGet, "/api/v1/accounts/:key", models.PermRead, s.apiAccountGet),
		api(http.MethodPut, "/api/v1/accounts/:key", models.PermAdmin, s.apiAccountPut),
		api(http.MethodGet, "/api/v1/accounts/:key/health", models.PermRead, s.apiAccountHealth),
		api(http.MethodGet, "/api/v1/accounts/:key/entitlements", models.PermRead, s.apiEntitlementList),
		api(http.MethodGet, "/api/v1/accounts/:key/entitlements/:ekey", models.PermRead, s.apiEntitlementGet),
		api(http.MethodPut, "/api/v1/accounts/:key/entitlements/:ekey", models.PermAdmin, s.apiEntitlementPut),
		api(http.MethodDelete, "/api/v1/accounts/:key/entitlements/:ekey", models.PermAdmin, s.apiEntitlementDelete),
		api(http.MethodGet, "/api/v1/accounts/:key/goals", models.PermRead, s.apiGoalList),
		api(http.MethodPost, "/api/v1/accounts/:key/goals", models.PermManageGoals, s.apiGoalCreate),
		api(http.MethodGet, "/api/v1/accounts/:key/goals/:id", models.PermRead, s.apiGoalGet),
		api(http.MethodPatch, "/api/v1/accounts/:key/goals/:id", models.PermManageGoals, s.apiGoalUpdate),
		api(http.MethodPost, "/api/v1/accounts/:key/goals/:id/comments", models.PermCommentGoals, s.apiGoalCommentCreate),
		api(http.MethodGet, "/api/v1/accounts/:key/recommendations", models.PermRead, s.apiRecommendations),
		api(http.MethodGet, "/api/v1/accounts/:key/renewals", models.PermRead, s.apiRenewalList),
		api(http.MethodGet, "/api/v1/accounts/:key/renewals/:rkey", models.PermRead, s.apiRenewalGet),
		api(http.MethodPut, "/api/v1/accounts/:key/renewals/:rkey", models.PermRenewals, s.apiRenewalPut),
		api(http.MethodDelete, "/api/v1/accounts/:key/renewals/:rkey", models.PermRenewals, s.apiRenewalDelete),
		// The account goes last among its routes: the role test deletes it as admin.
		api(http.MethodDelete, "/api/v1/accounts/:key", models.PermAdmin, s.apiAccountDelete),
		api(http.MethodGet, "/api/v1/insights/renewals", models.PermRead, s.apiRenewalInsights),
		api(http.MethodGet, "/api/v1/alerts", models.PermRead, s.apiAlertList),
		api(http.MethodGet, "/api/v1/alerts/:id", models.PermRead, s.apiAlertGet),
		api(http.MethodPatch, "/api/v1/alerts/:id", models.PermActOnAlerts, s.apiAlertUpdate),
		api(http.MethodGet, "/api/v1/webhooks", models.PermAdmin, s.apiWebhookList),
		api(http.MethodGet, "/api/v1/webhooks/:key", models.PermAdmin, s.apiWebhookGet),
		api(http.MethodPut, "/api/v1/webhooks/:key", models.PermAdmin, s.apiWebhookPut),
		api(http.MethodDelete, "/api/v1/webhooks/:key", models.PermAdmin, s.apiWebhookDelete),
		api(http.MethodPost, "/api/v1/import/:kind", models.PermAdmin, s.apiImport),
		api(http.MethodGet, "/api/v1/export/:kind", models.PermRead, s.apiExport),
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
