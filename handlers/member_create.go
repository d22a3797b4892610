package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// memberCreate is POST /settings/members: add a login with a role and a password.
func (s *server) memberCreate(c echo.Context) error {
	draft := views.MemberDraft{Email: c.FormValue("email"), Name: c.FormValue("name"), Role: models.Role(c.FormValue("role"))}
	m, err := s.store.CreateTeamMember(c.Request().Context(), draft.Email, draft.Name, draft.Role, c.FormValue("password"))
	status := http.StatusOK
	errs := views.FormErrors{}
	var verr *models.ValidationError
	switch {
	case errors.As(err, &verr):
		status, errs = http.StatusUnprocessableEntity, views.ErrorsOf(verr)
	case errors.Is(err, models.ErrConflict):
		status, errs = http.StatusUnprocessableEntity, views.FormErrors{"email": "is already a member"}
	case err != nil:
		return err
	default:
		s.log.Info("member created", "member", m.Email, "role", m.Role, "by", currentMember(c).Email)
		if !isHTMXSwap(c.Request()) {
			return c.Redirect(http.StatusSeeOther, "/settings")
		}
	}
	team, err := s.teamView(c)
	if err != nil {
		return err
	}
	if status == http.StatusOK {
		team.Added = m.Email
	} else {
		team.Draft, team.Errors = draft, errs
	}
	return render(c, status, views.SettingsPage(views.SettingsView{Team: team}), views.TeamSection(team))
}
