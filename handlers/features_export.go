package handlers

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// featuresExport is GET /features/{table}.csv: one of the /features tables, under the
// same filters as the page, as CSV.
func (s *server) featuresExport(c echo.Context) error {
	table, ok := strings.CutSuffix(c.Param("table"), ".csv")
	if !ok || !models.ValidFeatureTable(table) {
		return echo.NewHTTPError(http.StatusNotFound, "no such table: want one of "+strings.Join(models.FeatureTables, ", ")+" (.csv)")
	}
	q := models.ParseFeatureQuery(c.QueryParams())
	rep, err := s.store.FeatureReport(c.Request().Context(), q, models.DateOf(s.now()))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := models.WriteFeatureCSV(&buf, rep, table); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+table+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}
