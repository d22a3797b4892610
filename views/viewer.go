// Package views holds the templ components of every page and the view models
// shaped for them. Views only display; they never query.
package views

import (
	"context"
	"encoding/json"

	"sightline/models"
)

// Viewer is the logged-in person a page is rendered for.
type Viewer struct {
	Email string
	Name  string
	Role  models.Role
	// OpenAlerts counts the open alerts the viewer owns, for the navigation.
	OpenAlerts int
}

// Can reports whether the viewer holds a permission; pages hide what they may not do.
func (v Viewer) Can(p models.Permission) bool { return v.Role.Can(p) }

// LoggedIn reports whether there is a viewer at all.
func (v Viewer) LoggedIn() bool { return v.Email != "" }

type ctxKey int

const (
	viewerKey ctxKey = iota
	csrfKey
	pathKey
)

// WithViewer stores the viewer in the request context for the layout to read.
func WithViewer(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, viewerKey, v)
}

// WithCSRF stores the request's CSRF token for forms and htmx headers.
func WithCSRF(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, csrfKey, token)
}

// WithPath stores the request path so the navigation can mark the current page.
func WithPath(ctx context.Context, path string) context.Context {
	return context.WithValue(ctx, pathKey, path)
}

// ViewerFrom returns the viewer, or the zero Viewer on public pages.
func ViewerFrom(ctx context.Context) Viewer {
	v, _ := ctx.Value(viewerKey).(Viewer)
	return v
}

func csrfToken(ctx context.Context) string {
	t, _ := ctx.Value(csrfKey).(string)
	return t
}

func currentPath(ctx context.Context) string {
	p, _ := ctx.Value(pathKey).(string)
	return p
}

// htmxHeaders makes every htmx request carry the CSRF token.
func htmxHeaders(ctx context.Context) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": csrfToken(ctx)})
	return string(b)
}
