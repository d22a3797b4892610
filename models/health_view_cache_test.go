package models_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sightline/ingest"
	"sightline/models"
	"sightline/models/dbtest"
)

// Process a keeps the account page's health it computed (on SQLite); every write of
// process b that the page shows must show in a's next view: usage, a late group
// call, an entitlement, the account, the catalog, the scorecard. Views nothing
// changed for are not computed again.
func TestAccountPageHealthFollowsWritesOfOtherProcesses(t *testing.T) {
	dbtest.EachTwoProcesses(t, func(t *testing.T, a, b *models.Store) {
		ctx := context.Background()
		today := models.Today()
		mustDo := func(_ any, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		mustDo(b.UpsertFeature(ctx, &models.Feature{Key: "reports", Name: "Reports", Product: "core", EventNames: []string{"Report Run"}}))
		mustDo(b.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme"}))
		mustDo(b.UpsertEntitlement(ctx, "acme", &models.Entitlement{Key: "seats", Product: "core", Model: "user", Quantity: 10}))
		send := func(lines ...string) {
			t.Helper()
			msgs, err := ingest.ParseBatch([]byte(`{"batch":[`+strings.Join(lines, ",")+`]}`), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			mustDo(ingest.Store(ctx, b, msgs, 0))
		}
		ts := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
		track := func(user, event string) string {
			return fmt.Sprintf(`{"type":"track","userId":%q,"event":%q,"timestamp":%q}`, user, event, ts)
		}
		group := func(user string) string {
			return fmt.Sprintf(`{"type":"group","userId":%q,"groupId":"acme","timestamp":%q}`, user, ts)
		}
		send(group("ann"), track("ann", "Signed In"))

		view := func() *models.HealthView {
			t.Helper()
			v, err := a.AccountHealthView(ctx, "acme", today)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		check := func(step string, got, want any) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: process a's account page shows %v, want %v", step, got, want)
			}
		}
		activeUsers := func(v *models.HealthView) any { return v.Health.Result.ActiveUsers }
		check("start", activeUsers(view()), 1)
		fills := a.HealthViewFills()
		check("again", activeUsers(view()), 1)
		if n := a.HealthViewFills(); n != fills {
			t.Fatalf("nothing changed, yet the view was computed %d more times", n-fills)
		}
		if a.Dialect() == models.SQLite && fills == 0 {
			t.Fatal("SQLite keeps no view")
		}

		send(track("bob", "Report Run"), group("bob")) // the group call arrives after the event
		check("a second user", activeUsers(view()), 2)
		send(track("bob", "Report Run"))
		check("the same user again", view().Health.Result.FeatureAdoption[0].Users, 1)
		mustDo(b.UpsertEntitlement(ctx, "acme", &models.Entitlement{Key: "seats", Product: "core", Model: "user", Quantity: 4}))
		check("seats changed", *view().Health.Result.SeatActivation, 0.5)
		mustDo(b.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme Inc"}))
		check("account renamed", view().Account.Name, "Acme Inc")
		mustDo(b.UpsertFeature(ctx, &models.Feature{Key: "reports", Name: "Reports", Product: "core", EventNames: []string{"Report Opened"}}))
		check("feature's event changed", view().Health.Result.FeatureAdoption[0].Users, 0)
		cfg, err := b.Scorecard(ctx)
		mustDo(nil, err)
		before := *view().Health.Result.Health.Score
		w := cfg.Measures["seat_activation"]
		w.Weight += 30
		cfg.Measures["seat_activation"] = w
		mustDo(nil, b.PutScorecard(ctx, cfg))
		if after := *view().Health.Result.Health.Score; after == before {
			t.Fatalf("scorecard changed: the score stayed %v", after)
		}
		// Plain SQL, no application code: the triggers still see it.
		mustDo(nil, b.DB().Exec("UPDATE end_users SET group_key = 'other' WHERE user_key = 'bob'").Error)
		check("a user moved away in SQL", activeUsers(view()), 1)
	})
}

// During a rolling upgrade, processes of the previous release read
// feature_totals_state.generation: on PostgreSQL it must follow the adoption version.
func TestPreviousReleaseFollowsAdoptionVersion(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		if s.Dialect() != models.Postgres {
			t.Skip("SQLite has no rolling upgrades: one process owns the file")
		}
		ctx := context.Background()
		if _, err := s.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		counters := func() (old, adoption int64) {
			t.Helper()
			if err := s.DB().Raw("SELECT generation FROM feature_totals_state").Scan(&old).Error; err != nil {
				t.Fatal(err)
			}
			if err := s.DB().Raw("SELECT version FROM cache_versions WHERE name = 'adoption'").Scan(&adoption).Error; err != nil {
				t.Fatal(err)
			}
			return old, adoption
		}
		_, start := counters()
		// A write of this release: the triggers bump the version, the old counter follows.
		if _, err := s.UpsertEntitlement(ctx, "acme", &models.Entitlement{Key: "seats", Product: "core", Model: "user", Quantity: 3}); err != nil {
			t.Fatal(err)
		}
		if old, adoption := counters(); old != adoption || adoption <= start {
			t.Fatalf("after a write: feature_totals_state.generation %d, adoption version %d (was %d): they must move together", old, adoption, start)
		}
		// The previous release's own bump, here without a write of the tables (an
		// import of no rows): the version follows it too.
		_, before := counters()
		if err := s.DB().Exec("UPDATE feature_totals_state SET generation = generation + 1").Error; err != nil {
			t.Fatal(err)
		}
		if old, adoption := counters(); old != adoption || adoption != before+1 {
			t.Fatalf("after the old bump: feature_totals_state.generation %d, adoption version %d (was %d)", old, adoption, before)
		}
	})
}

// What is derived from a view is built once per key; a failed build is not kept.
func TestHealthViewMemo(t *testing.T) {
	var v models.HealthView
	builds := 0
	build := func(err error) func() (any, error) {
		return func() (any, error) { builds++; return builds, err }
	}
	if _, err := v.Memo("a", build(fmt.Errorf("boom"))); err == nil {
		t.Fatal("a failed build's error was not returned")
	}
	for range 2 {
		if got, err := v.Memo("a", build(nil)); err != nil || got != 2 {
			t.Fatalf("memo a = %v, %v; want the second build, kept", got, err)
		}
	}
	if got, _ := v.Memo("b", build(nil)); got != 3 {
		t.Fatalf("memo b = %v; another key is built on its own", got)
	}
}
