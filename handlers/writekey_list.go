package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// writeKeyList is /settings/writekeys: the sources of usage, newest key first, with
// what arrived with each.
func (s *server) writeKeyList(c echo.Context) error {
	v, err := s.writeKeysView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.WriteKeysPage(v), views.WriteKeysSection(v))
}

func (s *server) writeKeysView(c echo.Context) (views.SourcesView, error) {
	ctx := c.Request().Context()
	keys, err := s.store.ListWriteKeys(ctx)
	if err != nil {
		return views.SourcesView{}, err
	}
	sums, err := s.store.SourceSummaries(ctx, models.DateOf(s.now()))
	if err != nil {
		return views.SourcesView{}, err
	}
	v := views.SourcesView{Errors: views.FormErrors{}}
	for _, k := range keys {
		v.Keys = append(v.Keys, views.SourceRowView{Key: k, Summary: sums[k.ID]})
	}
	return v, nil
}
