package metrics

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Goal statuses (SPEC §6).
const (
	GoalAchieved = "achieved"
	GoalOnTrack  = "on_track"
	GoalAtRisk   = "at_risk"
	GoalMissed   = "missed"
)

// GoalStatuses lists the statuses, most urgent first.
var GoalStatuses = []string{GoalAtRisk, GoalOnTrack, GoalMissed, GoalAchieved}

// GoalTrendDays is how far back the trend that paces a goal looks: the metric's own
// recent history, whether or not the goal existed yet, so a new goal is judged by
// what the account has actually been doing.
const GoalTrendDays = 14

// Exposure levels a goal may target as exposure:LEVEL.
var ExposureLevels = []string{"executive", "manager", "individual", "unknown"}

// GoalMetric is a metric a goal can measure: a numeric key of SPEC §5 (not
// licensed_seats: usage cannot improve it), feature_adoption:FEATURE or exposure:LEVEL.
// Every one of them improves upward.
type GoalMetric struct {
	Key     string
	Label   string
	Rate    bool     // a fraction from 0 to 1, shown as a percentage
	Ceiling *float64 // highest reachable value (1 for rates, 100 for the health score)
	Feature string   // for feature_adoption:FEATURE
	Level   string   // for exposure:LEVEL
}

// GoalMetricKeys lists the plain metric keys a goal accepts, besides
// feature_adoption:FEATURE and exposure:LEVEL.
var GoalMetricKeys = []string{"daily_usage_rate", "avg_seconds_per_login", "active_users", "seat_activation",
	"stickiness", "breadth", "departments_active", "health_score"}

var goalMetricLabels = map[string]string{
	"daily_usage_rate": "daily usage rate", "avg_seconds_per_login": "time per login",
	"active_users": "active users", "seat_activation": "seat activation", "stickiness": "stickiness",
	"breadth": "breadth", "departments_active": "active departments", "health_score": "health score",
}

// ParseGoalMetric reads a goal's metric key; the error says what is accepted.
func ParseGoalMetric(key string) (GoalMetric, error) {
	one, hundred := 1.0, 100.0
	key = strings.TrimSpace(key)
	m := GoalMetric{Key: key, Label: goalMetricLabels[key]}
	switch {
	case key == "daily_usage_rate" || key == "seat_activation" || key == "stickiness" || key == "breadth":
		m.Rate, m.Ceiling = true, &one
	case key == "health_score":
		m.Ceiling = &hundred
	case slices.Contains(GoalMetricKeys, key):
	case strings.HasPrefix(key, "feature_adoption:"):
		m.Feature = strings.TrimPrefix(key, "feature_adoption:")
		if m.Feature == "" {
			return m, fmt.Errorf("feature_adoption needs a feature key, as feature_adoption:FEATURE")
		}
		m.Rate, m.Ceiling, m.Label = true, &one, "adoption of "+m.Feature
	case strings.HasPrefix(key, "exposure:"):
		m.Level = strings.TrimPrefix(key, "exposure:")
		if !slices.Contains(ExposureLevels, m.Level) {
			return m, fmt.Errorf("exposure needs a level, one of exposure:%s", strings.Join(ExposureLevels, ", exposure:"))
		}
		m.Label = m.Level + " users active"
	case key == "":
		return m, fmt.Errorf("a metric is required")
	default:
		return m, fmt.Errorf("%q is not a metric Sightline measures; use one of %s, feature_adoption:FEATURE or exposure:LEVEL",
			key, strings.Join(GoalMetricKeys, ", "))
	}
	return m, nil
}

