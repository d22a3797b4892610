package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiEntitlementGet is GET /api/v1/accounts/{key}/entitlements/{ekey}.
func (s *server) apiEntitlementGet(c echo.Context) error {
	e, err := s.store.EntitlementByKey(c.Request().Context(), c.Param("key"), c.Param("ekey"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, e)
}
