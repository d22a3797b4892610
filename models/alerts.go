package models

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"sightline/alerts"
)

// Alert states and people's resolutions (SPEC §8).
const (
	AlertOpen     = "open"
	AlertSnoozed  = "snoozed"
	AlertResolved = "resolved"

	ResolutionActed    = "acted"
	ResolutionNoAction = "no_action"
	ResolutionCleared  = "cleared"
)

// AlertStates lists the states in the order pages show them.
var AlertStates = []string{AlertOpen, AlertSnoozed, AlertResolved}

// Webhook event types.
const (
	EventAlertOpened   = "alert.opened"
	EventAlertResolved = "alert.resolved"
	EventAlertReopened = "alert.reopened"
)

// Alert says that an account needs someone to act, why, and who should.
type Alert struct {
	ID               int64      `gorm:"column:id;primaryKey"`
	AccountID        int64      `gorm:"column:account_id"`
	AccountKey       string     `gorm:"->;column:account_key"`
	AccountName      string     `gorm:"->;column:account_name"`
	Kind             string     `gorm:"column:kind"`
	Subject          string     `gorm:"column:subject"`
	Threshold        *float64   `gorm:"column:threshold"`
	Severity         string     `gorm:"column:severity"`
	State            string     `gorm:"column:state"`
	Message          string     `gorm:"column:message"`
	Evidence         string     `gorm:"column:evidence"` // JSON numbers behind the message
	OwnerEmail       *string    `gorm:"column:owner_email"`
	Term             string     `gorm:"column:term"`
	OpenedAt         time.Time  `gorm:"column:opened_at"`
	UpdatedAt        time.Time  `gorm:"column:updated_at"`
	SnoozedUntil     *Date      `gorm:"column:snoozed_until"`
	ResolvedAt       *time.Time `gorm:"column:resolved_at"`
	Resolution       *string    `gorm:"column:resolution"`
	Note             string     `gorm:"column:note"`
	ConditionCleared bool       `gorm:"column:condition_cleared"`
}

// TableName maps the struct to its table.
func (Alert) TableName() string { return "alerts" }

// Owner is the owner's e-mail, "" when nobody owns it.
func (a Alert) Owner() string {
	if a.OwnerEmail == nil {
		return ""
	}
	return *a.OwnerEmail
}

// AlertJSON is an alert as the API and webhooks send it (SPEC §8).
type AlertJSON struct {
	ID           int64          `json:"id"`
	Account      string         `json:"account"`
	AccountName  string         `json:"account_name"`
	Kind         string         `json:"kind"`
	Subject      string         `json:"subject"`
	Threshold    *float64       `json:"threshold"`
	Severity     string         `json:"severity"`
	State        string         `json:"state"`
	Message      string         `json:"message"`
	Evidence     map[string]any `json:"evidence"`
	Owner        *string        `json:"owner"`
	OpenedAt     time.Time      `json:"opened_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	SnoozedUntil *Date          `json:"snoozed_until"`
	ResolvedAt   *time.Time     `json:"resolved_at"`
	Resolution   *string        `json:"resolution"`
	Note         string         `json:"note"`
	URL          string         `json:"url,omitempty"` // set where BASE_URL is known
}

// JSON shapes the alert for the API.
func (a Alert) JSON() AlertJSON {
	ev := map[string]any{}
	json.Unmarshal([]byte(a.Evidence), &ev)
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return AlertJSON{ID: a.ID, Account: a.AccountKey, AccountName: a.AccountName, Kind: a.Kind, Subject: a.Subject,
		Threshold: a.Threshold, Severity: a.Severity, State: a.State, Message: a.Message, Evidence: ev,
		Owner: a.OwnerEmail, OpenedAt: a.OpenedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(), SnoozedUntil: a.SnoozedUntil,
		ResolvedAt: utc(a.ResolvedAt), Resolution: a.Resolution, Note: a.Note}
}

// AlertEvent is one change to an alert.
type AlertEvent struct {
	ID        int64     `gorm:"column:id;primaryKey"`
	AlertID   int64     `gorm:"column:alert_id"`
	ActorID   *int64    `gorm:"column:actor_id"`
	ActorName string    `gorm:"column:actor_name"`
	Kind      string    `gorm:"column:kind"` // opened, updated, snoozed, resolved, reopened, assigned, cleared, woke, noted
	Changes   string    `gorm:"column:changes"`
	Note      string    `gorm:"column:note"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName maps the struct to its table.
func (AlertEvent) TableName() string { return "alert_events" }

// ChangeList decodes Changes, in field order.
func (e AlertEvent) ChangeList() []struct{ Field, From, To string } {
	var m map[string]FieldChange
	json.Unmarshal([]byte(e.Changes), &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]struct{ Field, From, To string }, 0, len(keys))
	for _, k := range keys {
		out = append(out, struct{ Field, From, To string }{k, fmt.Sprint(m[k].From), fmt.Sprint(m[k].To)})
	}
	return out
}

