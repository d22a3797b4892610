package models_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sightline/metrics"
	"sightline/models"
	"sightline/models/dbtest"
)

// catalogOf lists the cached catalog as "feature/product/event|event", sorted.
func catalogOf(t *testing.T, s *models.Store) []string {
	t.Helper()
	_, catalog, err := s.HealthSettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range catalog {
		out = append(out, f.Key+"/"+f.Product+"/"+strings.Join(f.EventNames, "|"))
	}
	slices.Sort(out)
	return out
}

// entitledFeatures are the features of acme's health document on day.
func entitledFeatures(t *testing.T, s *models.Store, day models.Date) []string {
	t.Helper()
	h, err := s.AccountHealth(context.Background(), "acme", day)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, f := range h.FeatureAdoption {
		out = append(out, f.Feature)
	}
	return out
}

// Process a keeps a copy of the catalog and scorecard; every way process b (or plain
// SQL) changes them must show in a's next computation, and nothing else reloads it.
func TestHealthCacheFollowsWritesOfOtherProcesses(t *testing.T) {
	dbtest.EachTwoProcesses(t, func(t *testing.T, a, b *models.Store) {
		ctx := context.Background()
		day := models.Today()
		check := func(step string, want ...string) {
			t.Helper()
			if got := catalogOf(t, a); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: process a sees catalog %v, want %v", step, got, want)
			}
		}
		mustDo := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		_, err := b.UpsertFeature(ctx, &models.Feature{Key: "reports", Name: "Reports", Product: "core", EventNames: []string{"Report Run"}})
		mustDo(err)
		_, err = b.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme"})
		mustDo(err)
		_, err = b.UpsertEntitlement(ctx, "acme", &models.Entitlement{Key: "seats", Product: "core", Model: "user", Quantity: 10})
		mustDo(err)

		check("start", "reports/core/Report Run")
		if got := entitledFeatures(t, a, day); fmt.Sprint(got) != "[reports]" {
			t.Fatalf("entitled %v", got)
		}
		loads := a.HealthCacheLoads()
		check("unchanged", "reports/core/Report Run")
		a.AccountHealth(ctx, "acme", day)
		if n := a.HealthCacheLoads(); n != loads {
			t.Fatalf("nothing changed, yet the copy was loaded %d more times", n-loads)
		}
		// Writes that leave the catalog alone do not throw the copy away either.
		_, err = b.UpsertEntitlement(ctx, "acme", &models.Entitlement{Key: "extra", Product: "other", Model: "user", Quantity: 1})
		mustDo(err)
		_, err = b.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme Inc"})
		mustDo(err)
		check("after unrelated writes", "reports/core/Report Run")
		if n := a.HealthCacheLoads(); n != loads {
			t.Fatalf("unrelated writes reloaded the copy %d times", n-loads)
		}

		_, err = b.UpsertFeature(ctx, &models.Feature{Key: "alerts", Name: "Alerts", Product: "core", EventNames: []string{"Alert Set"}})
		mustDo(err)
		check("feature added", "alerts/core/Alert Set", "reports/core/Report Run")
		if got := entitledFeatures(t, a, day); fmt.Sprint(got) != "[alerts reports]" {
			t.Fatalf("after a feature was added, entitled %v", got)
		}
		_, err = b.UpsertFeature(ctx, &models.Feature{Key: "alerts", Name: "Alerts", Product: "other", EventNames: []string{"Alert Set", "Alert Muted"}})
		mustDo(err)
		check("feature edited", "alerts/other/Alert Muted|Alert Set", "reports/core/Report Run")
		mustDo(b.DeleteFeature(ctx, "alerts"))
		check("feature deleted", "reports/core/Report Run")
		_, err = b.ImportCSV(ctx, "features", strings.NewReader("key,name,product,event_names,key_feature\nexports,Exports,core,Export Done,false\n"))
		mustDo(err)
		check("CSV import", "exports/core/Export Done", "reports/core/Report Run")
		// Plain SQL, no application code: the triggers still see it.
		mustDo(b.DB().Exec("UPDATE feature_events SET event_name = 'Report Opened' WHERE event_name = 'Report Run'").Error)
		check("event renamed in SQL", "exports/core/Export Done", "reports/core/Report Opened")
		mustDo(b.DB().Exec("UPDATE products SET key = 'platform' WHERE key = 'core'").Error)
		check("product renamed in SQL", "exports/platform/Export Done", "reports/platform/Report Opened")
		if got := entitledFeatures(t, a, day); fmt.Sprint(got) != "[exports reports]" {
			t.Fatalf("after the product was renamed, entitled %v", got)
		}

		// The scorecard, through the store and through SQL.
		cfg, err := a.Scorecard(ctx)
		mustDo(err)
		if cfg.Measures[metrics.MeasureBreadth].Weight != 20 {
			t.Fatalf("default breadth weight %v", cfg.Measures[metrics.MeasureBreadth])
		}
		cfg.Measures[metrics.MeasureBreadth] = metrics.MeasureConfig{Target: 0.5, Weight: 40}
		if again, _ := a.Scorecard(ctx); again.Measures[metrics.MeasureBreadth].Weight != 20 {
			t.Fatal("changing a returned scorecard changed the cached one")
		}
		mustDo(b.PutScorecard(ctx, cfg))
		h, err := a.AccountHealth(ctx, "acme", day)
		mustDo(err)
		if m := h.Measure(metrics.MeasureBreadth); m == nil || m.Weight != 40 || m.Target != 0.5 {
			t.Fatalf("process a scores breadth with %+v after b saved weight 40, target 0.5", m)
		}
		mustDo(b.DB().Exec("DELETE FROM settings WHERE key = 'scorecard'").Error)
		if cfg, _ := a.Scorecard(ctx); cfg.Measures[metrics.MeasureBreadth].Weight != 20 {
			t.Fatalf("scorecard deleted in SQL, process a still sees %+v", cfg.Measures[metrics.MeasureBreadth])
		}
	})
}

