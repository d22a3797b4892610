package handlers

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// apiAlertList is GET /api/v1/alerts: filters account, kind, owner, state (default
// open) and severity, each comma-separated; newest first, keyset-paged.
func (s *server) apiAlertList(c echo.Context) error {
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	f := alertFilterOf(c)
	if len(f.States) == 0 {
		f.States = []string{models.AlertOpen}
	}
	if err := f.Validate(); err != nil {
		return err
	}
	if cursor != "" {
		if f.After, err = strconv.ParseInt(cursor, 10, 64); err != nil || f.After <= 0 {
			return badRequest("cursor", "not a cursor this API returned")
		}
	}
	f.Limit = limit + 1
	list, err := s.store.ListAlerts(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := make([]models.AlertJSON, len(list))
	for i, a := range list {
		out[i] = s.alertJSON(a)
	}
	return pageReply(c, "alerts", out, limit, func(a models.AlertJSON) string { return strconv.FormatInt(a.ID, 10) })
}

// alertFilterOf reads the list filters of the API and the inbox.
func alertFilterOf(c echo.Context) models.AlertFilter {
	list := func(name string) []string {
		var out []string
		for _, v := range c.QueryParams()[name] {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	return models.AlertFilter{Accounts: list("account"), Kinds: list("kind"), Owners: list("owner"),
		States: list("state"), Severities: list("severity"), Search: strings.TrimSpace(c.QueryParam("q"))}
}

func (s *server) alertJSON(a models.Alert) models.AlertJSON {
	j := a.JSON()
	j.URL = s.store.AlertURL(a)
	return j
}

// apiAlertGet is GET /api/v1/alerts/{id}.
func (s *server) apiAlertGet(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	a, err := s.store.AlertByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.alertJSON(*a))
}

// alertPatch is the body of PATCH /api/v1/alerts/{id}.
type alertPatch struct {
	State        *string         `json:"state"`
	SnoozedUntil *string         `json:"snoozed_until"`
	Resolution   *string         `json:"resolution"`
	Note         *string         `json:"note"`
	Owner        json.RawMessage `json:"owner"` // an e-mail, or null to clear
}

// apiAlertUpdate is PATCH /api/v1/alerts/{id}: snooze, resolve, reopen, or change
// the owner; every change is kept in the alert's history.
func (s *server) apiAlertUpdate(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in alertPatch
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ch := models.AlertChange{State: in.State, SnoozedUntil: in.SnoozedUntil, Resolution: in.Resolution, Note: in.Note}
	if len(in.Owner) > 0 {
		ch.OwnerSet = true
		if string(in.Owner) != "null" {
			var email string
			if err := json.Unmarshal(in.Owner, &email); err != nil {
				return badRequest("owner", "want an e-mail address or null")
			}
			email = models.NormalizeEmail(email)
			ch.Owner = &email
		}
	}
	a, err := s.changeAlert(c, id, ch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.alertJSON(*a))
}

// changeAlert applies a change with SPEC §8's rule on owners: csm and above take an
// alert for themselves; only manager and admin give it to someone else or to nobody.
func (s *server) changeAlert(c echo.Context, id int64, ch models.AlertChange) (*models.Alert, error) {
	role, self := models.Role(""), ""
	if m := currentMember(c); m != nil {
		role, self = m.Role, m.Email
	} else if tok, ok := c.Get(tokenKey).(*models.APIToken); ok {
		role = tok.Role
	}
	if ch.OwnerSet && !role.Can(models.PermAssignAlerts) && (ch.Owner == nil || *ch.Owner != self || self == "") {
		return nil, echo.NewHTTPError(http.StatusForbidden,
			"a "+string(role)+" may take an alert for themselves; assigning it to others is for managers and admins")
	}
	return s.store.UpdateAlert(c.Request().Context(), id, ch, goalActor(c), models.DateOf(s.now()))
}
