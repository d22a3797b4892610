package handlers

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// isHTMXSwap tells an htmx partial request from a boosted navigation or history restore.
func isHTMXSwap(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" &&
		r.Header.Get("HX-Boosted") != "true" &&
		r.Header.Get("HX-History-Restore-Request") != "true"
}

// render sends the fragment to htmx swaps and the full page to everything else.
func render(c echo.Context, status int, page, fragment templ.Component) error {
	c.Response().Header().Add("Vary", "HX-Request")
	comp := page
	if fragment != nil && isHTMXSwap(c.Request()) {
		comp = fragment
	}
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err // reaches the error handler before anything is written
	}
	return c.HTMLBlob(status, buf.Bytes())
}
