package metrics

import (
	"cmp"
	"slices"
	"strings"
)

// Feature adoption across accounts (issue 7), as plain Go over pre-aggregated rows.
//
// Definitions: for a period ending on day E and a feature F, an account is entitled
// to F when one of its entitlements is active on E, is for F's product, and lists no
// features or lists F. It uses F in the period when ≥1 of its users has a track
// event whose name is one of F's event names in the period. Account adoption rate =
// adopting entitled accounts / entitled accounts; user adoption rate = users of F in
// the entitled accounts / active users (any track or page message) of those accounts
// in the period. A rate whose denominator is 0 is nil.

// AdoptionWeeks is how many weeks the adoption charts cover.
const AdoptionWeeks = 26

// AdoptionAccount is one customer account as the cross-account reports see it.
type AdoptionAccount struct {
	ID      int64
	Key     string
	Name    string
	Segment string
	Stage   string
	ARR     float64
	// Entitlements are all of the account's, active or not.
	Entitlements []Entitlement
}

// Period is a span of days StartDay … EndDay (inclusive) that usage is counted over.
type Period struct {
	Start, End Day
}

// PeriodUsage is what the data layer aggregates per account and period: the distinct
// users of each feature (feature key → users) and the distinct active users.
type PeriodUsage struct {
	FeatureUsers map[string]int
	ActiveUsers  int
}

// AdoptionUsage is usage by account id, then by period index.
type AdoptionUsage map[int64][]PeriodUsage

func (u AdoptionUsage) at(account int64, period int) PeriodUsage {
	ps := u[account]
	if period < len(ps) {
		return ps[period]
	}
	return PeriodUsage{}
}

// Entitles reports whether an entitlement active on day grants the feature.
func Entitles(e Entitlement, f Feature, day Day) bool {
	if e.Product != f.Product || !e.ActiveOn(day) {
		return false
	}
	return len(e.Features) == 0 || slices.Contains(e.Features, f.Key)
}

// EntitledTo reports whether any of the account's entitlements grants F on day.
func (a AdoptionAccount) EntitledTo(f Feature, day Day) bool {
	for _, e := range a.Entitlements {
		if Entitles(e, f, day) {
			return true
		}
	}
	return false
}

// AdoptionPoint is one feature's adoption in one period over a cohort of accounts.
type AdoptionPoint struct {
	Week             string   `json:"week"` // the period's last day, YYYY-MM-DD
	EntitledAccounts int      `json:"entitled_accounts"`
	AdoptingAccounts int      `json:"adopting_accounts"`
	AccountRate      *float64 `json:"account_rate"`
	ActiveUsers      int      `json:"active_users"`
	FeatureUsers     int      `json:"feature_users"`
	UserRate         *float64 `json:"user_rate"`
}

// AdoptionTotals are the sums one feature's adoption in one period is a ratio of. They
// add across accounts, so the data layer can keep them per segment and stage and sum
// the slices a filter selects.
type AdoptionTotals struct {
	EntitledAccounts int
	AdoptingAccounts int
	ActiveUsers      int
	FeatureUsers     int
	// ARRAtStake sums the ARR of the entitled accounts that did not use the feature.
	ARRAtStake float64
}

// Add sums o into t.
func (t *AdoptionTotals) Add(o AdoptionTotals) {
	t.EntitledAccounts += o.EntitledAccounts
	t.AdoptingAccounts += o.AdoptingAccounts
	t.ActiveUsers += o.ActiveUsers
	t.FeatureUsers += o.FeatureUsers
	t.ARRAtStake += o.ARRAtStake
}

// Point is the adoption of the period ending on end. A period in which none of the
// entitled accounts had an active user has no basis: both rates are null (a gap in the
// charts), not 0, since nobody could have used the feature.
func (t AdoptionTotals) Point(end Day) AdoptionPoint {
	p := AdoptionPoint{Week: end.String(), EntitledAccounts: t.EntitledAccounts, AdoptingAccounts: t.AdoptingAccounts,
		ActiveUsers: t.ActiveUsers, FeatureUsers: t.FeatureUsers,
		UserRate: ratio(float64(t.FeatureUsers), float64(t.ActiveUsers))}
	if t.ActiveUsers > 0 {
		p.AccountRate = ratio(float64(t.AdoptingAccounts), float64(t.EntitledAccounts))
	}
	return p
}

// AccountTotals is one account's contribution to a feature's totals in a period.
func AccountTotals(a AdoptionAccount, u PeriodUsage, f Feature, end Day) AdoptionTotals {
	if !a.EntitledTo(f, end) {
		return AdoptionTotals{}
	}
	t := AdoptionTotals{EntitledAccounts: 1, ActiveUsers: u.ActiveUsers}
	if n := u.FeatureUsers[f.Key]; n > 0 {
		t.AdoptingAccounts, t.FeatureUsers = 1, n
	} else {
		t.ARRAtStake = a.ARR
	}
	return t
}

