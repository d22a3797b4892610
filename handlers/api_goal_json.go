package handlers

import (
	"encoding/json"
	"time"

	"sightline/models"
)

// goalJSON is a goal as the API shows it (SPEC §6).
type goalJSON struct {
	ID        int64      `json:"id"`
	Account   string     `json:"account"`
	Title     string     `json:"title"`
	Metric    string     `json:"metric"`
	Target    float64    `json:"target"`
	Baseline  float64    `json:"baseline"`
	Current   *float64   `json:"current"`
	Progress  float64    `json:"progress"`
	Status    string     `json:"status"`
	Pacing    string     `json:"pacing"`
	Projected *float64   `json:"projected"`
	Relevance string     `json:"relevance"`
	DueOn     string     `json:"due_on"`
	Owner     *string    `json:"owner"`
	CreatedAt time.Time  `json:"created_at"`
	ClosedAt  *time.Time `json:"closed_at"`
	History   *struct {
		Metric []goalPointJSON `json:"metric"`
		Events []goalEventJSON `json:"events"`
	} `json:"history,omitempty"`
}

type goalPointJSON struct {
	Day   string  `json:"day"`
	Value float64 `json:"value"`
}

type goalEventJSON struct {
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Kind    string          `json:"kind"`
	Changes json.RawMessage `json:"changes"`
	Body    string          `json:"body"`
}

// goalReply shapes a measured goal; withHistory adds its metric path and events.
func goalReply(g models.MeasuredGoal, withHistory bool) goalJSON {
	out := goalJSON{ID: g.ID, Account: g.AccountKey, Title: g.Title, Metric: g.Metric, Target: g.Target,
		Baseline: g.Baseline, Current: g.Current, Progress: g.Progress, Status: g.Status, Pacing: g.Sentence,
		Projected: g.Projected, Relevance: g.Relevance, DueOn: g.DueOn.String(), CreatedAt: g.CreatedAt.UTC(), ClosedAt: g.ClosedAt}
	if g.OwnerEmail != "" {
		out.Owner = &g.OwnerEmail
	}
	if !withHistory {
		return out
	}
	out.History = &struct {
		Metric []goalPointJSON `json:"metric"`
		Events []goalEventJSON `json:"events"`
	}{Metric: []goalPointJSON{}, Events: []goalEventJSON{}}
	for _, p := range g.Path {
		out.History.Metric = append(out.History.Metric, goalPointJSON{Day: p.Day.String(), Value: p.Value})
	}
	for _, e := range g.Events {
		changes := json.RawMessage(e.Changes)
		if !json.Valid(changes) {
			changes = json.RawMessage("{}")
		}
		out.History.Events = append(out.History.Events, goalEventJSON{At: e.CreatedAt.UTC(), Actor: e.Who(), Kind: e.Kind, Changes: changes, Body: e.Body})
	}
	return out
}
