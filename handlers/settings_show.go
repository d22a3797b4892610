package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/views"
)

// settingsShow is /settings (admin): the team and their roles.
func (s *server) settingsShow(c echo.Context) error {
	team, err := s.store.ListTeamMembers(c.Request().Context())
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.SettingsPage(views.SettingsView{Team: team}), nil)
}