// Process a keeps the unfiltered portfolio's sort orders and filter choices; every
// change of accounts or of their latest health by process b (or plain SQL) must show
// in a's next view, and nothing else reloads them.
func TestPortfolioCacheFollowsWritesOfOtherProcesses(t *testing.T) {
	dbtest.EachTwoProcesses(t, func(t *testing.T, a, b *models.Store) {
		ctx := context.Background()
		today := models.Today()
		mustDo := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		for i, name := range []string{"Beta", "Alpha", "Gamma"} {
			_, err := b.UpsertAccount(ctx, &models.Account{Key: strings.ToLower(name), Name: name, ARR: float64(10 * (i + 1)),
				Segment: "smb", CSMEmail: "ann@x.test"})
			mustDo(err)
		}
		view := func(sort string, desc bool) string {
			t.Helper()
			page, err := a.ListPortfolio(ctx, models.PortfolioQuery{Sort: sort, Desc: desc})
			mustDo(err)
			var keys []string
			for _, r := range page.Rows {
				keys = append(keys, r.Key)
			}
			return fmt.Sprintf("%d:%s", page.Total, strings.Join(keys, ","))
		}
		facets := func() string {
			t.Helper()
			segments, csms, err := a.AccountFacets(ctx)
			mustDo(err)
			return strings.Join(segments, ",") + "|" + strings.Join(csms, ",")
		}
		check := func(step, got, want string) {
			t.Helper()
			if got != want {
				t.Fatalf("%s: process a shows %q, want %q", step, got, want)
			}
		}
		check("start", view("name", false), "3:alpha,beta,gamma")
		check("start", view("arr", true), "3:gamma,alpha,beta")
		check("start", facets(), "smb|ann@x.test")
		loads := a.PortfolioCacheLoads()
		view("name", false)
		view("arr", true)
		facets()
		if n := a.PortfolioCacheLoads(); n != loads {
			t.Fatalf("nothing changed, yet process a read %d sorts or facets again", n-loads)
		}
		// Writes elsewhere leave the copy alone.
		_, err := b.UpsertFeature(ctx, &models.Feature{Key: "reports", Name: "Reports", Product: "core"})
		mustDo(err)
		view("name", false)
		if n := a.PortfolioCacheLoads(); n != loads {
			t.Fatal("a catalog write reloaded the portfolio's copy")
		}

		_, err = b.UpsertAccount(ctx, &models.Account{Key: "aardvark", Name: "Aardvark", ARR: 5, Segment: "enterprise"})
		mustDo(err)
		check("account added", view("name", false), "4:aardvark,alpha,beta,gamma")
		check("account added", facets(), "enterprise,smb|ann@x.test")
		_, err = b.UpsertAccount(ctx, &models.Account{Key: "alpha", Name: "Alpha", ARR: 99, Segment: "smb"})
		mustDo(err)
		check("ARR changed", view("arr", true), "4:alpha,gamma,beta,aardvark")
		mustDo(b.SetAccountCSM(ctx, "beta", "bob@x.test"))
		check("CSM assigned", facets(), "enterprise,smb|ann@x.test,bob@x.test")
		mustDo(b.DeleteAccount(ctx, "gamma"))
		check("account deleted", view("name", false), "3:aardvark,alpha,beta")
		mustDo(b.DB().Exec("UPDATE accounts SET name = 'Zulu' WHERE key = 'aardvark'").Error)
		check("renamed in SQL", view("name", false), "3:alpha,beta,aardvark")

		// The health sort follows the latest snapshots: a snapshot run, then plain SQL.
		check("no snapshots", view("health", true), "3:aardvark,alpha,beta")
		_, err = b.SnapshotHealth(ctx, today, today)
		mustDo(err)
		check("snapshots taken", strings.Split(view("health", true), ":")[0], "3") // a's copy now holds them
		mustDo(b.DB().Exec("UPDATE account_health_latest SET score = 80 WHERE account_id = (SELECT id FROM accounts WHERE key = 'beta')").Error)
		mustDo(b.DB().Exec("UPDATE account_health_latest SET score = 60 WHERE account_id = (SELECT id FROM accounts WHERE key = 'aardvark')").Error)
		mustDo(b.DB().Exec("UPDATE account_health_latest SET score = 70 WHERE account_id = (SELECT id FROM accounts WHERE key = 'alpha')").Error)
		check("scores set", view("health", true), "3:beta,alpha,aardvark")
		mustDo(b.DB().Exec("DELETE FROM account_health_latest WHERE account_id = (SELECT id FROM accounts WHERE key = 'beta')").Error)
		check("latest row deleted", view("health", true), "3:alpha,aardvark,beta")

		// What each row shows follows too: its account, its latest health, its alerts.
		row := func(key string) string {
			t.Helper()
			page, err := a.ListPortfolio(ctx, models.PortfolioQuery{Sort: "name"})
			mustDo(err)
			for _, r := range page.Rows {
				if r.Key == key {
					score := "-"
					if r.HealthScore != nil {
						score = fmt.Sprint(*r.HealthScore)
					}
					return fmt.Sprintf("%s %v %s %d %v", r.Name, r.ARR, score, r.OpenAlerts, r.RiskFlags)
				}
			}
			return "missing"
		}
		check("row", row("alpha"), "Alpha 99 70 0 []")
		mustDo(b.DB().Exec("UPDATE accounts SET name = 'Alpha Inc', arr = 120 WHERE key = 'alpha'").Error)
		check("row after SQL", row("alpha"), "Alpha Inc 120 70 0 []")
		mustDo(b.DB().Exec("UPDATE account_health_latest SET score = 55 WHERE account_id = (SELECT id FROM accounts WHERE key = 'alpha')").Error)
		check("row's health", row("alpha"), "Alpha Inc 120 55 0 []")
		now := time.Now().UTC()
		mustDo(b.DB().Exec("INSERT INTO alerts (account_id, kind, severity, state, message, opened_at, updated_at)"+
			" SELECT id, 'gone_dark', 'warning', 'open', 'nobody signed in', ?, ? FROM accounts WHERE key = 'alpha'", now, now).Error)
		check("alert opened", row("alpha"), "Alpha Inc 120 55 1 [gone dark]")
		owned := func() string {
			t.Helper()
			n, err := a.OpenAlertCount(ctx, "ann@x.test")
			mustDo(err)
			return fmt.Sprint(n)
		}
		check("nobody owns it", owned(), "0")
		mustDo(b.DB().Exec("UPDATE alerts SET owner_email = 'ann@x.test' WHERE kind = 'gone_dark'").Error)
		check("ann owns it", owned(), "1")
		mustDo(b.DB().Exec("UPDATE alerts SET state = 'resolved', resolution = 'acted', resolved_at = ? WHERE kind = 'gone_dark'", now).Error)
		check("alert resolved", row("alpha"), "Alpha Inc 120 55 0 []")
		check("ann's resolved", owned(), "0")

		// A read-only view reads the versions once: what another process writes during it
		// shows in the next view, not in the rest of this one.
		pageView := models.ReadOnlyView(ctx)
		ownedInView := func() string {
			t.Helper()
			n, err := a.OpenAlertCount(pageView, "ann@x.test")
			mustDo(err)
			return fmt.Sprint(n)
		}
		check("the view's first read", ownedInView(), "0")
		mustDo(b.DB().Exec("INSERT INTO alerts (account_id, kind, severity, state, message, opened_at, updated_at, owner_email)"+
			" SELECT id, 'gone_dark', 'warning', 'open', 'nobody signed in again', ?, ? , 'ann@x.test' FROM accounts WHERE key = 'alpha'", now, now).Error)
		check("later in the same view", ownedInView(), "0")
		check("the next read", owned(), "1")
		pageView = models.ReadOnlyView(ctx)
		check("the next view", ownedInView(), "1")
	})
}

