package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiAccountDelete is DELETE /api/v1/accounts/{key}; the account's entitlements,
// notes and goals go with it (see Store.DeleteAccount).
func (s *server) apiAccountDelete(c echo.Context) error {
	if err := s.store.DeleteAccount(c.Request().Context(), c.Param("key")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
