package views

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"sightline/models"
)

// money formats an amount as $1,234,567 (cents only when they matter).
func money(v float64) string {
	neg := v < 0
	v = math.Abs(v)
	whole := int64(v)
	cents := int64(math.Round((v - float64(whole)) * 100))
	if cents == 100 {
		whole, cents = whole+1, 0
	}
	s := groupThousands(whole)
	if whole < 1000 && cents != 0 {
		s += fmt.Sprintf(".%02d", cents)
	}
	if neg {
		return "−$" + s
	}
	return "$" + s
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// number formats a quantity without needless decimals.
func number(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return groupThousands(int64(v))
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// percent formats a fraction (0.71) as "71%"; nil is "—".
func percent(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(*v*100, 'f', 0, 64) + "%"
}

// date formats a day as "20 Nov 2026"; the zero day is "—".
func date(d models.Date) string {
	if d.IsZero() {
		return "—"
	}
	return d.Time().Format("2 Jan 2006")
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

// moment formats a time as every page does: "20 Nov 2026 14:05 UTC".
func moment(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04") + " UTC" }

// momentSeconds is moment to the second, where seconds tell messages apart.
func momentSeconds(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04:05") + " UTC" }

// boolCurrent marks the current choice of a set of links (aria-current="page").
func boolCurrent(current bool) string {
	if current {
		return "page"
	}
	return ""
}
