package handlers

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sightline/models"
	"sightline/static"
)

func (s *server) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz answers 200 only while the database answers, so a load balancer drains us.
func (s *server) readyz(c echo.Context) error {
	if err := s.store.Ping(c.Request().Context()); err != nil {
		s.log.Warn("not ready", "err", err)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	// Replicas never make us unready: reads fall back to the primary. Say so.
	var b strings.Builder
	b.WriteString("ready\n")
	for _, r := range s.store.ReplicaStates() {
		fmt.Fprintf(&b, "replica %s: %s", r.Name, r.State)
		if r.LagSeconds != nil {
			fmt.Fprintf(&b, ", lag %.1f s", *r.LagSeconds)
		}
		fmt.Fprintf(&b, ", %d reads", r.Reads)
		if r.State != "ok" {
			b.WriteString(", its reads go to the primary")
		}
		if r.Error != "" {
			fmt.Fprintf(&b, " (%s)", r.Error)
		}
		b.WriteString("\n")
	}
	return c.String(http.StatusOK, b.String())
}

func (s *server) promMetrics(c echo.Context) error {
	promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}

// httpMetrics are the request counters and latencies, labelled by route pattern
// (not raw path) so the series stay few.
type httpMetrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	ingested   prometheus.Counter
	duplicates prometheus.Counter
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sightline_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sightline_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	m.ingested = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sightline_ingest_messages_total", Help: "Usage messages stored and counted.",
	})
	m.duplicates = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sightline_ingest_duplicates_total", Help: "Usage messages acknowledged again (retries), not counted.",
	})
	reg.MustRegister(m.requests, m.duration, m.ingested, m.duplicates)
	return m
}

func (s *server) recordMetrics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // write the response now so the status is known
			err = nil
		}
		route := c.Path()
		if route == "" || route == "/*" {
			route = "unmatched"
		}
		status := strconv.Itoa(c.Response().Status)
		s.metrics.requests.WithLabelValues(c.Request().Method, route, status).Inc()
		s.metrics.duration.WithLabelValues(c.Request().Method, route).Observe(time.Since(start).Seconds())
		return err
	}
}

func (s *server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
			err = nil
		}
		status := c.Response().Status
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		} else if strings.HasPrefix(c.Request().URL.Path, "/static/") || c.Path() == "/healthz" || c.Path() == "/metrics" ||
			(strings.HasPrefix(c.Path(), "/v1/") && status == http.StatusOK) { // ingestion is counted in /metrics instead
			level = slog.LevelDebug
		}
		s.log.Log(c.Request().Context(), level, "request",
			"method", c.Request().Method, "path", c.Request().URL.Path, "status", status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"bytes", c.Response().Size, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		return err
	}
}

// contentSecurityPolicy allows no inline script and nothing from other origins.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

var staticFiles = http.FileServer(http.FS(static.FS))

// serveStatic serves embedded assets; a URL carrying the current content hash may be
// cached for a year, since a change of content changes the URL.
func serveStatic(c echo.Context) error {
	name := strings.TrimPrefix(c.Request().URL.Path, "/static/")
	if _, err := fs.Stat(static.FS, name); err != nil || name == "" || strings.HasSuffix(name, "/") {
		return echo.ErrNotFound
	}
	if v := c.QueryParam("v"); v != "" && v == static.Hash(name) {
		c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Response().Header().Set("Cache-Control", "no-cache")
	}
	http.StripPrefix("/static", staticFiles).ServeHTTP(c.Response(), c.Request())
	return nil
}

// replicaCollector reports each read replica's lag and whether it serves reads, as
// the store's monitor last saw them.
type replicaCollector struct {
	store        *models.Store
	lag, serving *prometheus.Desc
}

func newReplicaCollector(store *models.Store) *replicaCollector {
	return &replicaCollector{store: store,
		lag: prometheus.NewDesc("sightline_replica_lag_seconds",
			"How far the read replica is behind the primary (absent while it does not answer).", []string{"replica"}, nil),
		serving: prometheus.NewDesc("sightline_replica_serving",
			"1 while the read replica serves reads, 0 while they go to the primary.", []string{"replica"}, nil)}
}

func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.lag; ch <- c.serving }

func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.store.ReplicaStates() {
		if r.LagSeconds != nil {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, *r.LagSeconds, r.Name)
		}
		serving := 0.0
		if r.State == "ok" {
			serving = 1
		}
		ch <- prometheus.MustNewConstMetric(c.serving, prometheus.GaugeValue, serving, r.Name)
	}
}
