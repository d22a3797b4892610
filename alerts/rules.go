// Package alerts decides when an account needs someone to act (SPEC §8): the rules
// are plain functions from an account's figures to the conditions that hold, each
// worded as one sentence with the numbers. Storing, de-duplicating and notifying are
// elsewhere (models, jobs); this package only judges.
package alerts

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"sightline/metrics"
)

// Kinds of alert (SPEC §8).
const (
	KindConsumption   = "consumption"
	KindUnderuse      = "underuse"
	KindHealthDrop    = "health_drop"
	KindRenewalRisk   = "renewal_risk"
	KindGoalAtRisk    = "goal_at_risk"
	KindGoneDark      = "gone_dark"
	KindExecutiveLost = "executive_lost"
)

// Kinds lists every kind in the order pages show them.
var Kinds = []string{KindConsumption, KindUnderuse, KindHealthDrop, KindRenewalRisk, KindGoalAtRisk, KindGoneDark, KindExecutiveLost}

// KindLabels words each kind for people.
var KindLabels = map[string]string{
	KindConsumption:   "Consumption",
	KindUnderuse:      "Underuse",
	KindHealthDrop:    "Health drop",
	KindRenewalRisk:   "Renewal risk",
	KindGoalAtRisk:    "Goal at risk",
	KindGoneDark:      "Gone dark",
	KindExecutiveLost: "Executive lost",
}

// Severities, mildest first.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Severities lists them mildest first.
var Severities = []string{SeverityInfo, SeverityWarning, SeverityCritical}

// Threshold is one consumption level and the severity of reaching it.
type Threshold struct {
	At       float64 `json:"at"`
	Severity string  `json:"severity"`
}

// Rules are the admin's settings of each kind; every number can be changed and every
// kind turned off.
type Rules struct {
	Consumption struct {
		Enabled    bool        `json:"enabled"`
		Thresholds []Threshold `json:"thresholds"` // ascending
	} `json:"consumption"`
	Underuse struct {
		Enabled bool `json:"enabled"`
		MinDays int  `json:"min_days"` // days since the entitlement started
	} `json:"underuse"`
	HealthDrop struct {
		Enabled bool    `json:"enabled"`
		Points  float64 `json:"points"`
		Days    int     `json:"days"`
	} `json:"health_drop"`
	RenewalRisk struct {
		Enabled bool `json:"enabled"`
		Days    int  `json:"days"`
	} `json:"renewal_risk"`
	GoalAtRisk struct {
		Enabled bool `json:"enabled"`
	} `json:"goal_at_risk"`
	GoneDark struct {
		Enabled      bool `json:"enabled"`
		QuietDays    int  `json:"quiet_days"`    // no usage in the last QuietDays days …
		LookbackDays int  `json:"lookback_days"` // … though the LookbackDays up to today had some
	} `json:"gone_dark"`
	ExecutiveLost struct {
		Enabled bool `json:"enabled"`
		Days    int  `json:"days"`
	} `json:"executive_lost"`
}

// DefaultRules are SPEC §8's defaults.
func DefaultRules() Rules {
	var r Rules
	r.Consumption.Enabled = true
	r.Consumption.Thresholds = []Threshold{{0.8, SeverityInfo}, {1.0, SeverityWarning}, {1.2, SeverityCritical}}
	r.Underuse.Enabled, r.Underuse.MinDays = true, 30
	r.HealthDrop.Enabled, r.HealthDrop.Points, r.HealthDrop.Days = true, 15, 7
	r.RenewalRisk.Enabled, r.RenewalRisk.Days = true, 90
	r.GoalAtRisk.Enabled = true
	r.GoneDark.Enabled, r.GoneDark.QuietDays, r.GoneDark.LookbackDays = true, 7, 30
	r.ExecutiveLost.Enabled, r.ExecutiveLost.Days = true, 7
	return r
}

// Enabled tells whether a kind is on.
func (r Rules) Enabled(kind string) bool {
	switch kind {
	case KindConsumption:
		return r.Consumption.Enabled
	case KindUnderuse:
		return r.Underuse.Enabled
	case KindHealthDrop:
		return r.HealthDrop.Enabled
	case KindRenewalRisk:
		return r.RenewalRisk.Enabled
	case KindGoalAtRisk:
		return r.GoalAtRisk.Enabled
	case KindGoneDark:
		return r.GoneDark.Enabled
	case KindExecutiveLost:
		return r.ExecutiveLost.Enabled
	}
	return false
}

