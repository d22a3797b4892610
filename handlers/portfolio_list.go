package handlers

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// portfolioList is / : every account, filtered, sorted and paged from the URL. A CSM
// who opens it without a query lands on their own book, what needs them first.
func (s *server) portfolioList(c echo.Context) error {
	ctx := c.Request().Context()
	q := models.ParsePortfolioQuery(c.QueryParams())
	segments, csms, err := s.store.AccountFacets(ctx)
	if err != nil {
		return err
	}
	me := currentMember(c)
	if len(c.QueryParams()) == 0 && me.Role == models.RoleCSM && slices.Contains(csms, me.Email) {
		q.CSM, q.Sort, q.Desc = me.Email, "attention", false
	}
	page, err := s.store.ListPortfolio(ctx, q)
	if err != nil {
		return err
	}
	v := views.PortfolioView{Query: q, Page: page, Segments: segments, CSMs: csms, Stages: models.LifecycleStages}
	if q.CSM != "" {
		v.Book = q.CSM
		if v.Changes, err = s.store.PortfolioChanges(ctx, q, page.Total, 10, 8); err != nil {
			return err
		}
	}
	if v.Saved, err = s.savedViews(c, "/", q.Values().Encode()); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Portfolio(v), views.PortfolioTable(v))
}
