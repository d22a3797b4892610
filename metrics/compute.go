package metrics

import (
	"math"
	"slices"
	"strings"
)

// Entitlement models and the statuses of a position.
const (
	StatusOverused  = "overused"
	StatusUnderused = "underused"
	StatusHealthy   = "healthy"
)

// Exposure counts active users per level.
type Exposure struct {
	Executive  int `json:"executive"`
	Manager    int `json:"manager"`
	Individual int `json:"individual"`
	Unknown    int `json:"unknown"`
}

// FeatureAdoption is one entitled feature's users in the window and their share of active users.
type FeatureAdoption struct {
	Feature string   `json:"feature"`
	Users   int      `json:"users"`
	Rate    *float64 `json:"rate"`
}

// Position is an entitlement active on the day: what was bought against what is consumed.
type Position struct {
	Key         string   `json:"key"`
	Model       string   `json:"model"`
	Quantity    float64  `json:"quantity"`
	Consumed    float64  `json:"consumed"`
	Utilization *float64 `json:"utilization"`
	Status      string   `json:"status"`
	Leakage     float64  `json:"leakage"`
	Product     string   `json:"product"`
	Unit        string   `json:"unit"`
	UnitPrice   float64  `json:"unit_price"`
}

// Measure is one input of the health score.
type Measure struct {
	Key    string   `json:"key"`
	Label  string   `json:"label"`
	Value  *float64 `json:"value"`
	Target float64  `json:"target"`
	Score  *float64 `json:"score"`  // min(value/target, 1) × 100; null when the value is
	Weight float64  `json:"weight"` // as configured
	// Contribution is the points this measure adds to the score: its share of the
	// weights of the measures that have a value, times its score (null when dropped).
	Contribution *float64 `json:"contribution"`
}

// Health is the score, its colour and the measures behind it.
type Health struct {
	Score    *float64  `json:"score"` // null only when no weighted measure has a value
	Color    string    `json:"color"` // green, yellow, red; "" without a score
	Measures []Measure `json:"measures"`
}

// Result is SPEC §5's health document for one account and day.
type Result struct {
	Account            string            `json:"account"`
	AsOf               string            `json:"as_of"`
	WindowDays         int               `json:"window_days"`
	LicensedSeats      float64           `json:"licensed_seats"`
	DailyUsageRate     *float64          `json:"daily_usage_rate"`
	AvgSecondsPerLogin *float64          `json:"avg_seconds_per_login"`
	ActiveUsers        int               `json:"active_users"`
	SeatActivation     *float64          `json:"seat_activation"`
	Stickiness         *float64          `json:"stickiness"`
	Breadth            *float64          `json:"breadth"`
	DepartmentsActive  int               `json:"departments_active"`
	Exposure           Exposure          `json:"exposure"`
	FeatureAdoption    []FeatureAdoption `json:"feature_adoption"`
	Entitlements       []Position        `json:"entitlements"`
	Health             Health            `json:"health"`
}

// Measure returns the named measure of the score, or nil.
func (r *Result) Measure(key string) *Measure {
	for i := range r.Health.Measures {
		if r.Health.Measures[i].Key == key {
			return &r.Health.Measures[i]
		}
	}
	return nil
}

// Prepared is an account's inputs indexed by day, so computing many days (a backfill,
// a trend) costs each day's window only.
type Prepared struct {
	in       Inputs
	byKey    []Entitlement // in.Entitlements sorted by key, once
	users    map[int64]User
	active   map[Day]map[int64]uint32 // day → user → hours mask
	events   map[Day][]EventDay
	devices  map[Day][]DeviceDay
	byEvent  map[string][]int // event name → indexes in in.Catalog
	catalog  map[string]int   // feature key → index in in.Catalog
	products map[string]bool  // products with ≥1 catalog feature
}

