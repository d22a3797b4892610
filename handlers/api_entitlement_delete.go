package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiEntitlementDelete is DELETE /api/v1/accounts/{key}/entitlements/{ekey}.
func (s *server) apiEntitlementDelete(c echo.Context) error {
	if err := s.store.DeleteEntitlement(c.Request().Context(), c.Param("key"), c.Param("ekey")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
