package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/views"
)

// writeKeyList is /settings/writekeys: ingest write keys by newest.
func (s *server) writeKeyList(c echo.Context) error {
	v, err := s.writeKeysView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.WriteKeysPage(v), views.WriteKeysSection(v))
}

func (s *server) writeKeysView(c echo.Context) (views.SecretsView, error) {
	keys, err := s.store.ListWriteKeys(c.Request().Context())
	return views.SecretsView{WriteKeys: keys, Errors: views.FormErrors{}}, err
}
