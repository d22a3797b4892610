package handlers

import (
	"github.com/labstack/echo/v4"

	"sightline/models"
)

// apiFeatureList is GET /api/v1/features: the catalog by key, keyset-paged.
func (s *server) apiFeatureList(c echo.Context) error {
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	fs, err := s.store.ListFeatures(c.Request().Context(), cursor, limit+1)
	if err != nil {
		return err
	}
	return pageReply(c, "features", fs, limit, func(f models.Feature) string { return f.Key })
}
