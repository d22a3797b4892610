package metrics

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// D is a Sunday: W = D-29 (Saturday) … D holds 10 weekend days and 20 weekdays.
var D = DayOf(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))

func hours(hs ...int) uint32 {
	var m uint32
	for _, h := range hs {
		m |= 1 << h
	}
	return m
}

func f(v float64) *float64 { return &v }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func checkPtr(t *testing.T, name string, got, want *float64) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", name, show(got), show(want))
	case !near(*got, *want):
		t.Errorf("%s = %v, want %v", name, *got, *want)
	}
}

func show(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

// fixture is the hand-designed account whose every number is worked out in TestCompute.
func fixture() Inputs {
	return Inputs{
		Account: "acme",
		Users: []User{
			{ID: 1, Department: "Sales", Level: "executive"},
			{ID: 2, Department: "Sales", Level: "manager"},
			{ID: 3, Department: "Ops", Level: "individual"},
			{ID: 4, Department: "", Level: "boss"}, // counts as unknown
			{ID: 5, Department: "Legal", Level: "executive"},
		},
		Activity: []Activity{
			{1, D - 3, 4, hours(9, 10)}, // Thursday
			{1, D - 2, 3, hours(9)},     // Friday
			{1, D - 1, 1, hours(22)},    // Saturday
			{2, D - 2, 2, hours(9, 14)},
			{3, D - 10, 2, hours(9)}, // Thursday
			{4, D, 1, hours(0)},      // Sunday, a page view
			{4, D - 29, 1, hours(9)}, // first day of W
			{5, D - 30, 3, hours(9)}, // outside W: user 5 is not active
			{5, D + 1, 3, hours(9)},  // after D: ignored
		},
		Events: []EventDay{
			{1, D - 3, "Signed In", 2, 0},
			{1, D - 2, "Signed In", 1, 0},
			{1, D - 1, "Signed In", 1, 0}, // weekend: counts as a login, not in the daily rate
			{2, D - 2, "Signed In", 1, 0},
			{3, D - 10, "Signed In", 1, 0},
			{5, D - 30, "Signed In", 1, 0}, // outside W
			{1, D - 2, "Session Ended", 1, 600},
			{2, D - 2, "Session Ended", 1, 300},
			{3, D - 10, "Session Ended", 1, 300},
			{5, D - 30, "Session Ended", 1, 1000}, // outside W
			{1, D - 3, "Report Run", 1, 0},
			{1, D - 2, "X Used", 1, 0},
			{1, D - 2, "Y Used", 1, 0}, // addon-y: not entitled, still a use of product addon
			{2, D - 2, "Dash Opened", 1, 0},
			{3, D - 10, "Report Run", 2, 0},
			{5, D - 30, "Alert Created", 1, 0}, // outside W
		},
		Meters: []MeterDay{
			{1, D - 45, "api_calls", 999}, // before the entitlement starts
			{1, D - 35, "api_calls", 700}, // outside W but inside the term: counts
			{2, D - 2, "api_calls", 500},
			{1, D + 1, "api_calls", 100}, // after D
			{2, D - 2, "other", 50},
			{2, D - 5, "gb", 3.5},
		},
		Devices: []DeviceDay{
			{1, D - 2, "d1"}, {1, D - 3, "d1"}, {2, D - 2, "d2"},
			{3, D - 40, "d3"}, // outside W
		},
		Entitlements: []Entitlement{
			{Key: "seats", Product: "core", Model: "user", Quantity: 8, UnitPrice: 100, StartsOn: D - 100},
			{Key: "sub", Product: "addon", Features: []string{"addon-x"}, Model: "subscription", Quantity: 2},
			{Key: "old", Product: "core", Model: "user", Quantity: 50, StartsOn: D - 400, EndsOn: D - 1},
			{Key: "future", Product: "core", Model: "subscription", Quantity: 20, StartsOn: D + 1},
			{Key: "ends-today", Product: "core", Features: []string{"alerts"}, Model: "device", Quantity: 4, EndsOn: D},
			{Key: "conc", Product: "core", Model: "concurrent", Quantity: 2, UnitPrice: 50},
			{Key: "meter", Product: "core", Model: "metered", Unit: "api_calls", Quantity: 1000, UnitPrice: 0.5, StartsOn: D - 40},
			{Key: "usage-gb", Product: "core", Model: "usage", Unit: "gb", Quantity: 0, UnitPrice: 2},
			{Key: "perp", Product: "legacy", Model: "perpetual", Quantity: 10},
		},
		Catalog: []Feature{
			{Key: "reports", Product: "core", EventNames: []string{"Report Run"}},
			{Key: "dash", Product: "core", EventNames: []string{"Dashboard Viewed", "Dash Opened"}},
			{Key: "alerts", Product: "core", EventNames: []string{"Alert Created"}},
			{Key: "addon-x", Product: "addon", EventNames: []string{"X Used"}},
			{Key: "addon-y", Product: "addon", EventNames: []string{"Y Used"}},
		},
	}
}

func TestCompute(t *testing.T) {
	r := Compute(fixture(), D, DefaultConfig())
	if r.Account != "acme" || r.AsOf != "2026-11-22" || r.WindowDays != 30 {
		t.Errorf("header %q %q %d", r.Account, r.AsOf, r.WindowDays)
	}
	// Seats: user 8 + subscription 2; "old" ended yesterday, "future" starts tomorrow.
	if r.LicensedSeats != 10 {
		t.Errorf("licensed_seats = %v, want 10", r.LicensedSeats)
	}
	// Weekday login users: Fri D-2 {1,2}, Thu D-3 {1}, Thu D-10 {3} = 4 over 20
	// weekdays = 0.2 a day, / 10 seats = 0.02. Saturday's login does not count.
	checkPtr(t, "daily_usage_rate", r.DailyUsageRate, f(0.02))
	// Logins in W: 2+1+1 (user 1) + 1 + 1 = 6; session seconds 600+300+300 = 1200.
	checkPtr(t, "avg_seconds_per_login", r.AvgSecondsPerLogin, f(200))
	// Users 1–4 active in W; user 5 only before and after it.
	if r.ActiveUsers != 4 {
		t.Errorf("active_users = %d, want 4", r.ActiveUsers)
	}
	checkPtr(t, "seat_activation", r.SeatActivation, f(0.4))
	// Daily actives: D-29:1, D-10:1, D-3:1, D-2:2, D-1:1, D:1 = 7; 7/30 / 4.
	checkPtr(t, "stickiness", r.Stickiness, f(7.0/120))
	// Entitled: core's every feature (seats, conc, …) + addon-x = addon-x, alerts, dash,
	// reports; used: addon-x, dash, reports.
	checkPtr(t, "breadth", r.Breadth, f(0.75))
	if r.DepartmentsActive != 2 {
		t.Errorf("departments_active = %d, want 2 (Sales, Ops)", r.DepartmentsActive)
	}
	if r.Exposure != (Exposure{Executive: 1, Manager: 1, Individual: 1, Unknown: 1}) {
		t.Errorf("exposure = %+v", r.Exposure)
	}
	wantAdoption := []struct {
		key   string
		users int
		rate  float64
	}{{"addon-x", 1, 0.25}, {"alerts", 0, 0}, {"dash", 1, 0.25}, {"reports", 2, 0.5}}
	if len(r.FeatureAdoption) != len(wantAdoption) {
		t.Fatalf("feature_adoption = %+v", r.FeatureAdoption)
	}
	for i, w := range wantAdoption {
		got := r.FeatureAdoption[i]
		if got.Feature != w.key || got.Users != w.users || got.Rate == nil || !near(*got.Rate, w.rate) {
			t.Errorf("feature_adoption[%d] = %s %d %v, want %+v", i, got.Feature, got.Users, show(got.Rate), w)
		}
	}

	type pos struct {
		key      string
		consumed float64
		util     *float64
		status   string
		leakage  float64
	}
	wantPos := []pos{
		{"conc", 2, f(1), "healthy", 0},          // hour 9 of D-2: users 1 and 2
		{"ends-today", 2, f(0.5), "healthy", 0},  // devices d1, d2 in W (d3 before)
		{"meter", 1200, f(1.2), "overused", 100}, // 700 + 500 from starts_on; 200 over × 0.5
		{"perp", 4, f(0.4), "underused", 0},      // product without catalog features: active_users
		{"seats", 3, f(3.0 / 8), "underused", 0}, // users of core features: 1, 2, 3
		{"sub", 1, f(0.5), "healthy", 0},         // users of addon features: 1
		{"usage-gb", 3.5, nil, "overused", 7},    // quantity 0: utilization null, all of it leaks
	}
	if len(r.Entitlements) != len(wantPos) {
		t.Fatalf("entitlements = %+v", r.Entitlements)
	}
	for i, w := range wantPos {
		got := r.Entitlements[i]
		if got.Key != w.key || !near(got.Consumed, w.consumed) || got.Status != w.status || !near(got.Leakage, w.leakage) {
			t.Errorf("entitlements[%d] = %+v, want %+v", i, got, w)
		}
		checkPtr(t, w.key+".utilization", got.Utilization, w.util)
	}

	// Score: 30×(0.02/0.7×100) + 20×(0.4/0.9×100) + 20×(0.75/0.8×100)
	// + 15×(7/120/0.4×100) + 15×100, over 100 weight.
	want := (30*(0.02/0.7*100) + 20*(0.4/0.9*100) + 20*93.75 + 15*(7.0/120/0.4*100) + 15*100) / 100
	checkPtr(t, "health.score", r.Health.Score, f(want)) // 45.68…
	if r.Health.Color != "yellow" {
		t.Errorf("color = %s", r.Health.Color)
	}
	sum := 0.0
	for _, m := range r.Health.Measures {
		sum += *m.Contribution
	}
	if !near(sum, want) {
		t.Errorf("contributions add to %v, want %v", sum, want)
	}
	if m := r.Measure("breadth"); m == nil || !near(*m.Contribution, 18.75) || m.Weight != 20 || m.Target != 0.8 {
		t.Errorf("breadth measure %+v", m)
	}
}

func TestComputeEmptyAccount(t *testing.T) {
	// No entitlements, no usage: every ratio is null, the score rests on executive
	// exposure alone (0 executives: 0 → red).
	r := Compute(Inputs{Account: "empty"}, D, DefaultConfig())
	for name, p := range map[string]*float64{"daily_usage_rate": r.DailyUsageRate, "avg_seconds_per_login": r.AvgSecondsPerLogin,
		"seat_activation": r.SeatActivation, "stickiness": r.Stickiness, "breadth": r.Breadth} {
		if p != nil {
			t.Errorf("%s = %v, want null", name, *p)
		}
	}
	if r.LicensedSeats != 0 || r.ActiveUsers != 0 || len(r.FeatureAdoption) != 0 || len(r.Entitlements) != 0 {
		t.Errorf("%+v", r)
	}
	checkPtr(t, "score", r.Health.Score, f(0))
	if r.Health.Color != "red" || len(r.Health.Measures) != 5 || r.Measure("stickiness").Score != nil || r.Measure("stickiness").Contribution != nil {
		t.Errorf("health %+v", r.Health)
	}
	b, _ := json.Marshal(r)
	for _, frag := range []string{`"daily_usage_rate":null`, `"feature_adoption":[]`, `"entitlements":[]`, `"breadth":null`} {
		if !strings.Contains(string(b), frag) {
			t.Errorf("JSON lacks %s: %s", frag, b)
		}
	}
}

func TestComputeRenormalisesWithoutSeats(t *testing.T) {
	// Usage but no seats: daily_usage_rate and seat_activation drop out; breadth
	// (no entitled features) too. Left: stickiness 15 and executive exposure 15.
	in := Inputs{
		Users:    []User{{ID: 1, Level: "executive"}},
		Activity: []Activity{{1, D - 6, 1, hours(8)}, {1, D - 5, 1, hours(8)}, {1, D - 4, 1, hours(8)}},
		Events:   []EventDay{{1, D - 6, "Signed In", 1, 0}},
	}
	r := Compute(in, D, DefaultConfig())
	checkPtr(t, "daily_usage_rate", r.DailyUsageRate, nil)
	checkPtr(t, "stickiness", r.Stickiness, f(0.1)) // 3/30 / 1
	// stickiness scores 0.1/0.4 = 25; exposure 100; (15×25 + 15×100) / 30 = 62.5.
	checkPtr(t, "score", r.Health.Score, f(62.5))
	checkPtr(t, "stickiness contribution", r.Measure("stickiness").Contribution, f(12.5))
	if r.Health.Color != "yellow" {
		t.Errorf("color %s", r.Health.Color)
	}
}

func TestComputeWeekendsAndDuplicates(t *testing.T) {
	in := Inputs{
		Users:        []User{{ID: 1}, {ID: 2}},
		Entitlements: []Entitlement{{Key: "s", Model: "user", Quantity: 4}, {Key: "c", Model: "concurrent", Quantity: 4}},
		// Two rows for the same user and day merge (one active user that day).
		Activity: []Activity{{1, D - 1, 1, hours(10)}, {1, D - 1, 2, hours(10, 11)}, {2, D, 1, hours(10)}, {2, D - 7, 0, hours(3)}},
		Events:   []EventDay{{1, D - 1, "Signed In", 1, 0}, {2, D, "Signed In", 3, 0}, {2, D, "Session Ended", 2, 90}},
	}
	r := Compute(in, D, DefaultConfig())
	checkPtr(t, "daily_usage_rate", r.DailyUsageRate, f(0)) // logins only on Saturday and Sunday
	checkPtr(t, "avg_seconds_per_login", r.AvgSecondsPerLogin, f(90.0/4))
	checkPtr(t, "stickiness", r.Stickiness, f(2.0/30/2))
	if r.ActiveUsers != 2 || r.Entitlements[0].Consumed != 1 { // c: one user in any hour (hour 10 on two different days)
		t.Errorf("active %d, concurrent %+v", r.ActiveUsers, r.Entitlements[0])
	}
	if r.Entitlements[1].Consumed != 2 || r.Entitlements[1].Status != "healthy" { // s: no catalog → active users; 2/4 is not below 0.5
		t.Errorf("seats %+v", r.Entitlements[1])
	}
}

func TestComputeConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LoginEvents = []string{"Logged In"}
	cfg.SessionEvents = []string{"Logged Out"}
	cfg.UnderusedBelow = 0.2
	cfg.Measures = map[string]MeasureConfig{MeasureExecutiveExposure: {Target: 2, Weight: 1}} // the rest default
	in := fixture()
	in.Events = append(in.Events, EventDay{3, D - 9, "Logged In", 2, 0}, EventDay{3, D - 9, "Logged Out", 1, 30})
	r := Compute(in, D, cfg)
	checkPtr(t, "daily_usage_rate", r.DailyUsageRate, f(1.0/20/10)) // only Friday D-9's one user
	checkPtr(t, "avg_seconds_per_login", r.AvgSecondsPerLogin, f(15))
	if st := r.Entitlements[4].Status; st != "healthy" { // seats at 0.375 ≥ 0.2
		t.Errorf("seats status %s", st)
	}
	m := r.Measure("executive_exposure")
	checkPtr(t, "executive exposure score", m.Score, f(50)) // 1 of a target of 2
	if m.Weight != 1 || r.Measure("breadth").Weight != 20 {
		t.Errorf("weights %v %v", m.Weight, r.Measure("breadth").Weight)
	}
}

