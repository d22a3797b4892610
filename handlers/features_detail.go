package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// featuresDetail is GET /features/detail/{feature}: the feature's row opened in place
// (weekly adoption, its plans, its accounts), or with closed=1 the empty row that
// closes it. Without htmx the feature's link opens /features?feature=… instead.
func (s *server) featuresDetail(c echo.Context) error {
	q := models.ParseFeatureQuery(c.QueryParams())
	q.Feature, q.Limit = c.Param("feature"), views.FeatureDrillAccounts
	rep, err := s.store.FeatureReport(c.Request().Context(), q, models.DateOf(s.now()))
	if err != nil {
		return err
	}
	for _, r := range rep.Table {
		if r.Feature == q.Feature {
			if c.QueryParam("closed") != "" {
				return render(c, http.StatusOK, views.FeatureDrillClosed(r.Feature), nil)
			}
			return render(c, http.StatusOK, views.FeatureDrill(views.FeaturesView{Report: rep}, r), nil)
		}
	}
	return echo.NewHTTPError(http.StatusNotFound, "no feature "+q.Feature+" under these filters")
}
