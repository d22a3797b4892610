package handlers

import (
	"github.com/labstack/echo/v4"

	"sightline/models"
)

// featureBody is the JSON of PUT /api/v1/features/{key}.
type featureBody struct {
	Key        *string  `json:"key"`
	Name       string   `json:"name"`
	Product    string   `json:"product"`
	EventNames []string `json:"event_names"`
	KeyFeature bool     `json:"key_feature"`
}

// apiFeaturePut is PUT /api/v1/features/{key}: create or replace a catalog feature.
func (s *server) apiFeaturePut(c echo.Context) error {
	var body featureBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	key := c.Param("key")
	verr := &models.ValidationError{Message: "invalid feature"}
	bodyKey(verr, "key", body.Key, key)
	f := models.Feature{Key: key, Name: body.Name, Product: body.Product, EventNames: body.EventNames, KeyFeature: body.KeyFeature}
	if err := merge(verr, f.Validate()); err != nil {
		return err
	}
	ctx := c.Request().Context()
	created, err := s.store.UpsertFeature(ctx, &f)
	if err != nil {
		return err
	}
	saved, err := s.store.FeatureByKey(ctx, key)
	if err != nil {
		return err
	}
	return c.JSON(putStatus(created), saved)
}
