package models

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"sightline/alerts"
)

// Digest preferences.
const (
	DigestDaily  = "daily"
	DigestWeekly = "weekly"
	DigestOff    = "off"
)

// SetDigest changes how often a member gets their digest.
func (s *Store) SetDigest(ctx context.Context, memberID int64, pref string) error {
	if pref != DigestDaily && pref != DigestWeekly && pref != DigestOff {
		return &ValidationError{Message: "invalid digest", Fields: []FieldError{{Field: "digest", Message: "must be daily, weekly or off"}}}
	}
	return s.updateTeamMember(ctx, memberID, map[string]any{"digest": pref})
}

// DigestMembers lists the active members whose digest is due on a day: daily ones every
// day, weekly ones on Mondays; every member not off when scheduled is false.
func (s *Store) DigestMembers(ctx context.Context, day Date, scheduled bool) ([]TeamMember, error) {
	prefs := []string{DigestDaily, DigestWeekly}
	if scheduled && day.Weekday() != time.Monday {
		prefs = []string{DigestDaily}
	}
	var ms []TeamMember
	err := s.db.WithContext(ctx).Where("disabled_at IS NULL AND digest IN ?", prefs).Order("id").Find(&ms).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list digest members: %w", err)
	}
	return ms, nil
}

// DigestOf gathers a member's digest: the alerts they own that opened, reopened or were
// resolved after their last digest (or, for a first one, within its period) up to till.
func (s *Store) DigestOf(ctx context.Context, m TeamMember, till time.Time) (alerts.Digest, error) {
	since := till.Add(-24 * time.Hour)
	if m.Digest == DigestWeekly {
		since = till.Add(-7 * 24 * time.Hour)
	}
	if m.DigestSentAt != nil {
		since = *m.DigestSentAt
	}
	d := alerts.Digest{To: m.Email, Name: m.Name, Since: since, Till: till}
	if s.baseURL != "" {
		d.InboxURL, d.ProfileURL = s.baseURL+"/alerts", s.baseURL+"/profile"
	}
	var rows []struct {
		Alert
		EventKind string
		EventAt   time.Time
		EventNote string
		EventWho  string
	}
	err := s.db.WithContext(ctx).Table("alert_events AS e").
		Select("al.*, a.key AS account_key, a.name AS account_name, e.kind AS event_kind, e.created_at AS event_at, e.note AS event_note, e.actor_name AS event_who").
		Joins("JOIN alerts al ON al.id = e.alert_id").
		Joins("JOIN accounts a ON a.id = al.account_id").
		Where("al.owner_email = ? AND e.kind IN ? AND e.created_at > ? AND e.created_at <= ?",
			m.Email, []string{"opened", "reopened", "woke", "resolved"}, since, till).
		Order("e.id").Scan(&rows).Error
	if err != nil {
		return d, fmt.Errorf("store: unable to gather the digest of %s: %w", m.Email, err)
	}
	// One line per alert: what happened to it last.
	at := map[int64]int{}
	for _, r := range rows {
		happened := r.EventKind
		if happened == "woke" {
			happened = "reopened"
		}
		it := alerts.DigestItem{AlertID: r.ID, Account: r.AccountKey, Name: r.AccountName, Kind: r.Kind,
			Severity: r.Severity, State: r.State, Message: r.Message, Happened: happened, At: r.EventAt,
			Note: r.EventNote, Who: r.EventWho, Threshold: r.Threshold}
		if s.baseURL != "" {
			it.URL = s.baseURL + "/accounts/" + url.PathEscape(r.AccountKey)
		}
		if i, ok := at[r.ID]; ok {
			d.Items[i] = it
		} else {
			at[r.ID] = len(d.Items)
			d.Items = append(d.Items, it)
		}
	}
	return d, nil
}

// MarkDigestSent records that a member's digest covered everything up to till.
func (s *Store) MarkDigestSent(ctx context.Context, memberID int64, till time.Time) error {
	return s.updateTeamMember(ctx, memberID, map[string]any{"digest_sent_at": till})
}
