package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// writeKeyCreate is POST /settings/writekeys: the reply shows the plain key, once.
func (s *server) writeKeyCreate(c echo.Context) error {
	in, verr := writeKeyForm(c)
	me := currentMember(c)
	var plain string
	var key *models.WriteKey
	var err error
	if verr == nil {
		plain, key, err = s.store.CreateWriteKey(c.Request().Context(), in, &me.ID)
		if err != nil && !errors.As(err, &verr) {
			return err
		}
	}
	v, err := s.writeKeysView(c)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if verr != nil {
		status = http.StatusUnprocessableEntity
		v.Draft, v.Errors = in, views.ErrorsOf(verr)
	} else {
		v.NewSecret, v.NewName = plain, key.Name
		s.log.Info("write key created", "name", key.Name, "by", me.Email)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, status, views.WriteKeysPage(v), views.WriteKeysSection(v))
}

// writeKeyForm reads the name, origins and rate limit of a write key form.
func writeKeyForm(c echo.Context) (models.WriteKeyInput, *models.ValidationError) {
	in := models.WriteKeyInput{Name: c.FormValue("name"), Origins: c.FormValue("origins")}
	if raw := c.FormValue("rate_limit"); raw != "" {
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil || n < 0 {
			return in, &models.ValidationError{Message: "invalid write key",
				Fields: []models.FieldError{{Field: "rate_limit", Message: "must be a whole number of requests a minute"}}}
		}
		in.RateLimit = n
	}
	return in, nil
}
