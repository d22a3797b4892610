package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/views"
)

// settingsShow is /settings (admin): the team and their roles.
func (s *server) settingsShow(c echo.Context) error {
	team, err := s.teamView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.SettingsPage(views.SettingsView{Team: team}), nil)
}

// teamView lists every member, marking the viewer, whom the page will not let demote
// or disable themselves.
func (s *server) teamView(c echo.Context) (views.TeamView, error) {
	members, err := s.store.ListTeamMembers(c.Request().Context())
	if err != nil {
		return views.TeamView{}, err
	}
	me := currentMember(c)
	v := views.TeamView{Errors: views.FormErrors{}, Draft: views.MemberDraft{Role: "csm"}}
	for _, m := range members {
		v.Members = append(v.Members, views.MemberRowView{Member: m, Self: me != nil && me.ID == m.ID})
	}
	return v, nil
}
