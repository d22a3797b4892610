package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiGoalCommentCreate is POST /api/v1/accounts/{key}/goals/{id}/comments {"body"}: 201.
func (s *server) apiGoalCommentCreate(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ev, err := s.store.AddGoalComment(c.Request().Context(), c.Param("key"), id, in.Body, goalActor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, goalEventJSON{At: ev.CreatedAt.UTC(), Actor: ev.Who(), Kind: ev.Kind, Changes: []byte("{}"), Body: ev.Body})
}