// Sightline is the actor of the rules' own changes.
var Sightline = Actor{Name: "Sightline"}

// alertSelect reads alerts with their account's key and name.
func (s *Store) alertSelect(ctx context.Context) *gorm.DB {
	return s.db.WithContext(ctx).Table("alerts AS al").
		Select("al.*, a.key AS account_key, a.name AS account_name").
		Joins("JOIN accounts a ON a.id = al.account_id")
}

// AlertFilter narrows a list of alerts; empty fields do not filter.
type AlertFilter struct {
	Accounts   []string // account keys
	Kinds      []string
	Owners     []string // e-mails; "none" for alerts nobody owns
	States     []string
	Severities []string
	Search     string // in the message or the account's name
	// After is the keyset cursor: the id of the last alert of the previous page.
	After int64
	Limit int
}

// Validate checks the filter's values.
func (f AlertFilter) Validate() error {
	verr := &ValidationError{Message: "invalid alert filter"}
	for _, k := range f.Kinds {
		if !slices.Contains(alerts.Kinds, k) {
			verr.Add("kind", fmt.Sprintf("%q is not one of %s", k, strings.Join(alerts.Kinds, ", ")))
		}
	}
	for _, st := range f.States {
		if !slices.Contains(AlertStates, st) {
			verr.Add("state", fmt.Sprintf("%q is not one of open, snoozed, resolved", st))
		}
	}
	for _, sv := range f.Severities {
		if !slices.Contains(alerts.Severities, sv) {
			verr.Add("severity", fmt.Sprintf("%q is not one of info, warning, critical", sv))
		}
	}
	return verr.OrNil()
}

// ListAlerts returns the alerts matching the filter, newest first.
func (s *Store) ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	q := s.filterAlerts(s.alertSelect(ctx), f).Order("al.id DESC")
	if f.After > 0 {
		q = q.Where("al.id < ?", f.After)
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	var out []Alert
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list alerts: %w", err)
	}
	return out, nil
}

func (s *Store) filterAlerts(q *gorm.DB, f AlertFilter) *gorm.DB {
	if len(f.Accounts) > 0 {
		q = q.Where("a.key IN ?", f.Accounts)
	}
	if len(f.Kinds) > 0 {
		q = q.Where("al.kind IN ?", f.Kinds)
	}
	if len(f.States) > 0 {
		q = q.Where("al.state IN ?", f.States)
	}
	if len(f.Severities) > 0 {
		q = q.Where("al.severity IN ?", f.Severities)
	}
	if len(f.Owners) > 0 {
		owners := slices.DeleteFunc(slices.Clone(f.Owners), func(o string) bool { return o == "none" })
		switch {
		case len(owners) == len(f.Owners):
			q = q.Where("al.owner_email IN ?", owners)
		case len(owners) == 0:
			q = q.Where("al.owner_email IS NULL")
		default:
			q = q.Where("(al.owner_email IN ? OR al.owner_email IS NULL)", owners)
		}
	}
	if f.Search != "" {
		like := "%" + strings.ToLower(f.Search) + "%"
		q = q.Where("(lower(al.message) LIKE ? OR lower(a.name) LIKE ? OR a.key LIKE ?)", like, like, like)
	}
	return q
}

