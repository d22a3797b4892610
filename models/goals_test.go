package models_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"sightline/metrics"
	"sightline/models"
	"sightline/models/dbtest"
)

func ptr[T any](v T) *T { return &v }

// goalInput is a valid goal on active_users (a count, measurable without any usage).
func goalInput(today models.Date) models.GoalChange {
	return models.GoalChange{Title: ptr("Grow the active user base"), Metric: ptr("active_users"), Target: ptr(10.0),
		Relevance: ptr("Renewal depends on broad use"), DueOn: ptr(today.AddDays(90).String())}
}

func TestCreateGoalRefusesEachSMARTLetter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		today := models.Today()
		if _, err := s.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name   string
			change func(*models.GoalChange)
			field  string
			prefix string
			text   string
		}{
			{"no title", func(g *models.GoalChange) { g.Title = ptr("  ") }, "title", "Specific:", "title is required"},
			{"unknown metric", func(g *models.GoalChange) { g.Metric = ptr("licensed_seats") }, "metric", "Measurable:", "not a metric"},
			{"no seats", func(g *models.GoalChange) { g.Metric = ptr("daily_usage_rate"); g.Target = ptr(0.5) }, "metric", "Measurable:", "no licensed seats"},
			{"feature not entitled", func(g *models.GoalChange) { g.Metric = ptr("feature_adoption:reports"); g.Target = ptr(0.5) }, "metric", "Measurable:", "not entitled"},
			{"not above baseline", func(g *models.GoalChange) { g.Target = ptr(0.0) }, "target", "Attainable:", "does not improve on the baseline of 0"},
			{"negative count", func(g *models.GoalChange) { g.Target = ptr(-2.0) }, "target", "Attainable:", "below 0"},
			{"negative exposure", func(g *models.GoalChange) { g.Metric = ptr("exposure:executive"); g.Target = ptr(-1.0) }, "target", "Attainable:", "below 0"},
			{"no relevance", func(g *models.GoalChange) { g.Relevance = nil }, "relevance", "Relevant:", "why"},
			{"due today", func(g *models.GoalChange) { g.DueOn = ptr(today.String()) }, "due_on", "Time-bound:", "after today"},
			{"due too far", func(g *models.GoalChange) { g.DueOn = ptr(today.AddDays(3*366 + 1).String()) }, "due_on", "Time-bound:", "more than 3 years"},
			{"bad date", func(g *models.GoalChange) { g.DueOn = ptr("next spring") }, "due_on", "Time-bound:", "YYYY-MM-DD"},
		}
		for _, tc := range cases {
			in := goalInput(today)
			tc.change(&in)
			_, err := s.CreateGoal(ctx, "acme", in, models.Actor{Name: "test"}, today)
			var verr *models.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("%s: err %v, want a validation error", tc.name, err)
			}
			msg := verr.For(tc.field)
			if !strings.HasPrefix(msg, tc.prefix) || !strings.Contains(msg, tc.text) || len(verr.Fields) != 1 {
				t.Errorf("%s: %v, want %s %q… containing %q", tc.name, verr.Fields, tc.field, tc.prefix, tc.text)
			}
		}
		if _, goals, err := s.AccountGoals(ctx, "acme", today, false); err != nil || len(goals) != 0 {
			t.Fatalf("refusals wrote goals: %v %v", goals, err)
		}
	})
}

