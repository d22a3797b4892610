package handlers

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument describes /api/v1. TestOpenAPIMatchesRoutes fails when a route of
// routes.go is missing from it (or the other way round): add new API routes to both.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the embedded OpenAPI 3.1 document, for tests and tools.
func OpenAPIDocument() []byte { return openAPIDocument }

// apiOpenAPI is GET /api/v1/openapi.json.
func (s *server) apiOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