// AlertByID returns one alert.
func (s *Store) AlertByID(ctx context.Context, id int64) (*Alert, error) {
	var a Alert
	if err := s.alertSelect(ctx).Where("al.id = ?", id).Take(&a).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read alert: %w", notFound(err))
	}
	return &a, nil
}

// AlertHistory returns an alert's changes, newest first.
func (s *Store) AlertHistory(ctx context.Context, id int64) ([]AlertEvent, error) {
	var evs []AlertEvent
	if err := s.db.WithContext(ctx).Where("alert_id = ?", id).Order("id DESC").Find(&evs).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read alert history: %w", err)
	}
	return evs, nil
}

// OpenAlertCount counts the open alerts an owner has, for the navigation of every
// page, from the process's copy of the open alerts.
func (s *Store) OpenAlertCount(ctx context.Context, owner string) (int, error) {
	open, err := s.openAlerts(ctx)
	if err != nil {
		return 0, err
	}
	return open.byOwner[owner], nil
}

// OpenAlertsByAccount returns each account's open alerts (account id → alerts), for the
// risk flags of the portfolio and the account page: kind, subject, threshold and
// severity only. The process keeps every open alert while the stored alerts version
// (a trigger, migration 00019) says the copy is current. The slices are shared:
// callers must not modify them.
func (s *Store) OpenAlertsByAccount(ctx context.Context, accountIDs []int64) (map[int64][]Alert, error) {
	out := map[int64][]Alert{}
	if len(accountIDs) == 0 {
		return out, nil
	}
	open, err := s.openAlerts(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range accountIDs {
		if list := open.byAccount[id]; len(list) > 0 {
			out[id] = list
		}
	}
	return out, nil
}

// openAlertSet is every open alert, by account (for the risk flags) and counted by
// owner (for the navigation). It is never modified once filled.
type openAlertSet struct {
	byAccount map[int64][]Alert
	byOwner   map[string]int
}

// openAlerts is every open alert, from the process's copy while current.
func (s *Store) openAlerts(ctx context.Context) (*openAlertSet, error) {
	ctx = Primary(ctx) // the versions and the copy from one source: see primaryCopies
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return nil, err
	}
	c := s.folio
	c.mu.Lock()
	if c.open != nil && c.alertsVersion == v.Alerts {
		open := c.open
		c.mu.Unlock()
		return open, nil
	}
	c.mu.Unlock()
	filled, err, _ := s.filling.Do(fmt.Sprintf("open alerts %d", v.Alerts), func() (any, error) {
		// Only what the flags, the worst severity and the counts need (a message, its
		// evidence and note are most of a row), scanned without GORM's reflection.
		open := &openAlertSet{byAccount: map[int64][]Alert{}, byOwner: map[string]int{}}
		var a Alert
		var owner *string
		err := s.eachRow(context.WithoutCancel(ctx), "SELECT id, account_id, kind, subject, threshold, severity, owner_email FROM alerts"+
			" WHERE state = ? ORDER BY account_id, id", []any{AlertOpen},
			[]any{&a.ID, &a.AccountID, &a.Kind, &a.Subject, &a.Threshold, &a.Severity, &owner}, func() {
				a.State, a.OwnerEmail = AlertOpen, owner
				open.byAccount[a.AccountID] = append(open.byAccount[a.AccountID], a)
				if owner != nil {
					open.byOwner[*owner]++
				}
				a.Threshold, owner = nil, nil
			})
		if err != nil {
			return nil, fmt.Errorf("store: unable to read open alerts: %w", err)
		}
		c.mu.Lock()
		c.open, c.alertsVersion = open, v.Alerts
		c.mu.Unlock()
		return open, nil
	})
	if err != nil {
		return nil, err
	}
	return filled.(*openAlertSet), nil
}

