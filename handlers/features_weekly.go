package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// featuresWeekly is GET /features/weekly/{feature}: one feature's weekly adoption as a
// table under the page's filters, loaded by htmx when its chart's "Data table" opens
// (fifty tables in every page view would double its weight).
func (s *server) featuresWeekly(c echo.Context) error {
	q := models.ParseFeatureQuery(c.QueryParams())
	rep, err := s.store.FeatureAdoption(c.Request().Context(), q, models.DateOf(s.now()))
	if err != nil {
		return err
	}
	for _, fs := range rep.Features {
		if fs.Feature == c.Param("feature") {
			return render(c, http.StatusOK, views.WeeklyTable(q, fs), nil)
		}
	}
	return echo.NewHTTPError(http.StatusNotFound, "no feature "+c.Param("feature")+" under these filters")
}
