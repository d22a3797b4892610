package models

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"sightline/alerts"
)

// Jobs is the background work the store hands over in the transaction of the change
// that needs it, so the work exists if and only if the change commits (package jobs
// implements it with River).
type Jobs interface {
	// DeliverWebhooksTx sends deliveries, retried until answered; manual is an
	// admin's resend: one attempt.
	DeliverWebhooksTx(ctx context.Context, tx *sql.Tx, deliveryIDs []int64, manual bool) error
}

// SetJobs connects the store to the job queue; without it, deliveries wait as pending.
func (s *Store) SetJobs(j Jobs) { s.jobs = j }

// SetBaseURL sets where people reach Sightline, for links in webhooks and e-mails.
func (s *Store) SetBaseURL(u string) { s.baseURL = strings.TrimRight(u, "/") }

// BaseURL is where people reach Sightline ("" when unknown).
func (s *Store) BaseURL() string { return s.baseURL }

// AlertURL links to an alert's account page.
func (s *Store) AlertURL(a Alert) string {
	if s.baseURL == "" {
		return ""
	}
	return s.baseURL + "/accounts/" + url.PathEscape(a.AccountKey) + "#alert-" + fmt.Sprint(a.ID)
}

// Webhook formats.
const (
	WebhookStandard = "standard"
	WebhookSlack    = "slack"
)

// WebhookEvents are the event types a webhook may subscribe to.
var WebhookEvents = []string{EventAlertOpened, EventAlertResolved, EventAlertReopened}

// Webhook is an endpoint that receives alert events, signed with its secret.
type Webhook struct {
	ID        int64     `gorm:"column:id;primaryKey" json:"-"`
	Key       string    `gorm:"column:key" json:"key"`
	URL       string    `gorm:"column:url" json:"url"`
	Events    string    `gorm:"column:events" json:"-"` // space-separated
	Format    string    `gorm:"column:format" json:"format"`
	Secret    string    `gorm:"column:secret" json:"-"`
	CreatedAt time.Time `gorm:"column:created_at" json:"created_at"`
	UpdatedAt time.Time `gorm:"column:updated_at" json:"updated_at"`
}

// TableName maps the struct to its table.
func (Webhook) TableName() string { return "webhooks" }

// EventList is the subscribed event types.
func (w Webhook) EventList() []string { return strings.Fields(w.Events) }

// WebhookInput is the body of PUT /api/v1/webhooks/{key}.
type WebhookInput struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Format string   `json:"format"`
}

// PutWebhook creates or replaces a webhook; created tells a new one, whose secret the
// caller shows once.
func (s *Store) PutWebhook(ctx context.Context, key string, in WebhookInput) (w *Webhook, created bool, err error) {
	verr := &ValidationError{Message: "invalid webhook"}
	if !ValidKey(key) {
		verr.Add("key", keyRule)
	}
	u, perr := url.Parse(strings.TrimSpace(in.URL))
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		verr.Add("url", "must be an http or https URL")
	}
	if in.Format == "" {
		in.Format = WebhookStandard
	}
	if in.Format != WebhookStandard && in.Format != WebhookSlack {
		verr.Add("format", "must be standard or slack")
	}
	if len(in.Events) == 0 {
		verr.Add("events", "must list at least one of "+strings.Join(WebhookEvents, ", "))
	}
	var events []string
	for i, e := range in.Events {
		if !slices.Contains(WebhookEvents, e) {
			verr.Add(fmt.Sprintf("events[%d]", i), fmt.Sprintf("%q is not one of %s", e, strings.Join(WebhookEvents, ", ")))
		} else if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	if err := verr.OrNil(); err != nil {
		return nil, false, err
	}
	now := time.Now().UTC()
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var existing Webhook
		err := tx.Where("key = ?", key).Take(&existing).Error
		switch {
		case err == nil:
			existing.URL, existing.Events, existing.Format, existing.UpdatedAt = u.String(), strings.Join(events, " "), in.Format, now
			w = &existing
			return tx.Model(&Webhook{}).Where("id = ?", existing.ID).
				Updates(map[string]any{"url": existing.URL, "events": existing.Events, "format": existing.Format, "updated_at": now}).Error
		case notFound(err) == ErrNotFound:
			w = &Webhook{Key: key, URL: u.String(), Events: strings.Join(events, " "), Format: in.Format,
				Secret: newWebhookSecret(), CreatedAt: now, UpdatedAt: now}
			created = true
			return tx.Create(w).Error
		default:
			return err
		}
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: unable to save webhook: %w", err)
	}
	return w, created, nil
}

// newWebhookSecret is a Standard Webhooks secret: "whsec_" and 24 random bytes in base64.
func newWebhookSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// WebhookByKey returns one webhook.
func (s *Store) WebhookByKey(ctx context.Context, key string) (*Webhook, error) {
	var w Webhook
	if err := s.db.WithContext(ctx).Where("key = ?", key).Take(&w).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read webhook: %w", notFound(err))
	}
	return &w, nil
}

