package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiFeatureGet is GET /api/v1/features/{key}.
func (s *server) apiFeatureGet(c echo.Context) error {
	f, err := s.store.FeatureByKey(c.Request().Context(), c.Param("key"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}
