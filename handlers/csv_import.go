package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"sightline/models"
	"sightline/views"
)

// csvImport is POST /settings/import/{kind}: an uploaded file, all rows or none; a
// refusal lists every problem by line so the admin can fix the file and upload again.
func (s *server) csvImport(c echo.Context) error {
	kind, err := importKind(c)
	if err != nil {
		return err
	}
	v := views.ImportView{Kind: kind, Columns: models.CSVColumns[kind]}
	status := http.StatusOK
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxImportBytes+1<<20)
	fh, err := c.FormFile("file")
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "the file is larger than 64 MB")
	case err != nil:
		status, v.Error = http.StatusUnprocessableEntity, "Choose a CSV file to upload."
	default:
		f, err := fh.Open()
		if err != nil {
			return err
		}
		defer f.Close()
		res, err := s.importCSV(c, kind, f)
		var verr *models.ValidationError
		switch {
		case errors.As(err, &verr):
			status, v.Problems = http.StatusUnprocessableEntity, verr.Fields
		case err != nil:
			return err
		default:
			v.Imported = &res
			s.log.Info("csv imported", "kind", kind, "rows", res.Rows, "by", currentMember(c).Email)
		}
	}
	page := views.DataView{}
	for _, k := range models.ImportKinds {
		iv := views.ImportView{Kind: k, Columns: models.CSVColumns[k]}
		if k == kind {
			iv = v
		}
		page.Imports = append(page.Imports, iv)
	}
	return render(c, status, views.DataPage(page), views.ImportPanel(v))
}
