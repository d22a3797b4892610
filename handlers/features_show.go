package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// featuresShow is /features: adoption across accounts, entitled-but-unused features
// and leakage, filtered and sorted from the URL; htmx swaps get the report region only.
func (s *server) featuresShow(c echo.Context) error {
	q := models.ParseFeatureQuery(c.QueryParams())
	q.Limit = views.FeaturesListLimit
	rep, err := s.store.FeatureReport(c.Request().Context(), q, models.DateOf(s.now()))
	if err != nil {
		return err
	}
	v := views.FeaturesView{Report: rep}
	return render(c, http.StatusOK, views.FeaturesPage(v), views.FeaturesReport(v))
}
