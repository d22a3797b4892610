package handlers

import (
	"net/http"
	"slices"
	"strconv"
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
	if n, _ := strconv.Atoi(c.QueryParam("renews")); slices.Contains(models.RenewalWindows, n) {
		f.Renews = n
	}
	if f.DueMonth != "" {
		if _, err := time.Parse("2006-01", f.DueMonth); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "due: want a month as YYYY-MM")
		}
	}
	// Every status under the other filters, for the counts; then the status asked for.
	all := f
	all.Status = ""
	goals, err := s.store.ListGoals(ctx, all, today)
	if err != nil {
		return err
	}
	v := views.GoalsListView{Filter: f, Counts: map[string]int{}, Today: today}
	accounts := map[int64]bool{}
	for _, g := range goals {
		v.Counts[g.Status]++
		if f.Status == "" || g.Status == f.Status {
			v.Goals = append(v.Goals, g)
			if !accounts[g.AccountID] {
				accounts[g.AccountID] = true
				v.ARR += g.AccountARR
			}
		}
	}
	v.Accounts = len(accounts)
	if v.Owners, err = s.store.GoalOwners(ctx); err != nil {
		return err
	}
	if _, v.CSMs, err = s.store.AccountFacets(ctx); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.GoalsPage(v), views.GoalsList(v))
}
