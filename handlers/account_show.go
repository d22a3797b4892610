package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/views"
)

// accountShow is /accounts/{key}: the account's facts, entitlements and notes.
func (s *server) accountShow(c echo.Context) error {
	ctx := c.Request().Context()
	asOf, err := asOfParam(c, s.now())
	if err != nil {
		return err
	}
	account, err := s.store.AccountByKey(ctx, c.Param("key"))
	if err != nil {
		return err
	}
	ents, err := s.store.ListEntitlements(ctx, account.Key)
	if err != nil {
		return err
	}
	notes, err := s.store.ListNotes(ctx, account.ID, 50)
	if err != nil {
		return err
	}
	team, err := s.store.ListTeamMembers(ctx)
	if err != nil {
		return err
	}
	v := views.AccountView{Account: *account, Entitlements: ents, Notes: notes, AsOf: asOf, Team: team}
	return render(c, http.StatusOK, views.AccountPage(v), nil)
}
