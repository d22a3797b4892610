package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/views"
)

// scorecardShow is /settings/scorecard: targets, weights, thresholds and event names.
func (s *server) scorecardShow(c echo.Context) error {
	cfg, err := s.store.Scorecard(c.Request().Context())
	if err != nil {
		return err
	}
	v := views.ScorecardView{Form: views.ScorecardFormOf(cfg), Errors: views.FormErrors{}}
	return render(c, http.StatusOK, views.ScorecardPage(v), views.ScorecardSection(v))
}