// Problem is one invalid setting: its field and why.
type Problem struct{ Field, Message string }

// Validate lists what is wrong with the rules, by field.
func (r Rules) Validate() []Problem {
	var ps []Problem
	add := func(field, msg string) { ps = append(ps, Problem{field, msg}) }
	if len(r.Consumption.Thresholds) == 0 && r.Consumption.Enabled {
		add("consumption.thresholds", "needs at least one threshold (or turn the kind off)")
	}
	for i, t := range r.Consumption.Thresholds {
		f := fmt.Sprintf("consumption.thresholds[%d]", i)
		if !(t.At > 0) || t.At > 100 || math.IsInf(t.At, 0) {
			add(f, "must be a utilization above 0, e.g. 0.8 for 80%")
		}
		if !slices.Contains(Severities, t.Severity) {
			add(f, "severity must be info, warning or critical")
		}
		if i > 0 && t.At <= r.Consumption.Thresholds[i-1].At {
			add(f, "thresholds must rise, each above the one before")
		}
	}
	days := func(field string, n, lo, hi int) {
		if n < lo || n > hi {
			add(field, fmt.Sprintf("must be between %d and %d days", lo, hi))
		}
	}
	days("underuse.min_days", r.Underuse.MinDays, 0, 3650)
	if !(r.HealthDrop.Points > 0 && r.HealthDrop.Points <= 100) {
		add("health_drop.points", "must be between 0 and 100 points")
	}
	days("health_drop.days", r.HealthDrop.Days, 1, 90)
	days("renewal_risk.days", r.RenewalRisk.Days, 1, 730)
	days("gone_dark.quiet_days", r.GoneDark.QuietDays, 1, 90)
	days("gone_dark.lookback_days", r.GoneDark.LookbackDays, r.GoneDark.QuietDays+1, 365)
	days("executive_lost.days", r.ExecutiveLost.Days, 1, 90)
	return ps
}

// Goal is an open goal's measured status.
type Goal struct {
	ID       int64
	Title    string
	Metric   string
	Status   string // metrics.GoalAtRisk, GoalMissed, …
	Current  *float64
	Target   float64
	DueOn    string
	Sentence string
}

// Input is one account's figures as of a day.
type Input struct {
	Account string
	ARR     float64
	AsOf    metrics.Day
	// Health returns the account's SPEC §5 result as of a day (AsOf, or days before it).
	Health       func(day metrics.Day) metrics.Result
	Entitlements []metrics.Entitlement // for their terms
	RenewalOn    metrics.Day           // 0: none
	Goals        []Goal                // open goals only
	// UsageMessages counts the account's usage messages (track and page) from one day to another.
	UsageMessages func(from, to metrics.Day) int
	// UnderusedBelow is the scorecard's underuse line, for the wording.
	UnderusedBelow float64
}

// Condition is one thing that holds at an account and needs someone to act.
type Condition struct {
	Kind      string
	Subject   string
	Threshold *float64
	Severity  string
	Message   string
	Term      string         // consumption: the entitlement's term, once per which it opens
	Evidence  map[string]any // the numbers behind the message
}

