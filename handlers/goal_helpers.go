package handlers

import (
	"strconv"

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
	v.Metrics = append(v.Metrics, metrics.GoalMetricKeys...)
	for _, f := range features {
		v.Metrics = append(v.Metrics, "feature_adoption:"+f.Key)
	}
	for _, l := range metrics.ExposureLevels {
		v.Metrics = append(v.Metrics, "exposure:"+l)
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
		if *raw == "" {
			targetProblem = "Attainable: a target value is required"
		} else if t, err := strconv.ParseFloat(*raw, 64); err != nil {
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
