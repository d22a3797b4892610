package handlers

import (
	"github.com/labstack/echo/v4"

	"sightline/models"
)

// entitlementBody is the JSON of PUT /api/v1/accounts/{key}/entitlements/{ekey}.
type entitlementBody struct {
	Account   *string  `json:"account"`
	Key       *string  `json:"key"`
	Product   string   `json:"product"`
	Features  []string `json:"features"`
	Model     string   `json:"model"`
	Quantity  float64  `json:"quantity"`
	Unit      string   `json:"unit"`
	UnitPrice float64  `json:"unit_price"`
	StartsOn  string   `json:"starts_on"`
	EndsOn    string   `json:"ends_on"`
}

// apiEntitlementPut is PUT /api/v1/accounts/{key}/entitlements/{ekey}: create or replace
// an entitlement of an existing account (404 when the account is unknown).
func (s *server) apiEntitlementPut(c echo.Context) error {
	var body entitlementBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	account, key := c.Param("key"), c.Param("ekey")
	verr := &models.ValidationError{Message: "invalid entitlement"}
	bodyKey(verr, "account", body.Account, account)
	bodyKey(verr, "key", body.Key, key)
	e := models.Entitlement{Account: account, Key: key, Product: body.Product, Features: body.Features,
		Model: body.Model, Quantity: body.Quantity, Unit: body.Unit, UnitPrice: body.UnitPrice}
	e.StartsOn = bodyDate(verr, "starts_on", body.StartsOn)
	e.EndsOn = bodyDate(verr, "ends_on", body.EndsOn)
	if err := merge(verr, e.Validate()); err != nil {
		return err
	}
	ctx := c.Request().Context()
	created, err := s.store.UpsertEntitlement(ctx, account, &e)
	if err != nil {
		return err
	}
	saved, err := s.store.EntitlementByKey(ctx, account, key)
	if err != nil {
		return err
	}
	return c.JSON(putStatus(created), saved)
}
