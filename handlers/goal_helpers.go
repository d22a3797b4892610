package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"sightline/metrics"
	"sightline/models"
	"sightline/views"
)

// goalActor is who acts: the logged-in member, or the API token (which has no member).
func goalActor(c echo.Context) models.Actor {
	if m := currentMember(c); m != nil {
		return models.Actor{MemberID: &m.ID, Name: m.Email}
	}
	if tok, ok := c.Get(tokenKey).(*models.APIToken); ok {
		return models.Actor{Name: "API token " + tok.Name}
	}
	return models.Actor{}
}

// goalsView gathers the account's goals region; the form state is the caller's.
func (s *server) goalsView(c echo.Context, key string) (views.GoalsView, error) {
	ctx := c.Request().Context()
	acct, goals, err := s.store.AccountGoals(ctx, key, models.DateOf(s.now()), true)
	if err != nil {
		return views.GoalsView{}, err
	}
	v := views.GoalsView{AccountKey: acct.Key, AccountName: acct.Name, Goals: goals,
		New: views.GoalForm{Errors: views.FormErrors{}}, Edit: views.GoalForm{Errors: views.FormErrors{}}}
	if !currentMember(c).Role.Can(models.PermManageGoals) {
		return v, nil
	}
	if v.Team, err = s.store.ListTeamMembers(ctx); err != nil {
		return v, err
	}
	features, err := s.store.ListFeatures(ctx, "", 1000)
	if err != nil {
		return v, err
	}
	for _, k := range metrics.GoalMetricKeys {
		m, _ := metrics.ParseGoalMetric(k)
		v.Metrics = append(v.Metrics, views.MetricChoice{Key: k, Label: capitalize(m.Label), Group: "Scorecard"})
	}
	for _, f := range features {
		name := f.Name
		if name == "" {
			name = f.Key
		}
		v.Metrics = append(v.Metrics, views.MetricChoice{Key: "feature_adoption:" + f.Key, Label: "Adoption of " + name, Group: "Feature adoption"})
	}
	for _, l := range metrics.ExposureLevels {
		v.Metrics = append(v.Metrics, views.MetricChoice{Key: "exposure:" + l, Label: capitalize(l) + " users active", Group: "Exposure"})
	}
	return v, nil
}

// goalChangeFromForm reads the goal fields a form sent (absent fields stay nil). A
// target that is not a number is reported apart, as the store never sees it.
func goalChangeFromForm(c echo.Context) (in models.GoalChange, form views.GoalForm, targetProblem string) {
	f, _ := c.FormParams()
	get := func(name string, into *string) *string {
		vals, ok := f[name]
		if !ok || len(vals) == 0 {
			return nil
		}
		*into = vals[0]
		return &vals[0]
	}
	in.Title = get("title", &form.Title)
	in.Metric = get("metric", &form.Metric)
	in.Relevance = get("relevance", &form.Relevance)
	in.DueOn = get("due_on", &form.DueOn)
	in.Owner = get("owner", &form.Owner)
	if raw := get("target", &form.Target); raw != nil {
		// Rates as people type them ("70", "70%") when the metric is known.
		m, merr := metrics.ParseGoalMetric(form.Metric)
		if merr != nil {
			m = metrics.GoalMetric{}
		}
		if *raw == "" {
			targetProblem = "Attainable: a target value is required"
		} else if t, err := m.ParseTarget(*raw); err != nil {
			targetProblem = "Attainable: target " + strconv.Quote(*raw) + " is not a number"
		} else {
			in.Target = &t
		}
	}
	if vals, ok := f["closed"]; ok && len(vals) > 0 {
		closed := vals[0] == "true" || vals[0] == "1"
		in.Closed = &closed
	}
	return in, form, targetProblem
}

// withTargetProblem adds a target that is not a number to the store's refusals.
func withTargetProblem(err error, problem string) error {
	if problem == "" {
		return err
	}
	verr, ok := err.(*models.ValidationError)
	if !ok || verr == nil {
		verr = &models.ValidationError{Message: "the goal is not SMART"}
	}
	kept := verr.Fields[:0:0]
	for _, f := range verr.Fields {
		if f.Field != "target" {
			kept = append(kept, f)
		}
	}
	verr.Fields = append(kept, models.FieldError{Field: "target", Message: problem})
	return verr
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// goalPreview is GET /accounts/{key}/goals/preview: what the new goal's target asks,
// against what the account's metric has done lately.
func (s *server) goalPreview(c echo.Context) error {
	m, err := metrics.ParseGoalMetric(c.QueryParam("metric"))
	if err != nil {
		return render(c, http.StatusOK, views.GoalPreview(views.GoalPreviewView{Error: "Choose a metric to see where the account stands."}), nil)
	}
	today := models.DateOf(s.now())
	hist, err := s.store.GoalMetricHistory(c.Request().Context(), c.Param("key"), m, today)
	if err != nil {
		return err
	}
	target, terr := m.ParseTarget(c.QueryParam("target"))
	due, derr := models.ParseDate(c.QueryParam("due_on"))
	if terr != nil || derr != nil || !due.After(today) {
		f := metrics.GoalFeasibility(m, hist, 0, metricsDayOf(today), metricsDayOf(today))
		f.Sentence = strings.SplitN(f.Sentence, ". The target", 2)[0]
		return render(c, http.StatusOK, views.GoalPreview(views.GoalPreviewView{Feasibility: f}), nil)
	}
	f := metrics.GoalFeasibility(m, hist, target, metricsDayOf(today), metricsDayOf(due))
	return render(c, http.StatusOK, views.GoalPreview(views.GoalPreviewView{Feasibility: f}), nil)
}

func metricsDayOf(d models.Date) metrics.Day { return metrics.Day(d.EpochDay()) }
