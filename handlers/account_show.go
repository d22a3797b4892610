package handlers

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// accountShow is /accounts/{key}: the account's facts, health as of a day, entitlement
// positions and notes. htmx swaps of the as-of day or chart window get the health region.
func (s *server) accountShow(c echo.Context) error {
	ctx := c.Request().Context()
	asOf, err := asOfParam(c, s.now())
	if err != nil {
		return err
	}
	window, err := windowParam(c)
	if err != nil {
		return err
	}
	health, err := s.store.AccountHealthView(ctx, c.Param("key"), asOf)
	if err != nil {
		return err
	}
	account := health.Account
	v := views.AccountView{AsOf: asOf, Window: window, Health: health}
	if v.RiskFlags, err = s.store.AccountRiskFlags(ctx, account.ID); err != nil {
		return err
	}
	if !isHTMXSwap(c.Request()) { // the rest of the page around the health region
		act, err := s.store.AccountActivity(ctx, &account)
		if err != nil {
			return err
		}
		v.Notes, v.Timeline, v.Recs = act.Notes, models.AccountTimeline(health, act, 30), health.Recommendations
		v.Renewals = renewalsPanelOf(&account, act.Renewals, act.History, s.now())
		if currentMember(c).Role.Can(models.PermAssignCSM) { // the team is the CSM form's choices
			if v.Team, err = s.store.ListTeamMembers(ctx); err != nil {
				return err
			}
		}
		if v.Alerts, err = s.accountAlertRows(c, act.Alerts); err != nil {
			return err
		}
	}
	return render(c, http.StatusOK, views.AccountPage(v), views.AccountHealth(v))
}

// windowParam reads ?window= (days the account charts span), defaulting to 90.
func windowParam(c echo.Context) (int, error) {
	raw := c.QueryParam("window")
	if raw == "" {
		return views.DefaultChartWindow, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || !slices.Contains(views.ChartWindows, n) {
		return 0, echo.NewHTTPError(http.StatusBadRequest, "window: want 30, 60 or 90 days, got "+strconv.Quote(raw))
	}
	return n, nil
}

// accountAlertRows are the account's unresolved alerts, most severe first, as rows the
// viewer can act on.
func (s *server) accountAlertRows(c echo.Context, alerts []models.Alert) ([]views.AlertRowView, error) {
	list := slices.Clone(alerts) // the activity is shared
	sortAlerts(list)
	base, err := s.alertRowBase(c)
	if err != nil {
		return nil, err
	}
	base.Context, base.Compact = "open,snoozed", true
	rows := make([]views.AlertRowView, len(list))
	for i, a := range list {
		rows[i] = base
		rows[i].Alert = a
	}
	return rows, nil
}
