package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/views"
)

// accountGoalsShow is GET /accounts/{key}/goals: the goals region, as a fragment for
// htmx (the account page loads it) and as a page of its own otherwise.
func (s *server) accountGoalsShow(c echo.Context) error {
	v, err := s.goalsView(c, c.Param("key"))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.AccountGoalsPage(v), views.AccountGoals(v))
}
