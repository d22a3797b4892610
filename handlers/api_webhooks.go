package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// webhookJSON is a webhook as the API shows it; the secret only when just created.
type webhookJSON struct {
	Key       string   `json:"key"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Format    string   `json:"format"`
	Secret    string   `json:"secret,omitempty"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
}

func webhookReply(w models.Webhook, withSecret bool) webhookJSON {
	j := webhookJSON{Key: w.Key, URL: w.URL, Events: w.EventList(), Format: w.Format,
		CreatedAt: w.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), UpdatedAt: w.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z")}
	if withSecret {
		j.Secret = w.Secret
	}
	return j
}

// apiWebhookPut is PUT /api/v1/webhooks/{key}: creates (201, with the secret, shown
// once) or replaces (200) a webhook.
func (s *server) apiWebhookPut(c echo.Context) error {
	var body struct {
		Key *string `json:"key"`
		models.WebhookInput
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	verr := &models.ValidationError{Message: "invalid webhook"}
	bodyKey(verr, "key", body.Key, c.Param("key"))
	if err := verr.OrNil(); err != nil {
		return err
	}
	w, created, err := s.store.PutWebhook(c.Request().Context(), c.Param("key"), body.WebhookInput)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(putStatus(created), webhookReply(*w, created))
}

// apiWebhookGet is GET /api/v1/webhooks/{key}.
func (s *server) apiWebhookGet(c echo.Context) error {
	w, err := s.store.WebhookByKey(c.Request().Context(), c.Param("key"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, webhookReply(*w, false))
}

// apiWebhookList is GET /api/v1/webhooks.
func (s *server) apiWebhookList(c echo.Context) error {
	ws, err := s.store.ListWebhooks(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]webhookJSON, len(ws))
	for i, w := range ws {
		out[i] = webhookReply(w, false)
	}
	return c.JSON(http.StatusOK, map[string]any{"webhooks": out})
}

// apiWebhookDelete is DELETE /api/v1/webhooks/{key}.
func (s *server) apiWebhookDelete(c echo.Context) error {
	if err := s.store.DeleteWebhook(c.Request().Context(), c.Param("key")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
