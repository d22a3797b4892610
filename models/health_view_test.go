package models_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"sightline/demo"
	"sightline/models"
	"sightline/models/dbtest"
)

// TestAccountPageReadsWhatTheAPIComputes: the account page loads only the login and
// session events beyond the windows its figures need; its health, explanations and the
// 90 days of its charts must still be what the health API computes from every event.
func TestAccountPageReadsWhatTheAPIComputes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		today := models.NewDate(2026, 11, 20)
		if _, err := demo.Seed(ctx, s, today, demo.Options{Accounts: 8, Days: 130}, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
		accounts, err := s.ListAccountsAfter(ctx, "", 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accounts {
			view, err := s.AccountHealthView(ctx, a.Key, today)
			if err != nil {
				t.Fatal(err)
			}
			api, err := s.AccountHealth(ctx, a.Key, today)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(view.Health)
			want, _ := json.Marshal(api)
			if string(got) != string(want) {
				t.Errorf("%s: the page's health differs from the API's:\n%s\n%s", a.Key, got, want)
			}
			for _, back := range []int{89, 75, 61, 40, 0} {
				day := today.AddDays(-back)
				then, err := s.AccountHealth(ctx, a.Key, day)
				if err != nil {
					t.Fatal(err)
				}
				p := view.Trend[89-back]
				if p.Day != day.String() || !sameFloat(p.DailyUsageRate, then.DailyUsageRate) || !sameFloat(p.AvgSecondsPerLogin, then.AvgSecondsPerLogin) {
					t.Errorf("%s on %s: chart %v / %v, API %v / %v", a.Key, day, deref(p.DailyUsageRate), deref(p.AvgSecondsPerLogin),
						deref(then.DailyUsageRate), deref(then.AvgSecondsPerLogin))
				}
			}
		}
	})
}

func sameFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	d := *a - *b
	return d < 1e-9 && d > -1e-9
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}
