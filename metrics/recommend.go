package metrics

import (
	"fmt"
	"math"
)

// What to change at an account before its renewal (SPEC §9). Each rule is a plain
// function of the account's health as of D and D−14 (the evidence must have lasted),
// with the numbers that back it and the ARR it would move.

// Recommendation kinds.
const (
	RecExpand      = "expand"       // sell what is used beyond the entitlement
	RecRightSize   = "right_size"   // shrink a position used far below what was sold
	RecChangeModel = "change_model" // a concurrent licence fits better than named seats
	RecAdopt       = "adopt"        // an entitled feature nobody uses, with a renewal near
)

// Recommendation is one change to make at an account.
type Recommendation struct {
	Kind        string         `json:"kind"`
	Entitlement *string        `json:"entitlement"`
	Feature     *string        `json:"feature"`
	Message     string         `json:"message"`
	Evidence    map[string]any `json:"evidence"`
	ARRChange   float64        `json:"arr_change"` // money per year, + or −
}

// Settings of the rules.
const (
	// RecommendLookback is how long a position must have been over or under (D and D−14).
	RecommendLookback = 14
	// AdoptWithinDays: features nobody uses are raised when the renewal is this close.
	AdoptWithinDays = 180
	// ConcurrentFit: a concurrent licence fits when the busiest hour needs at most this
	// share of the named seats (SPEC §9: a third).
	ConcurrentFit = 1.0 / 3
	// ConcurrentPriceFactor prices a concurrent seat as this many named seats, the
	// usual list-price ratio; the ARR change of a model change depends on it, and the
	// evidence says so.
	ConcurrentPriceFactor = 3.0
	// Headroom is added to what is used when sizing a position down or to concurrent.
	Headroom = 1.2
)

// RecommendInput is what the rules read about one account.
type RecommendInput struct {
	Now, Earlier Result // as of D and D−RecommendLookback
	// PeakConcurrent is the most users active in one clock hour in W (as of D).
	PeakConcurrent int
	// DaysToRenewal is from D to the account's renewal (nil: none known).
	DaysToRenewal *int
	// FeatureNames names the catalog's features by key.
	FeatureNames map[string]string
}

// seatModels are the models whose quantity is a count of people or devices.
var seatModels = map[string]bool{"user": true, "subscription": true, "device": true, "concurrent": true}

// Recommend applies every rule: expansions first, then model changes, right-sizing
// and features to adopt.
func Recommend(in RecommendInput) []Recommendation {
	earlier := map[string]Position{}
	for _, p := range in.Earlier.Entitlements {
		earlier[p.Key] = p
	}
	out := []Recommendation{}
	var models, sizes []Recommendation
	for _, p := range in.Now.Entitlements {
		before, lasted := earlier[p.Key]
		if r, ok := expand(p, before, lasted); ok {
			out = append(out, r)
			continue
		}
		if r, ok := changeModel(p, in.PeakConcurrent); ok {
			models = append(models, r)
			continue
		}
		if r, ok := rightSize(p, before, lasted); ok {
			sizes = append(sizes, r)
		}
	}
	out = append(append(out, models...), sizes...)
	return append(out, adopt(in)...)
}

func key(s string) *string { return &s }

// expand: a seat-like position overused as of D and D−14. ARR change: its leakage.
func expand(p, before Position, lasted bool) (Recommendation, bool) {
	if !seatModels[p.Model] || p.Status != StatusOverused || !lasted || before.Status != StatusOverused {
		return Recommendation{}, false
	}
	extra := math.Ceil(p.Consumed - p.Quantity)
	return Recommendation{Kind: RecExpand, Entitlement: key(p.Key), ARRChange: Round(p.Leakage, 2),
		Message: fmt.Sprintf("%s: %s of %s %s %s, and over for two weeks. Sell %s more (%s ARR).",
			p.Key, Thousands(p.Consumed), Thousands(p.Quantity), UnitWord(p), InUse(p), Thousands(extra), signedMoney(p.Leakage)),
		Evidence: map[string]any{"model": p.Model, "quantity": p.Quantity, "consumed": p.Consumed, "utilization": roundPtr(p.Utilization, 4),
			"consumed_14_days_ago": before.Consumed, "utilization_14_days_ago": roundPtr(before.Utilization, 4),
			"unit_price": p.UnitPrice, "leakage": Round(p.Leakage, 2), "suggested_quantity": p.Quantity + extra},
	}, true
}

