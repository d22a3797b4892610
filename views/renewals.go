package views

import (
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"sightline/metrics"
	"sightline/models"
)

func overdueCount(p *models.Pipeline) int {
	n := 0
	for _, r := range p.Upcoming {
		if r.DaysLeft < 0 {
			n++
		}
	}
	return n
}

// renewalsCSV is one of /renewals' tables as CSV, under the page's filters.
func renewalsCSV(v RenewalsView, table string) templ.SafeURL {
	u := "/renewals/" + table + ".csv"
	if enc := v.P.Query.Values(v.P.Today).Encode(); enc != "" {
		u += "?" + enc
	}
	return templ.SafeURL(u)
}

// colorLabel names a colour, "no score" for none.
func colorLabel(c string) string {
	if c == "" {
		return "no score"
	}
	return c
}

func dueText(days int) string {
	switch {
	case days < 0:
		return strconv.Itoa(-days) + " days overdue"
	case days == 0:
		return "today"
	case days == 1:
		return "tomorrow"
	}
	return "in " + strconv.Itoa(days) + " days"
}

func dueClass(days int) string {
	switch {
	case days < 0:
		return "badge red"
	case days <= 30:
		return "badge yellow"
	}
	return "muted"
}

// pointsChange is a score change with its sign: "+3 points".
func pointsChange(d *float64) string {
	if d == nil {
		return ""
	}
	return metrics.FormatPoints(*d)
}

var recLabels = map[string]string{metrics.RecExpand: "expand", metrics.RecRightSize: "right-size",
	metrics.RecChangeModel: "change model", metrics.RecAdopt: "adopt"}

func recLabel(kind string) string { return recLabels[kind] }

// recBadge colours a recommendation: money up is blue (an opportunity), down yellow.
func recBadge(kind string) string {
	switch kind {
	case metrics.RecExpand:
		return "badge blue"
	case metrics.RecRightSize, metrics.RecChangeModel:
		return "badge yellow"
	}
	return "badge"
}

// recSubject is what a recommendation is about: its entitlement or feature.
func recSubject(r metrics.Recommendation) string {
	if r.Entitlement != nil {
		return *r.Entitlement
	}
	if r.Feature != nil {
		return *r.Feature
	}
	return ""
}

func signedMoney(v float64) string {
	if v > 0 {
		return "+" + money(v)
	}
	if v < 0 {
		return "−" + money(-v)
	}
	return money(0)
}

func outcomeBadge(o string) string {
	switch o {
	case models.OutcomeExpanded:
		return "badge blue"
	case models.OutcomeRenewed:
		return "badge green"
	case models.OutcomeContracted:
		return "badge yellow"
	case models.OutcomeChurned:
		return "badge red"
	}
	return "badge"
}

// lostRateChart draws the lost rate of each colour at each lead time.
func lostRateChart(bs []metrics.Backtest) string {
	colors := map[string]string{"green": "#15803d", "yellow": "#a16207", "red": "#b91c1c"}
	c := chartSpec{Type: "bar", Percent: true, Max: 1}
	for _, b := range bs {
		c.Labels = append(c.Labels, strconv.Itoa(b.LeadDays)+" days before")
	}
	for _, color := range metrics.Colors {
		s := chartSeries{Label: color, Color: colors[color]}
		for _, b := range bs {
			s.Data = append(s.Data, b.ByColor[color].LostRate)
		}
		c.Series = append(c.Series, s)
	}
	return chartJSON(c)
}

// auc writes an AUC with two decimals, "—" when there is none.
func auc(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}

// aucWord reads an AUC for people.
func aucWord(v *float64) string {
	switch {
	case v == nil:
		return "not measurable"
	case *v >= 0.8:
		return "strong"
	case *v >= 0.7:
		return "useful"
	case *v >= 0.6:
		return "weak"
	case *v > 0.4:
		return "no better than chance"
	}
	return "backwards: lower goes with kept"
}

func aucSentence(b metrics.Backtest) string {
	return "Of a kept and a lost renewal picked at random, the kept one had the higher score " +
		strconv.Itoa(int(*b.AUC*100+0.5)) + "% of the time (" + aucWord(b.AUC) + "), " + strconv.Itoa(b.LeadDays) +
		" days before they were due, over " + strconv.Itoa(b.Renewals) + " closed renewals, " + strconv.Itoa(b.Lost) + " of them lost."
}

func weightText(w float64) string { return strconv.FormatFloat(w, 'f', -1, 64) }

// better says the suggestion beats today's weights on renewals it was not fitted on.
func better(w metrics.WeightSuggestion) bool {
	return w.HeldOutAUC != nil && w.CurrentAUC != nil && *w.HeldOutAUC > *w.CurrentAUC
}

// isNewForm says the submitted form added a renewal (its key is not on record).
func isNewForm(v RenewalsPanelView) bool {
	if v.Errors == nil {
		return false
	}
	for _, r := range v.Renewals {
		if r.Key == v.Form.Key {
			return false
		}
	}
	return true
}

// formFor is a renewal form's values: as submitted after a refusal of that form, else
// the defaults (an outcome closes today; a new renewal starts at the account's ARR).
func formFor(v RenewalsPanelView, key string, isNew bool) RenewalForm {
	if v.Errors != nil && (isNew && isNewForm(v) || !isNew && v.Form.Key == key) {
		return v.Form
	}
	if isNew {
		return RenewalForm{Outcome: models.OutcomePending, ARRBefore: strconv.FormatFloat(v.ARR, 'f', -1, 64)}
	}
	return RenewalForm{Key: key, Outcome: models.OutcomeRenewed, ClosedOn: v.Today.String()}
}

// formErrors are the errors of this form, none when another form was refused.
func formErrors(v RenewalsPanelView, key string, isNew bool) map[string]string {
	if v.Errors != nil && (isNew && isNewForm(v) || !isNew && v.Form.Key == key) {
		return v.Errors
	}
	return nil
}

// overdueText adds how many of the upcoming renewals are overdue, ending the sentence.
func overdueText(p *models.Pipeline) string {
	if n := overdueCount(p); n > 0 {
		return ", of which " + strconv.Itoa(n) + " overdue."
	}
	return "."
}

// splitRecs separates the recommendations that move money from the features to adopt,
// which the pipeline lists on one line.
func splitRecs(recs []metrics.Recommendation) (money []metrics.Recommendation, adopt []string) {
	for _, r := range recs {
		if r.Kind == metrics.RecAdopt {
			adopt = append(adopt, recSubject(r))
		} else {
			money = append(money, r)
		}
	}
	return money, adopt
}

// adoptText lists features to adopt, the first few by name.
func adoptText(features []string) string {
	const shown = 3
	if len(features) <= shown {
		return strings.Join(features, ", ")
	}
	return strings.Join(features[:shown], ", ") + " and " + strconv.Itoa(len(features)-shown) + " more"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// positionsNote says how many entitlements a shift covers when accounts hold several.
func positionsNote(sh models.ModelShift) string {
	if sh.Positions > sh.Accounts {
		return " (" + strconv.Itoa(sh.Positions) + " entitlements)"
	}
	return ""
}

// RenewalsListLimit is how many rows each /renewals table lists; the CSVs have all.
const RenewalsListLimit = 100

// upcomingListed are the upcoming renewals the page lists (the first Query.Limit).
func upcomingListed(p *models.Pipeline) []models.PipelineRow {
	if p.Query.Limit > 0 && len(p.Upcoming) > p.Query.Limit {
		return p.Upcoming[:p.Query.Limit]
	}
	return p.Upcoming
}
