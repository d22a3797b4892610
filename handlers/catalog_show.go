package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/views"
)

// catalogShow is /settings/catalog: every feature as an inline edit form.
func (s *server) catalogShow(c echo.Context) error {
	v, err := s.catalogView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.CatalogPage(v), views.CatalogSection(v))
}

func (s *server) catalogView(c echo.Context) (views.CatalogView, error) {
	fs, err := s.store.ListFeatures(c.Request().Context(), "", 0)
	if err != nil {
		return views.CatalogView{}, err
	}
	v := views.CatalogView{New: views.FeatureFormView{IsNew: true, Errors: views.FormErrors{}}}
	for _, f := range fs {
		v.Features = append(v.Features, views.FeatureFormView{Feature: f, Errors: views.FormErrors{}})
	}
	return v, nil
}