func TestColor(t *testing.T) {
	cfg := DefaultConfig()
	for score, want := range map[float64]string{100: "green", 70: "green", 69.999: "yellow", 40: "yellow", 39.99: "red", 0: "red"} {
		if got := Color(score, cfg); got != want {
			t.Errorf("Color(%v) = %s, want %s", score, got, want)
		}
	}
}

func TestStatusBoundaries(t *testing.T) {
	for _, c := range []struct {
		consumed, quantity float64
		want               string
	}{{101, 100, "overused"}, {100, 100, "healthy"}, {50, 100, "healthy"}, {49.9, 100, "underused"}, {0, 0, "healthy"}, {1, 0, "overused"}} {
		p := Position{Consumed: c.consumed, Quantity: c.quantity, Utilization: ratio(c.consumed, c.quantity)}
		if got := status(p, 0.5); got != c.want {
			t.Errorf("%v of %v: %s, want %s", c.consumed, c.quantity, got, c.want)
		}
	}
}

func TestSeriesMatchesCompute(t *testing.T) {
	p := Prepare(fixture())
	cfg := DefaultConfig()
	pts := p.Series(D-40, D, cfg)
	if len(pts) != 41 {
		t.Fatalf("%d points", len(pts))
	}
	for i, pt := range pts {
		day := D - 40 + Day(i)
		r := p.Compute(day, cfg)
		if pt.Day != day.String() {
			t.Fatalf("point %d is %s", i, pt.Day)
		}
		checkPtr(t, pt.Day+" daily_usage_rate", pt.DailyUsageRate, r.DailyUsageRate)
		checkPtr(t, pt.Day+" avg_seconds_per_login", pt.AvgSecondsPerLogin, r.AvgSecondsPerLogin)
	}
	if last := pts[len(pts)-3]; last.LoginUsers != 2 || last.Logins != 2 || last.SessionSeconds != 900 { // D-2
		t.Errorf("D-2 point %+v", last)
	}
}

