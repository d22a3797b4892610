package handlers

import (
	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// goalUpdate is POST /accounts/{key}/goals/{id}: edit the fields the form sent, or
// close/reopen the goal (closed=true|false).
func (s *server) goalUpdate(c echo.Context) error {
	key := c.Param("key")
	id, err := idParam(c)
	if err != nil {
		return err
	}
	in, form, targetProblem := goalChangeFromForm(c)
	if targetProblem == "" {
		_, err = s.store.UpdateGoal(c.Request().Context(), key, id, in, goalActor(c), models.DateOf(s.now()))
	}
	err = withTargetProblem(err, targetProblem)
	return s.goalsReply(c, key, err, func(v *views.GoalsView, verr *models.ValidationError) {
		form.Errors = views.ErrorsOf(verr)
		v.EditID, v.Edit = id, form
	})
}
