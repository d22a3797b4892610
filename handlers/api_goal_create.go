package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// apiGoalCreate is POST /api/v1/accounts/{key}/goals: 201 with the goal; SMART
// refusals are 422, one detail per refused letter.
func (s *server) apiGoalCreate(c echo.Context) error {
	var in models.GoalChange
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Closed != nil {
		return badRequest("closed", "a new goal is open; close it with PATCH")
	}
	g, err := s.store.CreateGoal(c.Request().Context(), c.Param("key"), in, goalActor(c), models.DateOf(s.now()))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, goalReply(*g, true))
}