// Value is the metric's value in a result. entitled is false for the adoption of a
// feature the account is not entitled to; value is nil when the metric is null.
func (m GoalMetric) Value(r Result) (value *float64, entitled bool) {
	f := func(v float64) *float64 { return &v }
	switch {
	case m.Feature != "":
		for _, fa := range r.FeatureAdoption {
			if fa.Feature == m.Feature {
				return fa.Rate, true
			}
		}
		return nil, false
	case m.Level != "":
		switch m.Level {
		case "executive":
			return f(float64(r.Exposure.Executive)), true
		case "manager":
			return f(float64(r.Exposure.Manager)), true
		case "individual":
			return f(float64(r.Exposure.Individual)), true
		default:
			return f(float64(r.Exposure.Unknown)), true
		}
	}
	switch m.Key {
	case "daily_usage_rate":
		return r.DailyUsageRate, true
	case "avg_seconds_per_login":
		return r.AvgSecondsPerLogin, true
	case "active_users":
		return f(float64(r.ActiveUsers)), true
	case "seat_activation":
		return r.SeatActivation, true
	case "stickiness":
		return r.Stickiness, true
	case "breadth":
		return r.Breadth, true
	case "departments_active":
		return f(float64(r.DepartmentsActive)), true
	case "health_score":
		return r.Health.Score, true
	}
	return nil, false
}

// NullReason says why the metric has no value, for a refusal to measure it.
func (m GoalMetric) NullReason() string {
	switch {
	case m.Feature != "" || m.Key == "stickiness":
		return "the account had no active users in the last 30 days"
	case m.Key == "daily_usage_rate" || m.Key == "seat_activation":
		return "the account has no licensed seats (user or subscription entitlements) today"
	case m.Key == "breadth":
		return "the account is entitled to no catalog feature today"
	case m.Key == "avg_seconds_per_login":
		return "the account had no logins in the last 30 days"
	case m.Key == "health_score":
		return "no weighted measure of the scorecard has a value for the account"
	}
	return "it has no value for the account yet"
}

