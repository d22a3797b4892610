package handlers

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// corsAllowHeaders are the request headers the ingestion routes accept from browsers:
// what analytics.js and RudderStack's SDK send, and what a preflight asks for besides.
var corsAllowHeaders = []string{"authorization", "content-type", "content-encoding", "x-retry-count", "anonymousid"}

// ingestCORS lets product pages on any origin send usage (SPEC §3): preflights get
// 204, and every /v1 answer, errors included, carries Access-Control-Allow-Origin so
// the SDK can read it and retry. Write keys, not cookies, authenticate these routes,
// so answering any origin opens nothing; a key limited to some origins is enforced
// in requireWriteKey.
func ingestCORS(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if !strings.HasPrefix(req.URL.Path, "/v1/") {
			return next(c)
		}
		h := c.Response().Header()
		h.Add(echo.HeaderVary, echo.HeaderOrigin)
		if origin := req.Header.Get(echo.HeaderOrigin); origin != "" {
			// No Allow-Credentials: the SDKs send none, and no cookie means anything here.
			h.Set(echo.HeaderAccessControlAllowOrigin, origin)
		} else {
			h.Set(echo.HeaderAccessControlAllowOrigin, "*")
		}
		h.Set(echo.HeaderAccessControlExposeHeaders, "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset")
		if req.Method != http.MethodOptions {
			return next(c)
		}
		allow := corsAllowHeaders
		for _, asked := range strings.Split(req.Header.Get(echo.HeaderAccessControlRequestHeaders), ",") {
			asked = strings.ToLower(strings.TrimSpace(asked))
			if asked != "" && !slices.Contains(allow, asked) {
				allow = append(allow[:len(allow):len(allow)], asked)
			}
		}
		h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestHeaders)
		h.Set(echo.HeaderAccessControlAllowMethods, http.MethodPost)
		h.Set(echo.HeaderAccessControlAllowHeaders, strings.Join(allow, ", "))
		h.Set(echo.HeaderAccessControlMaxAge, "86400")
		return c.NoContent(http.StatusNoContent)
	}
}
