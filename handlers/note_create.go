package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// noteCreate adds a note to an account and re-renders the notes region; a refused
// note comes back with its text and the reason beside the field.
func (s *server) noteCreate(c echo.Context) error {
	ctx := c.Request().Context()
	key := c.Param("key")
	account, err := s.store.AccountByKey(ctx, key)
	if err != nil {
		return err
	}
	body := c.FormValue("body")
	v := views.NotesView{AccountKey: key}
	status := http.StatusOK
	_, err = s.store.AddNote(ctx, key, currentMember(c).ID, body)
	var verr *models.ValidationError
	switch {
	case errors.As(err, &verr):
		status, v.Draft, v.Error = http.StatusUnprocessableEntity, body, verr.For("body")
	case err != nil:
		return err
	}
	if !isHTMXSwap(c.Request()) && status == http.StatusOK {
		return c.Redirect(http.StatusSeeOther, "/accounts/"+key+"#notes")
	}
	if v.Notes, err = s.store.ListNotes(ctx, account.ID, 50); err != nil {
		return err
	}
	return render(c, status, views.AccountNotes(v), views.AccountNotes(v))
}
