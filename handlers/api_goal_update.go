package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// apiGoalUpdate is PATCH /api/v1/accounts/{key}/goals/{id}: change the fields sent,
// or close/reopen with {"closed": true|false}; each change is kept in the history.
func (s *server) apiGoalUpdate(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in models.GoalChange
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	g, err := s.store.UpdateGoal(c.Request().Context(), c.Param("key"), id, in, goalActor(c), models.DateOf(s.now()))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, goalReply(*g, true))
}