func TestConfigValidate(t *testing.T) {
	if errs := DefaultConfig().Validate(); len(errs) != 0 {
		t.Fatalf("default config invalid: %v", errs)
	}
	c := DefaultConfig()
	c.Measures = map[string]MeasureConfig{}
	for k, v := range DefaultConfig().Measures {
		c.Measures[k] = v
	}
	c.Measures[MeasureBreadth] = MeasureConfig{Target: 1.5, Weight: -1}
	c.Measures[MeasureStickiness] = MeasureConfig{Target: 0, Weight: 1}
	c.YellowAt, c.GreenAt = 80, 70
	c.UnderusedBelow = 2
	c.LoginEvents = nil
	got := map[string]bool{}
	for _, e := range c.Validate() {
		got[e.Field] = true
	}
	for _, f := range []string{"target.breadth", "weight.breadth", "target.stickiness", "yellow_at", "underused_below", "login_events"} {
		if !got[f] {
			t.Errorf("no error for %s (got %v)", f, got)
		}
	}
	zero := DefaultConfig()
	zero.Measures = map[string]MeasureConfig{}
	for _, k := range MeasureKeys {
		zero.Measures[k] = MeasureConfig{Target: 1, Weight: 0}
	}
	if errs := zero.Validate(); len(errs) != 1 {
		t.Errorf("all weights 0: %v", errs)
	}
}

