package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// memberRow re-renders one member's row after a change, with its message if refused.
func (s *server) memberRow(c echo.Context, id int64, status int, message string) error {
	m, err := s.store.TeamMemberByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if !isHTMXSwap(c.Request()) && status == http.StatusOK {
		return c.Redirect(http.StatusSeeOther, "/settings")
	}
	if isHTMXSwap(c.Request()) { // the row alone goes back: no need for the whole team
		me := currentMember(c)
		return render(c, status, views.MemberRow(views.MemberRowView{Member: *m, Self: me != nil && me.ID == m.ID, Error: message}), nil)
	}
	team, err := s.teamView(c)
	if err != nil {
		return err
	}
	for i := range team.Members {
		if team.Members[i].Member.ID == id {
			team.Members[i].Error = message
		}
	}
	return render(c, status, views.SettingsPage(views.SettingsView{Team: team}), nil)
}

// memberRoleUpdate is POST /settings/members/{id}/role. Admins cannot change their own
// role here, so the last admin cannot lock everyone out by accident.
func (s *server) memberRoleUpdate(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if me := currentMember(c); me.ID == id {
		return s.memberRow(c, id, http.StatusUnprocessableEntity, "You cannot change your own role.")
	}
	role := models.Role(c.FormValue("role"))
	err = s.store.SetTeamMemberRole(c.Request().Context(), id, role)
	var verr *models.ValidationError
	switch {
	case errors.As(err, &verr):
		return s.memberRow(c, id, http.StatusUnprocessableEntity, "Role "+verr.For("role")+".")
	case err != nil:
		return err
	}
	s.log.Info("member role changed", "member_id", id, "role", role, "by", currentMember(c).Email)
	return s.memberRow(c, id, http.StatusOK, "")
}