// changeModel: named seats (model user) underused, while the busiest hour needs at most
// a third of them: a concurrent licence for the busiest hour plus headroom fits.
func changeModel(p Position, peak int) (Recommendation, bool) {
	if p.Model != "user" || p.Status != StatusUnderused || p.Quantity <= 0 || float64(peak) > ConcurrentFit*p.Quantity {
		return Recommendation{}, false
	}
	concurrent := math.Max(1, math.Ceil(float64(peak)*Headroom))
	change := concurrent*p.UnitPrice*ConcurrentPriceFactor - p.Quantity*p.UnitPrice
	return Recommendation{Kind: RecChangeModel, Entitlement: key(p.Key), ARRChange: Round(change, 2),
		Message: fmt.Sprintf("%s: %s of %s named seats in use, and at most %d people at once. A concurrent licence of %s fits (%s ARR at %s× a named seat's price).",
			p.Key, Thousands(p.Consumed), Thousands(p.Quantity), peak, Thousands(concurrent), signedMoney(change), Thousands(ConcurrentPriceFactor)),
		Evidence: map[string]any{"model": p.Model, "quantity": p.Quantity, "consumed": p.Consumed, "utilization": roundPtr(p.Utilization, 4),
			"peak_concurrent_users": peak, "suggested_model": "concurrent", "suggested_quantity": concurrent,
			"unit_price": p.UnitPrice, "concurrent_price_factor": ConcurrentPriceFactor},
	}, true
}

// rightSize: a seat-like position underused as of D and D−14: size it to what is used
// plus headroom, before the customer does it at the renewal.
func rightSize(p, before Position, lasted bool) (Recommendation, bool) {
	if !seatModels[p.Model] || p.Status != StatusUnderused || !lasted || before.Status != StatusUnderused {
		return Recommendation{}, false
	}
	size := math.Max(1, math.Ceil(math.Max(p.Consumed, before.Consumed)*Headroom))
	if size >= p.Quantity {
		return Recommendation{}, false
	}
	change := -(p.Quantity - size) * p.UnitPrice
	return Recommendation{Kind: RecRightSize, Entitlement: key(p.Key), ARRChange: Round(change, 2),
		Message: fmt.Sprintf("%s: %s of %s %s %s (%s), under for two weeks. Offer %s before the customer cuts deeper at the renewal (%s ARR).",
			p.Key, Thousands(p.Consumed), Thousands(p.Quantity), UnitWord(p), InUse(p), Percent(*p.Utilization), Thousands(size), signedMoney(change)),
		Evidence: map[string]any{"model": p.Model, "quantity": p.Quantity, "consumed": p.Consumed, "utilization": roundPtr(p.Utilization, 4),
			"consumed_14_days_ago": before.Consumed, "utilization_14_days_ago": roundPtr(before.Utilization, 4),
			"unit_price": p.UnitPrice, "suggested_quantity": size},
	}, true
}

// adopt: each entitled feature nobody used in W, when the renewal is within 180 days.
func adopt(in RecommendInput) []Recommendation {
	if in.DaysToRenewal == nil || *in.DaysToRenewal < 0 || *in.DaysToRenewal > AdoptWithinDays {
		return nil
	}
	var out []Recommendation
	for _, f := range in.Now.FeatureAdoption {
		if f.Users > 0 {
			continue
		}
		name := in.FeatureNames[f.Feature]
		if name == "" {
			name = f.Feature
		}
		out = append(out, Recommendation{Kind: RecAdopt, Feature: key(f.Feature),
			Message:  fmt.Sprintf("Nobody used %s in the last 30 days, and the renewal is in %d days. Show it to the team before then.", name, *in.DaysToRenewal),
			Evidence: map[string]any{"feature_users": 0, "active_users": in.Now.ActiveUsers, "days_to_renewal": *in.DaysToRenewal}})
	}
	return out
}

func signedMoney(v float64) string {
	if v > 0 {
		return "+" + Money(v)
	}
	return Money(v)
}

func roundPtr(v *float64, places int) any {
	if v == nil {
		return nil
	}
	return Round(*v, places)
}

// PeakConcurrent is the most users active in one clock hour in the window ending on asOf.
func (p *Prepared) PeakConcurrent(asOf Day) int {
	peak := 0
	for day := asOf - WindowDays + 1; day <= asOf; day++ {
		var perHour [24]int
		for _, mask := range p.active[day] {
			for h := 0; h < 24; h++ {
				if mask&(1<<h) != 0 {
					perHour[h]++
				}
			}
		}
		for _, n := range perHour {
			peak = max(peak, n)
		}
	}
	return peak
}
