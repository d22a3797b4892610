package views

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/a-h/templ"

	"sightline/metrics"
	"sightline/models"
)

// ChartWindows are the spans the account page's charts can show, in days.
var ChartWindows = []int{30, 60, 90}

// DefaultChartWindow is the charts' span when the URL names none.
const DefaultChartWindow = 90

// healthFigures renders figures once per health view and chart window, and keeps the
// HTML with the view: they are drawn from the view alone, which never changes once
// made (the store keeps it until its inputs change), and they are most of the account
// page's HTML and of its rendering time. They see only the view, the day and the
// window, and render without the request's context, so nothing of one viewer's can be
// kept and shown to another.
func healthFigures(v AccountView) templ.Component {
	if v.Health == nil {
		return figures(v)
	}
	own := AccountView{AsOf: v.AsOf, Window: v.Window, Health: v.Health}
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		html, err := v.Health.Memo(figuresKey{v.AsOf, v.Window}, func() (any, error) {
			var b bytes.Buffer
			err := figures(own).Render(context.Background(), &b)
			return b.Bytes(), err
		})
		if err != nil {
			return err
		}
		_, err = w.Write(html.([]byte))
		return err
	})
}

type figuresKey struct {
	asOf   models.Date
	window int
}

// positionRow is one entitlement with its position on the page's day (nil when the
// entitlement is not active then).
type positionRow struct {
	models.Entitlement
	Position *metrics.Position
}

// positionRows merges the entitlement list (terms of all of them) with the positions
// the health result gives for those active on the day.
func positionRows(v AccountView) []positionRow {
	byKey := map[string]*metrics.Position{}
	if v.Health != nil {
		for i := range v.Health.Health.Entitlements {
			p := &v.Health.Health.Entitlements[i]
			byKey[p.Key] = p
		}
	}
	rows := make([]positionRow, 0, len(v.Health.Entitlements))
	for _, e := range v.Health.Entitlements {
		rows = append(rows, positionRow{Entitlement: e, Position: byKey[e.Key]})
	}
	return rows
}

func statusBadge(status string) string {
	switch status {
	case metrics.StatusOverused:
		return "badge red"
	case metrics.StatusUnderused:
		return "badge yellow"
	case metrics.StatusHealthy:
		return "badge green"
	}
	return "badge"
}

func colorBadge(color string) string {
	if color == "" {
		return "badge"
	}
	return "badge " + color
}

// colorWord is the colour as text, so it never rests on colour alone.
func colorWord(color string) string {
	if color == "" {
		return "no score"
	}
	return color
}

// score formats a 0–100 score as a whole number; nil is "—".
func score(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(math.Round(*v), 'f', 0, 64)
}

// points formats a contribution with one decimal; nil is "—".
func points(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(*v, 'f', 1, 64)
}

// measureValue shows a measure as the explanation words it: rates in percent,
// executive exposure as a count.
func measureValue(key string, v *float64) string {
	if v == nil {
		return "—"
	}
	if key == metrics.MeasureExecutiveExposure {
		return number(*v)
	}
	return percent(v)
}

// barGeometry lays a fraction out on a 0–100 bar drawn in SVG (attributes, which the
// Content-Security-Policy allows, unlike inline styles). Above 1 the scale stretches
// to the value and a line marks 100%, so 150% reads as half again past the limit.
func barGeometry(v *float64) (fill, limit string, over bool) {
	if v == nil {
		return "0", "", false
	}
	x := math.Max(0, *v)
	if x <= 1 {
		return fmt.Sprintf("%.1f", x*100), "", false
	}
	return "100", fmt.Sprintf("%.1f", 100/x), true
}

func share(n, of int) *float64 {
	if of == 0 {
		return nil
	}
	v := float64(n) / float64(of)
	return &v
}

// trendWord compares the score with the one days earlier: up, down or flat, with an
// arrow and the points, e.g. "↑ up 4 points".
type trend struct {
	Arrow, Word, Text string
}

func scoreTrend(from, to *float64) trend {
	if from == nil || to == nil {
		return trend{Arrow: "·", Word: "none", Text: "no earlier score"}
	}
	d := *to - *from
	switch {
	case d >= 1:
		return trend{"↑", "up", "up " + metrics.FormatPoints(d)[1:]}
	case d <= -1:
		return trend{"↓", "down", "down " + metrics.FormatPoints(d)[len("−"):]}
	}
	return trend{"→", "flat", "steady"}
}

// windowPoints are the trend's last days of the chosen window.
func windowPoints(v AccountView) []metrics.Point {
	if v.Health == nil {
		return nil
	}
	t := v.Health.Trend
	return t[max(0, len(t)-v.Window):]
}

