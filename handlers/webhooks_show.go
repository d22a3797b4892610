package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// webhookDeliveriesShown is how many deliveries a webhook lists.
const webhookDeliveriesShown = 20

// webhooksShow is /settings/webhooks (admin): each webhook and its latest deliveries,
// every attempt kept.
func (s *server) webhooksShow(c echo.Context) error {
	v, err := s.webhooksView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.WebhooksPage(v), views.WebhooksSection(v))
}

func (s *server) webhooksView(c echo.Context) (views.WebhooksView, error) {
	hooks, err := s.store.RecentDeliveries(c.Request().Context(), webhookDeliveriesShown)
	return views.WebhooksView{Hooks: hooks, Errors: views.FormErrors{}}, err
}

// webhookCreate is POST /settings/webhooks: the secret is shown once.
func (s *server) webhookCreate(c echo.Context) error {
	form, _ := c.FormParams()
	in := models.WebhookInput{URL: c.FormValue("url"), Events: form["events"], Format: c.FormValue("format")}
	key := c.FormValue("key")
	ctx := c.Request().Context()
	var verr *models.ValidationError
	var w *models.Webhook
	var created bool
	if _, err := s.store.WebhookByKey(ctx, key); err == nil {
		verr = &models.ValidationError{Message: "invalid webhook", Fields: []models.FieldError{{Field: "key", Message: "is taken: delete that webhook first, or choose another key"}}}
	} else {
		w, created, err = s.store.PutWebhook(ctx, key, in)
		if err != nil && !errors.As(err, &verr) {
			return err
		}
	}
	v, err := s.webhooksView(c)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if verr != nil {
		status = http.StatusUnprocessableEntity
		v.Draft, v.DraftKey, v.Errors = in, key, views.ErrorsOf(verr)
	} else if created {
		v.NewSecret, v.NewKey = w.Secret, w.Key
		s.log.Info("webhook created", "key", w.Key, "by", currentMember(c).Email)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, status, views.WebhooksPage(v), views.WebhooksSection(v))
}

// webhookDelete is POST /settings/webhooks/{key}/delete.
func (s *server) webhookDelete(c echo.Context) error {
	if err := s.store.DeleteWebhook(c.Request().Context(), c.Param("key")); err != nil {
		return err
	}
	if !isHTMXSwap(c.Request()) {
		return c.Redirect(http.StatusSeeOther, "/settings/webhooks")
	}
	v, err := s.webhooksView(c)
	if err != nil {
		return err
	}
	v.Notice = "Webhook “" + c.Param("key") + "” deleted."
	return render(c, http.StatusOK, views.WebhooksPage(v), views.WebhooksSection(v))
}

// webhookResend is POST /settings/webhooks/deliveries/{id}/resend: one more attempt
// now, with the same webhook-id.
func (s *server) webhookResend(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.store.ResendDelivery(c.Request().Context(), id); err != nil {
		return err
	}
	if !isHTMXSwap(c.Request()) {
		return c.Redirect(http.StatusSeeOther, "/settings/webhooks")
	}
	v, err := s.webhooksView(c)
	if err != nil {
		return err
	}
	v.Notice = "Sending it again now; the attempt shows here within seconds."
	return render(c, http.StatusOK, views.WebhooksPage(v), views.WebhooksSection(v))
}
