package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// profileShow is /profile: the viewer's own settings (the alert digest).
func (s *server) profileShow(c echo.Context) error {
	m, err := s.store.TeamMemberByID(c.Request().Context(), currentMember(c).ID)
	if err != nil {
		return err
	}
	v := views.ProfileView{Member: *m}
	return render(c, http.StatusOK, views.ProfilePage(v), views.DigestForm(v))
}

// profileUpdate is POST /profile: daily, weekly or no digest.
func (s *server) profileUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	me := currentMember(c)
	err := s.store.SetDigest(ctx, me.ID, c.FormValue("digest"))
	var verr *models.ValidationError
	if err != nil && !errors.As(err, &verr) {
		return err
	}
	m, err := s.store.TeamMemberByID(ctx, me.ID)
	if err != nil {
		return err
	}
	v := views.ProfileView{Member: *m, Saved: verr == nil}
	status := http.StatusOK
	if verr != nil {
		v.Error, status = verr.Fields[0].Message, http.StatusUnprocessableEntity
	}
	return render(c, status, views.ProfilePage(v), views.DigestForm(v))
}