// Conditions applies every enabled rule to an account.
func Conditions(in Input, r Rules) []Condition {
	var out []Condition
	now := in.Health(in.AsOf)
	terms := map[string]metrics.Entitlement{}
	for _, e := range in.Entitlements {
		terms[e.Key] = e
	}
	for _, p := range now.Entitlements {
		if p.Utilization == nil {
			continue
		}
		u := *p.Utilization
		if r.Consumption.Enabled {
			if t, ok := reached(u, r.Consumption.Thresholds); ok {
				at := t.At
				e := terms[p.Key]
				out = append(out, Condition{
					Kind: KindConsumption, Subject: p.Key, Threshold: &at, Severity: t.Severity,
					Message: consumptionMessage(p), Term: termOf(e),
					Evidence: map[string]any{"consumed": p.Consumed, "quantity": p.Quantity, "utilization": round(u, 4),
						"model": p.Model, "leakage": round(p.Leakage, 2), "threshold": at},
				})
			}
		}
		if r.Underuse.Enabled && p.Status == metrics.StatusUnderused {
			e := terms[p.Key]
			age := -1
			if e.StartsOn != 0 {
				age = int(in.AsOf - e.StartsOn)
			}
			if e.StartsOn == 0 || age >= r.Underuse.MinDays {
				out = append(out, Condition{
					Kind: KindUnderuse, Subject: p.Key, Severity: SeverityInfo,
					Message: underuseMessage(p, age, in.UnderusedBelow),
					Evidence: map[string]any{"consumed": p.Consumed, "quantity": p.Quantity, "utilization": round(u, 4),
						"model": p.Model, "days_since_start": nullIf(age < 0, age), "unused_value": round(unusedValue(p), 2)},
				})
			}
		}
	}
	if r.HealthDrop.Enabled {
		before := in.Health(in.AsOf - metrics.Day(r.HealthDrop.Days))
		if c, ok := healthDrop(now.Health, before.Health, r.HealthDrop.Points, r.HealthDrop.Days, in.ARR); ok {
			out = append(out, c)
		}
	}
	if r.RenewalRisk.Enabled && in.RenewalOn != 0 {
		days := int(in.RenewalOn - in.AsOf)
		if days >= 0 && days <= r.RenewalRisk.Days && now.Health.Color != "green" {
			sev := SeverityWarning
			if now.Health.Color != "yellow" {
				sev = SeverityCritical // red, or no score at all
			}
			out = append(out, Condition{Kind: KindRenewalRisk, Severity: sev,
				Message: renewalMessage(days, in.RenewalOn, now.Health, in.ARR),
				Evidence: map[string]any{"renewal_on": in.RenewalOn.String(), "days_to_renewal": days,
					"score": roundPtr(now.Health.Score, 1), "color": now.Health.Color, "arr": in.ARR}})
		}
	}
	if r.GoalAtRisk.Enabled {
		for _, g := range in.Goals {
			if g.Status != metrics.GoalAtRisk && g.Status != metrics.GoalMissed {
				continue
			}
			sev := SeverityWarning
			if g.Status == metrics.GoalMissed {
				sev = SeverityCritical
			}
			out = append(out, Condition{Kind: KindGoalAtRisk, Subject: strconv.FormatInt(g.ID, 10), Severity: sev,
				Message: goalMessage(g),
				Evidence: map[string]any{"goal": g.ID, "status": g.Status, "current": g.Current, "target": g.Target,
					"due_on": g.DueOn, "metric": g.Metric}})
		}
	}
	if r.GoneDark.Enabled && in.UsageMessages != nil {
		quietFrom := in.AsOf - metrics.Day(r.GoneDark.QuietDays-1)
		recent := in.UsageMessages(quietFrom, in.AsOf)
		earlier := in.UsageMessages(in.AsOf-metrics.Day(r.GoneDark.LookbackDays-1), quietFrom-1)
		if recent == 0 && earlier > 0 {
			out = append(out, Condition{Kind: KindGoneDark, Severity: SeverityWarning,
				Message: fmt.Sprintf("No usage in the last %d days, after %s usage messages in the %d days before%s",
					r.GoneDark.QuietDays, thousands(float64(earlier)), r.GoneDark.LookbackDays-r.GoneDark.QuietDays, arrClause(in.ARR)),
				Evidence: map[string]any{"messages_recent": recent, "messages_before": earlier,
					"quiet_days": r.GoneDark.QuietDays, "arr": in.ARR}})
		}
	}
	if r.ExecutiveLost.Enabled {
		before := in.Health(in.AsOf - metrics.Day(r.ExecutiveLost.Days))
		if now.Exposure.Executive == 0 && before.Exposure.Executive >= 1 {
			out = append(out, Condition{Kind: KindExecutiveLost, Severity: SeverityWarning,
				Message: fmt.Sprintf("No executive active in the last %d days, down from %d %d days ago%s",
					now.WindowDays, before.Exposure.Executive, r.ExecutiveLost.Days, arrClause(in.ARR)),
				Evidence: map[string]any{"executives": 0, "executives_before": before.Exposure.Executive,
					"days": r.ExecutiveLost.Days}})
		}
	}
	return out
}

// reached is the highest threshold the utilization has reached: one live alert per
// entitlement says where it stands, rather than one per level passed.
func reached(u float64, ts []Threshold) (Threshold, bool) {
	var best Threshold
	ok := false
	for _, t := range ts {
		// A hair of tolerance: 0.8 of a quantity must count as reaching 0.8.
		if u+1e-9 >= t.At && (!ok || t.At > best.At) {
			best, ok = t, true
		}
	}
	return best, ok
}

func termOf(e metrics.Entitlement) string {
	if e.StartsOn == 0 {
		return ""
	}
	return e.StartsOn.String()
}

