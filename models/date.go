package models

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// DateLayout is how dates travel everywhere: JSON, CSV, forms and SQL.
const DateLayout = "2006-01-02"

// Date is a calendar day in UTC, stored as DATE (PostgreSQL) or 'YYYY-MM-DD' (SQLite).
type Date struct{ t time.Time }

// DateOf truncates a moment to its UTC day.
func DateOf(t time.Time) Date {
	t = t.UTC()
	return Date{time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)}
}

// NewDate builds a Date from its parts.
func NewDate(y int, m time.Month, d int) Date { return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)} }

// Today is the current UTC day.
func Today() Date { return DateOf(time.Now()) }

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(DateLayout, strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD)", s)
	}
	return Date{t}, nil
}

// DateFromEpochDay converts days since 1970-01-01 back to a Date.
func DateFromEpochDay(day int) Date { return Date{time.Unix(int64(day)*86400, 0).UTC()} }

// EpochDay counts days since 1970-01-01, the key of the usage rollups.
func (d Date) EpochDay() int { return int(d.t.Unix() / 86400) }

// Time is midnight UTC of the day.
func (d Date) Time() time.Time { return d.t }

// IsZero reports an unset date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// AddDays moves the date by n days.
func (d Date) AddDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }

// Weekday of the date.
func (d Date) Weekday() time.Weekday { return d.t.Weekday() }

// Before reports d < o.
func (d Date) Before(o Date) bool { return d.t.Before(o.t) }

// After reports d > o.
func (d Date) After(o Date) bool { return d.t.After(o.t) }

// DaysUntil counts days from d to o (negative when o is earlier).
func (d Date) DaysUntil(o Date) int { return o.EpochDay() - d.EpochDay() }

// String is YYYY-MM-DD, or "" for the zero date.
func (d Date) String() string {
	if d.t.IsZero() {
		return ""
	}
	return d.t.Format(DateLayout)
}

// Value stores the date as YYYY-MM-DD text, which both databases compare correctly.
func (d Date) Value() (driver.Value, error) {
	if d.t.IsZero() {
		return nil, nil
	}
	return d.String(), nil
}

// Scan reads DATE columns (time.Time from pgx) and text ones (SQLite).
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = Date{}
	case time.Time:
		*d = DateOf(v)
	case string:
		return d.scanText(v)
	case []byte:
		return d.scanText(string(v))
	default:
		return fmt.Errorf("models: cannot scan %T into Date", src)
	}
	return nil
}

func (d *Date) scanText(s string) error {
	if len(s) >= 10 {
		s = s[:10] // tolerate "YYYY-MM-DD 00:00:00…"
	}
	p, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// MarshalJSON writes "YYYY-MM-DD", or null for the zero date.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON reads "YYYY-MM-DD"; null and "" leave the date unset.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Date{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a date as \"YYYY-MM-DD\"")
	}
	if s == "" {
		*d = Date{}
		return nil
	}
	p, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}
