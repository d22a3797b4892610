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

// timelineDays is how far back the timeline reads the health colours.
const timelineDays = 90

// AccountTimeline is what happened at an account, newest first: notes, goal changes,
// alert changes, health colour changes and entitlement changes, at most limit items.
func (s *Store) AccountTimeline(ctx context.Context, accountID int64, limit int) ([]TimelineItem, error) {
	db := s.db.WithContext(ctx)
	var out []TimelineItem
	var notes []struct {
		CreatedAt time.Time
		Body      string
		Email     string
	}
	err := db.Raw(`SELECT n.created_at, n.body, COALESCE(m.email, '') AS email FROM notes n
		LEFT JOIN team_members m ON m.id = n.author_id WHERE n.account_id = ? ORDER BY n.id DESC LIMIT ?`, accountID, limit).Scan(&notes).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read the timeline's notes: %w", err)
	}
	for _, n := range notes {
		out = append(out, TimelineItem{At: n.CreatedAt, Kind: "note", Text: excerpt(n.Body, 160), Who: n.Email})
	}
	var goals []struct {
		CreatedAt time.Time
		Kind      string
		Title     string
		Who       string
		Body      string
	}
	err = db.Raw(`SELECT e.created_at, e.kind, g.title, COALESCE(m.email, e.actor_name) AS who, e.body FROM goal_events e
		JOIN goals g ON g.id = e.goal_id LEFT JOIN team_members m ON m.id = e.actor_id
		WHERE g.account_id = ? ORDER BY e.id DESC LIMIT ?`, accountID, limit).Scan(&goals).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read the timeline's goals: %w", err)
	}
	for _, g := range goals {
		text := "Goal “" + g.Title + "” " + g.Kind
		if g.Body != "" {
			text += ": " + excerpt(g.Body, 120)
		}
		out = append(out, TimelineItem{At: g.CreatedAt, Kind: "goal", Text: text, Who: g.Who})
	}
	var alerts []struct {
		CreatedAt time.Time
		Kind      string
		Message   string
		Who       string
		Note      string
	}
	err = db.Raw(`SELECT e.created_at, e.kind, al.message, e.actor_name AS who, e.note FROM alert_events e
		JOIN alerts al ON al.id = e.alert_id WHERE al.account_id = ? AND e.kind IN ('opened', 'resolved', 'snoozed', 'reopened', 'woke', 'assigned')
		ORDER BY e.id DESC LIMIT ?`, accountID, limit).Scan(&alerts).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read the timeline's alerts: %w", err)
	}
	for _, a := range alerts {
		text := "Alert " + a.Kind + ": " + a.Message
		if a.Note != "" {
			text += " — " + excerpt(a.Note, 120)
		}
		out = append(out, TimelineItem{At: a.CreatedAt, Kind: "alert", Text: text, Who: a.Who})
	}
	var days []struct {
		Day   Date
		Color string
	}
	from := Today().AddDays(-timelineDays)
	if err := db.Raw("SELECT day, color FROM health_snapshots WHERE account_id = ? AND day >= ? ORDER BY day", accountID, from).Scan(&days).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read the timeline's health: %w", err)
	}
	for i := 1; i < len(days); i++ {
		if days[i].Color != days[i-1].Color && days[i].Color != "" && days[i-1].Color != "" {
			out = append(out, TimelineItem{At: days[i].Day.Time(), Kind: "health",
				Text: "Health turned " + days[i].Color + " (was " + days[i-1].Color + ")"})
		}
	}
	var ents []struct {
		Key                  string
		CreatedAt, UpdatedAt time.Time
	}
	if err := db.Raw("SELECT key, created_at, updated_at FROM entitlements WHERE account_id = ?", accountID).Scan(&ents).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read the timeline's entitlements: %w", err)
	}
	for _, e := range ents {
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