// Prepare indexes the inputs of one account.
func Prepare(in Inputs) *Prepared {
	p := &Prepared{
		in:       in,
		users:    make(map[int64]User, len(in.Users)),
		active:   map[Day]map[int64]uint32{},
		byEvent:  map[string][]int{},
		catalog:  map[string]int{},
		products: map[string]bool{},
	}
	p.byKey = slices.Clone(in.Entitlements)
	slices.SortFunc(p.byKey, func(a, b Entitlement) int { return strings.Compare(a.Key, b.Key) })
	for _, u := range in.Users {
		p.users[u.ID] = u
	}
	for _, a := range in.Activity {
		if a.Messages <= 0 {
			continue
		}
		day := p.active[a.Day]
		if day == nil {
			day = map[int64]uint32{}
			p.active[a.Day] = day
		}
		day[a.User] |= a.HoursMask // duplicate rows merge: a user counts once a day
	}
	p.events = groupByDay(in.Events, func(e EventDay) Day { return e.Day },
		func(e EventDay) bool { return e.Events > 0 || e.DurationSeconds != 0 })
	p.devices = groupByDay(in.Devices, func(d DeviceDay) Day { return d.Day }, func(DeviceDay) bool { return true })
	for i, f := range in.Catalog {
		p.catalog[f.Key] = i
		p.products[f.Product] = true
		for _, n := range f.EventNames {
			p.byEvent[n] = append(p.byEvent[n], i)
		}
	}
	return p
}

// groupByDay groups the rows that keep accepts by day, each day's in their order, in
// one backing array: appending day by day cost more allocation than the rest of a
// page view's computation. Rows span a window of days, so days index plain slices.
func groupByDay[T any](rows []T, day func(T) Day, keep func(T) bool) map[Day][]T {
	first, last, n := Day(0), Day(-1), 0
	for _, r := range rows {
		if keep(r) {
			d := day(r)
			if n == 0 || d < first {
				first = d
			}
			last = max(last, d)
			n++
		}
	}
	if n == 0 {
		return map[Day][]T{}
	}
	next := make([]int, int(last-first)+2) // rows before each day, then where its next row goes
	for _, r := range rows {
		if keep(r) {
			next[day(r)-first+1]++
		}
	}
	days := 0
	for i := 1; i < len(next); i++ {
		if next[i] > 0 {
			days++
		}
		next[i] += next[i-1]
	}
	out := make(map[Day][]T, days)
	all := make([]T, n)
	for _, r := range rows {
		if keep(r) {
			i := day(r) - first
			all[next[i]] = r
			next[i]++
		}
	}
	start := 0
	for i, end := range next[:len(next)-1] {
		if end > start {
			out[first+Day(i)] = all[start:end:end]
		}
		start = end
	}
	return out
}

// Compute returns the metrics of one account as of a day.
func Compute(in Inputs, asOf Day, cfg Config) Result {
	return Prepare(in).Compute(asOf, cfg)
}

type userSet map[int64]struct{}

func (s userSet) add(u int64) { s[u] = struct{}{} }

// ratio is n/d, or nil when d is 0.
func ratio(n, d float64) *float64 {
	if d == 0 {
		return nil
	}
	v := n / d
	return &v
}

func isOneOf(s string, list []string) bool { return slices.Contains(list, s) }

// activeEntitlements are those active on the day, by key.
func (p *Prepared) activeEntitlements(day Day) []Entitlement {
	var es []Entitlement
	for _, e := range p.byKey {
		if e.ActiveOn(day) {
			es = append(es, e)
		}
	}
	return es
}

// seatsOn sums user and subscription quantities of the entitlements active on the day,
// in key order, without building their list: the trend asks for every day of 90.
func (p *Prepared) seatsOn(day Day) float64 {
	seats := 0.0
	for _, e := range p.byKey {
		if e.ActiveOn(day) {
			seats += seatQuantity(e)
		}
	}
	return seats
}

// seatQuantity is what an entitlement adds to licensed seats.
func seatQuantity(e Entitlement) float64 {
	if e.Model == "user" || e.Model == "subscription" {
		return e.Quantity
	}
	return 0
}

