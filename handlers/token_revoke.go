package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/views"
)

// tokenRevoke is POST /settings/tokens/{id}/revoke: the token stops working at once.
func (s *server) tokenRevoke(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.store.RevokeAPIToken(c.Request().Context(), id); err != nil {
		return err
	}
	s.log.Info("api token revoked", "token_id", id, "by", currentMember(c).Email)
	if !isHTMXSwap(c.Request()) {
		return c.Redirect(http.StatusSeeOther, "/settings/tokens")
	}
	v, err := s.tokensView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TokensPage(v), views.TokensSection(v))
}
