package models_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"sightline/models"
	"sightline/models/dbtest"
)

// TestRenewalsFollowAndKeepHistory writes renewals through the store: the account's
// renewal_on follows its earliest pending renewal, closing it moves the date on, every
// change is in the history, and refusals say what is wrong.
func TestRenewalsFollowAndKeepHistory(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		own := models.NewDate(2026, time.March, 1)
		if _, err := s.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme", ARR: 12000, RenewalOn: own}); err != nil {
			t.Fatal(err)
		}
		renewalOn := func() string {
			a, err := s.AccountByKey(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			return a.RenewalOn.String()
		}
		manager := models.Actor{Name: "mia@x.test"}
		put := func(r models.Renewal) bool {
			t.Helper()
			created, err := s.UpsertRenewal(ctx, "acme", &r, manager)
			if err != nil {
				t.Fatal(err)
			}
			return created
		}
		// Two pending renewals: the earliest wins over the account's own date.
		if !put(models.Renewal{Key: "fy27", DueOn: models.NewDate(2027, time.January, 31), ARRBefore: 12000}) {
			t.Error("first write did not create")
		}
		put(models.Renewal{Key: "fy26", DueOn: models.NewDate(2026, time.January, 31), ARRBefore: 10000})
		if got := renewalOn(); got != "2026-01-31" {
			t.Errorf("renewal_on %s, want the earliest pending renewal", got)
		}
		// An account write cannot move it away while a renewal is pending.
		if _, err := s.UpsertAccount(ctx, &models.Account{Key: "acme", Name: "Acme", ARR: 12000, RenewalOn: own}); err != nil {
			t.Fatal(err)
		}
		if got := renewalOn(); got != "2026-01-31" {
			t.Errorf("renewal_on %s after an account write", got)
		}
		// Closing fy26 (expanded) moves renewal_on to fy27; a renewed renewal's ARR after defaults to its ARR before.
		if put(models.Renewal{Key: "fy26", DueOn: models.NewDate(2026, time.January, 31), ARRBefore: 10000,
			Outcome: models.OutcomeExpanded, ARRAfter: ptr(12000.0), ClosedOn: ptr(models.NewDate(2026, time.January, 20)), Note: "added insights"}) {
			t.Error("an update reported a creation")
		}
		if got := renewalOn(); got != "2027-01-31" {
			t.Errorf("renewal_on %s after closing fy26", got)
		}
		r, err := s.RenewalByKey(ctx, "acme", "fy26")
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != "expanded" || *r.ARRAfter != 12000 || r.ClosedOn.String() != "2026-01-20" || r.Account != "acme" {
			t.Errorf("fy26 = %+v", r)
		}
		// Writing the same again changes nothing and adds no history.
		put(models.Renewal{Key: "fy26", DueOn: models.NewDate(2026, time.January, 31), ARRBefore: 10000,
			Outcome: models.OutcomeExpanded, ARRAfter: ptr(12000.0), ClosedOn: ptr(models.NewDate(2026, time.January, 20)), Note: "added insights"})
		_, histories, err := s.AccountRenewals(ctx, r.AccountID)
		if err != nil {
			t.Fatal(err)
		}
		history := histories[r.ID]
		if len(history) != 2 || !strings.HasPrefix(history[0].Change, "created: due 2026-01-31, ARR 10000, pending") ||
			history[1].Change != "outcome pending → expanded; ARR after none → 12000; closed none → 2026-01-20; note: added insights" ||
			history[1].Actor != "mia@x.test" {
			t.Errorf("history %+v", history)
		}
		// The account page's read: its renewals, latest due first, each with its own
		// history, and nothing of another account's.
		if _, err := s.UpsertAccount(ctx, &models.Account{Key: "globex", Name: "Globex", RenewalOn: own}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpsertRenewal(ctx, "globex", &models.Renewal{Key: "fy26", DueOn: own, ARRBefore: 5000}, manager); err != nil {
			t.Fatal(err)
		}
		rs, byRenewal, err := s.AccountRenewals(ctx, r.AccountID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2 || rs[0].Key != "fy27" || rs[1].Key != "fy26" || rs[1].Account != "acme" || len(byRenewal) != 2 {
			t.Fatalf("account renewals %+v, histories of %d", rs, len(byRenewal))
		}
		if got := byRenewal[r.ID]; len(got) != 2 || got[0].Change != history[0].Change || got[1].Change != history[1].Change {
			t.Errorf("fy26's history %+v, want %+v", got, history)
		}
		if got := byRenewal[rs[0].ID]; len(got) != 1 || !strings.HasPrefix(got[0].Change, "created: due 2027-01-31") {
			t.Errorf("fy27's history %+v", got)
		}

		// Refusals name the field.
		for _, c := range []struct {
			r     models.Renewal
			field string
		}{
			{models.Renewal{Key: "x", ARRBefore: 1}, "due_on"},
			{models.Renewal{Key: "x", DueOn: own, ARRBefore: -1}, "arr_before"},
			{models.Renewal{Key: "x", DueOn: own, Outcome: "won"}, "outcome"},
			{models.Renewal{Key: "x", DueOn: own, Outcome: "churned"}, "closed_on"},
			{models.Renewal{Key: "x", DueOn: own, ClosedOn: ptr(own)}, "closed_on"},
			{models.Renewal{Key: "x", DueOn: own, ARRBefore: 100, Outcome: "expanded", ClosedOn: ptr(own)}, "arr_after"},
			{models.Renewal{Key: "x", DueOn: own, ARRBefore: 100, Outcome: "expanded", ClosedOn: ptr(own), ARRAfter: ptr(90.0)}, "arr_after"},
			{models.Renewal{Key: "x", DueOn: own, ARRBefore: 100, Outcome: "contracted", ClosedOn: ptr(own), ARRAfter: ptr(100.0)}, "arr_after"},
			{models.Renewal{Key: "x", DueOn: own, ARRBefore: 100, Outcome: "churned", ClosedOn: ptr(own), ARRAfter: ptr(5.0)}, "arr_after"},
			{models.Renewal{Key: "bad key", DueOn: own}, "key"},
		} {
			_, err := s.UpsertRenewal(ctx, "acme", &c.r, manager)
			var verr *models.ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) == 0 || verr.Fields[0].Field != c.field {
				t.Errorf("%+v: %v, want a problem with %s", c.r, err, c.field)
			}
		}
		if _, err := s.UpsertRenewal(ctx, "nobody", &models.Renewal{Key: "x", DueOn: own}, manager); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("unknown account: %v", err)
		}

		// Deleting the last pending renewal leaves the account's date where it was.
		if err := s.DeleteRenewal(ctx, "acme", "fy27"); err != nil {
			t.Fatal(err)
		}
		if got := renewalOn(); got != "2027-01-31" {
			t.Errorf("renewal_on %s after deleting fy27", got)
		}
		if _, err := s.RenewalByKey(ctx, "acme", "fy27"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("deleted renewal: %v", err)
		}
	})
}

