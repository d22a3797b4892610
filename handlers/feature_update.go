package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// featureFromForm reads the catalog form: event names one per line.
func featureFromForm(c echo.Context, key string) models.Feature {
	var names []string
	for _, n := range strings.Split(c.FormValue("event_names"), "\n") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return models.Feature{Key: key, Name: c.FormValue("name"), Product: c.FormValue("product"),
		EventNames: names, KeyFeature: c.FormValue("key_feature") == "true"}
}

// featureUpdate is POST /settings/catalog/{key}: save one feature's inline form; the
// form comes back in place, with each refused field's message beside it.
func (s *server) featureUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	key := c.Param("key")
	if _, err := s.store.FeatureByKey(ctx, key); err != nil {
		return err
	}
	f := featureFromForm(c, key)
	_, err := s.store.UpsertFeature(ctx, &f)
	v := views.FeatureFormView{Feature: f, Errors: views.FormErrors{}}
	status := http.StatusOK
	var verr *models.ValidationError
	switch {
	case errors.As(err, &verr):
		status, v.Errors = http.StatusUnprocessableEntity, views.ErrorsOf(verr)
	case err != nil:
		return err
	default:
		s.log.Info("feature saved", "feature", key, "by", currentMember(c).Email)
		if !isHTMXSwap(c.Request()) {
			return c.Redirect(http.StatusSeeOther, "/settings/catalog")
		}
		saved, err := s.store.FeatureByKey(ctx, key)
		if err != nil {
			return err
		}
		v.Feature, v.Saved = *saved, true
	}
	if isHTMXSwap(c.Request()) { // the row alone goes back: no need for the whole catalog
		return render(c, status, views.FeatureRow(v), nil)
	}
	page, err := s.catalogView(c)
	if err != nil {
		return err
	}
	for i := range page.Features {
		if page.Features[i].Feature.Key == key {
			page.Features[i] = v
		}
	}
	return render(c, status, views.CatalogPage(page), nil)
}