// entitledFeatures are the feature keys the active entitlements grant, sorted.
func (p *Prepared) entitledFeatures(es []Entitlement) []string {
	set := map[string]bool{}
	for _, e := range es {
		if len(e.Features) == 0 {
			for _, f := range p.in.Catalog {
				if f.Product == e.Product {
					set[f.Key] = true
				}
			}
			continue
		}
		for _, k := range e.Features {
			set[k] = true
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Compute returns the metrics as of a day, from the window's rows only.
func (p *Prepared) Compute(asOf Day, cfg Config) Result {
	cfg = cfg.WithDefaults()
	first := asOf - WindowDays + 1
	es := p.activeEntitlements(asOf)
	r := Result{
		Account:         p.in.Account,
		AsOf:            asOf.String(),
		WindowDays:      WindowDays,
		LicensedSeats:   p.seatsOn(asOf),
		FeatureAdoption: []FeatureAdoption{},
		Entitlements:    []Position{},
	}

	active := userSet{}
	dailyActiveSum, loginRateSum, weekdays := 0, 0.0, 0
	logins, sessionSeconds := 0, 0.0
	featureUsers := map[int]userSet{}
	productUsers := map[string]userSet{}
	devices := map[string]struct{}{}
	for day := first; day <= asOf; day++ {
		for u := range p.active[day] {
			active.add(u)
		}
		dailyActiveSum += len(p.active[day])
		loginUsers := userSet{}
		for _, e := range p.events[day] {
			if isOneOf(e.Name, cfg.LoginEvents) && e.Events > 0 {
				loginUsers.add(e.User)
				logins += e.Events
			}
			if isOneOf(e.Name, cfg.SessionEvents) {
				sessionSeconds += e.DurationSeconds
			}
			if e.Events <= 0 {
				continue
			}
			for _, fi := range p.byEvent[e.Name] {
				if featureUsers[fi] == nil {
					featureUsers[fi] = userSet{}
				}
				featureUsers[fi].add(e.User)
				prod := p.in.Catalog[fi].Product
				if productUsers[prod] == nil {
					productUsers[prod] = userSet{}
				}
				productUsers[prod].add(e.User)
			}
		}
		if wd := day.Weekday(); wd >= 1 && wd <= 5 { // Monday … Friday
			weekdays++
			if r.LicensedSeats > 0 {
				loginRateSum += float64(len(loginUsers)) / r.LicensedSeats
			}
		}
		for _, d := range p.devices[day] {
			devices[d.DeviceID] = struct{}{}
		}
	}

	r.ActiveUsers = len(active)
	if r.LicensedSeats > 0 && weekdays > 0 {
		v := loginRateSum / float64(weekdays)
		r.DailyUsageRate = &v
	}
	r.AvgSecondsPerLogin = ratio(sessionSeconds, float64(logins))
	r.SeatActivation = ratio(float64(r.ActiveUsers), r.LicensedSeats)
	if r.ActiveUsers > 0 {
		r.Stickiness = ratio(float64(dailyActiveSum)/WindowDays, float64(r.ActiveUsers))
	}

	departments := map[string]bool{}
	for u := range active {
		user := p.users[u]
		if d := strings.TrimSpace(user.Department); d != "" {
			departments[d] = true
		}
		switch strings.ToLower(strings.TrimSpace(user.Level)) {
		case "executive":
			r.Exposure.Executive++
		case "manager":
			r.Exposure.Manager++
		case "individual":
			r.Exposure.Individual++
		default:
			r.Exposure.Unknown++
		}
	}
	r.DepartmentsActive = len(departments)

	entitled := p.entitledFeatures(es)
	used := 0
	for _, key := range entitled {
		n := 0
		if fi, ok := p.catalog[key]; ok {
			n = len(featureUsers[fi])
		}
		if n > 0 {
			used++
		}
		r.FeatureAdoption = append(r.FeatureAdoption, FeatureAdoption{Feature: key, Users: n, Rate: ratio(float64(n), float64(r.ActiveUsers))})
	}
	r.Breadth = ratio(float64(used), float64(len(entitled)))

	for _, e := range es {
		pos := Position{Key: e.Key, Model: e.Model, Quantity: e.Quantity, Product: e.Product, Unit: e.Unit, UnitPrice: e.UnitPrice}
		switch e.Model {
		case "user", "subscription", "perpetual":
			if p.products[e.Product] {
				pos.Consumed = float64(len(productUsers[e.Product]))
			} else {
				pos.Consumed = float64(r.ActiveUsers)
			}
		case "device":
			pos.Consumed = float64(len(devices))
		case "concurrent":
			pos.Consumed = float64(p.PeakConcurrent(asOf))
		case "metered", "usage", "outcome":
			pos.Consumed = p.metered(e, asOf)
		}
		pos.Utilization = ratio(pos.Consumed, pos.Quantity)
		pos.Status = status(pos, cfg.UnderusedBelow)
		pos.Leakage = max(0, pos.Consumed-pos.Quantity) * pos.UnitPrice
		r.Entitlements = append(r.Entitlements, pos)
	}

	r.Health = score(r, cfg)
	return r
}

// metered sums the entitlement's meter (its unit) from its start to the day, not over W.
func (p *Prepared) metered(e Entitlement, asOf Day) float64 {
	sum := 0.0
	for _, m := range p.in.Meters {
		if m.Meter == e.Unit && m.Day <= asOf && (e.StartsOn == 0 || m.Day >= e.StartsOn) {
			sum += m.Quantity
		}
	}
	return sum
}

// status is overused above 1, underused below the threshold, else healthy. With a
// quantity of 0 (utilization null) any consumption is overuse, none is healthy.
func status(pos Position, underusedBelow float64) string {
	switch {
	case pos.Utilization == nil && pos.Consumed > 0:
		return StatusOverused
	case pos.Utilization == nil:
		return StatusHealthy
	case *pos.Utilization > 1.0:
		return StatusOverused
	case *pos.Utilization < underusedBelow:
		return StatusUnderused
	}
	return StatusHealthy
}

// MeasureValue is a measure's value in a result (nil when null).
func MeasureValue(r Result, key string) *float64 {
	switch key {
	case MeasureDailyUsageRate:
		return r.DailyUsageRate
	case MeasureSeatActivation:
		return r.SeatActivation
	case MeasureBreadth:
		return r.Breadth
	case MeasureStickiness:
		return r.Stickiness
	case MeasureExecutiveExposure:
		v := float64(r.Exposure.Executive)
		return &v
	}
	return nil
}

// ScoreResult scores a result's measure values under cfg (score below).
func ScoreResult(r Result, cfg Config) Health { return score(r, cfg) }

// score is the weighted mean of the measure scores; null measures drop out and the
// remaining weights renormalise.
func score(r Result, cfg Config) Health {
	h := Health{Measures: make([]Measure, 0, len(MeasureKeys))}
	totalWeight := 0.0
	for _, k := range MeasureKeys {
		mc := cfg.Measures[k]
		m := Measure{Key: k, Label: MeasureLabels[k], Value: MeasureValue(r, k), Target: mc.Target, Weight: mc.Weight}
		if m.Value != nil && mc.Target > 0 {
			s := math.Min(*m.Value/mc.Target, 1) * 100
			m.Score = &s
			totalWeight += mc.Weight
		}
		h.Measures = append(h.Measures, m)
	}
	if totalWeight <= 0 {
		return h
	}
	total := 0.0
	for i := range h.Measures {
		m := &h.Measures[i]
		if m.Score == nil {
			continue
		}
		c := m.Weight / totalWeight * *m.Score
		m.Contribution = &c
		total += c
	}
	h.Score = &total
	h.Color = Color(total, cfg)
	return h
}

// Color is green at or above GreenAt, yellow at or above YellowAt, else red.
func Color(score float64, cfg Config) string {
	switch {
	case score >= cfg.GreenAt:
		return "green"
	case score >= cfg.YellowAt:
		return "yellow"
	}
	return "red"
}
