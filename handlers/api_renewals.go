package handlers

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// renewalBody is the JSON of PUT /api/v1/accounts/{key}/renewals/{rkey} (SPEC §9).
type renewalBody struct {
	Account   *string  `json:"account"`
	Key       *string  `json:"key"`
	DueOn     string   `json:"due_on"`
	ARRBefore float64  `json:"arr_before"`
	Outcome   string   `json:"outcome"`
	ARRAfter  *float64 `json:"arr_after"`
	ClosedOn  *string  `json:"closed_on"`
	Note      string   `json:"note"`
}

// apiRenewalPut creates or replaces a renewal of an existing account (404 when the
// account is unknown); 201 when created.
func (s *server) apiRenewalPut(c echo.Context) error {
	var body renewalBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	account, key := c.Param("key"), c.Param("rkey")
	verr := &models.ValidationError{Message: "invalid renewal"}
	bodyKey(verr, "account", body.Account, account)
	bodyKey(verr, "key", body.Key, key)
	r := models.Renewal{Key: key, ARRBefore: body.ARRBefore, Outcome: body.Outcome, ARRAfter: body.ARRAfter, Note: body.Note}
	r.DueOn = bodyDate(verr, "due_on", body.DueOn)
	if body.ClosedOn != nil && *body.ClosedOn != "" {
		d := bodyDate(verr, "closed_on", *body.ClosedOn)
		r.ClosedOn = &d
	}
	// A field the body already got wrong is not also reported as missing.
	for _, f := range r.Validate().Fields {
		if !slices.ContainsFunc(verr.Fields, func(g models.FieldError) bool { return g.Field == f.Field }) {
			verr.Fields = append(verr.Fields, f)
		}
	}
	if err := verr.OrNil(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	created, err := s.store.UpsertRenewal(ctx, account, &r, goalActor(c))
	if err != nil {
		return err
	}
	saved, err := s.store.RenewalByKey(ctx, account, key)
	if err != nil {
		return err
	}
	return c.JSON(putStatus(created), saved)
}

// apiRenewalGet is GET /api/v1/accounts/{key}/renewals/{rkey}.
func (s *server) apiRenewalGet(c echo.Context) error {
	r, err := s.store.RenewalByKey(c.Request().Context(), c.Param("key"), c.Param("rkey"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// apiRenewalList is GET /api/v1/accounts/{key}/renewals: every renewal of the
// account, latest due first (an account has a handful; no paging).
func (s *server) apiRenewalList(c echo.Context) error {
	rs, err := s.store.ListRenewals(c.Request().Context(), c.Param("key"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"renewals": rs})
}

// apiRenewalDelete is DELETE /api/v1/accounts/{key}/renewals/{rkey}.
func (s *server) apiRenewalDelete(c echo.Context) error {
	if err := s.store.DeleteRenewal(c.Request().Context(), c.Param("key"), c.Param("rkey")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
