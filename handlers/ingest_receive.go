package handlers

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"

	"sightline/ingest"
	"sightline/models"
)

const writeKeyKey = "write_key"

// requireWriteKey authenticates ingestion (SPEC §3): the write key is the HTTP Basic
// user name or, when the request has no Authorization header (browsers' beacons),
// the JSON body's writeKey. It then applies the key's limits: the browser origins it
// may send from and its requests a minute. It reads the body for the handler.
func (s *server) requireWriteKey(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		key, _, fromHeader := req.BasicAuth()
		body, bodyErr := readBody(req)
		if req.Header.Get(echo.HeaderAuthorization) == "" && bodyErr == nil {
			key = bodyWriteKey(body)
		}
		if key == "" {
			if bodyErr != nil && !fromHeader {
				return bodyErr // no key to find in a body that cannot be read
			}
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="sightline"`)
			return echo.NewHTTPError(http.StatusUnauthorized,
				"missing write key: send it as the HTTP Basic user name, or as writeKey in the JSON body")
		}
		hash := models.HashSecret(key)
		seen, remembered := s.writeKeys.get(hash)
		now := time.Now()
		if !remembered || now.Sub(seen.checked) > writeKeyRecheck {
			wk, err := s.store.WriteKeyByHash(req.Context(), hash)
			if errors.Is(err, models.ErrNotFound) {
				s.writeKeys.forget(hash)
				return refuseWriteKey(c)
			}
			if err != nil {
				return unavailable(c, s, err)
			}
			seen = seenKey{id: wk.ID, lastUsed: wk.LastUsedAt, key: wk, checked: now}
			s.writeKeys.put(hash, seen)
		}
		if origin := req.Header.Get(echo.HeaderOrigin); !seen.key.AllowsOrigin(origin) {
			msg := fmt.Sprintf("origin %s may not send with this write key; an admin can add it to the key's allowed origins", origin)
			s.monitor.Refused(seen.id, refusal(c, http.StatusForbidden, msg, nil), 0)
			return echo.NewHTTPError(http.StatusForbidden, msg)
		}
		if bodyErr != nil {
			var he *echo.HTTPError
			if errors.As(bodyErr, &he) {
				s.monitor.Refused(seen.id, refusal(c, he.Code, fmt.Sprint(he.Message), nil), 0)
			}
			return bodyErr
		}
		if limit := seen.key.RateLimit; limit > 0 {
			ok, wait, err := s.store.TakeIngestRequest(req.Context(), seen.id, limit, now)
			if err != nil {
				return unavailable(c, s, err)
			}
			if !ok {
				s.monitor.RateLimited(seen.id, now)
				return rateLimited(c, limit, wait)
			}
		}
		if models.Stale(seen.lastUsed) {
			s.store.TouchWriteKey(req.Context(), seen.id)
			seen.lastUsed = &now
			s.writeKeys.put(hash, seen)
		}
		c.Set(writeKeyKey, writeKeyOf{id: seen.id, hash: hash, remembered: remembered, body: body})
		return next(c)
	}
}

// bodyWriteKey reads the top-level writeKey of a JSON body ("" when there is none).
func bodyWriteKey(body []byte) string {
	if !bytes.Contains(body, []byte("writeKey")) {
		return ""
	}
	var v struct {
		WriteKey string `json:"writeKey"`
	}
	if jsonv2.Unmarshal(body, &v, jsontext.AllowDuplicateNames(true)) != nil {
		return ""
	}
	return strings.TrimSpace(v.WriteKey)
}

// rateLimited answers 429 with the wait in both headers SDKs read: Retry-After
// (RudderStack, Segment's server SDKs) and X-RateLimit-Reset (analytics.js).
func rateLimited(c echo.Context, limit int, wait time.Duration) error {
	secs := strconv.Itoa(int(math.Ceil(wait.Seconds())))
	h := c.Response().Header()
	h.Set("Retry-After", secs)
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", secs)
	return c.JSON(http.StatusTooManyRequests, map[string]any{
		"error":   fmt.Sprintf("this write key may send %d requests a minute; retry in %s s", limit, secs),
		"details": []any{}})
}

// refusal describes a refused request for the Sources page.
func refusal(c echo.Context, status int, msg string, problems []ingest.Problem) models.SourceRefusal {
	ps, _ := json.Marshal(problems)
	if problems == nil {
		ps = []byte("[]")
	}
	return models.SourceRefusal{ReceivedAt: time.Now().UTC(), Status: status, Path: c.Request().URL.Path,
		Origin: c.Request().Header.Get(echo.HeaderOrigin), Error: msg, Problems: string(ps)}
}

func refuseWriteKey(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="sightline"`)
	return echo.NewHTTPError(http.StatusUnauthorized, "unknown or revoked write key")
}