// AlertChange is a person's change to an alert (SPEC §8's PATCH); nil leaves a field.
type AlertChange struct {
	State        *string `json:"state"`
	SnoozedUntil *string `json:"snoozed_until"`
	Resolution   *string `json:"resolution"`
	Note         *string `json:"note"`
	// Owner is an e-mail; OwnerSet with a nil Owner clears it.
	Owner    *string `json:"-"`
	OwnerSet bool    `json:"-"`
}

// MaxAlertNote bounds a note.
const MaxAlertNote = 4000

// UpdateAlert applies a person's change, keeps it in the history and notifies the
// webhooks of a resolution or a reopening, in one transaction.
func (s *Store) UpdateAlert(ctx context.Context, id int64, ch AlertChange, actor Actor, today Date) (*Alert, error) {
	verr := &ValidationError{Message: "invalid alert change"}
	if ch.State == nil && !ch.OwnerSet && ch.Note == nil {
		verr.Add("state", "send a state, an owner or a note")
		return nil, verr
	}
	note := ""
	if ch.Note != nil {
		note = strings.TrimSpace(*ch.Note)
		if len(note) > MaxAlertNote {
			verr.Add("note", fmt.Sprintf("must be at most %d characters", MaxAlertNote))
		}
	}
	var until *Date
	if ch.State != nil {
		switch *ch.State {
		case AlertSnoozed:
			if ch.SnoozedUntil == nil || *ch.SnoozedUntil == "" {
				verr.Add("snoozed_until", "is required to snooze: the date the alert comes back")
			} else if d, err := ParseDate(*ch.SnoozedUntil); err != nil {
				verr.Add("snoozed_until", "want a date as YYYY-MM-DD")
			} else if !d.After(today) {
				verr.Add("snoozed_until", "must be after today ("+today.String()+")")
			} else {
				until = &d
			}
		case AlertResolved:
			if ch.Resolution == nil || (*ch.Resolution != ResolutionActed && *ch.Resolution != ResolutionNoAction) {
				verr.Add("resolution", "must be acted or no_action")
			}
		case AlertOpen:
		default:
			verr.Add("state", "must be open, snoozed or resolved")
		}
	}
	var owner *TeamMember
	if ch.OwnerSet && ch.Owner != nil {
		m, err := s.TeamMemberByEmail(ctx, *ch.Owner)
		if errors.Is(err, ErrNotFound) || (err == nil && m.DisabledAt != nil) {
			verr.Add("owner", "is not an active team member")
		} else if err != nil {
			return nil, err
		}
		owner = m
	}
	if err := verr.OrNil(); err != nil {
		return nil, err
	}
	var out *Alert
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var a Alert
		if err := tx.Where("id = ?", id).Take(&a).Error; err != nil {
			return notFound(err)
		}
		now := time.Now().UTC()
		changes := map[string]FieldChange{}
		var webhook, kind string
		if ch.State != nil {
			switch *ch.State {
			case AlertSnoozed:
				if a.State == AlertResolved {
					return &ValidationError{Message: "invalid alert change", Fields: []FieldError{{Field: "state", Message: "a resolved alert cannot be snoozed; reopen it first"}}}
				}
				changes["state"] = FieldChange{a.State, AlertSnoozed}
				changes["snoozed_until"] = FieldChange{dateOrNil(a.SnoozedUntil), until.String()}
				a.State, a.SnoozedUntil, kind = AlertSnoozed, until, "snoozed"
			case AlertResolved:
				if a.State == AlertResolved {
					return fmt.Errorf("%w: the alert is already resolved", ErrConflict)
				}
				changes["state"] = FieldChange{a.State, AlertResolved}
				changes["resolution"] = FieldChange{nil, *ch.Resolution}
				a.State, a.Resolution, a.ResolvedAt, a.SnoozedUntil = AlertResolved, ch.Resolution, &now, nil
				a.ConditionCleared, kind, webhook = false, "resolved", EventAlertResolved
			case AlertOpen:
				if a.State == AlertOpen {
					break
				}
				if a.State == AlertResolved {
					var n int64
					tx.Model(&Alert{}).Where("account_id = ? AND kind = ? AND subject = ? AND state <> ? AND id <> ? AND "+sameThreshold,
						a.AccountID, a.Kind, a.Subject, AlertResolved, a.ID, thresholdArg(a.Threshold)).Count(&n)
					if n > 0 {
						return fmt.Errorf("%w: a newer alert for the same condition is already open", ErrConflict)
					}
				}
				changes["state"] = FieldChange{a.State, AlertOpen}
				a.State, a.SnoozedUntil, a.ResolvedAt, a.Resolution = AlertOpen, nil, nil, nil
				kind, webhook = "reopened", EventAlertReopened
			}
		}
		if ch.OwnerSet {
			var to *string
			if owner != nil {
				to = &owner.Email
			}
			if a.Owner() != derefOr(to, "") {
				changes["owner"] = FieldChange{ptrOrNil(a.OwnerEmail), ptrOrNil(to)}
				a.OwnerEmail = to
				if kind == "" {
					kind = "assigned"
				}
			}
		}
		if ch.Note != nil && note != a.Note {
			a.Note = note
			if kind == "" {
				kind = "noted"
			}
		}
		if kind == "" {
			out = &a
			return nil // nothing changed
		}
		a.UpdatedAt = now
		err := tx.Model(&Alert{}).Where("id = ?", a.ID).Updates(map[string]any{
			"state": a.State, "snoozed_until": a.SnoozedUntil, "resolved_at": a.ResolvedAt, "resolution": a.Resolution,
			"owner_email": a.OwnerEmail, "note": a.Note, "updated_at": a.UpdatedAt, "condition_cleared": a.ConditionCleared,
		}).Error
		if err != nil {
			return err
		}
		if err := addAlertEvent(tx, a.ID, actor, kind, changes, note, now); err != nil {
			return err
		}
		if webhook != "" {
			if err := s.queueWebhooks(ctx, tx, webhook, []int64{a.ID}); err != nil {
				return err
			}
		}
		out = &a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.AlertByID(ctx, out.ID)
}

