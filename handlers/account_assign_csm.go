package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// accountAssignCSM hands an account to a CSM (managers and admins).
func (s *server) accountAssignCSM(c echo.Context) error {
	ctx := c.Request().Context()
	key := c.Param("key")
	email := c.FormValue("csm_email")
	err := s.store.SetAccountCSM(ctx, key, email)
	var verr *models.ValidationError
	v := views.CSMView{AccountKey: key, CSMEmail: models.NormalizeEmail(email)}
	status := http.StatusOK
	switch {
	case errors.As(err, &verr):
		status, v.Error = http.StatusUnprocessableEntity, verr.For("csm_email")
	case err != nil:
		return err
	default:
		s.log.Info("csm assigned", "account", key, "csm", v.CSMEmail, "by", currentMember(c).Email)
	}
	if !isHTMXSwap(c.Request()) && status == http.StatusOK {
		return c.Redirect(http.StatusSeeOther, "/accounts/"+key)
	}
	if v.Team, err = s.store.ListTeamMembers(ctx); err != nil {
		return err
	}
	return render(c, status, views.AccountCSM(v), views.AccountCSM(v))
}