func TestGoalLifecycleAndPacingFromSnapshots(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		today := models.Today()
		for _, k := range []string{"acme", "globex"} {
			if _, err := s.UpsertAccount(ctx, &models.Account{Key: k, Name: k, CSMEmail: "casey@x.test"}); err != nil {
				t.Fatal(err)
			}
		}
		mgr, err := s.CreateTeamMember(ctx, "mgr@x.test", "M", models.RoleManager, "pw-manager")
		if err != nil {
			t.Fatal(err)
		}
		actor := models.Actor{MemberID: &mgr.ID, Name: mgr.Email}
		g, err := s.CreateGoal(ctx, "acme", goalInput(today), actor, today)
		if err != nil {
			t.Fatal(err)
		}
		// An idle account: its metric's last two weeks are flat at 0, so a new goal of
		// 10 users is at risk from the start, not "too early to tell".
		if g.Baseline != 0 || g.Status != metrics.GoalAtRisk || !strings.HasPrefix(g.Sentence, "At this pace: 0 by") ||
			g.OwnerEmail != "mgr@x.test" || len(g.Events) != 1 || g.Events[0].Kind != "created" {
			t.Fatalf("created %+v", g)
		}
		other, err := s.CreateGoal(ctx, "globex", goalInput(today), actor, today)
		if err != nil {
			t.Fatal(err)
		}

		// Edits are recorded field by field; a refused edit changes nothing.
		if _, err := s.UpdateGoal(ctx, "acme", g.ID, models.GoalChange{Target: ptr(2.0)}, actor, today); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateGoal(ctx, "acme", g.ID, models.GoalChange{Target: ptr(-1.0)}, actor, today); err == nil {
			t.Fatal("negative target accepted on edit")
		}
		if _, err := s.UpdateGoal(ctx, "globex", g.ID, models.GoalChange{Target: ptr(3.0)}, actor, today); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("goal reached through another account: %v", err)
		}
		if _, err := s.AddGoalComment(ctx, "acme", g.ID, "Kick-off call booked", models.Actor{Name: "API token bot"}); err != nil {
			t.Fatal(err)
		}
		got, err := s.AccountGoal(ctx, "acme", g.ID, today)
		if err != nil {
			t.Fatal(err)
		}
		if got.Target != 2 || len(got.Events) != 3 || got.Events[0].Kind != "comment" || got.Events[0].Who() != "API token bot" {
			t.Fatalf("after edit and comment: target %v, events %+v", got.Target, got.Events)
		}
		var changes map[string]models.FieldChange
		if err := json.Unmarshal([]byte(got.Events[1].Changes), &changes); err != nil || len(changes) != 1 ||
			changes["target"].From != 10.0 || changes["target"].To != 2.0 || got.Events[1].Who() != "mgr@x.test" {
			t.Fatalf("edit recorded as %s by %s", got.Events[1].Changes, got.Events[1].Who())
		}

		// Backdate both goals 30 days and store 14 days of snapshots: acme climbs one
		// active user a day (on track to 40), globex does not move (at risk).
		target := 40.0
		for _, id := range []int64{g.ID, other.ID} {
			if err := s.DB().Exec("UPDATE goals SET created_at = ?, target = ? WHERE id = ?", today.AddDays(-30).Time(), target, id).Error; err != nil {
				t.Fatal(err)
			}
		}
		acme, _ := s.AccountByKey(ctx, "acme")
		globex, _ := s.AccountByKey(ctx, "globex")
		for i := 0; i <= 13; i++ {
			day := today.AddDays(-13 + i)
			for _, snap := range []struct {
				id    int64
				users int
			}{{acme.ID, 10 + i}, {globex.ID, 5}} {
				b, _ := json.Marshal(metrics.Result{ActiveUsers: snap.users})
				if err := s.DB().Create(&models.HealthSnapshot{AccountID: snap.id, Day: day, Metrics: string(b)}).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		list, err := s.ListGoals(ctx, models.GoalFilter{}, today)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].AccountKey != "globex" || list[0].Status != metrics.GoalAtRisk || list[1].Status != metrics.GoalOnTrack ||
			*list[1].Current != 23 || !strings.HasPrefix(list[0].Sentence, "At this pace: 5 by") {
			for _, g := range list {
				t.Logf("%s %s %v %s", g.AccountKey, g.Status, g.Current, g.Sentence)
			}
			t.Fatal("list not measured or sorted by urgency")
		}
		// The goal at risk opens an alert, which flags the account in the portfolio.
		if _, err := s.EvaluateAlerts(ctx, today); err != nil {
			t.Fatal(err)
		}
		if open, _ := s.ListAlerts(ctx, models.AlertFilter{Kinds: []string{"goal_at_risk"}, States: []string{"open"}}); len(open) != 1 || open[0].AccountID != globex.ID {
			t.Fatalf("goal alerts %+v", open)
		}
		page, err := s.ListPortfolio(ctx, models.ParsePortfolioQuery(url.Values{"risk": {models.RiskGoals}}))
		if err != nil || page.Total != 1 || page.Rows[0].Key != "globex" || !slices.Contains(page.Rows[0].RiskFlags, models.RiskGoals) {
			t.Fatalf("portfolio goals-at-risk filter: %+v %v", page, err)
		}
		if all, _ := s.ListPortfolio(ctx, models.ParsePortfolioQuery(url.Values{})); slices.ContainsFunc(all.Rows, func(r models.PortfolioRow) bool {
			return r.Key == "acme" && slices.Contains(r.RiskFlags, models.RiskGoals)
		}) {
			t.Fatal("an account without goals at risk is flagged")
		}
		if only, _ := s.ListGoals(ctx, models.GoalFilter{Status: metrics.GoalOnTrack}, today); len(only) != 1 || only[0].AccountKey != "acme" {
			t.Fatalf("status filter: %d goals", len(only))
		}
		if none, _ := s.ListGoals(ctx, models.GoalFilter{OwnerEmail: "nobody@x.test"}, today); len(none) != 0 {
			t.Fatal("owner filter ignored")
		}
		if due, _ := s.ListGoals(ctx, models.GoalFilter{DueMonth: today.AddDays(90).Time().Format("2006-01")}, today); len(due) != 2 {
			t.Fatal("due month filter lost goals")
		}

		// The account page draws the path since creation: stored days plus today, live.
		_, goals, err := s.AccountGoals(ctx, "acme", today, true)
		if err != nil {
			t.Fatal(err)
		}
		if p := goals[0].Path; len(p) != 31 || p[len(p)-1].Value != 0 || p[len(p)-2].Value != 22 {
			t.Fatalf("path has %d points: %v", len(p), p)
		}

		// Closing takes the goal off the open lists and off the risk count.
		closed, err := s.UpdateGoal(ctx, "globex", other.ID, models.GoalChange{Closed: ptr(true)}, actor, today)
		if err != nil || closed.Open() || closed.Events[0].Kind != "closed" {
			t.Fatalf("close: %v %+v", err, closed)
		}
		if _, err := s.EvaluateAlerts(ctx, today); err != nil {
			t.Fatal(err)
		}
		if flags, _ := s.AccountRiskFlags(ctx, globex.ID); slices.Contains(flags, models.RiskGoals) {
			t.Fatalf("closed goal still flagged: %v", flags)
		}
	})
}
