package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// memberStatusUpdate is POST /settings/members/{id}/status with disabled=true|false;
// disabling ends the member's sessions at once. Admins cannot disable themselves.
func (s *server) memberStatusUpdate(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var disabled bool
	switch c.FormValue("disabled") {
	case "true":
		disabled = true
	case "false":
	default:
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "disabled: want true or false")
	}
	if me := currentMember(c); me.ID == id {
		return s.memberRow(c, id, http.StatusUnprocessableEntity, "You cannot disable yourself.")
	}
	if err := s.store.SetTeamMemberDisabled(c.Request().Context(), id, disabled); err != nil {
		return err
	}
	s.log.Info("member status changed", "member_id", id, "disabled", disabled, "by", currentMember(c).Email)
	return s.memberRow(c, id, http.StatusOK, "")
}