// healthDrop holds when the score fell by points or more, or the colour got worse.
func healthDrop(now, before metrics.Health, points float64, days int, arr float64) (Condition, bool) {
	if now.Score == nil || before.Score == nil {
		return Condition{}, false
	}
	drop := *before.Score - *now.Score
	worse := colorRank(now.Color) > colorRank(before.Color)
	if drop+1e-9 < points && !worse {
		return Condition{}, false
	}
	sev := SeverityWarning
	if now.Color == "red" {
		sev = SeverityCritical
	}
	msg := fmt.Sprintf("Health fell from %s to %s in %d days", fmtScore(*before.Score), fmtScore(*now.Score), days)
	if now.Color != before.Color {
		msg += fmt.Sprintf(" (%s → %s)", before.Color, now.Color)
	}
	return Condition{Kind: KindHealthDrop, Severity: sev, Message: msg + arrClause(arr),
		Evidence: map[string]any{"score": round(*now.Score, 1), "score_before": round(*before.Score, 1),
			"color": now.Color, "color_before": before.Color, "days": days, "arr": arr}}, true
}

func colorRank(c string) int {
	switch c {
	case "green":
		return 0
	case "yellow":
		return 1
	case "red":
		return 2
	}
	return -1 // no score: not worse than anything
}

// unitWord names what an entitlement counts, by model.
// consumptionMessage: "insights-seats: 6 of 4 seats in use (150%), $830 not billed".
func consumptionMessage(p metrics.Position) string {
	msg := fmt.Sprintf("%s: %s of %s %s %s (%s)", p.Key, thousands(p.Consumed), thousands(p.Quantity), unitWord(p), inUse(p), percent(*p.Utilization))
	if p.Leakage > 0 {
		return msg + ", " + money(p.Leakage) + " not billed"
	}
	if *p.Utilization < 1 {
		return msg + ", nearing the limit"
	}
	return msg + ", at the limit"
}

func underuseMessage(p metrics.Position, age int, below float64) string {
	msg := fmt.Sprintf("%s: %s of %s %s %s (%s)", p.Key, thousands(p.Consumed), thousands(p.Quantity), unitWord(p), inUse(p), percent(*p.Utilization))
	if age >= 0 {
		msg += fmt.Sprintf(" %d days into the term", age)
	}
	if below > 0 {
		msg += ", under the " + percent(below) + " underuse line"
	}
	if v := unusedValue(p); v > 0 {
		msg += "; " + money(v) + " of it paid for and unused"
	}
	return msg
}

// unusedValue is what the unused part of an entitlement costs at its unit price.
func unusedValue(p metrics.Position) float64 {
	return math.Max(0, p.Quantity-p.Consumed) * p.UnitPrice
}

func renewalMessage(days int, on metrics.Day, h metrics.Health, arr float64) string {
	when := fmt.Sprintf("in %d days", days)
	switch days {
	case 0:
		when = "today"
	case 1:
		when = "tomorrow"
	}
	health := "no health score (no usage data)"
	if h.Score != nil {
		health = fmt.Sprintf("health %s (%s)", fmtScore(*h.Score), h.Color)
	}
	msg := fmt.Sprintf("Renews %s (%s) with %s", when, on.String(), health)
	if arr > 0 {
		msg += "; " + money(arr) + " ARR at stake"
	}
	return msg
}

func goalMessage(g Goal) string {
	verb := "is at risk"
	if g.Status == metrics.GoalMissed {
		verb = "was missed"
	}
	current := "no current value"
	if g.Current != nil {
		current = "now " + trimFloat(*g.Current)
	}
	return fmt.Sprintf("Goal “%s” %s: %s %s, target %s, due %s", g.Title, verb, g.Metric, current, trimFloat(g.Target), g.DueOn)
}

func arrClause(arr float64) string {
	if arr <= 0 {
		return ""
	}
	return "; ARR " + money(arr)
}

func nullIf(null bool, v any) any {
	if null {
		return nil
	}
	return v
}

func roundPtr(v *float64, places int) any {
	if v == nil {
		return nil
	}
	return round(*v, places)
}

func fmtScore(s float64) string { return strconv.FormatFloat(math.Round(s), 'f', 0, 64) }

func trimFloat(v float64) string { return strconv.FormatFloat(round(v, 3), 'f', -1, 64) }

// The wording of numbers is shared with metrics' recommendations.
var (
	unitWord  = metrics.UnitWord
	inUse     = metrics.InUse
	round     = metrics.Round
	percent   = metrics.Percent
	money     = metrics.Money
	thousands = metrics.Thousands
)
