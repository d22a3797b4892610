package metrics

import (
	"cmp"
	"slices"
)

// Packaging turns the feature × plan view into the questions a PM asks when deciding
// what to sell: which features are paid for and not used (move them out of the plan,
// or run enablement), which are loved where they are included and missing elsewhere
// (sell them wider), which plans are outgrown (raise the quantity or sell the next
// tier), and which features cannot be judged because their events never arrived.

// Thresholds of the packaging findings. A plan or feature needs PackagingMinAccounts
// accounts before a rate says anything about it.
const (
	PackagingMinAccounts = 5
	PackagingLowRate     = 0.20 // at most this share of a plan's accounts use the feature
	PackagingHighRate    = 0.60 // at least this share of entitled accounts use the feature
	PackagingOveruse     = 0.25 // at least this share of a plan's accounts exceed its quantity
)

// Kinds of packaging finding, in the order they are listed.
const (
	FindingInstrument = "instrument" // no event of the feature was ever received
	FindingUnbundle   = "unbundle"   // included in a plan whose accounts rarely use it
	FindingInclude    = "include"    // used widely where included, missing at many accounts of its product
	FindingQuantity   = "quantity"   // many of a plan's accounts use more than they bought
)

// PlanCell is one feature in one plan (an entitlement key): the accounts holding the
// plan today that are entitled to the feature through it, and how many used it in
// the last 30 days.
type PlanCell struct {
	Plan      string  `json:"plan"`
	Feature   string  `json:"feature"`
	Accounts  int     `json:"accounts"`
	Adopting  int     `json:"adopting"`
	UnusedARR float64 `json:"unused_arr"` // ARR of the accounts that did not use it
}

// Rate is the share of the cell's accounts that used the feature (nil with none).
func (c PlanCell) Rate() *float64 { return ratio(float64(c.Adopting), float64(c.Accounts)) }

// PackagedFeature is what the findings need to know of one feature.
type PackagedFeature struct {
	Feature  string
	Product  string
	Entitled int // accounts entitled today (any plan)
	Adopting int // of those, accounts that used it in the last 30 days
	// Instrumented is false when none of its event names was ever received.
	Instrumented bool
	// ProductAccounts counts the accounts holding any plan of the feature's product;
	// MissingARR sums the ARR of those not entitled to the feature.
	ProductAccounts int
	MissingARR      float64
}

// PlanQuantity is how one plan's quantity holds up: its holders and those whose
// latest position is overused.
type PlanQuantity struct {
	Plan     string
	Holders  int
	Overused int
	Leakage  float64
}

// Finding is one packaging suggestion. Money is the ARR (unbundle, include: of the
// accounts concerned) or the leakage (quantity) it is about.
type Finding struct {
	Kind     string  `json:"kind"`
	Feature  string  `json:"feature,omitempty"`
	Plan     string  `json:"plan,omitempty"`
	Accounts int     `json:"accounts"` // accounts the finding is about (see Kind)
	Of       int     `json:"of"`       // out of how many
	Money    float64 `json:"money"`
}

// PackagingFindings lists what to package differently: features to instrument first,
// then the rest by the money at stake, highest first.
func PackagingFindings(features []PackagedFeature, cells []PlanCell, quantities []PlanQuantity) []Finding {
	out := []Finding{}
	instrumented := map[string]bool{}
	for _, f := range features {
		instrumented[f.Feature] = f.Instrumented
		switch {
		case !f.Instrumented:
			out = append(out, Finding{Kind: FindingInstrument, Feature: f.Feature, Accounts: f.Entitled, Of: f.ProductAccounts})
		case f.Entitled >= PackagingMinAccounts && f.ProductAccounts-f.Entitled >= PackagingMinAccounts &&
			float64(f.Adopting) >= PackagingHighRate*float64(f.Entitled):
			// Accounts = those lacking it; Of = the accounts of its product.
			out = append(out, Finding{Kind: FindingInclude, Feature: f.Feature, Accounts: f.ProductAccounts - f.Entitled, Of: f.ProductAccounts, Money: f.MissingARR})
		}
	}
	for _, c := range cells {
		if instrumented[c.Feature] && c.Accounts >= PackagingMinAccounts && float64(c.Adopting) <= PackagingLowRate*float64(c.Accounts) {
			out = append(out, Finding{Kind: FindingUnbundle, Feature: c.Feature, Plan: c.Plan, Accounts: c.Adopting, Of: c.Accounts, Money: c.UnusedARR})
		}
	}
	for _, q := range quantities {
		if q.Holders >= PackagingMinAccounts && float64(q.Overused) >= PackagingOveruse*float64(q.Holders) {
			out = append(out, Finding{Kind: FindingQuantity, Plan: q.Plan, Accounts: q.Overused, Of: q.Holders, Money: q.Leakage})
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		first := func(f Finding) int {
			if f.Kind == FindingInstrument {
				return 0
			}
			return 1
		}
		return cmp.Or(cmp.Compare(first(a), first(b)),
			cmp.Compare(b.Money, a.Money), cmp.Compare(a.Feature, b.Feature), cmp.Compare(a.Plan, b.Plan))
	})
	return out
}
