package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiAccountHealth is GET /api/v1/accounts/{key}/health?as_of=YYYY-MM-DD (SPEC §5).
func (s *server) apiAccountHealth(c echo.Context) error {
	asOf, err := asOfParam(c, s.now())
	if err != nil {
		return err
	}
	h, err := s.store.AccountHealth(c.Request().Context(), c.Param("key"), asOf)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}