// Totals sums one feature's totals in a period over the accounts.
func Totals(accounts []AdoptionAccount, usage AdoptionUsage, f Feature, period int, p Period) AdoptionTotals {
	var t AdoptionTotals
	for _, a := range accounts {
		t.Add(AccountTotals(a, usage.at(a.ID, period), f, p.End))
	}
	return t
}

// Adoption computes one feature's adoption in a period over the accounts.
func Adoption(accounts []AdoptionAccount, usage AdoptionUsage, f Feature, period int, p Period) AdoptionPoint {
	return Totals(accounts, usage, f, period, p).Point(p.End)
}

// AdoptionSeries is one feature's adoption in each period, oldest first.
func AdoptionSeries(accounts []AdoptionAccount, usage AdoptionUsage, f Feature, periods []Period) []AdoptionPoint {
	out := make([]AdoptionPoint, len(periods))
	for i, p := range periods {
		out[i] = Adoption(accounts, usage, f, i, p)
	}
	return out
}

// WeekEnd is the Sunday ending day's ISO week (Monday–Sunday); epoch day 0 was a Thursday.
func WeekEnd(day Day) Day { return day + 6 - (day+3)%7 }

// Weeks are the n ISO weeks (Monday–Sunday) up to the one holding today, oldest
// first. The current week is cut at today: it ends (and is labelled) on today.
func Weeks(today Day, n int) []Period {
	out := make([]Period, n)
	last := WeekEnd(today)
	for i := range out {
		end := last - Day(7*(n-1-i))
		out[i] = Period{Start: end - 6, End: min(end, today)}
	}
	return out
}

// Windows are the SPEC §5 window ending today and the 30 days before it: [previous, current].
func Windows(today Day) []Period {
	return []Period{
		{Start: today - 2*WindowDays + 1, End: today - WindowDays},
		{Start: today - WindowDays + 1, End: today},
	}
}

// FeatureRow is one line of the feature table: the last 30 days against the 30 before.
type FeatureRow struct {
	Feature          string   `json:"feature"`
	Name             string   `json:"name"`
	Product          string   `json:"product"`
	EntitledAccounts int      `json:"entitled_accounts"`
	AdoptingAccounts int      `json:"adopting_accounts"`
	AccountRate      *float64 `json:"account_rate"`
	UserRate         *float64 `json:"user_rate"`
	PreviousRate     *float64 `json:"previous_account_rate"`
	// Trend is AccountRate − PreviousRate (nil when either is).
	Trend *float64 `json:"trend"`
	// ARRAtStake sums the ARR of entitled accounts that did not use the feature.
	ARRAtStake float64 `json:"arr_at_stake"`
}

// FeatureTable computes a row per feature from the usage of Windows(today)
// (period 0 the previous 30 days, period 1 the current).
func FeatureTable(accounts []AdoptionAccount, usage AdoptionUsage, features []Feature, names map[string]string, today Day) []FeatureRow {
	ws := Windows(today)
	out := make([]FeatureRow, 0, len(features))
	for _, f := range features {
		out = append(out, NewFeatureRow(f, names[f.Key], Totals(accounts, usage, f, 1, ws[1]), Totals(accounts, usage, f, 0, ws[0])))
	}
	return out
}

// NewFeatureRow is a feature's line from its totals over the current and previous windows.
func NewFeatureRow(f Feature, name string, current, previous AdoptionTotals) FeatureRow {
	cur, prev := current.Point(0), previous.Point(0)
	r := FeatureRow{Feature: f.Key, Name: name, Product: f.Product,
		EntitledAccounts: cur.EntitledAccounts, AdoptingAccounts: cur.AdoptingAccounts,
		AccountRate: cur.AccountRate, UserRate: cur.UserRate, PreviousRate: prev.AccountRate,
		ARRAtStake: current.ARRAtStake}
	if cur.AccountRate != nil && prev.AccountRate != nil {
		t := *cur.AccountRate - *prev.AccountRate
		r.Trend = &t
	}
	return r
}

// EntitledAccount is an account entitled to a feature today, with its usage of it.
type EntitledAccount struct {
	Account     string  `json:"account"`
	Name        string  `json:"name"`
	Segment     string  `json:"segment"`
	Stage       string  `json:"lifecycle_stage"`
	ARR         float64 `json:"arr"`
	Feature     string  `json:"feature"`
	Product     string  `json:"product"`
	Users       int     `json:"users"`        // distinct users of the feature in the last 30 days
	ActiveUsers int     `json:"active_users"` // distinct active users in the last 30 days
}

// EntitledAccounts lists, for each feature, the accounts entitled to it today with
// their users of it over the current window (period 1 of Windows(today)). With
// unusedOnly, only those with no user of it: the paid-for-but-unused list.
// Sorted by ARR (highest first), then account and feature.
func EntitledAccounts(accounts []AdoptionAccount, usage AdoptionUsage, features []Feature, today Day, unusedOnly bool) []EntitledAccount {
	var out []EntitledAccount
	for _, a := range accounts {
		u := usage.at(a.ID, 1)
		for _, f := range features {
			if !a.EntitledTo(f, today) {
				continue
			}
			n := u.FeatureUsers[f.Key]
			if unusedOnly && n > 0 {
				continue
			}
			out = append(out, EntitledAccount{Account: a.Key, Name: a.Name, Segment: a.Segment, Stage: a.Stage,
				ARR: a.ARR, Feature: f.Key, Product: f.Product, Users: n, ActiveUsers: u.ActiveUsers})
		}
	}
	slices.SortFunc(out, func(x, y EntitledAccount) int {
		return cmp.Or(cmp.Compare(y.ARR, x.ARR), strings.Compare(x.Account, y.Account), strings.Compare(x.Feature, y.Feature))
	})
	return out
}

