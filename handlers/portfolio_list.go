package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// portfolioList is / : every account, filtered, sorted and paged from the URL.
func (s *server) portfolioList(c echo.Context) error {
	ctx := c.Request().Context()
	q := models.ParsePortfolioQuery(c.QueryParams())
	page, err := s.store.ListPortfolio(ctx, q)
	if err != nil {
		return err
	}
	segments, csms, err := s.store.AccountFacets(ctx)
	if err != nil {
		return err
	}
	v := views.PortfolioView{Query: q, Page: page, Segments: segments, CSMs: csms, Stages: models.LifecycleStages}
	return render(c, http.StatusOK, views.Portfolio(v), views.PortfolioTable(v))
}
