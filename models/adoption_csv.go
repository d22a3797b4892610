package models

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"

	"sightline/metrics"
)

// FeatureTables are the /features tables that export as CSV.
var FeatureTables = []string{"adoption", "features", "unused", "accounts", "leakage", "leakage-accounts", "leakage-products", "model-fit"}

// ValidFeatureTable reports whether name is one of FeatureTables.
func ValidFeatureTable(name string) bool { return slices.Contains(FeatureTables, name) }

// WriteFeatureCSV writes one table of the report as CSV; fractions are plain numbers
// (0.71) in full precision, an undefined rate is empty.
func WriteFeatureCSV(w io.Writer, rep *FeatureReport, table string) error {
	cw := csv.NewWriter(w)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	opt := func(v *float64) string {
		if v == nil {
			return ""
		}
		return f(*v)
	}
	i := strconv.Itoa
	var rows [][]string
	switch table {
	case "adoption":
		rows = append(rows, []string{"feature", "product", "cohort", "week", "entitled_accounts", "adopting_accounts", "account_rate", "active_users", "feature_users", "user_rate"})
		for _, fs := range rep.Adoption.Features {
			add := func(cohort string, ps []metrics.AdoptionPoint) {
				for _, p := range ps {
					rows = append(rows, []string{fs.Feature, fs.Product, cohort, p.Week, i(p.EntitledAccounts), i(p.AdoptingAccounts),
						opt(p.AccountRate), i(p.ActiveUsers), i(p.FeatureUsers), opt(p.UserRate)})
				}
			}
			add(orAll(rep.Query.Segment), fs.Series)
			if rep.Query.Compare != "" {
				add(rep.Query.Compare, fs.Compare)
			}
		}
	case "features":
		rows = append(rows, []string{"feature", "name", "product", "entitled_accounts", "adopting_accounts", "account_rate", "user_rate", "previous_account_rate", "trend", "arr_at_stake"})
		for _, r := range rep.Table {
			rows = append(rows, []string{r.Feature, r.Name, r.Product, i(r.EntitledAccounts), i(r.AdoptingAccounts),
				opt(r.AccountRate), opt(r.UserRate), opt(r.PreviousRate), opt(r.Trend), f(r.ARRAtStake)})
		}
	case "unused", "accounts":
		list := rep.Unused
		if table == "accounts" {
			list = rep.Entitled
		}
		rows = append(rows, []string{"account", "name", "segment", "lifecycle_stage", "arr", "feature", "product", "feature_users_30d", "active_users_30d"})
		for _, r := range list {
			rows = append(rows, []string{r.Account, r.Name, r.Segment, r.Stage, f(r.ARR), r.Feature, r.Product, i(r.Users), i(r.ActiveUsers)})
		}
	case "leakage":
		rows = append(rows, []string{"account", "name", "segment", "entitlement", "product", "model", "unit", "quantity", "consumed", "utilization", "earlier_utilization", "growing", "unit_price", "leakage", "as_of"})
		for _, p := range rep.Leakage.Positions {
			rows = append(rows, []string{p.Account, p.Name, p.Segment, p.Key, p.Product, p.Model, p.Unit, f(p.Quantity), f(p.Consumed),
				opt(p.Utilization), opt(p.Earlier), strconv.FormatBool(p.Growing), f(p.UnitPrice), f(p.Leakage), p.AsOf})
		}
	case "model-fit":
		rows = append(rows, []string{"account", "name", "csm_email", "arr", "entitlement", "model", "suggested_model", "quantity", "consumed",
			"peak_concurrent_users", "suggested_quantity", "arr_change", "message"})
		for _, r := range rep.ModelFit.Rows {
			rows = append(rows, []string{r.Account, r.Name, r.CSMEmail, f(r.ARR), r.Entitlement, r.From, r.To, f(r.Quantity), f(r.Consumed),
				i(r.PeakConcurrent), f(r.Suggested), f(r.ARRChange), r.Message})
		}
	case "leakage-accounts", "leakage-products":
		list := rep.Leakage.ByAccount
		key := "account"
		if table == "leakage-products" {
			list, key = rep.Leakage.ByProduct, "product"
		}
		rows = append(rows, []string{key, "name", "overused_positions", "leakage", "growing"})
		for _, t := range list {
			rows = append(rows, []string{t.Key, t.Name, i(t.Positions), f(t.Leakage), strconv.FormatBool(t.Growing)})
		}
		rows = append(rows, []string{"", "total", i(rep.Leakage.Total.Positions), f(rep.Leakage.Total.Leakage), strconv.FormatBool(rep.Leakage.Total.Growing)})
	default:
		return fmt.Errorf("%w: no table %q", ErrNotFound, table)
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("store: unable to write %s CSV: %w", table, err)
	}
	return nil
}

func orAll(segment string) string {
	if segment == "" {
		return "all"
	}
	return segment
}
