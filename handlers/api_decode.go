package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// maxJSONBody bounds one JSON request to the API.
const maxJSONBody = 1 << 20

// requestError is a request the server cannot read at all (bad JSON, unknown field,
// wrong type): 400, with details naming the field, like a ValidationError's 422.
type requestError struct {
	Message string
	Fields  []models.FieldError
}

func (e *requestError) Error() string { return e.Message }

func badRequest(field, message string) error {
	return &requestError{Message: "bad request: " + message, Fields: []models.FieldError{{Field: field, Message: message}}}
}

// decodeJSON reads the body into v strictly: one JSON object, no unknown fields, every
// value of the right type. Its errors are 400s whose details name the field.
func decodeJSON(c echo.Context, v any) error {
	body := http.MaxBytesReader(c.Response(), c.Request().Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			return badRequest("", "the body must hold exactly one JSON object")
		}
		return nil
	}
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
		tooBig    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig):
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit))
	case errors.Is(err, io.EOF):
		return badRequest("", "the body is empty: want a JSON object")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return badRequest("", "want a JSON object, got "+typeErr.Value)
		}
		return badRequest(field, fmt.Sprintf("want %s, got %s", jsonTypeName(typeErr.Type.Kind().String()), typeErr.Value))
	case errors.As(err, &syntaxErr):
		return badRequest("", fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, err))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(field, "unknown field")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: the body ends too soon")
	default:
		return badRequest("", err.Error())
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "float64", "int", "int64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice":
		return "a list"
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	}
	return kind
}

// bodyKey checks that a key sent in the body agrees with the one in the URL, which wins.
func bodyKey(verr *models.ValidationError, field string, body *string, url string) {
	if body != nil && *body != url {
		verr.Add(field, fmt.Sprintf("is %q in the body but %q in the URL; leave it out or make them agree", *body, url))
	}
}

// bodyDate reads a "YYYY-MM-DD" string field; "" means none.
func bodyDate(verr *models.ValidationError, field, raw string) models.Date {
	if raw == "" {
		return models.Date{}
	}
	d, err := models.ParseDate(raw)
	if err != nil {
		verr.Add(field, fmt.Sprintf("must be a date as YYYY-MM-DD, got %q", raw))
	}
	return d
}

// merge adds a model's own validation to the request's, so one reply lists every problem.
func merge(verr *models.ValidationError, more *models.ValidationError) error {
	if more != nil {
		verr.Fields = append(verr.Fields, more.Fields...)
	}
	return verr.OrNil()
}

// putStatus is 201 for a created object, 200 for a replaced one.
func putStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// pageReply sends one page of a keyset-paged collection under its plural name.
func pageReply[T any](c echo.Context, name string, items []T, limit int, key func(T) string) error {
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = key(items[limit-1])
	}
	if items == nil {
		items = []T{}
	}
	return c.JSON(http.StatusOK, map[string]any{name: items, "next_cursor": next})
}
