package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/views"
)

// writeKeyRevoke is POST /settings/writekeys/{id}/revoke.
func (s *server) writeKeyRevoke(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.store.RevokeWriteKey(c.Request().Context(), id); err != nil {
		return err
	}
	s.log.Info("write key revoked", "write_key_id", id, "by", currentMember(c).Email)
	if !isHTMXSwap(c.Request()) {
		return c.Redirect(http.StatusSeeOther, "/settings/writekeys")
	}
	v, err := s.writeKeysView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.WriteKeysPage(v), views.WriteKeysSection(v))
}
