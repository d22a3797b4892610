package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// apiRecommendations is GET /api/v1/accounts/{key}/recommendations (SPEC §9): what to
// change at the account, each with its evidence and the ARR it would move.
func (s *server) apiRecommendations(c echo.Context) error {
	recs, err := s.store.AccountRecommendations(c.Request().Context(), c.Param("key"), models.DateOf(s.now()))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"recommendations": recs})
}
