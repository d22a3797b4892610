package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// goalCreate is POST /accounts/{key}/goals: set a goal; a refusal re-renders the
// form with each SMART letter's message beside its field (422).
func (s *server) goalCreate(c echo.Context) error {
	key := c.Param("key")
	in, form, targetProblem := goalChangeFromForm(c)
	var err error
	if targetProblem == "" {
		_, err = s.store.CreateGoal(c.Request().Context(), key, in, goalActor(c), models.DateOf(s.now()))
	}
	err = withTargetProblem(err, targetProblem)
	return s.goalsReply(c, key, err, func(v *views.GoalsView, verr *models.ValidationError) {
		form.Errors = views.ErrorsOf(verr)
		v.New, v.NewOpen = form, true
	})
}

// goalsReply re-renders the goals region after a change: 200, or 422 with the refused
// form put back by refused; a plain form post is redirected back after a success.
func (s *server) goalsReply(c echo.Context, key string, err error, refused func(*views.GoalsView, *models.ValidationError)) error {
	var verr *models.ValidationError
	status := http.StatusOK
	switch {
	case errors.As(err, &verr):
		status = http.StatusUnprocessableEntity
	case err != nil:
		return err
	case !isHTMXSwap(c.Request()):
		return c.Redirect(http.StatusSeeOther, "/accounts/"+key+"/goals")
	}
	v, err := s.goalsView(c, key)
	if err != nil {
		return err
	}
	if verr != nil {
		refused(&v, verr)
	}
	return render(c, status, views.AccountGoalsPage(v), views.AccountGoals(v))
}