// Format shows a value of the metric: rates as percentages, counts as numbers.
func (m GoalMetric) Format(v float64) string {
	if m.Rate {
		p := v * 100
		if math.Abs(p-math.Round(p)) < 0.05 || math.Abs(p) >= 10 {
			return strconv.FormatFloat(p, 'f', 0, 64) + "%"
		}
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// AttainableProblem checks a target against the baseline and the metric's range; ""
// when it is attainable. Every goal metric improves upward, so the target must be
// above the baseline.
func (m GoalMetric) AttainableProblem(target, baseline float64) string {
	switch {
	case math.IsNaN(target) || math.IsInf(target, 0):
		return "target must be a finite number"
	case target < 0:
		return fmt.Sprintf("target %s is below 0; %s cannot be negative", fmtNum(target), m.Key)
	case m.Ceiling != nil && target > *m.Ceiling:
		return fmt.Sprintf("target %s is above the ceiling of %s for %s", fmtNum(target), fmtNum(*m.Ceiling), m.Key)
	case target <= baseline:
		return fmt.Sprintf("target %s does not improve on the baseline of %s: %s improves upward, so the target must be above it",
			fmtNum(target), fmtNum(baseline), m.Key)
	}
	return ""
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// GoalPoint is the goal's metric on one day.
type GoalPoint struct {
	Day   Day
	Value float64
}

// GoalInput is what pacing a goal needs: its metric's path (oldest first; days without
// a value left out), baseline, target and dates.
type GoalInput struct {
	Metric   GoalMetric
	History  []GoalPoint
	Current  *float64 // today's value; nil falls back to the last point of History
	Baseline float64
	Target   float64
	Created  Day
	Due      Day
	Today    Day
}

// GoalPace is a goal's measured state.
type GoalPace struct {
	Status    string
	Current   *float64
	Progress  float64  // (current − baseline) / (target − baseline), clamped to [0, 1]
	Elapsed   float64  // share of the time from creation to due date gone, [0, 1]
	Slope     *float64 // per day, least squares over the trend window; nil without a trend
	Projected *float64 // the trend carried to the due date, within the metric's range
	Sentence  string   // the status explained in one sentence
}

// PaceGoal measures a goal. The rule:
//   - achieved: the current value meets the target;
//   - missed: the due date has passed without that;
//   - otherwise the trend decides: a least-squares line through the metric's points of
//     the last GoalTrendDays days (before the goal's creation too), carried from the
//     current value to the due date. Short of the target → at_risk, else on_track.
//   - a metric without history for a trend (fewer than 3 points) is on_track while the
//     goal's progress keeps up with the share of its time elapsed, else at_risk.
func PaceGoal(in GoalInput) GoalPace {
	var p GoalPace
	p.Current = in.Current
	if p.Current == nil && len(in.History) > 0 {
		v := in.History[len(in.History)-1].Value
		p.Current = &v
	}
	cur := in.Baseline
	if p.Current != nil {
		cur = *p.Current
	}
	if span := in.Target - in.Baseline; span != 0 {
		p.Progress = math.Min(math.Max((cur-in.Baseline)/span, 0), 1)
	} else if cur >= in.Target {
		p.Progress = 1
	}
	if total := float64(in.Due - in.Created); total > 0 {
		p.Elapsed = math.Min(math.Max(float64(in.Today-in.Created)/total, 0), 1)
	} else {
		p.Elapsed = 1
	}
	var trend []GoalPoint
	for _, pt := range in.History {
		if pt.Day > in.Today-GoalTrendDays && pt.Day <= in.Today {
			trend = append(trend, pt)
		}
	}
	if len(trend) >= 3 {
		s := leastSquaresSlope(trend)
		p.Slope = &s
		proj := cur + s*float64(in.Due-in.Today)
		if proj < 0 {
			proj = 0
		}
		if in.Metric.Ceiling != nil && proj > *in.Metric.Ceiling {
			proj = *in.Metric.Ceiling
		}
		p.Projected = &proj
	}
	m, due, target := in.Metric, in.Due.Time().Format("2 Jan 2006"), in.Metric.Format(in.Target)
	switch {
	case p.Current != nil && cur >= in.Target:
		p.Status = GoalAchieved
		p.Sentence = fmt.Sprintf("Achieved: %s against a target of %s.", m.Format(cur), target)
	case in.Today > in.Due:
		p.Status = GoalMissed
		p.Sentence = fmt.Sprintf("Missed: due %s, now at %s against a target of %s.", due, m.Format(cur), target)
	case p.Projected == nil:
		p.Status = GoalOnTrack
		if p.Progress < p.Elapsed {
			p.Status = GoalAtRisk
		}
		p.Sentence = fmt.Sprintf("Too early for a trend: %.0f%% of the way with %.0f%% of the time gone; now %s, target %s by %s.",
			p.Progress*100, p.Elapsed*100, m.Format(cur), target, due)
	default:
		p.Status = GoalOnTrack
		if *p.Projected < in.Target {
			p.Status = GoalAtRisk
		}
		p.Sentence = fmt.Sprintf("At this pace: %s by %s, target %s.", m.Format(*p.Projected), due, target)
	}
	return p
}

// leastSquaresSlope is the slope per day of the least-squares line through the points.
func leastSquaresSlope(pts []GoalPoint) float64 {
	n := float64(len(pts))
	var sx, sy float64
	for _, p := range pts {
		sx += float64(p.Day)
		sy += p.Value
	}
	mx, my := sx/n, sy/n
	var num, den float64
	for _, p := range pts {
		dx := float64(p.Day) - mx
		num += dx * (p.Value - my)
		den += dx * dx
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// GoalFeasibilityDays is how much of the metric's history judges whether a target is
// realistic.
const GoalFeasibilityDays = 90

// Feasibility compares what a target asks with what the account has shown.
type Feasibility struct {
	Current      *float64 // today's value
	TrendPerDay  *float64 // the recent trend (GoalTrendDays), as PaceGoal uses it
	BestPerMonth *float64 // the largest rise over any 30 days of the history
	NeedPerMonth *float64 // the rise a month the target asks for, from today to the due date
	Projected    *float64 // the recent trend carried to the due date
	Warning      string   // set when the target asks far more than the account has ever done
	Sentence     string   // what the numbers say, for the form
}

// FarBeyond is how many times the best month the history shows a target may ask for
// before the form warns.
const FarBeyond = 2.0

// GoalFeasibility judges a target before it is set: the metric now, its recent trend,
// the best 30-day rise of its history (oldest first), and the rise a month the target
// needs by the due date.
func GoalFeasibility(m GoalMetric, history []GoalPoint, target float64, today, due Day) Feasibility {
	var f Feasibility
	if len(history) == 0 {
		f.Sentence = "No history of " + m.Label + " yet: nothing to judge the target by."
		return f
	}
	cur := history[len(history)-1].Value
	f.Current = &cur
	var recent []GoalPoint
	for _, p := range history {
		if p.Day > today-GoalTrendDays {
			recent = append(recent, p)
		}
	}
	if len(recent) >= 3 {
		s := leastSquaresSlope(recent)
		f.TrendPerDay = &s
		proj := math.Max(0, cur+s*float64(due-today))
		if m.Ceiling != nil {
			proj = math.Min(proj, *m.Ceiling)
		}
		f.Projected = &proj
	}
	byDay := map[Day]float64{}
	for _, p := range history {
		byDay[p.Day] = p.Value
	}
	best := math.Inf(-1)
	for _, p := range history {
		if before, ok := byDay[p.Day-30]; ok {
			best = math.Max(best, p.Value-before)
		}
	}
	if !math.IsInf(best, -1) {
		best = math.Max(best, 0)
		f.BestPerMonth = &best
	}
	days := float64(due - today)
	if days > 0 {
		need := (target - cur) / days * 30
		f.NeedPerMonth = &need
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Now %s", m.Format(cur))
	if f.TrendPerDay != nil {
		fmt.Fprintf(&b, ", moving %s a month lately", m.signedChange(*f.TrendPerDay*30))
	}
	if f.BestPerMonth != nil {
		fmt.Fprintf(&b, "; its best 30 days of the last %d rose by %s", GoalFeasibilityDays, m.change(*f.BestPerMonth))
	}
	if f.NeedPerMonth != nil {
		fmt.Fprintf(&b, ". The target needs %s a month until %s", m.signedChange(*f.NeedPerMonth), due.Time().Format("2 Jan 2006"))
	}
	b.WriteString(".")
	f.Sentence = b.String()
	if f.NeedPerMonth != nil && f.BestPerMonth != nil && *f.NeedPerMonth > 0 {
		limit := math.Max(*f.BestPerMonth*FarBeyond, m.smallestStep())
		if *f.NeedPerMonth > limit {
			f.Warning = fmt.Sprintf("Far beyond anything this account has shown: %s a month, against a best of %s in the last %d days. Consider a nearer target or a later date.",
				m.signedChange(*f.NeedPerMonth), m.change(*f.BestPerMonth), GoalFeasibilityDays)
		}
	}
	return f
}

// change writes a rise of the metric: points for rates ("12 points"), else the unit.
func (m GoalMetric) change(d float64) string {
	if m.Rate {
		return strconv.FormatFloat(math.Round(d*1000)/10, 'f', -1, 64) + " points"
	}
	return m.Format(d)
}

func (m GoalMetric) signedChange(d float64) string {
	if d >= 0 {
		return "+" + m.change(d)
	}
	return "−" + m.change(-d)
}

// smallestStep is a rise too small to warn about whatever the history (a point of a
// rate, one of a count).
func (m GoalMetric) smallestStep() float64 {
	if m.Rate {
		return 0.01
	}
	return 1
}

// ParseTarget reads a target as people type it: a number, or for a rate a percentage
// ("70%", or "70" where a fraction above 1 cannot be meant).
func (m GoalMetric) ParseTarget(raw string) (float64, error) {
	s := strings.TrimSpace(raw)
	pct := strings.HasSuffix(s, "%")
	s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", raw)
	}
	if m.Rate && (pct || v > 1) {
		v /= 100
	}
	return v, nil
}
