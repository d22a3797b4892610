package demo_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"sightline/demo"
	"sightline/models"
	"sightline/models/dbtest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestDemoCoversWhatTheIssueAsks checks the shape of the full-size demo (with fewer
// days of usage to stay quick): every entitlement model, expired and future terms,
// unused features, executives and departments.
func TestDemoCoversWhatTheIssueAsks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		today := models.NewDate(2026, 11, 20)
		res, err := demo.Seed(ctx, s, today, demo.Options{Days: 10}, quiet())
		if err != nil {
			t.Fatal(err)
		}
		if res.Accounts < 150 || res.Features < 20 || res.Users == 0 {
			t.Fatalf("result %+v", res)
		}
		count := func(q string, args ...any) int {
			var n int
			if err := s.DB().Raw(q, args...).Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count("SELECT count(DISTINCT model) FROM entitlements"); n != 8 {
			t.Errorf("%d entitlement models, want 8", n)
		}
		if count("SELECT count(*) FROM entitlements WHERE ends_on < ?", today) == 0 {
			t.Error("no expired entitlement")
		}
		if count("SELECT count(*) FROM entitlements WHERE starts_on > ?", today) == 0 {
			t.Error("no future entitlement")
		}
		if n := count("SELECT count(DISTINCT segment) FROM accounts"); n < 3 {
			t.Errorf("%d segments", n)
		}
		if n := count("SELECT count(DISTINCT lifecycle_stage) FROM accounts"); n != 3 {
			t.Errorf("%d lifecycle stages", n)
		}
		if count("SELECT count(*) FROM accounts WHERE csm_email = ''") != 0 {
			t.Error("accounts without a CSM")
		}
		unused := count(`SELECT count(*) FROM features f WHERE NOT EXISTS (
			SELECT 1 FROM feature_events fe JOIN usage_user_event_days e ON e.event_name = fe.event_name WHERE fe.feature_id = f.id)`)
		if unused == 0 {
			t.Error("every feature is used; the demo needs features nobody uses")
		}
		if count("SELECT count(*) FROM end_users WHERE level = 'executive'") == 0 || count("SELECT count(DISTINCT department) FROM end_users") < 5 {
			t.Error("users lack executives or departments")
		}
		first, last := today.AddDays(-9).EpochDay(), today.EpochDay()
		if count("SELECT min(day) FROM usage_user_days") != first || count("SELECT max(day) FROM usage_user_days") != last {
			t.Error("usage does not span the requested days ending today")
		}
		// Seeding again is refused: demo data only goes into an empty database.
		if _, err := demo.Seed(ctx, s, today, demo.Options{Days: 1}, quiet()); err == nil {
			t.Error("second seed accepted")
		}
	})
}

func TestDemoIsDeterministicAndHasWeekendRhythm(t *testing.T) {
	ctx := context.Background()
	today := models.NewDate(2026, 11, 20) // a Friday
	summary := func() (string, []int) {
		s := dbtest.SQLite(t)
		if _, err := demo.Seed(ctx, s, today, demo.Options{Accounts: 40, Days: 14}, quiet()); err != nil {
			t.Fatal(err)
		}
		var sig string
		s.DB().Raw("SELECT group_concat(key || ':' || CAST(arr AS TEXT), ',') FROM (SELECT key, arr FROM accounts ORDER BY key)").Scan(&sig)
		var perDay []int
		s.DB().Raw("SELECT count(*) FROM usage_user_days GROUP BY day ORDER BY day").Scan(&perDay)
		return sig, perDay
	}
	a, daysA := summary()
	b, daysB := summary()
	if a != b || len(daysA) != 14 || len(daysA) != len(daysB) {
		t.Fatalf("two seeds differ")
	}
	for i := range daysA {
		if daysA[i] != daysB[i] {
			t.Fatalf("day %d: %d vs %d active users", i, daysA[i], daysB[i])
		}
	}
	// Days 0..13 run Sat 7 Nov … Fri 20 Nov: weekends are far quieter than weekdays.
	weekend := daysA[0] + daysA[1] + daysA[7] + daysA[8]
	weekdays := daysA[2] + daysA[3] + daysA[4] + daysA[5]
	if weekend*3 > weekdays {
		t.Fatalf("weekend %d vs weekdays %d active user-days", weekend, weekdays)
	}
}

// TestDemoAlerts: the demo opens alerts of every kind its data calls for, some with a
// person's snooze or resolution and a note, and queues them to its webhook.
func TestDemoAlerts(t *testing.T) {
	s := dbtest.SQLite(t)
	ctx := context.Background()
	today := models.Today()
	if _, err := demo.Seed(ctx, s, today, demo.Options{Accounts: 60, Days: 45}, quiet()); err != nil {
		t.Fatal(err)
	}
	for _, l := range demo.Logins {
		if _, err := s.CreateTeamMember(ctx, l.Email, l.Name, l.Role, "demo"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := demo.SeedAlerts(ctx, s, today, quiet())
	if err != nil || n == 0 {
		t.Fatalf("%d alerts, %v", n, err)
	}
	var kinds []string
	s.DB().Raw("SELECT DISTINCT kind FROM alerts ORDER BY kind").Scan(&kinds)
	for _, want := range []string{"consumption", "executive_lost", "gone_dark", "renewal_risk", "underuse"} {
		found := false
		for _, k := range kinds {
			found = found || k == want
		}
		if !found {
			t.Errorf("no %s alert in the demo (kinds: %v)", want, kinds)
		}
	}
	var snoozed, resolved, deliveries int
	s.DB().Raw("SELECT count(*) FROM alerts WHERE state = 'snoozed' AND note <> ''").Scan(&snoozed)
	s.DB().Raw("SELECT count(*) FROM alerts WHERE state = 'resolved' AND resolution IN ('acted', 'no_action') AND note <> ''").Scan(&resolved)
	s.DB().Raw("SELECT count(*) FROM webhook_deliveries").Scan(&deliveries)
	if snoozed < 1 || resolved < 1 || deliveries < n {
		t.Fatalf("snoozed %d, resolved %d, deliveries %d for %d alerts", snoozed, resolved, deliveries, n)
	}
}
