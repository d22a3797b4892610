package handlers

import (
	"github.com/labstack/echo/v4"

	"sightline/models"
)

// apiEntitlementList is GET /api/v1/accounts/{key}/entitlements, keyset-paged by key.
func (s *server) apiEntitlementList(c echo.Context) error {
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	es, err := s.store.ListEntitlementsAfter(c.Request().Context(), c.Param("key"), cursor, limit+1)
	if err != nil {
		return err
	}
	return pageReply(c, "entitlements", es, limit, func(e models.Entitlement) string { return e.Key })
}