func TestDayWeekday(t *testing.T) {
	for _, tm := range []time.Time{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 28, 5, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 23, 59, 0, 0, time.UTC)} {
		if got := DayOf(tm).Weekday(); got != tm.Weekday() {
			t.Errorf("%s: %s, want %s", tm, got, tm.Weekday())
		}
		if DayOf(tm).String() != tm.Format("2006-01-02") {
			t.Errorf("%s: %s", tm, DayOf(tm))
		}
	}
}

// groupByDay keeps each day's rows in their input order (sums of durations add in
// that order, so a reordering could change the last digit) and drops what keep refuses.
func TestGroupByDayKeepsOrderWithinADay(t *testing.T) {
	rows := []EventDay{
		{User: 1, Day: 5, Name: "a"}, {User: 2, Day: 3, Name: "b"}, {User: 3, Day: 5, Name: "c"},
		{User: 4, Day: 3, Name: "skip"}, {User: 5, Day: 5, Name: "d"}, {User: 6, Day: 4, Name: "e"},
	}
	got := groupByDay(rows, func(e EventDay) Day { return e.Day }, func(e EventDay) bool { return e.Name != "skip" })
	names := func(es []EventDay) string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return strings.Join(out, ",")
	}
	if len(got) != 3 || names(got[5]) != "a,c,d" || names(got[3]) != "b" || names(got[4]) != "e" {
		t.Fatalf("grouped %v", got)
	}
	// A day's slice is full: appending to it must not overwrite the next day's rows.
	if s := got[3]; cap(s) != len(s) {
		t.Fatalf("day 3 has spare capacity %d", cap(s)-len(s))
	}
}
