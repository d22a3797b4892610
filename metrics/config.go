package metrics

import (
	"fmt"
	"math"
	"strings"
)

// Keys of the health score's measures, in display order.
const (
	MeasureDailyUsageRate    = "daily_usage_rate"
	MeasureSeatActivation    = "seat_activation"
	MeasureBreadth           = "breadth"
	MeasureStickiness        = "stickiness"
	MeasureExecutiveExposure = "executive_exposure"
)

// MeasureKeys lists the health measures in display order.
var MeasureKeys = []string{MeasureDailyUsageRate, MeasureSeatActivation, MeasureBreadth, MeasureStickiness, MeasureExecutiveExposure}

// MeasureLabels words each measure for people.
var MeasureLabels = map[string]string{
	MeasureDailyUsageRate:    "daily usage rate",
	MeasureSeatActivation:    "seat activation",
	MeasureBreadth:           "breadth",
	MeasureStickiness:        "stickiness",
	MeasureExecutiveExposure: "executive exposure",
}

// ceilingOne are the measures that are shares of a whole: a target above 1 cannot be met.
var ceilingOne = map[string]bool{MeasureBreadth: true, MeasureStickiness: true}

// MeasureConfig is one measure's target and weight.
type MeasureConfig struct {
	Target float64 `json:"target"`
	Weight float64 `json:"weight"`
}

// Config is the admin's scorecard: targets, weights, colour and underuse thresholds,
// and which track events mean a login and a session's end.
type Config struct {
	Measures map[string]MeasureConfig `json:"measures"`
	// GreenAt and YellowAt are the lowest scores of each colour; below YellowAt is red.
	GreenAt  float64 `json:"green_at"`
	YellowAt float64 `json:"yellow_at"`
	// UnderusedBelow is the utilization under which an entitlement is underused.
	UnderusedBelow float64  `json:"underused_below"`
	LoginEvents    []string `json:"login_events"`
	SessionEvents  []string `json:"session_events"`
}

// DefaultConfig is SPEC §5's scorecard. executive_exposure's target is 1 active
// executive, so min(value/target, 1) × 100 gives SPEC's "100 if ≥ 1, else 0".
func DefaultConfig() Config {
	return Config{
		Measures: map[string]MeasureConfig{
			MeasureDailyUsageRate:    {Target: 0.70, Weight: 30},
			MeasureSeatActivation:    {Target: 0.90, Weight: 20},
			MeasureBreadth:           {Target: 0.80, Weight: 20},
			MeasureStickiness:        {Target: 0.40, Weight: 15},
			MeasureExecutiveExposure: {Target: 1, Weight: 15},
		},
		GreenAt:        70,
		YellowAt:       40,
		UnderusedBelow: 0.5,
		LoginEvents:    []string{"Signed In"},
		SessionEvents:  []string{"Session Ended"},
	}
}

// WithDefaults fills what a stored config leaves out (e.g. a measure added later).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	m := make(map[string]MeasureConfig, len(MeasureKeys))
	for _, k := range MeasureKeys {
		if v, ok := c.Measures[k]; ok {
			m[k] = v
		} else {
			m[k] = d.Measures[k]
		}
	}
	c.Measures = m
	if len(c.LoginEvents) == 0 {
		c.LoginEvents = d.LoginEvents
	}
	if len(c.SessionEvents) == 0 {
		c.SessionEvents = d.SessionEvents
	}
	return c
}

// FieldError names a config field and what is wrong with it.
type FieldError struct {
	Field, Message string
}

// Validate lists what is wrong with a config, by field: "target.KEY", "weight.KEY",
// "green_at", "yellow_at", "underused_below", "login_events", "session_events".
func (c Config) Validate() []FieldError {
	var errs []FieldError
	add := func(f, m string) { errs = append(errs, FieldError{f, m}) }
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	total := 0.0
	for _, k := range MeasureKeys {
		m, ok := c.Measures[k]
		if !ok {
			add("target."+k, "is required")
			continue
		}
		switch {
		case !finite(m.Target) || m.Target <= 0:
			add("target."+k, "must be a number above 0")
		case ceilingOne[k] && m.Target > 1:
			add("target."+k, "must be at most 1: this measure cannot exceed 1")
		}
		if !finite(m.Weight) || m.Weight < 0 {
			add("weight."+k, "must be a number ≥ 0")
		} else {
			total += m.Weight
		}
	}
	if total <= 0 && len(errs) == 0 {
		add("weight."+MeasureKeys[0], "at least one weight must be above 0")
	}
	if !finite(c.GreenAt) || c.GreenAt < 0 || c.GreenAt > 100 {
		add("green_at", "must be a score from 0 to 100")
	}
	if !finite(c.YellowAt) || c.YellowAt < 0 || c.YellowAt > 100 {
		add("yellow_at", "must be a score from 0 to 100")
	} else if c.YellowAt > c.GreenAt {
		add("yellow_at", fmt.Sprintf("must not be above the green threshold (%g)", c.GreenAt))
	}
	if !finite(c.UnderusedBelow) || c.UnderusedBelow < 0 || c.UnderusedBelow > 1 {
		add("underused_below", "must be a utilization from 0 to 1")
	}
	for _, l := range []struct {
		field string
		names []string
	}{{"login_events", c.LoginEvents}, {"session_events", c.SessionEvents}} {
		if len(l.names) == 0 {
			add(l.field, "needs at least one event name")
		}
		for _, n := range l.names {
			if strings.TrimSpace(n) == "" || len(n) > 200 {
				add(l.field, "event names must be 1–200 characters")
				break
			}
		}
	}
	return errs
}
