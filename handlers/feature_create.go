package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// featureCreate is POST /settings/catalog: add a feature; an existing key is refused
// here (edit it in its own row instead).
func (s *server) featureCreate(c echo.Context) error {
	ctx := c.Request().Context()
	f := featureFromForm(c, c.FormValue("key"))
	var err error
	if _, ferr := s.store.FeatureByKey(ctx, f.Key); ferr == nil {
		err = &models.ValidationError{Fields: []models.FieldError{{Field: "key", Message: fmt.Sprintf("%q already exists; edit it above", f.Key)}}}
	} else {
		_, err = s.store.UpsertFeature(ctx, &f)
	}
	status := http.StatusOK
	var invalid *models.ValidationError
	switch {
	case errors.As(err, &invalid):
		status = http.StatusUnprocessableEntity
	case err != nil:
		return err
	default:
		s.log.Info("feature added", "feature", f.Key, "by", currentMember(c).Email)
		if !isHTMXSwap(c.Request()) {
			return c.Redirect(http.StatusSeeOther, "/settings/catalog")
		}
	}
	v, err := s.catalogView(c)
	if err != nil {
		return err
	}
	if invalid != nil {
		v.New = views.FeatureFormView{IsNew: true, Feature: f, Errors: views.ErrorsOf(invalid)}
	}
	return render(c, status, views.CatalogPage(v), views.CatalogSection(v))
}
