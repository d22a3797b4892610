package models

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// The kinds of object that travel as CSV (SPEC §4).
const (
	KindAccounts     = "accounts"
	KindFeatures     = "features"
	KindEntitlements = "entitlements"
	KindRenewals     = "renewals"
)

// ImportKinds lists every CSV kind, in the order an empty deployment loads them.
var ImportKinds = []string{KindAccounts, KindFeatures, KindEntitlements, KindRenewals}

// ValidImportKind reports a known CSV kind.
func ValidImportKind(kind string) bool { return oneOf(kind, ImportKinds) }

// CSVColumns are the columns of each kind, in the order exports write them. They are
// the JSON field names plus key (and account for entitlements).
var CSVColumns = map[string][]string{
	KindAccounts:     {"key", "name", "arr", "renewal_on", "lifecycle_stage", "segment", "csm_email"},
	KindFeatures:     {"key", "name", "product", "event_names", "key_feature"},
	KindEntitlements: {"account", "key", "product", "features", "model", "quantity", "unit", "unit_price", "starts_on", "ends_on"},
	KindRenewals:     {"account", "key", "due_on", "arr_before", "outcome", "arr_after", "closed_on", "note"},
}

// MaxImportErrors caps the error report of one import: past it, more lines add nothing a
// person can act on.
const MaxImportErrors = 1000

// listSeparator joins list fields (features, event_names) inside one CSV cell.
const listSeparator = "|"

// ImportBatch is a parsed, validated CSV file: one slice filled, by kind, and the
// source line of each row (the header is line 1).
type ImportBatch struct {
	Kind         string
	Accounts     []Account
	Features     []Feature
	Entitlements []Entitlement
	Renewals     []Renewal
	Lines        []int
}

// Len counts the rows of the batch.
func (b *ImportBatch) Len() int { return len(b.Lines) }

// importErrors collects problems by line, up to MaxImportErrors.
type importErrors struct{ verr ValidationError }

func (ie *importErrors) add(line int, field, message string) {
	if len(ie.verr.Fields) == MaxImportErrors {
		ie.verr.Fields = append(ie.verr.Fields, FieldError{Line: line, Field: "", Message: fmt.Sprintf("more than %d problems; fix these and import again", MaxImportErrors)})
	}
	if len(ie.verr.Fields) > MaxImportErrors {
		return
	}
	ie.verr.Fields = append(ie.verr.Fields, FieldError{Line: line, Field: field, Message: message})
}

func (ie *importErrors) full() bool { return len(ie.verr.Fields) > MaxImportErrors }

func (ie *importErrors) addAll(line int, v *ValidationError) {
	if v == nil {
		return
	}
	for _, f := range v.Fields {
		ie.add(line, f.Field, f.Message)
	}
}

func (ie *importErrors) orNil() error {
	if len(ie.verr.Fields) == 0 {
		return nil
	}
	ie.verr.Message = fmt.Sprintf("import refused, nothing written: %d problem(s)", len(ie.verr.Fields))
	if ie.full() {
		ie.verr.Message = fmt.Sprintf("import refused, nothing written: more than %d problems", MaxImportErrors)
	}
	return &ie.verr
}

// ParseImportCSV reads and validates a whole CSV file of one kind without touching a
// database. Problems come back as one *ValidationError whose fields carry line
// numbers; a read failure (e.g. a body over its size limit) comes back as it is.
func ParseImportCSV(kind string, r io.Reader) (*ImportBatch, error) {
	b, ie, err := parseImportCSV(kind, r)
	if err != nil {
		return nil, err
	}
	if err := ie.orNil(); err != nil {
		return nil, err
	}
	return b, nil
}