func windowHistory(v AccountView) []models.HealthSnapshot {
	if v.Health == nil {
		return nil
	}
	from := v.AsOf.AddDays(-(v.Window - 1))
	var out []models.HealthSnapshot
	for _, h := range v.Health.History {
		if !h.Day.Before(from) {
			out = append(out, h)
		}
	}
	return out
}

type chartSeries struct {
	Label  string     `json:"label"`
	Data   []*float64 `json:"data"`
	Target bool       `json:"target,omitempty"`
	Color  string     `json:"color,omitempty"`
}

type chartSpec struct {
	Type    string        `json:"type"`
	Labels  []string      `json:"labels"`
	Series  []chartSeries `json:"series"`
	Percent bool          `json:"percent,omitempty"`
	Max     float64       `json:"max,omitempty"`
}

func chartJSON(c chartSpec) string {
	b, err := json.Marshal(c)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// hasBasis tells a day whose 30-day window lies wholly after usage began: the charts
// leave the others out rather than draw a ramp up from nothing.
func hasBasis(v AccountView, day string) bool {
	if v.Health == nil || v.Health.DataSince == nil {
		return false
	}
	d, err := models.ParseDate(day)
	return err == nil && !d.AddDays(-(metrics.WindowDays - 1)).Before(*v.Health.DataSince)
}

// basisNote says which days the charts leave out, if any.
func basisNote(v AccountView) string {
	if v.Health == nil || v.Health.DataSince == nil {
		return "No usage yet: nothing to chart."
	}
	first := v.Health.DataSince.AddDays(metrics.WindowDays - 1)
	if first.After(v.AsOf.AddDays(-(v.Window - 1))) {
		return "Usage began on " + date(*v.Health.DataSince) + ": days before " + date(first) + " have no full 30-day window and are left out."
	}
	return ""
}

func orNil(ok bool, v *float64) *float64 {
	if !ok {
		return nil
	}
	return v
}

// usageChart is the daily usage rate over the window against its target (dashed).
func usageChart(v AccountView) string {
	pts := windowPoints(v)
	c := chartSpec{Type: "line", Percent: true, Max: 1}
	target := v.Health.Config.Measures[metrics.MeasureDailyUsageRate].Target
	rate := chartSeries{Label: "Daily usage rate"}
	goal := chartSeries{Label: "Target " + percent(&target), Target: true}
	for _, p := range pts {
		c.Labels = append(c.Labels, p.Day)
		rate.Data = append(rate.Data, orNil(hasBasis(v, p.Day), p.DailyUsageRate))
		goal.Data = append(goal.Data, &target)
	}
	c.Series = []chartSeries{rate, goal}
	return chartJSON(c)
}

// loginTimeChart is the average minutes per login over the window.
func loginTimeChart(v AccountView) string {
	c := chartSpec{Type: "line"}
	s := chartSeries{Label: "Minutes per login"}
	for _, p := range windowPoints(v) {
		c.Labels = append(c.Labels, p.Day)
		s.Data = append(s.Data, orNil(hasBasis(v, p.Day), minutes(p.AvgSecondsPerLogin)))
	}
	c.Series = []chartSeries{s}
	return chartJSON(c)
}

// scoreChart is the stored daily health score over the window.
func scoreChart(v AccountView) string {
	c := chartSpec{Type: "line", Max: 100}
	s := chartSeries{Label: "Health score"}
	for _, h := range windowHistory(v) {
		c.Labels = append(c.Labels, h.Day.String())
		s.Data = append(s.Data, orNil(hasBasis(v, h.Day.String()), h.Score))
	}
	c.Series = []chartSeries{s}
	return chartJSON(c)
}

func minutes(seconds *float64) *float64 {
	if seconds == nil {
		return nil
	}
	m := math.Round(*seconds/60*10) / 10
	return &m
}

func minutesText(seconds *float64) string {
	m := minutes(seconds)
	if m == nil {
		return "—"
	}
	return strconv.FormatFloat(*m, 'f', 1, 64)
}

// levelRow is one level of exposure.
type levelRow struct {
	Level     string
	Users     int
	Executive bool
}

func exposureRows(e metrics.Exposure) []levelRow {
	return []levelRow{
		{"executive", e.Executive, true},
		{"manager", e.Manager, false},
		{"individual", e.Individual, false},
		{"unknown", e.Unknown, false},
	}
}

func departmentName(d string) string {
	if d == "" {
		return "no department"
	}
	return d
}

func daysText(n int) string {
	if n == 1 {
		return "1 day"
	}
	return itoa(n) + " days"
}
