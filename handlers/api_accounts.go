package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// apiAccountList is GET /api/v1/accounts: accounts by key, keyset-paged.
func (s *server) apiAccountList(c echo.Context) error {
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	accounts, err := s.store.ListAccountsAfter(c.Request().Context(), cursor, limit+1)
	if err != nil {
		return err
	}
	return pageReply(c, "accounts", accounts, limit, func(a models.Account) string { return a.Key })
}

// apiAccountGet is GET /api/v1/accounts/{key}.
func (s *server) apiAccountGet(c echo.Context) error {
	a, err := s.store.AccountByKey(c.Request().Context(), c.Param("key"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}
