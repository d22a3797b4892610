package views

import (
	"net/url"
	"strconv"
	"strings"

	"sightline/metrics"
	"sightline/models"
)

// FeatureDrillAccounts is how many entitled accounts an opened feature lists.
const FeatureDrillAccounts = 10

// drillID is the id of the table row a feature opens into.
func drillID(feature string) string { return "drill-" + feature }

// featureDrillURL loads a feature's drill-down row (closed: the empty row), keeping the filters.
func featureDrillURL(q models.FeatureQuery, feature string, closed bool) string {
	q.Feature = ""
	v := q.Values()
	if closed {
		v.Set("closed", "1")
	}
	u := "/features/detail/" + url.PathEscape(feature)
	if enc := v.Encode(); enc != "" {
		u += "?" + enc
	}
	return u
}

// featureWeeklyURL loads one feature's weekly table under the page's filters.
func featureWeeklyURL(q models.FeatureQuery, feature string) string {
	q.Feature = ""
	return featuresURL("/features/weekly/"+url.PathEscape(feature), q)
}

// featureCountText sums the table up in one sentence.
func featureCountText(r *models.FeatureReport) string {
	never := 0
	for _, row := range r.Table {
		if r.Seen[row.Feature].Last == nil {
			never++
		}
	}
	s := strconv.Itoa(len(r.Table)) + " features by " + sortLabel(r.Query) + "."
	if never > 0 {
		s += " " + strconv.Itoa(never) + " never received an event."
	}
	return s
}

func sortLabel(q models.FeatureQuery) string {
	label := map[string]string{"feature": "feature", "product": "product", "entitled": "entitled accounts",
		"adopting": "adopting accounts", "rate": "adoption rate", "trend": "trend", "at_stake": "ARR at stake"}[q.Sort]
	return label
}

// joinQuoted lists names as “A”, “B”.
func joinQuoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "“" + n + "”"
	}
	return strings.Join(q, ", ")
}

// eventsText says which events make a feature and when they last arrived.
func eventsText(s models.FeatureSeen, events []string) string {
	t := "Counted from " + joinQuoted(events) + ". "
	switch {
	case s.Last == nil:
		return t + "None was ever received: the feature is not instrumented, or its event names are wrong."
	case len(s.Never) > 0:
		return t + "Last received " + date(*s.Last) + "; never received: " + joinQuoted(s.Never) + "."
	default:
		return t + "Last received " + date(*s.Last) + "."
	}
}

func featureEvents(v FeaturesView, feature string) []string { return v.Report.Seen[feature].Events }

// featureSeries is one feature's weekly adoption.
func featureSeries(v FeaturesView, feature string) (models.FeatureSeries, bool) {
	for _, fs := range v.Report.Adoption.Features {
		if fs.Feature == feature {
			return fs, true
		}
	}
	return models.FeatureSeries{}, false
}

func featureRow(v FeaturesView, feature string) (metrics.FeatureRow, bool) {
	for _, r := range v.Report.Table {
		if r.Feature == feature {
			return r, true
		}
	}
	return metrics.FeatureRow{}, false
}

// featureName is a feature's display name, else its key.
func featureName(v FeaturesView, feature string) string {
	if r, ok := featureRow(v, feature); ok && r.Name != "" {
		return r.Name
	}
	return feature
}

func featureRate(v FeaturesView, feature string) *float64 {
	r, _ := featureRow(v, feature)
	return r.AccountRate
}

// featureNames lists features by name.
func featureNames(v FeaturesView, features []string) string {
	names := make([]string, len(features))
	for i, f := range features {
		names[i] = featureName(v, f)
	}
	return strings.Join(names, ", ")
}

// pct is a threshold as "20%".
func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', 0, 64) + "%" }

// rateClass colours a feature × plan cell by the packaging thresholds.
func rateClass(c metrics.PlanCell) string {
	r := c.Rate()
	switch {
	case r == nil || c.Accounts < metrics.PackagingMinAccounts:
		return ""
	case *r <= metrics.PackagingLowRate:
		return "rate-low"
	case *r >= metrics.PackagingHighRate:
		return "rate-high"
	}
	return ""
}

// accountsText is "1 account" or "n accounts".
func accountsText(n int) string {
	if n == 1 {
		return "1 account"
	}
	return strconv.Itoa(n) + " accounts"
}
