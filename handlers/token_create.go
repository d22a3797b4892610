package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// tokenCreate is POST /settings/tokens: the reply shows the plain token, once; only
// its hash is kept.
func (s *server) tokenCreate(c echo.Context) error {
	name, role := c.FormValue("name"), models.Role(c.FormValue("role"))
	me := currentMember(c)
	plain, tok, err := s.store.CreateAPIToken(c.Request().Context(), name, role, &me.ID)
	status := http.StatusOK
	var verr *models.ValidationError
	if errors.As(err, &verr) {
		status = http.StatusUnprocessableEntity
	} else if err != nil {
		return err
	}
	v, err := s.tokensView(c)
	if err != nil {
		return err
	}
	if status == http.StatusOK {
		v.NewSecret, v.NewName = plain, tok.Name
		s.log.Info("api token created", "name", tok.Name, "role", tok.Role, "by", me.Email)
	} else {
		v.DraftName, v.DraftRole, v.Errors = name, role, views.ErrorsOf(verr)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, status, views.TokensPage(v), views.TokensSection(v))
}
