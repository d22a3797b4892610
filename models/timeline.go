package models

import (
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
// alert changes, health colour changes and entitlement changes, at most limit items
// (at most 30, the changes an activity holds). It is drawn from what the page read: the
// account's activity and its health view, with the entitlements and stored colours.
func AccountTimeline(view *HealthView, act *AccountActivity, limit int) []TimelineItem {
	out := slices.Clone(act.Changes)
	for _, n := range act.Notes {
		out = append(out, TimelineItem{At: n.CreatedAt, Kind: "note", Text: excerpt(n.Body, 160), Who: n.AuthorEmail})
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
	return out[:min(len(out), limit)]
}

func excerpt(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