// unavailable tells SDKs to come back later: they retry, and retries are idempotent.
func unavailable(c echo.Context, s *server, err error) error {
	s.log.Error("ingest: storage unavailable", "err", err)
	c.Response().Header().Set("Retry-After", "5")
	return c.JSON(http.StatusServiceUnavailable, map[string]any{
		"error": "usage cannot be stored right now; retry later", "details": []any{}})
}

// ingestBatch is POST /v1/batch.
func (s *server) ingestBatch(c echo.Context) error {
	return s.ingest(c, func(body []byte, now time.Time) ([]ingest.Message, error) {
		return ingest.ParseBatch(body, now)
	})
}

// ingestSingle serves the one-message routes: /v1/track, /v1/t and the like.
func (s *server) ingestSingle(typ string) echo.HandlerFunc {
	return func(c echo.Context) error {
		return s.ingest(c, func(body []byte, now time.Time) ([]ingest.Message, error) {
			return ingest.ParseSingle(body, typ, now)
		})
	}
}

func (s *server) ingest(c echo.Context, parse func([]byte, time.Time) ([]ingest.Message, error)) error {
	wk := c.Get(writeKeyKey).(writeKeyOf)
	now := time.Now().UTC()
	msgs, err := parse(wk.body, now)
	var rerr *ingest.RequestError
	if errors.As(err, &rerr) {
		// Nothing is stored, so no transaction checks the key: a revoked one is refused
		// before its mistakes are reported, as when it is looked up.
		if wk.remembered {
			if _, err := s.store.WriteKeyByHash(c.Request().Context(), wk.hash); errors.Is(err, models.ErrNotFound) {
				s.writeKeys.forget(wk.hash)
				return refuseWriteKey(c)
			}
		}
		details := rerr.Problems
		if details == nil {
			details = []ingest.Problem{}
		}
		s.monitor.Refused(wk.id, refusal(c, rerr.Status, rerr.Message, details), max(len(details), 1))
		return c.JSON(rerr.Status, map[string]any{"error": rerr.Message, "details": details})
	}
	if err != nil {
		return err
	}
	res, err := s.writer.Write(c.Request().Context(), msgs, wk.id)
	if errors.Is(err, ingest.ErrWriteKeyRevoked) {
		s.writeKeys.forget(wk.hash)
		return refuseWriteKey(c)
	}
	if err != nil {
		return unavailable(c, s, err)
	}
	s.monitor.Accepted(wk.id, msgs, res, now)
	s.metrics.ingested.Add(float64(res.Accepted))
	s.metrics.duplicates.Add(float64(res.Duplicates))
	return c.JSON(http.StatusOK, map[string]bool{"success": true})
}

// readBody reads at most the SPEC's 500 KB, after gzip (which RudderStack's SDKs use):
// a body that inflates past the limit is refused at the limit, never inflated whole.
func readBody(r *http.Request) ([]byte, error) {
	var src io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, echo.NewHTTPError(http.StatusBadRequest, "body is not valid gzip")
		}
		defer zr.Close()
		src = zr
	}
	// Sized from Content-Length when there is one: growing the buffer by doubling
	// cost a few percent of the server's CPU under load.
	size := int64(bytes.MinRead)
	if src == r.Body && r.ContentLength > 0 {
		// ReadFrom wants MinRead bytes free for the read that finds the end.
		size = min(r.ContentLength, ingest.MaxBodyBytes) + 1 + bytes.MinRead
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(io.LimitReader(src, ingest.MaxBodyBytes+1))
	body := buf.Bytes()
	if err != nil {
		if src != r.Body {
			return nil, echo.NewHTTPError(http.StatusBadRequest, "body is not valid gzip: "+err.Error())
		}
		return nil, echo.NewHTTPError(http.StatusBadRequest, "unable to read the body: "+err.Error())
	}
	if len(body) > ingest.MaxBodyBytes {
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body is over the 500 KB limit")
	}
	return body, nil
}