// ListWebhooks returns every webhook by key.
func (s *Store) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var ws []Webhook
	if err := s.db.WithContext(ctx).Order("key").Find(&ws).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list webhooks: %w", err)
	}
	return ws, nil
}

// DeleteWebhook removes a webhook with its deliveries.
func (s *Store) DeleteWebhook(ctx context.Context, key string) error {
	res := s.db.WithContext(ctx).Where("key = ?", key).Delete(&Webhook{})
	if res.Error != nil {
		return fmt.Errorf("store: unable to delete webhook: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one message to one webhook, sent until it is answered 2xx or
// its retries run out; MsgID is its webhook-id on every attempt.
type WebhookDelivery struct {
	ID            int64      `gorm:"column:id;primaryKey"`
	WebhookID     int64      `gorm:"column:webhook_id"`
	MsgID         string     `gorm:"column:msg_id"`
	EventType     string     `gorm:"column:event_type"`
	AlertID       *int64     `gorm:"column:alert_id"`
	Payload       string     `gorm:"column:payload"`
	State         string     `gorm:"column:state"`
	Attempts      int        `gorm:"column:attempts"`
	CreatedAt     time.Time  `gorm:"column:created_at"`
	LastAttemptAt *time.Time `gorm:"column:last_attempt_at"`
	NextAttemptAt *time.Time `gorm:"column:next_attempt_at"`
	DeliveredAt   *time.Time `gorm:"column:delivered_at"`
	LastStatus    *int       `gorm:"column:last_status"`
	LastError     string     `gorm:"column:last_error"`
}

// TableName maps the struct to its table.
func (WebhookDelivery) TableName() string { return "webhook_deliveries" }

// WebhookAttempt is one try of a delivery.
type WebhookAttempt struct {
	ID          int64     `gorm:"column:id;primaryKey"`
	DeliveryID  int64     `gorm:"column:delivery_id"`
	AttemptedAt time.Time `gorm:"column:attempted_at"`
	Status      *int      `gorm:"column:status"`
	Error       string    `gorm:"column:error"`
	DurationMS  int       `gorm:"column:duration_ms"`
	Manual      bool      `gorm:"column:manual"`
}

// TableName maps the struct to its table.
func (WebhookAttempt) TableName() string { return "webhook_attempts" }

// webhookBody is what a standard webhook receives (SPEC §8).
type webhookBody struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      AlertJSON `json:"data"`
}

// queueWebhooks creates a delivery of an event for each alert to every webhook that
// subscribes to it, and hands them to the job queue, in the caller's transaction.
func (s *Store) queueWebhooks(ctx context.Context, tx *gorm.DB, event string, alertIDs []int64) error {
	if len(alertIDs) == 0 {
		return nil
	}
	var hooks []Webhook
	if err := tx.Find(&hooks).Error; err != nil {
		return fmt.Errorf("store: unable to read webhooks: %w", err)
	}
	hooks = slices.DeleteFunc(hooks, func(w Webhook) bool { return !slices.Contains(w.EventList(), event) })
	if len(hooks) == 0 {
		return nil
	}
	var list []Alert
	err := tx.Table("alerts AS al").Select("al.*, a.key AS account_key, a.name AS account_name").
		Joins("JOIN accounts a ON a.id = al.account_id").Where("al.id IN ?", alertIDs).Find(&list).Error
	if err != nil {
		return fmt.Errorf("store: unable to read alerts for webhooks: %w", err)
	}
	now := time.Now().UTC()
	var deliveries []WebhookDelivery
	for _, a := range list {
		data := a.JSON()
		data.URL = s.AlertURL(a)
		for _, w := range hooks {
			var body []byte
			if w.Format == WebhookSlack {
				body, _ = json.Marshal(map[string]string{"text": slackText(event, data)})
			} else {
				body, _ = json.Marshal(webhookBody{Type: event, Timestamp: now, Data: data})
			}
			id := a.ID
			deliveries = append(deliveries, WebhookDelivery{WebhookID: w.ID, MsgID: "msg_" + uuid.NewString(),
				EventType: event, AlertID: &id, Payload: string(body), State: DeliveryPending, CreatedAt: now})
		}
	}
	if len(deliveries) == 0 {
		return nil
	}
	if err := tx.CreateInBatches(deliveries, 100).Error; err != nil {
		return fmt.Errorf("store: unable to queue webhook deliveries: %w", err)
	}
	if s.jobs == nil {
		return nil
	}
	ids := make([]int64, len(deliveries))
	for i, d := range deliveries {
		ids[i] = d.ID
	}
	t, ok := sqlTx(tx)
	if !ok {
		return fmt.Errorf("store: webhook deliveries need a database/sql transaction")
	}
	return s.jobs.DeliverWebhooksTx(ctx, t, ids, false)
}

// slackText words an event for a Slack incoming webhook (mrkdwn).
func slackText(event string, a AlertJSON) string {
	verb := map[string]string{EventAlertOpened: "opened", EventAlertResolved: "resolved", EventAlertReopened: "reopened"}[event]
	name := a.AccountName
	if name == "" {
		name = a.Account
	}
	text := fmt.Sprintf("[%s] %s alert %s at *%s*: %s", a.Severity, alerts.KindLabels[a.Kind], verb, name, a.Message)
	if a.Resolution != nil {
		text += " (" + strings.ReplaceAll(*a.Resolution, "_", " ") + ")"
	}
	if a.Owner != nil {
		text += " · owner " + *a.Owner
	}
	if a.URL != "" {
		text += fmt.Sprintf(" · <%s|Open in Sightline>", a.URL)
	}
	return text
}

// DeliveryToSend is a delivery with what sending it needs.
type DeliveryToSend struct {
	WebhookDelivery
	URL, Secret, Format string
}

// DeliveryByID returns a delivery with its webhook's address and secret.
func (s *Store) DeliveryByID(ctx context.Context, id int64) (*DeliveryToSend, error) {
	var d DeliveryToSend
	err := s.db.WithContext(ctx).Table("webhook_deliveries AS d").
		Select("d.*, w.url AS url, w.secret AS secret, w.format AS format").
		Joins("JOIN webhooks w ON w.id = d.webhook_id").Where("d.id = ?", id).Take(&d).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read webhook delivery: %w", notFound(err))
	}
	return &d, nil
}

// RecordAttempt keeps an attempt and the delivery's state after it: delivered on a 2xx,
// failed when no retry follows (next nil), pending until next otherwise.
func (s *Store) RecordAttempt(ctx context.Context, a WebhookAttempt, next *time.Time) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&a).Error; err != nil {
			return err
		}
		ok := a.Status != nil && *a.Status >= 200 && *a.Status < 300
		fields := map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_attempt_at": a.AttemptedAt,
			"last_status": a.Status, "last_error": a.Error, "next_attempt_at": next}
		switch {
		case ok:
			fields["state"], fields["delivered_at"], fields["next_attempt_at"] = DeliveryDelivered, a.AttemptedAt, nil
		case next == nil:
			fields["state"] = DeliveryFailed
		default:
			fields["state"] = DeliveryPending
		}
		return tx.Model(&WebhookDelivery{}).Where("id = ?", a.DeliveryID).Updates(fields).Error
	})
}

