package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"sightline/models"
	"sightline/models/dbtest"
)

func TestMigrateTwiceIsANoOp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		applied, err := s.Migrate(context.Background())
		if err != nil || len(applied) != 0 {
			t.Fatalf("second migrate applied %v, err %v", applied, err)
		}
	})
}

func TestDatesRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		a := models.Account{Key: "acme", Name: "Acme", RenewalOn: models.NewDate(2027, time.February, 28)}
		if _, err := s.UpsertAccount(ctx, &a); err != nil {
			t.Fatal(err)
		}
		b := models.Account{Key: "bolt", Name: "Bolt"} // no renewal date
		if _, err := s.UpsertAccount(ctx, &b); err != nil {
			t.Fatal(err)
		}
		got, err := s.AccountByKey(ctx, "acme")
		if err != nil || got.RenewalOn.String() != "2027-02-28" {
			t.Fatalf("renewal %v, err %v", got.RenewalOn, err)
		}
		got, _ = s.AccountByKey(ctx, "bolt")
		if !got.RenewalOn.IsZero() {
			t.Fatalf("empty renewal read back as %v", got.RenewalOn)
		}
		if _, err := s.AccountByKey(ctx, "nope"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown account: %v", err)
		}
	})
}

func TestUpsertAccountUpdatesInPlace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		created, err := s.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme", ARR: 10})
		if err != nil || !created {
			t.Fatalf("created %v err %v", created, err)
		}
		created, err = s.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme Inc", ARR: 20, LifecycleStage: "renewal"})
		if err != nil || created {
			t.Fatalf("second upsert created %v err %v", created, err)
		}
		if n, _ := s.CountAccounts(ctx); n != 1 {
			t.Fatalf("%d accounts", n)
		}
		a, _ := s.AccountByKey(ctx, "acme")
		if a.Name != "Acme Inc" || a.ARR != 20 || a.LifecycleStage != "renewal" {
			t.Fatalf("account %+v", a)
		}
		var verr *models.ValidationError
		_, err = s.UpsertAccount(ctx, &models.Account{Key: "bad key!", Name: "", ARR: -1, LifecycleStage: "churned"})
		if !errors.As(err, &verr) || len(verr.Fields) != 4 {
			t.Fatalf("invalid account: %v", err)
		}
	})
}

func TestRollupsAccumulate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		u := models.EndUser{UserKey: "u1", Level: "unknown", FirstSeenAt: time.Now(), LastSeenAt: time.Now()}
		if err := s.DB().Create(&u).Error; err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
		for round := 0; round < 2; round++ { // applying twice adds twice: rollups are increments
			r := models.NewRollups()
			r.AddActivity(u.ID, at)
			r.AddActivity(u.ID, at.Add(5*time.Hour))
			r.AddEvent(u.ID, at, "Session Ended", 90)
			r.AddMeter(u.ID, at, "api_calls", 2.5)
			r.AddDevice(u.ID, at, "d1")
			if err := s.Transaction(ctx, func(tx *gorm.DB) error { return models.ApplyRollups(ctx, tx, r) }); err != nil {
				t.Fatal(err)
			}
		}
		var day struct{ Messages, HoursMask int }
		s.DB().Raw("SELECT messages, hours_mask FROM usage_user_days WHERE end_user_id = ? AND day = ?", u.ID, models.EpochDay(at)).Scan(&day)
		if day.Messages != 4 || day.HoursMask != 1<<9|1<<14 {
			t.Fatalf("user day %+v", day)
		}
		var ev struct {
			Events          int
			DurationSeconds float64
		}
		s.DB().Raw("SELECT events, duration_seconds FROM usage_user_event_days WHERE end_user_id = ?", u.ID).Scan(&ev)
		if ev.Events != 2 || ev.DurationSeconds != 180 {
			t.Fatalf("event day %+v", ev)
		}
		var qty float64
		s.DB().Raw("SELECT quantity FROM usage_user_meter_days WHERE end_user_id = ?", u.ID).Scan(&qty)
		var devices int
		s.DB().Raw("SELECT count(*) FROM usage_user_device_days WHERE end_user_id = ?", u.ID).Scan(&devices)
		if qty != 5 || devices != 1 {
			t.Fatalf("meter %v devices %d", qty, devices)
		}
	})
}

func TestSecretsAreStoredHashed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		plain, wk, err := s.CreateWriteKey(ctx, models.WriteKeyInput{Name: "web app"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var stored string
		s.DB().Raw("SELECT key_hash FROM write_keys WHERE id = ?", wk.ID).Scan(&stored)
		if stored == plain || stored != models.HashSecret(plain) {
			t.Fatalf("write key stored as %q", stored)
		}
		if got, err := s.WriteKeyBySecret(ctx, plain); err != nil || got.ID != wk.ID {
			t.Fatalf("lookup: %v", err)
		}
		if err := s.RevokeWriteKey(ctx, wk.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WriteKeyBySecret(ctx, plain); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("revoked key still found: %v", err)
		}
		m, err := s.CreateTeamMember(ctx, "Ann@X.test", "Ann", models.RoleCSM, "s3cret")
		if err != nil {
			t.Fatal(err)
		}
		if m.Email != "ann@x.test" || m.PasswordHash == "s3cret" {
			t.Fatalf("member %+v", m)
		}
		if _, err := s.CreateTeamMember(ctx, "ann@x.test", "Ann", models.RoleCSM, "other"); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("duplicate member: %v", err)
		}
		if _, err := s.Authenticate(ctx, "ann@x.test", "wrong"); !errors.Is(err, models.ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := s.Authenticate(ctx, "ANN@x.test", "s3cret"); err != nil {
			t.Fatalf("right password: %v", err)
		}
	})
}

// A token's last use is written on first use and then at most once per TouchInterval.
func TestTouchAPITokenWritesAtMostOncePerInterval(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		_, tok, err := s.CreateAPIToken(ctx, "bi", models.RolePM, nil)
		if err != nil {
			t.Fatal(err)
		}
		lastUsed := func() *time.Time {
			t.Helper()
			ts, err := s.ListAPITokens(ctx)
			if err != nil || len(ts) != 1 {
				t.Fatalf("%d tokens, %v", len(ts), err)
			}
			return ts[0].LastUsedAt
		}
		if lastUsed() != nil {
			t.Fatal("a new token has a last use")
		}
		s.TouchAPIToken(ctx, tok.ID)
		first := lastUsed()
		if first == nil {
			t.Fatal("first use not recorded")
		}
		s.TouchAPIToken(ctx, tok.ID)
		if again := lastUsed(); again == nil || !again.Equal(*first) {
			t.Fatalf("a second use within the interval rewrote %v as %v", first, again)
		}
		old := first.Add(-2 * models.TouchInterval)
		if err := s.DB().Exec("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", old, tok.ID).Error; err != nil {
			t.Fatal(err)
		}
		s.TouchAPIToken(ctx, tok.ID)
		if later := lastUsed(); later == nil || !later.After(old.Add(models.TouchInterval)) {
			t.Fatalf("a use after the interval left %v", later)
		}
	})
}