// TestRenewalsCSVRoundTrip imports renewals from a CRM-like export, exports them
// again byte for byte, and refuses a bad file whole with its problems by line.
func TestRenewalsCSVRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		for _, k := range []string{"acme", "globex"} {
			if _, err := s.UpsertAccount(ctx, &models.Account{Key: k, Name: k}); err != nil {
				t.Fatal(err)
			}
		}
		file := "account,key,due_on,arr_before,outcome,arr_after,closed_on,note\n" +
			"acme,fy25,2025-01-31,10000,renewed,10000,2025-01-15,\n" +
			"acme,fy26,2026-01-31,10000,pending,,,\"call, then quote\"\n" +
			"globex,fy25,2025-06-30,5000,churned,0,2025-06-30,moved to a rival\n"
		res, err := s.ImportCSV(ctx, models.KindRenewals, strings.NewReader(file))
		if err != nil || res.Rows != 3 {
			t.Fatalf("import: %+v %v", res, err)
		}
		var out bytes.Buffer
		if err := s.ExportCSV(ctx, models.KindRenewals, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != file {
			t.Errorf("export differs:\n%s\nwant\n%s", out.String(), file)
		}
		a, _ := s.AccountByKey(ctx, "acme")
		if a.RenewalOn.String() != "2026-01-31" {
			t.Errorf("acme renews %s", a.RenewalOn)
		}
		// Imported again: nothing changed, no new history.
		if _, err := s.ImportCSV(ctx, models.KindRenewals, strings.NewReader(file)); err != nil {
			t.Fatal(err)
		}
		r, _ := s.RenewalByKey(ctx, "acme", "fy26")
		if _, hs, _ := s.AccountRenewals(ctx, r.AccountID); len(hs[r.ID]) != 1 || hs[r.ID][0].Actor != "CSV import" {
			t.Errorf("history after a re-import: %+v", hs[r.ID])
		}

		bad := "account,key,due_on,arr_before,outcome,arr_after,closed_on,note\n" +
			"acme,fy26,2026-01-31,10000,renewed,10000,2026-01-20,\n" + // valid, but the file is refused
			"initech,fy26,2026-02-01,1,pending,,,\n" +
			"acme,fy27,not-a-date,1,pending,,,\n" +
			"globex,fy26,2026-06-30,5000,expanded,,2026-06-30,\n" +
			"acme,fy26,2026-01-31,1,pending,,,\n"
		_, err = s.ImportCSV(ctx, models.KindRenewals, strings.NewReader(bad))
		var verr *models.ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("bad file: %v", err)
		}
		got := []string{}
		for _, f := range verr.Fields {
			got = append(got, strings.Join([]string{itoa(f.Line), f.Field}, ":"))
		}
		if strings.Join(got, " ") != "3:account 4:due_on 5:arr_after 6:key" {
			t.Errorf("problems %v: %+v", got, verr.Fields)
		}
		r, _ = s.RenewalByKey(ctx, "acme", "fy26")
		if r.Outcome != "pending" {
			t.Error("a refused file wrote a row")
		}
	})
}
