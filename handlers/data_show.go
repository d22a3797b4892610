package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// dataShow is /settings/data: CSV upload per kind, and export links.
func (s *server) dataShow(c echo.Context) error {
	var v views.DataView
	for _, kind := range models.ImportKinds {
		v.Imports = append(v.Imports, views.ImportView{Kind: kind, Columns: models.CSVColumns[kind]})
	}
	return render(c, http.StatusOK, views.DataPage(v), nil)
}
