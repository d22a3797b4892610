package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// apiGoalGet is GET /api/v1/accounts/{key}/goals/{id}: one goal with its history.
func (s *server) apiGoalGet(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	g, err := s.store.AccountGoal(c.Request().Context(), c.Param("key"), id, models.DateOf(s.now()))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, goalReply(*g, true))
}
