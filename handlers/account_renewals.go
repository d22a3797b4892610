package handlers

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// renewalsPanel reads the account page's renewals region (after a write to it; the
// page itself draws it from the account's activity).
func (s *server) renewalsPanel(c echo.Context, account *models.Account) (views.RenewalsPanelView, error) {
	rs, history, err := s.store.AccountRenewals(c.Request().Context(), account.ID)
	return renewalsPanelOf(account, rs, history, s.now()), err
}

func renewalsPanelOf(account *models.Account, rs []models.Renewal, history map[int64][]models.RenewalEvent, now time.Time) views.RenewalsPanelView {
	return views.RenewalsPanelView{AccountKey: account.Key, ARR: account.ARR, Today: models.DateOf(now),
		Renewals: rs, History: history}
}

// renewalRecord is POST /accounts/{key}/renewals: records an outcome of a renewal on
// record (its due date and ARR stay) or adds one. A refusal comes back as the panel
// with the form as typed and its errors; without htmx, success redirects to the panel.
func (s *server) renewalRecord(c echo.Context) error {
	ctx := c.Request().Context()
	account, err := s.store.AccountByKey(ctx, c.Param("key"))
	if err != nil {
		return err
	}
	f := views.RenewalForm{Key: strings.TrimSpace(c.FormValue("key")), DueOn: c.FormValue("due_on"), ARRBefore: c.FormValue("arr_before"),
		Outcome: c.FormValue("outcome"), ARRAfter: strings.TrimSpace(c.FormValue("arr_after")), ClosedOn: c.FormValue("closed_on"), Note: c.FormValue("note")}
	verr := &models.ValidationError{Message: "invalid renewal"}
	r := models.Renewal{Key: f.Key}
	if old, err := s.store.RenewalByKey(ctx, account.Key, f.Key); err == nil {
		r = *old
	} else if !errors.Is(err, models.ErrNotFound) {
		return err
	} else {
		r.DueOn = bodyDate(verr, "due_on", f.DueOn)
		r.ARRBefore = formMoney(verr, "arr_before", f.ARRBefore)
	}
	r.Outcome, r.Note, r.ARRAfter, r.ClosedOn = f.Outcome, f.Note, nil, nil
	if f.ARRAfter != "" {
		v := formMoney(verr, "arr_after", f.ARRAfter)
		r.ARRAfter = &v
	}
	if f.ClosedOn != "" {
		d := bodyDate(verr, "closed_on", f.ClosedOn)
		r.ClosedOn = &d
	}
	if err = merge(verr, r.Validate()); err == nil {
		_, err = s.store.UpsertRenewal(ctx, account.Key, &r, goalActor(c))
	}
	v, perr := s.renewalsPanel(c, account)
	if perr != nil {
		return perr
	}
	var refused *models.ValidationError
	switch {
	case errors.As(err, &refused):
		v.Form, v.Errors = f, map[string]string{}
		for _, fe := range refused.Fields {
			if _, ok := v.Errors[fe.Field]; !ok {
				v.Errors[fe.Field] = fe.Message
			}
		}
		return render(c, http.StatusUnprocessableEntity, views.AccountRenewals(v), views.AccountRenewals(v))
	case err != nil:
		return err
	}
	if !isHTMXSwap(c.Request()) {
		return c.Redirect(http.StatusSeeOther, "/accounts/"+account.Key+"#renewals")
	}
	v.Saved = r.Key
	return render(c, http.StatusOK, views.AccountRenewals(v), views.AccountRenewals(v))
}

// formMoney reads an amount typed in a form.
func formMoney(verr *models.ValidationError, field, raw string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		verr.Add(field, "must be an amount such as 12000, got "+strconv.Quote(raw))
	}
	return v
}
