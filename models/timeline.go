package models

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// TimelineItem is one thing that happened at an account.
type TimelineItem struct {
	At   time.Time
	Kind string // note, goal, alert, health, entitlement
	Text string
	Who  string
}

// AccountTimeline is what happened at an account, newest first: notes, goal changes,
// alert changes, health colour changes and entitlement changes, at most limit items.
// Only the goal and alert changes are read here: the notes (newest first, at least
// limit of them when there are) and the account page's health view, with the
// account's entitlements and stored daily colours, have been read already.
func (s *Store) AccountTimeline(ctx context.Context, view *HealthView, notes []Note, limit int) ([]TimelineItem, error) {
	db := s.db.WithContext(ctx)
	accountID := view.Account.ID
	var out []TimelineItem
	for _, n := range notes {
		out = append(out, TimelineItem{At: n.CreatedAt, Kind: "note", Text: excerpt(n.Body, 160), Who: n.AuthorEmail})
	}
	var events []struct {
		Source    string // goal or alert
		CreatedAt time.Time
		Kind      string
		Subject   string // the goal's title, the alert's message
		Who       string
		Body      string // the goal event's text, the alert event's note
	}
	err := db.Raw(`SELECT 'goal' AS source, e.created_at, e.kind, g.title AS subject, COALESCE(m.email, e.actor_name) AS who, e.body
		FROM goal_events e JOIN goals g ON g.id = e.goal_id LEFT JOIN team_members m ON m.id = e.actor_id WHERE g.account_id = ?
		UNION ALL
		SELECT 'alert', e.created_at, e.kind, al.message, e.actor_name, e.note FROM alert_events e JOIN alerts al ON al.id = e.alert_id
		WHERE al.account_id = ? AND e.kind IN ('opened', 'resolved', 'snoozed', 'reopened', 'woke', 'assigned')
		ORDER BY 2 DESC LIMIT ?`, accountID, accountID, limit).Scan(&events).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read the timeline's goal and alert changes: %w", err)
	}
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
	was := "" // the last colour seen: a day without one (no basis) is no change
	for _, h := range view.History {
		if h.Color != was && h.Color != "" && was != "" {
			out = append(out, TimelineItem{At: h.Day.Time(), Kind: "health", Text: "Health turned " + h.Color + " (was " + was + ")"})
		}
		if h.Color != "" {
			was = h.Color
		}
	}
	for _, e := range view.Entitlements {
		out = append(out, TimelineItem{At: e.CreatedAt, Kind: "entitlement", Text: "Entitlement " + e.Key + " added"})
		if e.UpdatedAt.Sub(e.CreatedAt) > time.Minute {
			out = append(out, TimelineItem{At: e.UpdatedAt, Kind: "entitlement", Text: "Entitlement " + e.Key + " changed"})
		}
	}
	slices.SortStableFunc(out, func(a, b TimelineItem) int { return b.At.Compare(a.At) })
	return out[:min(len(out), limit)], nil
}

func excerpt(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
