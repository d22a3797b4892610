package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// alertAction is POST /alerts/{id}/{snooze|resolve|reopen|take|assign}: a person acts on
// an alert from a list. The row comes back changed, or goes when the alert leaves the
// list's state (a snoozed alert leaves the open list), with a notice saying so.
func (s *server) alertAction(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		note := c.FormValue("note")
		ch := models.AlertChange{Note: &note}
		notice := ""
		switch action {
		case "snooze":
			st, until := models.AlertSnoozed, c.FormValue("snoozed_until")
			ch.State, ch.SnoozedUntil = &st, &until
			notice = "Snoozed until " + until + "."
		case "resolve":
			st, res := models.AlertResolved, c.FormValue("resolution")
			ch.State, ch.Resolution = &st, &res
			notice = "Resolved."
		case "reopen":
			st := models.AlertOpen
			ch.State, ch.Note = &st, nil
			notice = "Reopened."
		case "take":
			me := currentMember(c).Email
			ch.Owner, ch.OwnerSet, ch.Note = &me, true, nil
			notice = "It is yours."
		case "assign":
			ch.OwnerSet, ch.Note = true, nil
			if owner := strings.TrimSpace(c.FormValue("owner")); owner != "" {
				ch.Owner = &owner
				notice = "Assigned to " + owner + "."
			} else {
				notice = "Nobody owns it now."
			}
		}
		if ch.Note != nil && *ch.Note == "" && action != "snooze" && action != "resolve" {
			ch.Note = nil
		}
		a, err := s.changeAlert(c, id, ch)
		var verr *models.ValidationError
		rowErr := ""
		switch {
		case errors.As(err, &verr):
			rowErr = verr.Error()
		case errors.Is(err, models.ErrConflict):
			rowErr = err.Error()
		case err != nil:
			return err
		}
		if !isHTMXSwap(c.Request()) {
			if rowErr != "" {
				return echo.NewHTTPError(http.StatusUnprocessableEntity, rowErr)
			}
			return c.Redirect(http.StatusSeeOther, backTo(c.Request()))
		}
		if rowErr != "" {
			a, err = s.store.AlertByID(c.Request().Context(), id)
			if err != nil {
				return err
			}
		}
		row, err := s.alertRowBase(c)
		if err != nil {
			return err
		}
		row.Alert, row.Error, row.Context = *a, rowErr, c.FormValue("context")
		row.Compact = c.FormValue("compact") == "1"
		if rowErr == "" {
			trigger, _ := json.Marshal(map[string]string{"notice": notice})
			c.Response().Header().Set("HX-Trigger", string(trigger))
		}
		count, err := s.store.OpenAlertCount(c.Request().Context(), currentMember(c).Email)
		if err != nil {
			return err
		}
		comp := views.AlertRow(row)
		if rowErr == "" && row.Context != "" && !containsState(row.Context, a.State) {
			comp = nil // it left this list
		}
		return render(c, http.StatusOK, nil, views.AlertActionReply(comp, count))
	}
}

func containsState(list, state string) bool {
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == state {
			return true
		}
	}
	return false
}

// backTo is the page a form was sent from, on this site ("/alerts" otherwise).
func backTo(r *http.Request) string {
	u, err := url.Parse(r.Referer())
	if err != nil || u.Host != r.Host || u.Path == "" {
		return "/alerts"
	}
	return safeNext(u.RequestURI())
}
