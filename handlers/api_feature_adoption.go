package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// apiFeatureAdoption is GET /api/v1/features/adoption: the weekly adoption charts'
// data for BI tools, under the /features page's filters as query parameters.
func (s *server) apiFeatureAdoption(c echo.Context) error {
	q := models.ParseFeatureQuery(c.QueryParams())
	rep, err := s.store.FeatureAdoption(c.Request().Context(), q, models.DateOf(s.now()))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}
