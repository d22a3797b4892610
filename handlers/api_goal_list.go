package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// apiGoalList is GET /api/v1/accounts/{key}/goals: {"goals": [...]}, each measured;
// ?include=history adds each goal's metric path and change history.
func (s *server) apiGoalList(c echo.Context) error {
	include := c.QueryParam("include")
	if include != "" && include != "history" {
		return badRequest("include", "the only value is history")
	}
	_, goals, err := s.store.AccountGoals(c.Request().Context(), c.Param("key"), models.DateOf(s.now()), include == "history")
	if err != nil {
		return err
	}
	out := make([]goalJSON, 0, len(goals))
	for _, g := range goals {
		out = append(out, goalReply(g, include == "history"))
	}
	return c.JSON(http.StatusOK, map[string]any{"goals": out})
}
