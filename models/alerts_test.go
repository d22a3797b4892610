package models_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sightline/alerts"
	"sightline/ingest"
	"sightline/models"
	"sightline/models/dbtest"
)

// alertWorld is one account, "acme", with a 4-seat user entitlement bought 60 days
// ago at $415 a seat, and people using it today.
type alertWorld struct {
	t     *testing.T
	s     *models.Store
	today models.Date
	ctx   context.Context
}

func newAlertWorld(t *testing.T, s *models.Store) *alertWorld {
	t.Helper()
	w := &alertWorld{t: t, s: s, today: models.Today(), ctx: context.Background()}
	w.must(s.UpsertAccount(w.ctx, &models.Account{Key: "acme", Name: "Acme", ARR: 120000, CSMEmail: "casey@example.com", LifecycleStage: "adoption"}))
	w.entitlement(4, w.today.AddDays(-60))
	return w
}

func (w *alertWorld) must(_ any, err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *alertWorld) entitlement(qty float64, starts models.Date) {
	w.t.Helper()
	w.must(w.s.UpsertEntitlement(w.ctx, "acme", &models.Entitlement{Key: "seats", Product: "core", Model: "user",
		Quantity: qty, UnitPrice: 415, StartsOn: starts}))
}

// use sends a login for each user today (after their group call).
func (w *alertWorld) use(users ...string) {
	w.t.Helper()
	var b strings.Builder
	b.WriteString(`{"batch":[`)
	ts := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	for i, u := range users {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"type":"group","userId":%q,"groupId":"acme","timestamp":%q},{"type":"track","userId":%q,"event":"Signed In","timestamp":%q}`, u, ts, u, ts)
	}
	b.WriteString("]}")
	msgs, err := ingest.ParseBatch([]byte(b.String()), time.Now())
	if err != nil {
		w.t.Fatal(err)
	}
	w.must(ingest.Store(w.ctx, w.s, msgs, 0))
}

func (w *alertWorld) evaluate(asOf models.Date) models.EvaluationResult {
	w.t.Helper()
	res, err := w.s.EvaluateAlerts(w.ctx, asOf)
	if err != nil {
		w.t.Fatal(err)
	}
	return res
}

func (w *alertWorld) alerts(kind string, states ...string) []models.Alert {
	w.t.Helper()
	if len(states) == 0 {
		states = models.AlertStates
	}
	list, err := w.s.ListAlerts(w.ctx, models.AlertFilter{Kinds: []string{kind}, States: states})
	if err != nil {
		w.t.Fatal(err)
	}
	return list
}

func (w *alertWorld) only(kind string, states ...string) models.Alert {
	w.t.Helper()
	list := w.alerts(kind, states...)
	if len(list) != 1 {
		w.t.Fatalf("%d %s alerts in %v, want 1: %+v", len(list), kind, states, list)
	}
	return list[0]
}

func str(s string) *string { return &s }

func TestConsumptionAlertOpensOnceAndClears(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		w := newAlertWorld(t, s)
		w.use("u1", "u2", "u3", "u4", "u5", "u6")
		if res := w.evaluate(w.today); res.Opened == 0 {
			t.Fatalf("nothing opened: %+v", res)
		}
		a := w.only(alerts.KindConsumption)
		if a.Message != "seats: 6 of 4 seats in use (150%), $830 not billed" || a.Severity != "critical" ||
			*a.Threshold != 1.2 || a.Subject != "seats" || a.State != models.AlertOpen || a.Owner() != "casey@example.com" {
			t.Fatalf("alert %+v", a)
		}
		// Evaluating again changes nothing: one alert per condition.
		if res := w.evaluate(w.today); res.Opened != 0 || res.Updated != 0 {
			t.Fatalf("second evaluation %+v", res)
		}
		// More seats bought: the condition goes, the alert is resolved as cleared.
		w.entitlement(10, w.today.AddDays(-60))
		w.evaluate(w.today)
		a = w.only(alerts.KindConsumption)
		if a.State != models.AlertResolved || *a.Resolution != models.ResolutionCleared {
			t.Fatalf("after buying seats %+v", a)
		}
		// Back to 4 seats in the same term: never again in that term.
		w.entitlement(4, w.today.AddDays(-60))
		w.evaluate(w.today)
		if n := len(w.alerts(alerts.KindConsumption)); n != 1 {
			t.Fatalf("%d consumption alerts in one term", n)
		}
		// A new term (renewed 10 days ago): it opens again.
		w.entitlement(4, w.today.AddDays(-10))
		w.evaluate(w.today)
		if open := w.alerts(alerts.KindConsumption, models.AlertOpen); len(open) != 1 || open[0].Term != w.today.AddDays(-10).String() {
			t.Fatalf("new term: %+v", open)
		}
		hist, err := s.AlertHistory(w.ctx, a.ID)
		if err != nil || len(hist) != 2 || hist[0].Kind != "resolved" || hist[1].Kind != "opened" || hist[0].ActorName != "Sightline" {
			t.Fatalf("history %+v %v", hist, err)
		}
	})
}

func TestPersonsResolutionHoldsUntilTheConditionClears(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		w := newAlertWorld(t, s)
		acct := &models.Account{Key: "acme", Name: "Acme", ARR: 120000, CSMEmail: "casey@example.com", LifecycleStage: "renewal",
			RenewalOn: w.today.AddDays(30)}
		w.must(s.UpsertAccount(w.ctx, acct)) // renews in 30 days, no usage: not green
		w.evaluate(w.today)
		a := w.only(alerts.KindRenewalRisk)
		if !strings.HasPrefix(a.Message, "Renews in 30 days") || a.Severity != "critical" {
			t.Fatalf("%+v", a)
		}
		actor := models.Actor{Name: "casey@example.com"}
		if _, err := s.UpdateAlert(w.ctx, a.ID, models.AlertChange{State: str("resolved"), Resolution: str("acted"), Note: str("called the sponsor")}, actor, w.today); err != nil {
			t.Fatal(err)
		}
		// The condition lasts: the person's resolution holds.
		w.evaluate(w.today)
		if a := w.only(alerts.KindRenewalRisk); a.State != models.AlertResolved || *a.Resolution != "acted" || a.Note != "called the sponsor" {
			t.Fatalf("%+v", a)
		}
		// The condition clears (renewal pushed out), then returns: a new alert.
		acct.RenewalOn = w.today.AddDays(200)
		w.must(s.UpsertAccount(w.ctx, acct))
		w.evaluate(w.today)
		if n := len(w.alerts(alerts.KindRenewalRisk)); n != 1 {
			t.Fatalf("%d alerts while cleared", n)
		}
		acct.RenewalOn = w.today.AddDays(20)
		w.must(s.UpsertAccount(w.ctx, acct))
		w.evaluate(w.today)
		if open := w.alerts(alerts.KindRenewalRisk, models.AlertOpen); len(open) != 1 || open[0].ID == a.ID {
			t.Fatalf("returned condition: %+v", open)
		}
	})
}

func TestSnoozedAlertComesBackOnItsDate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		w := newAlertWorld(t, s)
		w.use("u1", "u2", "u3", "u4", "u5", "u6")
		w.evaluate(w.today)
		a := w.only(alerts.KindConsumption)
		actor := models.Actor{Name: "casey@example.com"}
		// Not after today: refused with the field named.
		_, err := s.UpdateAlert(w.ctx, a.ID, models.AlertChange{State: str("snoozed"), SnoozedUntil: str(w.today.String())}, actor, w.today)
		if err == nil || !strings.Contains(err.Error(), "snoozed_until") {
			t.Fatalf("snooze until today: %v", err)
		}
		until := w.today.AddDays(2)
		if _, err := s.UpdateAlert(w.ctx, a.ID, models.AlertChange{State: str("snoozed"), SnoozedUntil: str(until.String()), Note: str("after the QBR")}, actor, w.today); err != nil {
			t.Fatal(err)
		}
		w.evaluate(w.today.AddDays(1)) // the day before: still snoozed
		if a := w.only(alerts.KindConsumption); a.State != models.AlertSnoozed {
			t.Fatalf("%+v", a)
		}
		res := w.evaluate(until) // its date: back, the condition still holding
		if a := w.only(alerts.KindConsumption); a.State != models.AlertOpen || a.SnoozedUntil != nil || res.Woken != 1 {
			t.Fatalf("%+v %+v", a, res)
		}
		hist, _ := s.AlertHistory(w.ctx, a.ID)
		if hist[0].Kind != "woke" || hist[1].Kind != "snoozed" || hist[1].Note != "after the QBR" || hist[1].ActorName != "casey@example.com" {
			t.Fatalf("history %+v", hist)
		}
	})
}

// TestIncrementalEvaluation: only changed accounts are looked at; a change to an
// entitlement, or usage, brings an account in.
func TestIncrementalEvaluation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		w := newAlertWorld(t, s)
		w.must(s.UpsertAccount(w.ctx, &models.Account{Key: "quiet", Name: "Quiet", LifecycleStage: "adoption"}))
		first, err := s.EvaluateChangedAlerts(w.ctx, w.today)
		if err != nil || !first.Full || first.Accounts != 2 {
			t.Fatalf("first run %+v %v", first, err)
		}
		again, err := s.EvaluateChangedAlerts(w.ctx, w.today)
		if err != nil || again.Full || again.Accounts != 0 {
			t.Fatalf("nothing changed: %+v %v", again, err)
		}
		w.use("u1", "u2", "u3", "u4", "u5") // acme's usage
		res, err := s.EvaluateChangedAlerts(w.ctx, w.today)
		if err != nil || res.Full || res.Accounts != 1 || res.Opened != 1 {
			t.Fatalf("after usage %+v %v", res, err)
		}
		w.entitlement(10, w.today.AddDays(-60))
		res, err = s.EvaluateChangedAlerts(w.ctx, w.today)
		if err != nil || res.Accounts != 1 || res.Resolved != 1 {
			t.Fatalf("after an entitlement change %+v %v", res, err)
		}
		// New rules evaluate everyone.
		r := alerts.DefaultRules()
		r.Consumption.Enabled = false
		if err := s.PutAlertRules(w.ctx, r); err != nil {
			t.Fatal(err)
		}
		res, err = s.EvaluateChangedAlerts(w.ctx, w.today)
		if err != nil || !res.Full || res.Accounts != 2 {
			t.Fatalf("after new rules %+v %v", res, err)
		}
	})
}

// TestTwoProcessesEvaluateAtOnce: at most one unresolved alert per condition whatever
// evaluates concurrently.
func TestTwoProcessesEvaluateAtOnce(t *testing.T) {
	dbtest.EachTwoProcesses(t, func(t *testing.T, a, b *models.Store) {
		w := newAlertWorld(t, a)
		w.use("u1", "u2", "u3", "u4", "u5", "u6")
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() { _, errs[i] = s.EvaluateAlerts(context.Background(), w.today) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		a1 := w.only(alerts.KindConsumption)
		hist, _ := a.AlertHistory(w.ctx, a1.ID)
		if len(hist) != 1 {
			t.Fatalf("history %+v", hist)
		}
	})
}

// TestWebhookDeliveriesAreQueued: opening an alert queues one delivery per subscribed
// webhook, in the same transaction.
func TestWebhookDeliveriesAreQueued(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *models.Store) {
		w := newAlertWorld(t, s)
		hook, created, err := s.PutWebhook(w.ctx, "ops", models.WebhookInput{URL: "https://hooks.example.com/x", Events: []string{"alert.opened", "alert.resolved"}})
		if err != nil || !created || !strings.HasPrefix(hook.Secret, "whsec_") {
			t.Fatalf("%+v %v %v", hook, created, err)
		}
		if _, _, err := s.PutWebhook(w.ctx, "slack", models.WebhookInput{URL: "https://hooks.slack.com/services/x", Events: []string{"alert.reopened"}, Format: "slack"}); err != nil {
			t.Fatal(err)
		}
		w.use("u1", "u2", "u3", "u4", "u5", "u6")
		w.evaluate(w.today)
		acts, err := s.RecentDeliveries(w.ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, a := range acts {
			got[a.Webhook.Key] = len(a.Deliveries)
			for _, d := range a.Deliveries {
				if d.EventType != "alert.opened" || !strings.Contains(d.Payload, `"type":"alert.opened"`) || !strings.Contains(d.Payload, `"account":"acme"`) || !strings.HasPrefix(d.MsgID, "msg_") {
					t.Fatalf("delivery %+v", d)
				}
			}
		}
		if got["ops"] != 1 || got["slack"] != 0 {
			t.Fatalf("deliveries per webhook %v", got)
		}
		if _, _, err := s.PutWebhook(w.ctx, "bad", models.WebhookInput{URL: "ftp://x", Events: []string{"alert.closed"}}); err == nil {
			t.Fatal("a bad webhook was accepted")
		}
	})
}
