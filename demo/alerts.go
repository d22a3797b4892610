package demo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"sightline/models"
)

// DemoWebhookURL points nowhere: the demo's webhook shows failed deliveries and
// their retries in Settings → Webhooks.
const DemoWebhookURL = "http://127.0.0.1:9/sightline-demo-webhook"

// SeedAlerts opens the alerts the demo's data calls for, spread over the last three
// weeks, and gives some of Casey's a history: snoozed until after a call, resolved
// with what was done. A webhook pointing nowhere receives them all, so its failed
// deliveries and their retries show. Run it after the snapshots and goals.
func SeedAlerts(ctx context.Context, store *models.Store, today models.Date, log *slog.Logger) (int, error) {
	if _, _, err := store.PutWebhook(ctx, "ops-bridge", models.WebhookInput{URL: DemoWebhookURL,
		Events: models.WebhookEvents, Format: models.WebhookStandard}); err != nil {
		return 0, err
	}
	res, err := store.EvaluateAlerts(ctx, today)
	if err != nil {
		return 0, err
	}
	// Alerts open as conditions arise, not all at once: spread their opening over the
	// last three weeks, deterministically.
	db := store.DB().WithContext(ctx)
	now := time.Now().UTC()
	var ids []int64
	if err := db.Raw("SELECT id FROM alerts ORDER BY id").Scan(&ids).Error; err != nil {
		return 0, err
	}
	for _, id := range ids {
		at := now.Add(-time.Duration((id*37)%(21*24)) * time.Hour)
		if err := db.Exec("UPDATE alerts SET opened_at = ?, updated_at = ? WHERE id = ?", at, at, id).Error; err != nil {
			return 0, err
		}
		if err := db.Exec("UPDATE alert_events SET created_at = ? WHERE alert_id = ? AND kind = 'opened'", at, id).Error; err != nil {
			return 0, err
		}
	}
	mine, err := store.ListAlerts(ctx, models.AlertFilter{Owners: []string{"csm@demo.test"}, States: []string{models.AlertOpen}})
	if err != nil {
		return 0, err
	}
	casey := models.Actor{Name: "csm@demo.test"}
	if m, err := store.TeamMemberByEmail(ctx, "csm@demo.test"); err == nil {
		casey.MemberID = &m.ID
	}
	str := func(s string) *string { return &s }
	stories := []models.AlertChange{
		{State: str(models.AlertSnoozed), SnoozedUntil: str(today.AddDays(3).String()), Note: str("QBR on Thursday: raising it there with their VP.")},
		{State: str(models.AlertResolved), Resolution: str(models.ResolutionActed), Note: str("Quote for 10 more seats sent; they signed.")},
		{State: str(models.AlertSnoozed), SnoozedUntil: str(today.AddDays(10).String()), Note: str("Seasonal dip: their fiscal year closes next week.")},
		{State: str(models.AlertResolved), Resolution: str(models.ResolutionNoAction), Note: str("Known: a pilot team ended as planned.")},
	}
	changed := 0
	for i, story := range stories {
		// Every fifth of Casey's alerts, so the stories touch different kinds.
		if j := i * 5; j < len(mine) {
			if _, err := store.UpdateAlert(ctx, mine[j].ID, story, casey, today); err != nil {
				return changed, fmt.Errorf("demo: alert story: %w", err)
			}
			changed++
		}
	}
	log.Info("demo alerts opened", "alerts", res.Opened, "with a history", changed)
	return res.Opened, nil
}
