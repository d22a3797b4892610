package handlers

import (
	"bytes"
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiExport is GET /api/v1/export/{kind}: the CSV that /api/v1/import/{kind} reads;
// GET /settings/export/{kind} serves the same file to a logged-in admin.
func (s *server) apiExport(c echo.Context) error {
	kind, err := importKind(c)
	if err != nil {
		return err
	}
	return s.sendExport(c, kind)
}

// sendExport writes the whole file before answering, so a failure still reaches the
// error handler rather than truncating a download.
func (s *server) sendExport(c echo.Context, kind string) error {
	var buf bytes.Buffer
	if err := s.store.ExportCSV(c.Request().Context(), kind, &buf); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+kind+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}
