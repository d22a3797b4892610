package metrics

import (
	"math"
	"strconv"
	"strings"
)

// Numbers as the sentences people read put them (alerts, recommendations).

// UnitWord names what a position counts: seats, devices, or its unit.
func UnitWord(p Position) string {
	switch p.Model {
	case "user", "subscription", "perpetual":
		return "seats"
	case "device":
		return "devices"
	case "concurrent":
		return "concurrent seats"
	}
	if p.Unit != "" {
		return p.Unit
	}
	return "units"
}

// InUse says how a position's consumption is counted.
func InUse(p Position) string {
	switch p.Model {
	case "metered", "usage", "outcome":
		return "used this term"
	case "concurrent":
		return "in use at the busiest hour"
	}
	return "in use"
}

// Round rounds to a number of decimal places.
func Round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// Percent writes a fraction as a whole percentage: 0.456 → "46%".
func Percent(u float64) string { return strconv.FormatFloat(math.Round(u*100), 'f', 0, 64) + "%" }

// Money is whole dollars with thousands separators: $12,340 (−$500 when negative).
func Money(v float64) string {
	if v < 0 {
		return "−$" + Thousands(math.Round(-v))
	}
	return "$" + Thousands(math.Round(v))
}

// Thousands writes a number with separators, keeping up to two decimals.
func Thousands(v float64) string {
	neg := v < 0
	v = math.Abs(v)
	whole := math.Floor(v)
	frac := Round(v-whole, 2)
	if frac >= 1 {
		whole, frac = whole+1, 0
	}
	s := strconv.FormatFloat(whole, 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if frac > 0 {
		out += strings.TrimPrefix(strconv.FormatFloat(frac, 'f', -1, 64), "0")
	}
	if neg {
		out = "-" + out
	}
	return out
}
