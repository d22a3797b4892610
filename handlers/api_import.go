package handlers

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/models"
)

// maxImportBytes bounds one CSV import (a book of ~500,000 entitlements fits).
const maxImportBytes = 64 << 20

// importKind reads the {kind} parameter: accounts, features or entitlements.
func importKind(c echo.Context) (string, error) {
	kind := c.Param("kind")
	if !models.ValidImportKind(kind) {
		return "", echo.NewHTTPError(http.StatusNotFound, "unknown kind "+fmt.Sprintf("%q", kind)+": want one of "+strings.Join(models.ImportKinds, ", "))
	}
	return kind, nil
}

// importCSV runs one import and turns an oversized body into 413.
func (s *server) importCSV(c echo.Context, kind string, body io.Reader) (models.ImportResult, error) {
	res, err := s.store.ImportCSV(c.Request().Context(), kind, body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return res, echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than %d MB", maxImportBytes>>20))
	}
	return res, err
}

// apiImport is POST /api/v1/import/{kind}: a text/csv body, all rows or none.
func (s *server) apiImport(c echo.Context) error {
	kind, err := importKind(c)
	if err != nil {
		return err
	}
	if ct := c.Request().Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		if mt != "text/csv" && mt != "application/csv" && mt != "text/plain" {
			return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send the file as Content-Type: text/csv")
		}
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, maxImportBytes)
	res, err := s.importCSV(c, kind, body)
	if err != nil {
		return err
	}
	s.log.Info("csv imported", "kind", kind, "rows", res.Rows)
	return c.JSON(http.StatusOK, res)
}
