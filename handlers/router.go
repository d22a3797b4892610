// Package handlers is Sightline's HTTP layer: routes, middleware, and thin handlers
// that bind input, call the data layer or a metric function, and render.
package handlers

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"sightline/ingest"
	"sightline/models"
)

// Deps is everything the router needs from main (or a test).
type Deps struct {
	Store         *models.Store
	Logger        *slog.Logger
	SessionSecret []byte // ≥ 32 bytes; signs and encrypts the session cookie
	SecureCookies bool   // set the Secure flag (behind HTTPS)
	// Registry receives the HTTP metrics; nil makes a fresh one with Go and process collectors.
	Registry *prometheus.Registry
	// LoginFailureDelay is how long a failed login waits before answering (default 400 ms).
	LoginFailureDelay time.Duration
	// Now is the clock for "today" on pages; nil means time.Now.
	Now func() time.Time
	// Monitor counts what arrives per write key for the Sources page; nil makes one
	// (main passes its own to report the last counts at shutdown).
	Monitor *ingest.Monitor
}

// server holds the dependencies the handlers share.
type server struct {
	store    *models.Store
	writer   *ingest.Writer
	log      *slog.Logger
	sessions *sessionManager
	throttle *loginThrottle
	now      func() time.Time
	metrics  *httpMetrics
	registry *prometheus.Registry
	// writeKeys are the write keys ingestion has found live (see seenKeys).
	writeKeys seenKeys
	monitor   *ingest.Monitor
}

// NewRouter builds the whole HTTP application; main and every test use it.
func NewRouter(d Deps) *echo.Echo {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
		d.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if d.LoginFailureDelay == 0 {
		d.LoginFailureDelay = 400 * time.Millisecond
	}
	if d.Monitor == nil {
		d.Monitor = ingest.NewMonitor(d.Store, d.Logger)
	}
	s := &server{
		monitor:  d.Monitor,
		store:    d.Store,
		writer:   ingest.NewWriter(d.Store),
		log:      d.Logger,
		sessions: newSessionManager(d.Store, d.SessionSecret, d.SecureCookies),
		throttle: newLoginThrottle(d.Store, d.Logger, d.LoginFailureDelay),
		now:      d.Now,
		metrics:  newHTTPMetrics(d.Registry),
		registry: d.Registry,
	}
	d.Registry.MustRegister(newReplicaCollector(d.Store))

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(
		middleware.RequestID(),
		s.recordMetrics,
		s.logRequests,
		middleware.Recover(),
		securityHeaders,
		ingestCORS,
		middleware.CSRFWithConfig(middleware.CSRFConfig{
			TokenLookup:    "form:_csrf,header:X-CSRF-Token",
			CookieName:     "sightline_csrf",
			CookiePath:     "/",
			CookieHTTPOnly: true,
			CookieSecure:   d.SecureCookies,
			CookieSameSite: 2, // http.SameSiteLaxMode
			// Machine routes authenticate every request with a secret header, not a
			// cookie, so a forged cross-site request carries nothing to abuse.
			Skipper: isMachineRoute,
		}),
		s.loadViewer,
	)
	s.routes(e)
	return e
}
