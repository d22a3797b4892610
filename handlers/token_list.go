package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/views"
)

// tokenList is /settings/tokens: API tokens by newest.
func (s *server) tokenList(c echo.Context) error {
	v, err := s.tokensView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TokensPage(v), views.TokensSection(v))
}

func (s *server) tokensView(c echo.Context) (views.SecretsView, error) {
	tokens, err := s.store.ListAPITokens(c.Request().Context())
	return views.SecretsView{Tokens: tokens, DraftRole: "pm", Errors: views.FormErrors{}}, err
}
