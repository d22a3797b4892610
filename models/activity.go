package models

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// AccountActivity is what the account page shows of an account besides its health:
// its notes, unresolved alerts, goal and alert changes, and renewals. It is shared
// with later calls: callers must not modify it.
type AccountActivity struct {
	Notes    []Note                   // newest first, at most activityNotes
	Alerts   []Alert                  // open and snoozed, newest first
	Changes  []TimelineItem           // goal and alert changes, newest first, at most activityChanges
	Renewals []Renewal                // latest due first
	History  map[int64][]RenewalEvent // each renewal's changes by renewal id, oldest first
}

// activityNotes and activityChanges bound the notes and the goal and alert changes an
// account's activity holds.
const (
	activityNotes   = 50
	activityChanges = 30
)

// activityCache is the process's copy of the account pages' activity, and of the
// team: an account page is opened again and again between two changes, and these are
// most of its statements. Triggers keep an 'activity' version of notes, goals and
// their changes, alert changes, renewals and their history, and the team (migration
// 00020); alerts have their own version. Both must match the ones a copy was read at.
type activityCache struct {
	mu               sync.Mutex
	activity, alerts int64 // the versions the copy was read at
	accounts         map[int64]*AccountActivity
	team             []TeamMember // nil until read
	fills            int          // accounts' activity read and kept, for tests
}

// activityMax bounds the accounts kept; past it the copy starts again.
const activityMax = 256

// at empties the copy when the versions moved on from the ones it holds; it tells
// whether the copy is of versions v (not when v is older than what it holds). The
// caller holds mu.
func (c *activityCache) at(v cacheVersions) bool {
	switch {
	case c.accounts != nil && c.activity == v.Activity && c.alerts == v.Alerts:
		return true
	case c.accounts != nil && (c.activity > v.Activity || c.alerts > v.Alerts):
		return false // v was read before a newer copy: leave that one
	}
	c.activity, c.alerts, c.accounts, c.team = v.Activity, v.Alerts, map[int64]*AccountActivity{}, nil
	return true
}

// AccountActivity returns an account's activity, from the process's copy while the
// stored versions say it is current.
func (s *Store) AccountActivity(ctx context.Context, account *Account) (*AccountActivity, error) {
	// The versions are read before the data: a write committed in between leaves the
	// copy under older versions than stored, so the next call reads it again.
	ctx = Primary(ctx) // the versions and the copy from one source: see primaryCopies
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return nil, err
	}
	c := s.activity
	c.mu.Lock()
	if c.at(v) && c.accounts[account.ID] != nil {
		a := c.accounts[account.ID]
		c.mu.Unlock()
		return a, nil
	}
	c.mu.Unlock()
	a, err := s.readActivity(ctx, account)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.at(v) {
		if len(c.accounts) >= activityMax {
			c.accounts = map[int64]*AccountActivity{}
		}
		c.accounts[account.ID] = a
		c.fills++
	}
	c.mu.Unlock()
	return a, nil
}

func (s *Store) readActivity(ctx context.Context, account *Account) (*AccountActivity, error) {
	a := &AccountActivity{}
	var err error
	if a.Notes, err = s.ListNotes(ctx, account.ID, activityNotes); err != nil {
		return nil, err
	}
	if a.Alerts, err = s.ListAlerts(ctx, AlertFilter{Accounts: []string{account.Key}, States: []string{AlertOpen, AlertSnoozed}}); err != nil {
		return nil, err
	}
	if a.Changes, err = s.accountChanges(ctx, account.ID, activityChanges); err != nil {
		return nil, err
	}
	if a.Renewals, a.History, err = s.AccountRenewals(ctx, account.ID); err != nil {
		return nil, err
	}
	return a, nil
}

// ListTeamMembers lists the team by e-mail, from the process's copy while the stored
// activity version says it is current. The list is the caller's.
func (s *Store) ListTeamMembers(ctx context.Context) ([]TeamMember, error) {
	ctx = Primary(ctx) // see AccountActivity
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return nil, err
	}
	c := s.activity
	c.mu.Lock()
	if c.at(v) && c.team != nil {
		team := slices.Clone(c.team)
		c.mu.Unlock()
		return team, nil
	}
	c.mu.Unlock()
	team := []TeamMember{}
	if err := s.db.WithContext(ctx).Order("email").Find(&team).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list team members: %w", err)
	}
	c.mu.Lock()
	if c.at(v) {
		c.team = team
	}
	c.mu.Unlock()
	return slices.Clone(team), nil
}

// accountChanges are an account's goal and alert changes as timeline items, newest
// first, at most limit.
func (s *Store) accountChanges(ctx context.Context, accountID int64, limit int) ([]TimelineItem, error) {
	var events []struct {
		Source    string // goal or alert
		CreatedAt time.Time
		Kind      string
		Subject   string // the goal's title, the alert's message
		Who       string
		Body      string // the goal event's text, the alert event's note
	}
	err := s.db.WithContext(ctx).Raw(`SELECT 'goal' AS source, e.created_at, e.kind, g.title AS subject, COALESCE(m.email, e.actor_name) AS who, e.body
		FROM goal_events e JOIN goals g ON g.id = e.goal_id LEFT JOIN team_members m ON m.id = e.actor_id WHERE g.account_id = ?
		UNION ALL
		SELECT 'alert', e.created_at, e.kind, al.message, e.actor_name, e.note FROM alert_events e JOIN alerts al ON al.id = e.alert_id
		WHERE al.account_id = ? AND e.kind IN ('opened', 'resolved', 'snoozed', 'reopened', 'woke', 'assigned')
		ORDER BY 2 DESC LIMIT ?`, accountID, accountID, limit).Scan(&events).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read the account's goal and alert changes: %w", err)
	}
	out := make([]TimelineItem, 0, len(events))
	for _, e := range events {
		var text string
		if e.Source == "goal" {
			text = "Goal “" + e.Subject + "” " + e.Kind
			if e.Body != "" {
				text += ": " + excerpt(e.Body, 120)
			}
		} else {
			text = "Alert " + e.Kind + ": " + e.Subject
			if e.Body != "" {
				text += " — " + excerpt(e.Body, 120)
			}
		}
		out = append(out, TimelineItem{At: e.CreatedAt, Kind: e.Source, Text: text, Who: e.Who})
	}
	return out, nil
}
