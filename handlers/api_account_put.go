package handlers

import (
	"github.com/labstack/echo/v4"

	"sightline/models"
)

// accountBody is the JSON of PUT /api/v1/accounts/{key}.
type accountBody struct {
	Key            *string `json:"key"`
	Name           string  `json:"name"`
	ARR            float64 `json:"arr"`
	RenewalOn      string  `json:"renewal_on"`
	LifecycleStage string  `json:"lifecycle_stage"`
	Segment        string  `json:"segment"`
	CSMEmail       string  `json:"csm_email"`
}

// apiAccountPut is PUT /api/v1/accounts/{key}: create or replace an account.
func (s *server) apiAccountPut(c echo.Context) error {
	var body accountBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	key := c.Param("key")
	verr := &models.ValidationError{Message: "invalid account"}
	bodyKey(verr, "key", body.Key, key)
	a := models.Account{Key: key, Name: body.Name, ARR: body.ARR, LifecycleStage: body.LifecycleStage,
		Segment: body.Segment, CSMEmail: body.CSMEmail}
	a.RenewalOn = bodyDate(verr, "renewal_on", body.RenewalOn)
	if err := merge(verr, a.Validate()); err != nil {
		return err
	}
	ctx := c.Request().Context()
	created, err := s.store.UpsertAccount(ctx, &a)
	if err != nil {
		return err
	}
	saved, err := s.store.AccountByKey(ctx, key)
	if err != nil {
		return err
	}
	return c.JSON(putStatus(created), saved)
}