// parseImportCSV is ParseImportCSV that also returns the rows it could read when
// some are refused, so the importer can report database problems alongside.
func parseImportCSV(kind string, r io.Reader) (*ImportBatch, *importErrors, error) {
	columns, ok := CSVColumns[kind]
	if !ok {
		return nil, nil, &ValidationError{Message: "invalid import", Fields: []FieldError{{Field: "kind", Message: "must be one of " + strings.Join(ImportKinds, ", ")}}}
	}
	var ie importErrors
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // we report short and long rows ourselves, by line
	cr.ReuseRecord = true

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		ie.add(1, "", "the file is empty: want a header row naming the columns ("+strings.Join(columns, ", ")+")")
		return nil, &ie, nil
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			ie.add(pe.StartLine, "", "not valid CSV: "+pe.Err.Error())
			return nil, &ie, nil
		}
		return nil, &ie, fmt.Errorf("store: unable to read CSV: %w", err)
	}
	index := map[string]int{}
	for i, name := range header {
		name = strings.TrimSpace(name)
		if i == 0 {
			name = strings.TrimPrefix(name, "\uFEFF") // spreadsheets write a byte-order mark
		}
		switch {
		case !oneOf(name, columns):
			ie.add(1, name, "unknown column; want some of "+strings.Join(columns, ", "))
		case index[name] != 0:
			ie.add(1, name, "column appears twice")
		default:
			index[name] = i + 1 // 0 means absent
		}
	}
	if index["key"] == 0 {
		ie.add(1, "key", "column is required")
	}
	if (kind == KindEntitlements || kind == KindRenewals) && index["account"] == 0 {
		ie.add(1, "account", "column is required")
	}
	if ie.orNil() != nil {
		return nil, &ie, nil
	}

	b := &ImportBatch{Kind: kind}
	seen := map[string]int{} // key (account/key for entitlements and renewals) → first line
	for !ie.full() {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				ie.add(pe.StartLine, "", "not valid CSV: "+pe.Err.Error())
				return nil, &ie, nil // the reader cannot resynchronise reliably
			}
			return nil, &ie, fmt.Errorf("store: unable to read CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(record) != len(header) {
			ie.add(line, "", fmt.Sprintf("has %d cells, the header has %d", len(record), len(header)))
			continue
		}
		if len(record) == 1 && strings.TrimSpace(record[0]) == "" {
			continue // a blank line in a one-column file
		}
		cell := func(name string) string {
			if i := index[name]; i > 0 {
				return strings.TrimSpace(record[i-1])
			}
			return ""
		}
		rowErr := &ValidationError{}
		var dupKey string
		switch kind {
		case KindAccounts:
			a := Account{Key: cell("key"), Name: cell("name"), LifecycleStage: cell("lifecycle_stage"),
				Segment: cell("segment"), CSMEmail: cell("csm_email")}
			a.ARR = parseNumberCell(rowErr, "arr", cell("arr"))
			a.RenewalOn = parseDateCell(rowErr, "renewal_on", cell("renewal_on"))
			rowErr.Fields = append(rowErr.Fields, a.Validate().Fields...)
			b.Accounts = append(b.Accounts, a)
			dupKey = a.Key
		case KindFeatures:
			f := Feature{Key: cell("key"), Name: cell("name"), Product: cell("product"), EventNames: splitList(cell("event_names"))}
			f.KeyFeature = parseBoolCell(rowErr, "key_feature", cell("key_feature"))
			rowErr.Fields = append(rowErr.Fields, f.Validate().Fields...)
			b.Features = append(b.Features, f)
			dupKey = f.Key
		case KindEntitlements:
			e := Entitlement{Account: cell("account"), Key: cell("key"), Product: cell("product"),
				Features: splitList(cell("features")), Model: cell("model"), Unit: cell("unit")}
			e.Quantity = parseNumberCell(rowErr, "quantity", cell("quantity"))
			e.UnitPrice = parseNumberCell(rowErr, "unit_price", cell("unit_price"))
			e.StartsOn = parseDateCell(rowErr, "starts_on", cell("starts_on"))
			e.EndsOn = parseDateCell(rowErr, "ends_on", cell("ends_on"))
			if !ValidKey(e.Account) {
				rowErr.Add("account", keyRule)
			}
			rowErr.Fields = append(rowErr.Fields, e.Validate().Fields...)
			b.Entitlements = append(b.Entitlements, e)
			dupKey = e.Account + "\x00" + e.Key
		case KindRenewals:
			r := Renewal{Account: cell("account"), Key: cell("key"), Outcome: cell("outcome"), Note: cell("note")}
			r.DueOn = parseDateCell(rowErr, "due_on", cell("due_on"))
			r.ARRBefore = parseNumberCell(rowErr, "arr_before", cell("arr_before"))
			if v := cell("arr_after"); v != "" {
				after := parseNumberCell(rowErr, "arr_after", v)
				r.ARRAfter = &after
			}
			if v := cell("closed_on"); v != "" {
				closed := parseDateCell(rowErr, "closed_on", v)
				r.ClosedOn = &closed
			}
			if !ValidKey(r.Account) {
				rowErr.Add("account", keyRule)
			}
			if len(rowErr.Fields) == 0 { // a bad cell would be reported twice
				rowErr.Fields = append(rowErr.Fields, r.Validate().Fields...)
			}
			b.Renewals = append(b.Renewals, r)
			dupKey = r.Account + "\x00" + r.Key
		}
		b.Lines = append(b.Lines, line)
		ie.addAll(line, rowErr)
		if first, dup := seen[dupKey]; dup {
			ie.add(line, "key", fmt.Sprintf("repeats line %d; each key may appear once", first))
		} else {
			seen[dupKey] = line
		}
	}
	return b, &ie, nil
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	parts := strings.Split(s, listSeparator)
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func parseNumberCell(verr *ValidationError, field, s string) float64 {
	if s == "" {
		return 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		verr.Add(field, fmt.Sprintf("must be a number, got %q", s))
		return 0
	}
	return v
}

