package handlers

import (
	"bytes"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/metrics"
	"sightline/models"
	"sightline/views"
)

// renewalsShow is /renewals: the pipeline, past renewals and the backtest, filtered
// from the URL; htmx swaps get the report region only.
func (s *server) renewalsShow(c echo.Context) error {
	today := models.DateOf(s.now())
	q := models.ParseRenewalQuery(c.QueryParams(), today)
	q.Limit = views.RenewalsListLimit
	p, err := s.store.RenewalPipeline(c.Request().Context(), q, today, true)
	if err != nil {
		return err
	}
	v := views.RenewalsView{P: p, Applied: c.QueryParam("weights") == "applied"}
	return render(c, http.StatusOK, views.RenewalsPage(v), views.RenewalsReport(v))
}

// renewalsExport is GET /renewals/{upcoming|past}.csv under the page's filters.
func (s *server) renewalsExport(c echo.Context) error {
	table, ok := strings.CutSuffix(c.Param("table"), ".csv")
	if !ok || !slices.Contains(models.RenewalTables, table) {
		return echo.NewHTTPError(http.StatusNotFound, "no such table: want one of "+strings.Join(models.RenewalTables, ", ")+" (.csv)")
	}
	today := models.DateOf(s.now())
	p, err := s.store.RenewalPipeline(c.Request().Context(), models.ParseRenewalQuery(c.QueryParams(), today), today, false)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := models.WriteRenewalsReportCSV(&buf, p, table); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="renewals-`+table+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// renewalWeightsApply is POST /renewals/weights (admin): the scorecard takes the weights
// the form carries (the suggestion /renewals showed); targets and thresholds stay.
func (s *server) renewalWeightsApply(c echo.Context) error {
	ctx := c.Request().Context()
	cfg, err := s.store.Scorecard(ctx)
	if err != nil {
		return err
	}
	verr := &models.ValidationError{Message: "invalid weights"}
	for _, k := range metrics.MeasureKeys {
		w, err := strconv.ParseFloat(c.FormValue(k), 64)
		if err != nil || w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			verr.Add(k, "must be a weight ≥ 0")
			continue
		}
		m := cfg.Measures[k]
		m.Weight = w
		cfg.Measures[k] = m
	}
	if err := verr.OrNil(); err != nil {
		return err
	}
	if err := s.store.PutScorecard(ctx, cfg); err != nil {
		return err
	}
	s.log.Info("scorecard weights from the renewals backtest", "member", currentMember(c).Email)
	return c.Redirect(http.StatusSeeOther, "/renewals?weights=applied#insights")
}
