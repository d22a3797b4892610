package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Movement is how one measure moved between an earlier day and now.
type Movement struct {
	Key   string   `json:"key"`
	Label string   `json:"label"`
	From  *float64 `json:"from"`
	To    *float64 `json:"to"`
	// Points is the change of the measure's contribution to the score (a measure
	// without a value contributes 0).
	Points float64 `json:"points"`
	Text   string  `json:"text"`
}

// Explanation says what moved the health score over some days.
type Explanation struct {
	Days      int        `json:"days"`
	Since     string     `json:"since"`
	FromScore *float64   `json:"from_score"`
	ToScore   *float64   `json:"to_score"`
	Summary   string     `json:"summary"`
	Movements []Movement `json:"movements"` // largest change first; unchanged measures left out
}

// Explain compares the result of a day with one computed days earlier.
func Explain(now, then Result, days int) Explanation {
	e := Explanation{Days: days, Since: then.AsOf, FromScore: then.Health.Score, ToScore: now.Health.Score, Movements: []Movement{}}
	e.Summary = DescribeScore(e.FromScore, e.ToScore, days)
	for _, k := range MeasureKeys {
		a, b := then.Measure(k), now.Measure(k)
		if a == nil || b == nil {
			continue
		}
		m := Movement{Key: k, Label: MeasureLabels[k], From: a.Value, To: b.Value,
			Points: deref(b.Contribution) - deref(a.Contribution)}
		if sameValue(m.From, m.To) && math.Abs(m.Points) < 0.05 {
			continue
		}
		m.Text = DescribeMovement(m)
		e.Movements = append(e.Movements, m)
	}
	slices.SortStableFunc(e.Movements, func(x, y Movement) int {
		return cmp.Compare(math.Abs(y.Points), math.Abs(x.Points))
	})
	return e
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func sameValue(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) < 1e-9
}

// DescribeMovement words a movement: "daily usage rate fell from 64% to 41%: −9 points".
func DescribeMovement(m Movement) string {
	label := m.Label
	if label == "" {
		label = MeasureLabels[m.Key]
	}
	var what string
	switch {
	case m.From == nil && m.To == nil:
		what = label + " is not measured"
	case m.From == nil:
		what = fmt.Sprintf("%s is now measured at %s", label, formatMeasure(m.Key, *m.To))
	case m.To == nil:
		what = fmt.Sprintf("%s is no longer measured (was %s)", label, formatMeasure(m.Key, *m.From))
	case sameValue(m.From, m.To):
		what = fmt.Sprintf("%s held at %s", label, formatMeasure(m.Key, *m.To))
	case formatMeasure(m.Key, *m.From) == formatMeasure(m.Key, *m.To):
		verb := "edged up"
		if *m.To < *m.From {
			verb = "edged down"
		}
		what = fmt.Sprintf("%s %s to %s", label, verb, formatMeasure(m.Key, *m.To))
	default:
		verb := "rose"
		if *m.To < *m.From {
			verb = "fell"
		}
		what = fmt.Sprintf("%s %s from %s to %s", label, verb, formatMeasure(m.Key, *m.From), formatMeasure(m.Key, *m.To))
	}
	return what + ": " + FormatPoints(m.Points)
}

// DescribeScore words the score's change: "health score fell from 72 to 58 in 30 days".
func DescribeScore(from, to *float64, days int) string {
	span := fmt.Sprintf("in %d days", days)
	switch {
	case from == nil && to == nil:
		return "no health score " + span
	case from == nil:
		return fmt.Sprintf("health score is %s; there was none %d days ago", formatScore(*to), days)
	case to == nil:
		return fmt.Sprintf("health score was %s %d days ago; there is none now", formatScore(*from), days)
	}
	f, t := formatScore(*from), formatScore(*to)
	switch {
	case f == t:
		return fmt.Sprintf("health score held at %s %s", t, span)
	case *to > *from:
		return fmt.Sprintf("health score rose from %s to %s %s", f, t, span)
	}
	return fmt.Sprintf("health score fell from %s to %s %s", f, t, span)
}

func formatScore(v float64) string { return fmt.Sprintf("%.0f", v) }

// formatMeasure shows a rate as a whole percent and executive exposure as a count.
func formatMeasure(key string, v float64) string {
	if key == MeasureExecutiveExposure {
		if v == 1 {
			return "1 active executive"
		}
		return fmt.Sprintf("%g active executives", v)
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

// FormatPoints shows a change of score points with its sign: "+3 points", "−9 points",
// "−0.4 points"; whole points from 1 up, one decimal below.
func FormatPoints(p float64) string {
	abs := math.Abs(p)
	var s string
	if math.Round(abs) >= 1 {
		s = fmt.Sprintf("%.0f", abs)
	} else {
		s = strings.TrimSuffix(fmt.Sprintf("%.1f", abs), ".0")
	}
	unit := " points"
	if s == "1" {
		unit = " point"
	}
	switch {
	case s == "0":
		return "±0 points"
	case p < 0:
		return "−" + s + unit
	}
	return "+" + s + unit
}
