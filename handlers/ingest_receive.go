package handlers

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"sightline/ingest"
	"sightline/models"
)

const writeKeyKey = "write_key"

// requireWriteKey authenticates ingestion: HTTP Basic, the write key as user name.
func (s *server) requireWriteKey(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		key, _, ok := c.Request().BasicAuth()
		if !ok || key == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="sightline"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "missing write key: send it as the HTTP Basic user name")
		}
		hash := models.HashSecret(key)
		seen, remembered := s.writeKeys.get(hash)
		if !remembered {
			wk, err := s.store.WriteKeyByHash(c.Request().Context(), hash)
			if errors.Is(err, models.ErrNotFound) {
				return refuseWriteKey(c)
			}
			if err != nil {
				return unavailable(c, s, err)
			}
			seen = seenKey{id: wk.ID, lastUsed: wk.LastUsedAt}
			s.writeKeys.put(hash, seen)
		}
		if models.Stale(seen.lastUsed) {
			s.store.TouchWriteKey(c.Request().Context(), seen.id)
			now := time.Now()
			s.writeKeys.put(hash, seenKey{id: seen.id, lastUsed: &now})
		}
		c.Set(writeKeyKey, writeKeyOf{id: seen.id, hash: hash, remembered: remembered})
		return next(c)
	}
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

// ingestSingle serves /v1/track, /v1/identify, /v1/group and /v1/page.
func (s *server) ingestSingle(typ string) echo.HandlerFunc {
	return func(c echo.Context) error {
		return s.ingest(c, func(body []byte, now time.Time) ([]ingest.Message, error) {
			return ingest.ParseSingle(body, typ, now)
		})
	}
}

func (s *server) ingest(c echo.Context, parse func([]byte, time.Time) ([]ingest.Message, error)) error {
	body, err := readBody(c.Request())
	if err != nil {
		return err
	}
	wk := c.Get(writeKeyKey).(writeKeyOf)
	msgs, err := parse(body, time.Now().UTC())
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
	s.metrics.ingested.Add(float64(res.Accepted))
	s.metrics.duplicates.Add(float64(res.Duplicates))
	return c.JSON(http.StatusOK, map[string]bool{"success": true})
}

// readBody reads at most the SPEC's 500 KB (after gzip, which Segment SDKs may use).
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
		return nil, echo.NewHTTPError(http.StatusBadRequest, "unable to read the body: "+err.Error())
	}
	if len(body) > ingest.MaxBodyBytes {
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body is over the 500 KB limit")
	}
	return body, nil
}
