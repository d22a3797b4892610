package handlers

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// savedViewPages are the pages whose views can be saved.
var savedViewPages = map[string]bool{"/": true}

func (s *server) savedViews(c echo.Context, page, query string) (views.SavedViewsView, error) {
	vs, err := s.store.SavedViews(c.Request().Context(), currentMember(c).ID, page)
	return views.SavedViewsView{Page: page, Query: query, Views: vs}, err
}

// viewForm reads the page and query a saved-views form carries; the query is parsed
// and encoded again, so a view opens a plain link on this site.
func viewForm(c echo.Context) (page, query string, err error) {
	page = c.FormValue("page")
	if !savedViewPages[page] {
		return "", "", echo.NewHTTPError(http.StatusBadRequest, "views of this page cannot be saved")
	}
	q, err := url.ParseQuery(c.FormValue("query"))
	if err != nil {
		return "", "", echo.NewHTTPError(http.StatusBadRequest, "the view's query is not a URL query")
	}
	q.Del("page")
	return page, q.Encode(), nil
}

// viewSave is POST /views: keep the current view under a name.
func (s *server) viewSave(c echo.Context) error {
	page, query, err := viewForm(c)
	if err != nil {
		return err
	}
	_, err = s.store.SaveView(c.Request().Context(), currentMember(c).ID, page, c.FormValue("name"), query)
	var verr *models.ValidationError
	if err != nil && !errors.As(err, &verr) {
		return err
	}
	v, err := s.savedViews(c, page, query)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if verr != nil {
		v.Error, v.Draft, status = verr.Fields[0].Message, c.FormValue("name"), http.StatusUnprocessableEntity
	}
	if !isHTMXSwap(c.Request()) {
		if verr != nil {
			return echo.NewHTTPError(status, v.Error)
		}
		return c.Redirect(http.StatusSeeOther, page+"?"+query)
	}
	return render(c, status, nil, views.SavedViews(v))
}

// viewDelete is POST /views/{id}/delete.
func (s *server) viewDelete(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	page, query, err := viewForm(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteView(c.Request().Context(), currentMember(c).ID, id); err != nil {
		return err
	}
	if !isHTMXSwap(c.Request()) {
		return c.Redirect(http.StatusSeeOther, page)
	}
	v, err := s.savedViews(c, page, query)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, nil, views.SavedViews(v))
}