// OverusePosition is an overused entitlement with its utilization then and now.
type OverusePosition struct {
	Account  string   `json:"account"`
	Name     string   `json:"name"`
	Segment  string   `json:"segment"`
	Position          // as of the snapshot day
	AsOf     string   `json:"as_of"`
	Earlier  *float64 `json:"earlier_utilization"` // the same entitlement's utilization 30 (else 7) days earlier
	Growing  bool     `json:"growing"`
}

// LeakageTotal sums leakage over a group of positions.
type LeakageTotal struct {
	Key       string  `json:"key"` // account or product key; "" for the overall total
	Name      string  `json:"name"`
	Positions int     `json:"positions"`
	Leakage   float64 `json:"leakage"`
	Growing   bool    `json:"growing"` // at least one of its positions' utilization grew
}

// LeakageReport is every overused position with totals per account, per product and overall.
type LeakageReport struct {
	Positions []OverusePosition `json:"positions"`  // by leakage, highest first
	ByAccount []LeakageTotal    `json:"by_account"` // by leakage, highest first
	ByProduct []LeakageTotal    `json:"by_product"` // by leakage, highest first
	Total     LeakageTotal      `json:"total"`      // overall
	Growing   int               `json:"growing"`    // accounts whose overuse grows
}

// SnapshotPositions is one account's stored positions today and earlier (nil when missing).
type SnapshotPositions struct {
	AsOf    string
	Now     []Position
	Earlier []Position // nil when there is no earlier snapshot
}

// OverusePositions lists the overused positions of the accounts' snapshots. A position
// grows when its utilization is higher than in the earlier snapshot (a position new
// since then, or with no quantity, grows when it leaks).
func OverusePositions(accounts []AdoptionAccount, snaps map[int64]SnapshotPositions) []OverusePosition {
	var out []OverusePosition
	for _, a := range accounts {
		s, ok := snaps[a.ID]
		if !ok {
			continue
		}
		for _, p := range s.Now {
			if p.Status != StatusOverused {
				continue
			}
			op := OverusePosition{Account: a.Key, Name: a.Name, Segment: a.Segment, Position: p, AsOf: s.AsOf}
			if s.Earlier != nil {
				var before *Position
				for i := range s.Earlier {
					if s.Earlier[i].Key == p.Key {
						before = &s.Earlier[i]
					}
				}
				switch {
				case before == nil:
					op.Growing = p.Leakage > 0
				case before.Utilization != nil && p.Utilization != nil:
					op.Earlier = before.Utilization
					op.Growing = *p.Utilization > *before.Utilization
				case p.Utilization == nil:
					op.Earlier = before.Utilization
					op.Growing = p.Consumed > before.Consumed
				}
			}
			out = append(out, op)
		}
	}
	return out
}

// LeakageOf totals overused positions per account, per product and overall.
func LeakageOf(positions []OverusePosition) LeakageReport {
	rep := LeakageReport{Positions: append([]OverusePosition{}, positions...), ByAccount: []LeakageTotal{}, ByProduct: []LeakageTotal{}}
	accounts, products := map[string]*LeakageTotal{}, map[string]*LeakageTotal{}
	add := func(m map[string]*LeakageTotal, key, name string, op OverusePosition) {
		t := m[key]
		if t == nil {
			t = &LeakageTotal{Key: key, Name: name}
			m[key] = t
		}
		t.Positions++
		t.Leakage += op.Leakage
		t.Growing = t.Growing || op.Growing
	}
	for _, op := range positions {
		add(accounts, op.Account, op.Name, op)
		add(products, op.Product, op.Product, op)
		rep.Total.Positions++
		rep.Total.Leakage += op.Leakage
		rep.Total.Growing = rep.Total.Growing || op.Growing
	}
	for _, t := range accounts {
		rep.ByAccount = append(rep.ByAccount, *t)
		if t.Growing {
			rep.Growing++
		}
	}
	for _, t := range products {
		rep.ByProduct = append(rep.ByProduct, *t)
	}
	byLeak := func(x, y LeakageTotal) int {
		return cmp.Or(cmp.Compare(y.Leakage, x.Leakage), strings.Compare(x.Key, y.Key))
	}
	slices.SortFunc(rep.ByAccount, byLeak)
	slices.SortFunc(rep.ByProduct, byLeak)
	slices.SortFunc(rep.Positions, func(x, y OverusePosition) int {
		return cmp.Or(cmp.Compare(y.Leakage, x.Leakage), strings.Compare(x.Account, y.Account), strings.Compare(x.Key, y.Key))
	})
	return rep
}
