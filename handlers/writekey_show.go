package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// writeKeyShow is /settings/writekeys/{id}: one source's figures, limits, live tail and
// refused requests.
func (s *server) writeKeyShow(c echo.Context) error {
	v, err := s.sourceView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.SourcePage(v), views.SourcePage(v))
}

// writeKeyActivity is the live region of a source's page, which htmx polls.
func (s *server) writeKeyActivity(c echo.Context) error {
	v, err := s.sourceView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.SourcePage(v), views.SourceActivity(v))
}

// writeKeyUpdate is POST /settings/writekeys/{id}: the key's origins and rate limit.
func (s *server) writeKeyUpdate(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	in, verr := writeKeyForm(c)
	var key *models.WriteKey
	if verr == nil {
		key, err = s.store.UpdateWriteKeyLimits(c.Request().Context(), id, in)
		if err != nil && !errors.As(err, &verr) {
			return err
		}
	}
	v, err := s.sourceView(c)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if verr != nil {
		status = http.StatusUnprocessableEntity
		v.Draft, v.Errors = in, views.ErrorsOf(verr)
	} else {
		v.Saved = true
		s.log.Info("write key limits changed", "write_key_id", id, "origins", key.AllowedOrigins,
			"rate_limit", key.RateLimit, "by", currentMember(c).Email)
	}
	return render(c, status, views.SourcePage(v), views.SourceLimits(v))
}

func (s *server) sourceView(c echo.Context) (views.SourceView, error) {
	id, err := idParam(c)
	if err != nil {
		return views.SourceView{}, err
	}
	ctx := c.Request().Context()
	key, err := s.store.WriteKeyByID(ctx, id)
	if err != nil {
		return views.SourceView{}, err
	}
	now := s.now()
	sums, err := s.store.SourceSummaries(ctx, models.DateOf(now))
	if err != nil {
		return views.SourceView{}, err
	}
	msgs, refusals, err := s.store.SourceTail(ctx, id)
	if err != nil {
		return views.SourceView{}, err
	}
	return views.SourceView{Key: *key, Summary: sums[id], Messages: msgs, Refusals: refusals, Now: now,
		Draft:  models.WriteKeyInput{Name: key.Name, Origins: key.AllowedOrigins, RateLimit: key.RateLimit},
		Errors: views.FormErrors{}}, nil
}
