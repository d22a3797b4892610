// Package metrics computes the adoption metrics, entitlement positions and health
// score of SPEC §5 from plain inputs: no database, no HTTP. The data layer loads the
// rollup rows of one account into Inputs; Compute turns them into a Result.
//
// Precision: everything is computed and returned in full float64 precision; nothing
// is rounded (the SPEC example's 0.812 is simply 812/1000). Display code rounds.
package metrics

import (
	"time"
)

// WindowDays is the length of the window W = D-29 … D.
const WindowDays = 30

// Day is a UTC calendar day as days since 1970-01-01, the key of the usage rollups.
type Day int

// DayOf is the UTC day of a moment.
func DayOf(t time.Time) Day {
	u := t.Unix()
	if u < 0 {
		return Day((u - 86399) / 86400)
	}
	return Day(u / 86400)
}

// Time is midnight UTC of the day.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// Weekday of the day (1970-01-01 was a Thursday).
func (d Day) Weekday() time.Weekday { return time.Weekday(((int(d) % 7) + 7 + 4) % 7) }

// String is YYYY-MM-DD.
func (d Day) String() string { return d.Time().Format("2006-01-02") }

// User is one end user of the account, with the traits the metrics group by.
type User struct {
	ID         int64
	Department string
	Level      string // executive, manager, individual; anything else counts as unknown
}

// Activity is one user's track and page messages on a day (usage_user_days).
type Activity struct {
	User      int64
	Day       Day
	Messages  int
	HoursMask uint32 // bit h set: active in UTC hour h
}

// EventDay counts one track event name of a user on a day (usage_user_event_days).
type EventDay struct {
	User            int64
	Day             Day
	Name            string
	Events          int
	DurationSeconds float64 // sum of properties.duration_seconds
}

// MeterDay sums a user's "Usage Reported" quantities of one meter on a day.
type MeterDay struct {
	User     int64
	Day      Day
	Meter    string
	Quantity float64
}

// DeviceDay records a device id a user used on a day.
type DeviceDay struct {
	User     int64
	Day      Day
	DeviceID string
}

// Feature is a catalog feature: used when a track event's name is one of EventNames.
type Feature struct {
	Key        string
	Product    string
	EventNames []string
}

// Entitlement is what the account has the right to use.
type Entitlement struct {
	Key       string
	Product   string
	Features  []string // empty: every feature of Product
	Model     string
	Quantity  float64
	Unit      string // for metered, usage and outcome: the meter it counts
	UnitPrice float64
	// StartsOn and EndsOn bound the term; the zero Day (1970-01-01) means unset.
	StartsOn, EndsOn Day
}

// ActiveOn reports starts_on ≤ d and (no ends_on or ends_on ≥ d).
func (e Entitlement) ActiveOn(d Day) bool {
	if e.StartsOn != 0 && e.StartsOn > d {
		return false
	}
	return e.EndsOn == 0 || e.EndsOn >= d
}

// Inputs is everything known about one account. Rows may reach outside the window:
// Compute only looks at the days each metric needs, so one load serves several days.
type Inputs struct {
	Account      string
	Users        []User // the account's users (at least every one with a row below)
	Activity     []Activity
	Events       []EventDay
	Meters       []MeterDay // from the earliest metered entitlement's start
	Devices      []DeviceDay
	Entitlements []Entitlement // all of the account's; Compute keeps those active on the day
	Catalog      []Feature     // the whole feature catalog
}