func parseDateCell(verr *ValidationError, field, s string) Date {
	if s == "" {
		return Date{}
	}
	d, err := ParseDate(s)
	if err != nil {
		verr.Add(field, fmt.Sprintf("must be a date as YYYY-MM-DD, got %q", s))
	}
	return d
}

func parseBoolCell(verr *ValidationError, field, s string) bool {
	switch strings.ToLower(s) {
	case "", "false":
		return false
	case "true":
		return true
	}
	verr.Add(field, fmt.Sprintf("must be true or false, got %q", s))
	return false
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// WriteAccountsCSV writes accounts in the import format, sorted by key.
func WriteAccountsCSV(w io.Writer, as []Account) error {
	sort.SliceStable(as, func(i, j int) bool { return as[i].Key < as[j].Key })
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVColumns[KindAccounts])
	for _, a := range as {
		_ = cw.Write([]string{a.Key, a.Name, formatNumber(a.ARR), a.RenewalOn.String(), a.LifecycleStage, a.Segment, a.CSMEmail})
	}
	cw.Flush()
	return cw.Error()
}

// WriteFeaturesCSV writes features in the import format, sorted by key.
func WriteFeaturesCSV(w io.Writer, fs []Feature) error {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Key < fs[j].Key })
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVColumns[KindFeatures])
	for _, f := range fs {
		names := append([]string(nil), f.EventNames...)
		sort.Strings(names)
		_ = cw.Write([]string{f.Key, f.Name, f.Product, strings.Join(names, listSeparator), strconv.FormatBool(f.KeyFeature)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteEntitlementsCSV writes entitlements in the import format, sorted by account and key.
func WriteEntitlementsCSV(w io.Writer, es []Entitlement) error {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Account != es[j].Account {
			return es[i].Account < es[j].Account
		}
		return es[i].Key < es[j].Key
	})
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVColumns[KindEntitlements])
	for _, e := range es {
		feats := append([]string(nil), e.Features...)
		sort.Strings(feats)
		_ = cw.Write([]string{e.Account, e.Key, e.Product, strings.Join(feats, listSeparator), e.Model,
			formatNumber(e.Quantity), e.Unit, formatNumber(e.UnitPrice), e.StartsOn.String(), e.EndsOn.String()})
	}
	cw.Flush()
	return cw.Error()
}

// WriteRenewalsCSV writes renewals in the import format, sorted by account, due date and key.
func WriteRenewalsCSV(w io.Writer, rs []Renewal) error {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Account != rs[j].Account {
			return rs[i].Account < rs[j].Account
		}
		if rs[i].DueOn != rs[j].DueOn {
			return rs[i].DueOn.Before(rs[j].DueOn)
		}
		return rs[i].Key < rs[j].Key
	})
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVColumns[KindRenewals])
	for _, r := range rs {
		after, closed := "", ""
		if r.ARRAfter != nil {
			after = formatNumber(*r.ARRAfter)
		}
		if r.ClosedOn != nil {
			closed = r.ClosedOn.String()
		}
		_ = cw.Write([]string{r.Account, r.Key, r.DueOn.String(), formatNumber(r.ARRBefore), r.Outcome, after, closed, r.Note})
	}
	cw.Flush()
	return cw.Error()
}
