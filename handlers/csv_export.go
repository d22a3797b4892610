package handlers

import (
	"github.com/labstack/echo/v4"
)

// csvExport is GET /settings/export/{kind}: the export API's file, for a logged-in admin.
func (s *server) csvExport(c echo.Context) error {
	kind, err := importKind(c)
	if err != nil {
		return err
	}
	return s.sendExport(c, kind)
}
