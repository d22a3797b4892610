package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// goalsList is /goals: every goal across accounts, filtered by status, owner, CSM and
// due month, most urgent first.
func (s *server) goalsList(c echo.Context) error {
	ctx := c.Request().Context()
	today := models.DateOf(s.now())
	f := models.GoalFilter{Status: c.QueryParam("status"), OwnerEmail: c.QueryParam("owner"),
		CSMEmail: c.QueryParam("csm"), DueMonth: c.QueryParam("due"), Closed: c.QueryParam("closed") == "1"}
	if f.DueMonth != "" {
		if _, err := time.Parse("2006-01", f.DueMonth); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "due: want a month as YYYY-MM")
		}
	}
	goals, err := s.store.ListGoals(ctx, f, today)
	if err != nil {
		return err
	}
	v := views.GoalsListView{Filter: f, Goals: goals}
	if v.Owners, err = s.store.GoalOwners(ctx); err != nil {
		return err
	}
	if _, v.CSMs, err = s.store.AccountFacets(ctx); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.GoalsPage(v), views.GoalsList(v))
}
