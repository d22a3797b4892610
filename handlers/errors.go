package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// apiError is the JSON error body of SPEC §4.
type apiError struct {
	Error   string              `json:"error"`
	Details []models.FieldError `json:"details"`
}

// handleError is the one place errors become responses: domain errors carry their
// status, 5xx are logged with the request, and the body suits the caller (JSON for
// machine routes, a notice for htmx swaps, a friendly page otherwise).
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, message := http.StatusInternalServerError, "Something went wrong on our side. It has been logged."
	details := []models.FieldError{}
	var he *echo.HTTPError
	var verr *models.ValidationError
	var rerr *requestError
	switch {
	case errors.As(err, &rerr):
		status, message, details = http.StatusBadRequest, rerr.Message, rerr.Fields
	case errors.As(err, &verr):
		status, message, details = http.StatusUnprocessableEntity, verr.Error(), verr.Fields
		if len(details) > 5 { // a long report (e.g. a CSV file's) lives in details alone
			message = verr.Message
		}
	case errors.Is(err, models.ErrNotFound):
		status, message = http.StatusNotFound, "not found"
	case errors.Is(err, models.ErrConflict):
		status, message = http.StatusConflict, err.Error()
	case errors.As(err, &he):
		status = he.Code
		message = fmt.Sprint(he.Message)
		if he.Internal != nil {
			err = he.Internal
		}
	}
	if status >= 500 {
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path,
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
	}

	var werr error
	switch {
	case c.Request().Method == http.MethodHead:
		werr = c.NoContent(status)
	case isMachineRoute(c):
		if details == nil {
			details = []models.FieldError{}
		}
		werr = c.JSON(status, apiError{Error: message, Details: details})
	case isHTMXSwap(c.Request()):
		werr = c.String(status, message)
	default:
		title, text := pageError(status, message)
		werr = render(c, status, views.ErrorPage(status, title, text), nil)
	}
	if werr != nil {
		s.log.Error("unable to write error response", "err", werr)
	}
}

// pageError words an error for a person.
func pageError(status int, message string) (title, text string) {
	switch status {
	case http.StatusForbidden:
		return "Not allowed", message + " Ask an admin if you need access."
	case http.StatusNotFound:
		return "Not found", "There is nothing at this address. It may have been removed, or the link is mistyped."
	case http.StatusMethodNotAllowed:
		return "Not allowed", "This address does not accept that kind of request."
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "Bad request", message
	}
	if status >= 500 {
		return "Something went wrong", message
	}
	return http.StatusText(status), message
}