// sameThreshold matches a threshold argument that may be null (-1 stands for it, as in
// the unique index).
const sameThreshold = "COALESCE(threshold, -1) = ?"

func thresholdArg(t *float64) float64 {
	if t == nil {
		return -1
	}
	return *t
}

func dateOrNil(d *Date) any {
	if d == nil {
		return nil
	}
	return d.String()
}

func ptrOrNil(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func derefOr(s *string, or string) string {
	if s == nil {
		return or
	}
	return *s
}

func addAlertEvent(tx *gorm.DB, alertID int64, actor Actor, kind string, changes map[string]FieldChange, note string, at time.Time) error {
	b, _ := json.Marshal(changes)
	if changes == nil {
		b = []byte("{}")
	}
	ev := AlertEvent{AlertID: alertID, ActorID: actor.MemberID, ActorName: actor.Name, Kind: kind,
		Changes: string(b), Note: note, CreatedAt: at}
	if err := tx.Create(&ev).Error; err != nil {
		return fmt.Errorf("store: unable to record alert history: %w", err)
	}
	return nil
}

// sqlTx is the database/sql transaction under a GORM one, for River to insert jobs in.
func sqlTx(tx *gorm.DB) (*sql.Tx, bool) {
	t, ok := tx.Statement.ConnPool.(*sql.Tx)
	return t, ok
}
