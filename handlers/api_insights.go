package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// maxLeadDays bounds lead_days: two years before a renewal is already history.
const maxLeadDays = 730

// apiRenewalInsights is GET /api/v1/insights/renewals?lead_days=N (SPEC §9): how well
// the health score N days before each closed renewal predicted its outcome.
func (s *server) apiRenewalInsights(c echo.Context) error {
	lead := models.DefaultLeadDays
	if raw := c.QueryParam("lead_days"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > maxLeadDays {
			return badRequest("lead_days", "must be a whole number of days from 0 to "+strconv.Itoa(maxLeadDays)+", got "+strconv.Quote(raw))
		}
		lead = n
	}
	b, err := s.store.RenewalBacktest(c.Request().Context(), lead, models.DateOf(s.now()))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b)
}
