package handlers

import (
	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// goalCommentCreate is POST /accounts/{key}/goals/{id}/comments: add a comment to the
// goal's history.
func (s *server) goalCommentCreate(c echo.Context) error {
	key := c.Param("key")
	id, err := idParam(c)
	if err != nil {
		return err
	}
	body := c.FormValue("body")
	_, err = s.store.AddGoalComment(c.Request().Context(), key, id, body, goalActor(c))
	return s.goalsReply(c, key, err, func(v *views.GoalsView, verr *models.ValidationError) {
		v.CommentID, v.CommentText, v.CommentErr = id, body, verr.For("body")
	})
}
