package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/alerts"
	"sightline/models"
	"sightline/views"
)

// alertRulesShow is /settings/alerts (admin).
func (s *server) alertRulesShow(c echo.Context) error {
	r, err := s.store.AlertRules(c.Request().Context())
	if err != nil {
		return err
	}
	v := views.AlertRulesView{Rules: r, Errors: views.FormErrors{}}
	return render(c, http.StatusOK, views.AlertRulesPage(v), views.AlertRulesForm(v))
}

// alertRulesUpdate is POST /settings/alerts: every number and switch of the rules.
func (s *server) alertRulesUpdate(c echo.Context) error {
	r, verr := alertRulesForm(c)
	if verr == nil {
		if err := s.store.PutAlertRules(c.Request().Context(), r); err != nil && !errors.As(err, &verr) {
			return err
		}
	}
	v := views.AlertRulesView{Rules: r, Errors: views.ErrorsOf(verr), Saved: verr == nil}
	status := http.StatusOK
	if verr != nil {
		status = http.StatusUnprocessableEntity
	} else {
		s.log.Info("alert rules changed", "by", currentMember(c).Email)
	}
	return render(c, status, views.AlertRulesPage(v), views.AlertRulesForm(v))
}

// alertRulesForm reads the form; a number that is not one is refused by field.
func alertRulesForm(c echo.Context) (alerts.Rules, *models.ValidationError) {
	var r alerts.Rules
	verr := &models.ValidationError{Message: "invalid alert rules"}
	on := func(name string) bool { return c.FormValue(name) == "on" }
	integer := func(name, field string) int {
		n, err := strconv.Atoi(strings.TrimSpace(c.FormValue(name)))
		if err != nil {
			verr.Add(field, "must be a whole number of days")
		}
		return n
	}
	r.Consumption.Enabled = on("consumption_enabled")
	for _, part := range strings.Split(c.FormValue("consumption_thresholds"), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		at, sev, _ := strings.Cut(part, ":")
		v, err := strconv.ParseFloat(strings.TrimSpace(at), 64)
		if err != nil {
			verr.Add("consumption.thresholds", "write each as utilization:severity, e.g. 0.8:info, 1.0:warning")
			continue
		}
		r.Consumption.Thresholds = append(r.Consumption.Thresholds, alerts.Threshold{At: v, Severity: strings.TrimSpace(sev)})
	}
	r.Underuse.Enabled, r.Underuse.MinDays = on("underuse_enabled"), integer("underuse_min_days", "underuse.min_days")
	r.HealthDrop.Enabled = on("health_drop_enabled")
	points, err := strconv.ParseFloat(strings.TrimSpace(c.FormValue("health_drop_points")), 64)
	if err != nil {
		verr.Add("health_drop.points", "must be a number of points")
	}
	r.HealthDrop.Points, r.HealthDrop.Days = points, integer("health_drop_days", "health_drop.days")
	r.RenewalRisk.Enabled, r.RenewalRisk.Days = on("renewal_risk_enabled"), integer("renewal_risk_days", "renewal_risk.days")
	r.GoalAtRisk.Enabled = on("goal_at_risk_enabled")
	r.GoneDark.Enabled = on("gone_dark_enabled")
	r.GoneDark.QuietDays = integer("gone_dark_quiet_days", "gone_dark.quiet_days")
	r.GoneDark.LookbackDays = integer("gone_dark_lookback_days", "gone_dark.lookback_days")
	r.ExecutiveLost.Enabled, r.ExecutiveLost.Days = on("executive_lost_enabled"), integer("executive_lost_days", "executive_lost.days")
	if len(verr.Fields) == 0 {
		return r, nil
	}
	// Say what else is wrong too, beside the fields that could be read.
	unread := map[string]bool{}
	for _, f := range verr.Fields {
		unread[f.Field] = true
	}
	for _, p := range r.Validate() {
		if field, _, _ := strings.Cut(p.Field, "["); !unread[field] {
			verr.Add(p.Field, p.Message)
		}
	}
	return r, verr
}
