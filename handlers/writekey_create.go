package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// writeKeyCreate is POST /settings/writekeys: the reply shows the plain key, once.
func (s *server) writeKeyCreate(c echo.Context) error {
	name := c.FormValue("name")
	me := currentMember(c)
	plain, key, err := s.store.CreateWriteKey(c.Request().Context(), name, &me.ID)
	status := http.StatusOK
	var verr *models.ValidationError
	if errors.As(err, &verr) {
		status = http.StatusUnprocessableEntity
	} else if err != nil {
		return err
	}
	v, err := s.writeKeysView(c)
	if err != nil {
		return err
	}
	if status == http.StatusOK {
		v.NewSecret, v.NewName = plain, key.Name
		s.log.Info("write key created", "name", key.Name, "by", me.Email)
	} else {
		v.DraftName, v.Errors = name, views.ErrorsOf(verr)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, status, views.WriteKeysPage(v), views.WriteKeysSection(v))
}
