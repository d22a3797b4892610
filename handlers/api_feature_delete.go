package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiFeatureDelete is DELETE /api/v1/features/{key}; 409 while entitlements list it.
func (s *server) apiFeatureDelete(c echo.Context) error {
	if err := s.store.DeleteFeature(c.Request().Context(), c.Param("key")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
