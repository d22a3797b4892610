package handlers

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// portfolioExportColumns name the CSV's columns plainly.
var portfolioExportColumns = []string{"account_key", "account_name", "health_score", "health_color", "trend_7_days",
	"arr", "renewal_on", "csm_email", "segment", "lifecycle_stage", "daily_usage_rate", "seat_activation",
	"risk_flags", "health_as_of"}

// portfolioExport is GET /portfolio.csv: every row of the portfolio under the same
// filters and sort as the page (not just one page), as CSV.
func (s *server) portfolioExport(c echo.Context) error {
	q := models.ParsePortfolioQuery(c.QueryParams())
	rows, err := s.store.ExportPortfolio(c.Request().Context(), q)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="portfolio.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write(portfolioExportColumns); err != nil {
		return err
	}
	for _, r := range rows {
		if err := w.Write(portfolioExportRecord(r)); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

func portfolioExportRecord(r models.PortfolioRow) []string {
	num := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	day := func(d models.Date) string {
		if d.IsZero() {
			return ""
		}
		return d.String()
	}
	healthDay := ""
	if r.HealthDay != nil {
		healthDay = day(*r.HealthDay)
	}
	score := ""
	if r.HealthScore != nil {
		score = strconv.FormatFloat(*r.HealthScore, 'f', 1, 64)
	}
	return []string{r.Key, r.Name, score, r.HealthColor, r.Trend(),
		strconv.FormatFloat(r.ARR, 'f', -1, 64), day(r.RenewalOn), r.CSMEmail, r.Segment, r.LifecycleStage,
		num(r.DailyUsageRate), num(r.SeatActivation), strings.Join(r.RiskFlags, "; "), healthDay}
}