// ResendDelivery sends a delivery again now, with the same webhook-id, whatever its
// state: an admin's choice after fixing the receiving end.
func (s *Store) ResendDelivery(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&WebhookDelivery{}).Where("id = ?", id).
			Updates(map[string]any{"state": DeliveryPending, "next_attempt_at": time.Now().UTC()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if s.jobs == nil {
			return nil
		}
		t, ok := sqlTx(tx)
		if !ok {
			return fmt.Errorf("store: resending needs a database/sql transaction")
		}
		return s.jobs.DeliverWebhooksTx(ctx, t, []int64{id}, true)
	})
}

// WebhookActivity is a webhook with its latest deliveries and their attempts.
type WebhookActivity struct {
	Webhook    Webhook
	Deliveries []DeliveryWithAttempts
}

// DeliveryWithAttempts is a delivery and every attempt of it, newest first.
type DeliveryWithAttempts struct {
	WebhookDelivery
	Attempts []WebhookAttempt
}

// RecentDeliveries returns every webhook with its newest deliveries.
func (s *Store) RecentDeliveries(ctx context.Context, perWebhook int) ([]WebhookActivity, error) {
	hooks, err := s.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]WebhookActivity, 0, len(hooks))
	db := s.db.WithContext(ctx)
	for _, w := range hooks {
		var ds []WebhookDelivery
		if err := db.Where("webhook_id = ?", w.ID).Order("id DESC").Limit(perWebhook).Find(&ds).Error; err != nil {
			return nil, fmt.Errorf("store: unable to read deliveries: %w", err)
		}
		act := WebhookActivity{Webhook: w}
		ids := make([]int64, len(ds))
		for i, d := range ds {
			ids[i] = d.ID
		}
		var attempts []WebhookAttempt
		if len(ids) > 0 {
			if err := db.Where("delivery_id IN ?", ids).Order("id DESC").Find(&attempts).Error; err != nil {
				return nil, fmt.Errorf("store: unable to read attempts: %w", err)
			}
		}
		for _, d := range ds {
			dw := DeliveryWithAttempts{WebhookDelivery: d}
			for _, a := range attempts {
				if a.DeliveryID == d.ID {
					dw.Attempts = append(dw.Attempts, a)
				}
			}
			act.Deliveries = append(act.Deliveries, dw)
		}
		out = append(out, act)
	}
	return out, nil
}
