package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// asOfParam reads ?as_of=YYYY-MM-DD, defaulting to today (UTC).
func asOfParam(c echo.Context, now time.Time) (models.Date, error) {
	raw := c.QueryParam("as_of")
	if raw == "" {
		return models.DateOf(now), nil
	}
	d, err := models.ParseDate(raw)
	if err != nil {
		return d, echo.NewHTTPError(http.StatusBadRequest, "as_of: want a date as YYYY-MM-DD, got "+strconv.Quote(raw))
	}
	return d, nil
}

// pageParams reads ?limit= (1…1000, default 100) and ?cursor= for keyset paging.
func pageParams(c echo.Context) (limit int, cursor string, err error) {
	limit = 100
	if raw := c.QueryParam("limit"); raw != "" {
		limit, err = strconv.Atoi(raw)
		if err != nil || limit < 1 || limit > 1000 {
			return 0, "", echo.NewHTTPError(http.StatusBadRequest, "limit: want a whole number from 1 to 1000, got "+strconv.Quote(raw))
		}
	}
	return limit, c.QueryParam("cursor"), nil
}

// idParam reads the :id of a route (goal, member, token, write key); a malformed one is
// a record that does not exist.
func idParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, models.ErrNotFound
	}
	return id, nil
}