// Process a keeps each viewed account's activity and the team; every change by
// process b, in plain SQL, to what they show (notes, goals and their changes, alerts
// and their changes, renewals and their history, the team) must show in a's next read,
// and a read with nothing changed must not read again.
func TestActivityCacheFollowsWritesOfOtherProcesses(t *testing.T) {
	dbtest.EachTwoProcesses(t, func(t *testing.T, a, b *models.Store) {
		ctx := context.Background()
		mustDo := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		_, err := b.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme"})
		mustDo(err)
		acme, err := a.AccountByKey(ctx, "acme")
		mustDo(err)
		activity := func() string {
			t.Helper()
			act, err := a.AccountActivity(ctx, acme)
			mustDo(err)
			var parts []string
			for _, n := range act.Notes {
				parts = append(parts, "note "+n.Body+" by "+n.AuthorEmail)
			}
			for _, al := range act.Alerts {
				parts = append(parts, "alert "+al.State+" "+al.Message)
			}
			for _, c := range act.Changes {
				parts = append(parts, c.Text)
			}
			for _, r := range act.Renewals {
				parts = append(parts, fmt.Sprintf("renewal %s %s, %d changes", r.Key, r.Outcome, len(act.History[r.ID])))
			}
			return strings.Join(parts, "; ")
		}
		team := func() string {
			t.Helper()
			ms, err := a.ListTeamMembers(ctx)
			mustDo(err)
			var emails []string
			for _, m := range ms {
				emails = append(emails, m.Email)
			}
			return strings.Join(emails, ",")
		}
		check := func(step, got, want string) {
			t.Helper()
			if got != want {
				t.Fatalf("%s: process a shows %q, want %q", step, got, want)
			}
		}
		now := time.Now().UTC().Truncate(time.Second)
		at := func(minutes int) time.Time { return now.Add(time.Duration(minutes) * time.Minute) }
		exec := func(sql string, args ...any) {
			t.Helper()
			mustDo(b.DB().Exec(sql, args...).Error)
		}
		check("nothing yet", activity(), "")
		check("nobody", team(), "")
		fills := a.ActivityFills()
		check("again", activity(), "")
		if n := a.ActivityFills(); n != fills {
			t.Fatalf("nothing changed, yet the activity was read again (%d → %d reads)", fills, n)
		}

		exec("INSERT INTO team_members (email, role, created_at) VALUES ('ann@x.test', 'csm', ?)", now)
		check("a member", team(), "ann@x.test")
		exec("INSERT INTO notes (account_id, author_id, body, created_at) SELECT ?, id, 'Called Ann', ? FROM team_members", acme.ID, at(1))
		check("a note", activity(), "note Called Ann by ann@x.test")
		exec("UPDATE team_members SET email = 'ann@y.test'")
		check("the author's new e-mail", activity(), "note Called Ann by ann@y.test")
		check("the member's new e-mail", team(), "ann@y.test")

		exec("INSERT INTO goals (account_id, title, metric, target, baseline, relevance, due_on, created_at, updated_at)"+
			" VALUES (?, 'Adopt reports', 'breadth', 0.5, 0.2, 'renewal', ?, ?, ?)", acme.ID, models.Today().AddDays(30), now, now)
		exec("INSERT INTO goal_events (goal_id, kind, actor_name, created_at) SELECT id, 'created', 'mia', ? FROM goals", at(2))
		check("a goal's change", activity(), "note Called Ann by ann@y.test; Goal “Adopt reports” created")
		exec("UPDATE goals SET title = 'Adopt dashboards'")
		check("the goal's new title", activity(), "note Called Ann by ann@y.test; Goal “Adopt dashboards” created")

		exec("INSERT INTO alerts (account_id, kind, severity, state, message, opened_at, updated_at)"+
			" VALUES (?, 'gone_dark', 'warning', 'open', 'nobody signed in', ?, ?)", acme.ID, now, now)
		check("an alert", activity(), "note Called Ann by ann@y.test; alert open nobody signed in; Goal “Adopt dashboards” created")
		exec("INSERT INTO alert_events (alert_id, kind, actor_name, created_at) SELECT id, 'opened', 'Sightline', ? FROM alerts", at(3))
		check("an alert's change", activity(), "note Called Ann by ann@y.test; alert open nobody signed in;"+
			" Alert opened: nobody signed in; Goal “Adopt dashboards” created")
		exec("UPDATE alerts SET state = 'resolved', resolution = 'acted', resolved_at = ?", now)
		check("the alert resolved", activity(), "note Called Ann by ann@y.test; Alert opened: nobody signed in; Goal “Adopt dashboards” created")

		exec("INSERT INTO renewals (account_id, key, due_on, created_at, updated_at) VALUES (?, 'fy27', ?, ?, ?)",
			acme.ID, models.Today().AddDays(90), now, now)
		check("a renewal", activity(), "note Called Ann by ann@y.test; Alert opened: nobody signed in; Goal “Adopt dashboards” created;"+
			" renewal fy27 pending, 0 changes")
		exec("INSERT INTO renewal_events (renewal_id, at, actor, change) SELECT id, ?, 'mia', 'created' FROM renewals", now)
		check("a renewal's change", activity(), "note Called Ann by ann@y.test; Alert opened: nobody signed in; Goal “Adopt dashboards” created;"+
			" renewal fy27 pending, 1 changes")
		exec("DELETE FROM notes")
		check("the note deleted", activity(), "Alert opened: nobody signed in; Goal “Adopt dashboards” created; renewal fy27 pending, 1 changes")
	})
}
