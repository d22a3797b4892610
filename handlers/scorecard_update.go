package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/metrics"
	"sightline/models"
	"sightline/views"
)

// scorecardFromForm reads the scorecard form; a field that is not a number gets its
// message here, the rest are checked by the store.
func scorecardFromForm(c echo.Context) (views.ScorecardForm, metrics.Config, *models.ValidationError) {
	verr := &models.ValidationError{Message: "invalid scorecard"}
	form := views.ScorecardForm{Targets: map[string]string{}, Weights: map[string]string{},
		GreenAt: c.FormValue("green_at"), YellowAt: c.FormValue("yellow_at"), UnderusedBelow: c.FormValue("underused_below"),
		LoginEvents: c.FormValue("login_events"), SessionEvents: c.FormValue("session_events")}
	num := func(field, raw string) float64 {
		v, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			verr.Add(field, "must be a number")
		}
		return v
	}
	lines := func(raw string) []string {
		var out []string
		for _, l := range strings.Split(raw, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	cfg := metrics.Config{Measures: map[string]metrics.MeasureConfig{},
		GreenAt: num("green_at", form.GreenAt), YellowAt: num("yellow_at", form.YellowAt),
		UnderusedBelow: num("underused_below", form.UnderusedBelow),
		LoginEvents:    lines(form.LoginEvents), SessionEvents: lines(form.SessionEvents)}
	for _, k := range metrics.MeasureKeys {
		form.Targets[k], form.Weights[k] = c.FormValue("target."+k), c.FormValue("weight."+k)
		cfg.Measures[k] = metrics.MeasureConfig{Target: num("target."+k, form.Targets[k]), Weight: num("weight."+k, form.Weights[k])}
	}
	// Report every problem at once: the store's rules for the fields that parsed.
	flagged := map[string]bool{}
	for _, fe := range verr.Fields {
		flagged[fe.Field] = true
	}
	for _, fe := range cfg.Validate() {
		if !flagged[fe.Field] {
			verr.Add(fe.Field, fe.Message)
		}
	}
	return form, cfg, verr
}

// scorecardUpdate is POST /settings/scorecard: validate and save; the next page view
// computes with the new scorecard.
func (s *server) scorecardUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	form, cfg, verr := scorecardFromForm(c)
	err := verr.OrNil()
	if err == nil {
		err = s.store.PutScorecard(ctx, cfg)
	}
	v := views.ScorecardView{Form: form, Errors: views.FormErrors{}}
	status := http.StatusOK
	var invalid *models.ValidationError
	switch {
	case errors.As(err, &invalid):
		status, v.Errors = http.StatusUnprocessableEntity, views.ErrorsOf(invalid)
	case err != nil:
		return err
	default:
		s.log.Info("scorecard saved", "by", currentMember(c).Email)
		if !isHTMXSwap(c.Request()) {
			return c.Redirect(http.StatusSeeOther, "/settings/scorecard")
		}
		saved, err := s.store.Scorecard(ctx)
		if err != nil {
			return err
		}
		v.Form, v.Saved = views.ScorecardFormOf(saved), true
	}
	return render(c, status, views.ScorecardPage(v), views.ScorecardSection(v))
}
