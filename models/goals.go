package models

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"sightline/metrics"
)

// Goal is a SMART goal set for an account (SPEC §6).
type Goal struct {
	ID        int64      `gorm:"column:id;primaryKey"`
	AccountID int64      `gorm:"column:account_id"`
	Title     string     `gorm:"column:title"`
	Metric    string     `gorm:"column:metric"`
	Target    float64    `gorm:"column:target"`
	Baseline  float64    `gorm:"column:baseline"`
	Relevance string     `gorm:"column:relevance"`
	DueOn     Date       `gorm:"column:due_on"`
	OwnerID   *int64     `gorm:"column:owner_id"`
	CreatedBy *int64     `gorm:"column:created_by"`
	ClosedAt  *time.Time `gorm:"column:closed_at"`
	CreatedAt time.Time  `gorm:"column:created_at"`
	UpdatedAt time.Time  `gorm:"column:updated_at"`

	// Read with the goal, never written.
	AccountKey  string  `gorm:"->;column:account_key"`
	AccountName string  `gorm:"->;column:account_name"`
	CSMEmail    string  `gorm:"->;column:csm_email"`
	OwnerEmail  string  `gorm:"->;column:owner_email"`
	AccountARR  float64 `gorm:"->;column:account_arr"`
	RenewalOn   *Date   `gorm:"->;column:renewal_on"`
}

// TableName maps the struct to its table.
func (Goal) TableName() string { return "goals" }

// Open reports a goal not closed.
func (g Goal) Open() bool { return g.ClosedAt == nil }

// GoalEvent is one entry of a goal's history: its creation, an edit, closing or
// reopening it, or a comment.
type GoalEvent struct {
	ID         int64     `gorm:"column:id;primaryKey"`
	GoalID     int64     `gorm:"column:goal_id"`
	ActorID    *int64    `gorm:"column:actor_id"`
	ActorName  string    `gorm:"column:actor_name"` // the member's email, or "API token NAME"
	Kind       string    `gorm:"column:kind"`       // created, updated, closed, reopened, comment
	Changes    string    `gorm:"column:changes"`    // JSON: field → {"from", "to"}
	Body       string    `gorm:"column:body"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	ActorEmail string    `gorm:"->;column:actor_email"`
}

// TableName maps the struct to its table.
func (GoalEvent) TableName() string { return "goal_events" }

// Who names the actor for display.
func (e GoalEvent) Who() string {
	if e.ActorEmail != "" {
		return e.ActorEmail
	}
	if e.ActorName != "" {
		return e.ActorName
	}
	return "someone since removed"
}

// FieldChange is one changed field of a goal event.
type FieldChange struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// ChangeList decodes the event's changes, sorted by field.
func (e GoalEvent) ChangeList() []struct {
	Field string
	FieldChange
} {
	var m map[string]FieldChange
	_ = json.Unmarshal([]byte(e.Changes), &m)
	out := make([]struct {
		Field string
		FieldChange
	}, 0, len(m))
	for k, v := range m {
		out = append(out, struct {
			Field string
			FieldChange
		}{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}

// Actor is who changes a goal: a team member, or an API token (no member).
type Actor struct {
	MemberID *int64
	Name     string
}

// GoalChange is a goal's fields as sent by a form or the API; nil leaves a field as it is.
type GoalChange struct {
	Title     *string  `json:"title"`
	Metric    *string  `json:"metric"`
	Target    *float64 `json:"target"`
	Relevance *string  `json:"relevance"`
	DueOn     *string  `json:"due_on"`
	Owner     *string  `json:"owner"` // email; "" clears
	Closed    *bool    `json:"closed"`
}

// MeasuredGoal is a goal with its measured state, metric path and, when asked, history.
type MeasuredGoal struct {
	Goal
	metrics.GoalPace
	MetricInfo metrics.GoalMetric
	Path       []metrics.GoalPoint // the metric since creation, oldest first
	Events     []GoalEvent         // newest first; loaded only with the history
}

// Limits of a goal's texts and horizon.
const (
	MaxGoalTitle     = 200
	MaxGoalRelevance = 2000
	MaxGoalYears     = 3
)

// goalInvalid is the message of every SMART refusal.
const goalInvalid = "the goal is not SMART"

// goalCheck validates the letters of a goal, after change was applied to g. Only the
// fields in check are looked at, so an edit does not re-judge what it left alone
// (an old goal's due date, say).
type goalCheck struct {
	title, metric, target, relevance, due bool
}

// CreateGoal sets a new goal on an account. Its baseline is the metric's value today;
// each refused SMART letter is a FieldError whose message starts with the letter.
func (s *Store) CreateGoal(ctx context.Context, accountKey string, in GoalChange, actor Actor, today Date) (*MeasuredGoal, error) {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	g := Goal{AccountID: acct.ID, CreatedBy: actor.MemberID, OwnerID: actor.MemberID}
	if in.Owner != nil && strings.TrimSpace(*in.Owner) == "" {
		in.Owner = nil // the creator owns it
	}
	verr := &ValidationError{Message: goalInvalid}
	if in.Title == nil {
		verr.Add("title", "Specific: a title is required: say what will change")
	}
	if in.Metric == nil {
		verr.Add("metric", "Measurable: a metric is required")
	}
	if in.Target == nil {
		verr.Add("target", "Attainable: a target value is required")
	}
	if in.Relevance == nil {
		verr.Add("relevance", "Relevant: say why this goal matters to the customer")
	}
	if in.DueOn == nil {
		verr.Add("due_on", "Time-bound: a due date is required (YYYY-MM-DD)")
	}
	check := goalCheck{title: in.Title != nil, metric: in.Metric != nil, target: in.Target != nil,
		relevance: in.Relevance != nil, due: in.DueOn != nil}
	if err := s.applyGoalChange(ctx, acct, &g, in, check, verr, today); err != nil {
		return nil, err
	}
	if err := verr.OrNil(); err != nil {
		return nil, err
	}
	changes := map[string]FieldChange{}
	for k, v := range goalFields(g) {
		changes[k] = FieldChange{To: v}
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Omit("account_key", "account_name", "csm_email", "owner_email").Create(&g).Error; err != nil {
			return err
		}
		return addGoalEvent(tx, g.ID, actor, "created", changes, "")
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to create goal: %w", err)
	}
	return s.AccountGoal(ctx, accountKey, g.ID, today)
}

// UpdateGoal edits a goal's fields, closes or reopens it, and records what changed.
// A new metric takes a new baseline (today's value).
func (s *Store) UpdateGoal(ctx context.Context, accountKey string, id int64, in GoalChange, actor Actor, today Date) (*MeasuredGoal, error) {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	g, err := s.goalOf(ctx, acct.ID, id)
	if err != nil {
		return nil, err
	}
	before := goalFields(*g)
	verr := &ValidationError{Message: goalInvalid}
	check := goalCheck{title: in.Title != nil && *in.Title != g.Title, metric: in.Metric != nil && *in.Metric != g.Metric,
		relevance: in.Relevance != nil && *in.Relevance != g.Relevance, due: in.DueOn != nil && *in.DueOn != g.DueOn.String()}
	check.target = check.metric || (in.Target != nil && *in.Target != g.Target)
	if !check.metric {
		in.Metric = nil
	}
	if err := s.applyGoalChange(ctx, acct, g, in, check, verr, today); err != nil {
		return nil, err
	}
	if err := verr.OrNil(); err != nil {
		return nil, err
	}
	kind := "updated"
	if in.Closed != nil && *in.Closed != (g.ClosedAt != nil) {
		if *in.Closed {
			now := time.Now().UTC()
			g.ClosedAt, kind = &now, "closed"
		} else {
			g.ClosedAt, kind = nil, "reopened"
		}
	}
	after := goalFields(*g)
	changes := map[string]FieldChange{}
	for k, v := range after {
		if fmt.Sprint(before[k]) != fmt.Sprint(v) {
			changes[k] = FieldChange{From: before[k], To: v}
		}
	}
	if len(changes) == 0 {
		return s.AccountGoal(ctx, accountKey, id, today)
	}
	g.UpdatedAt = time.Now().UTC()
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&Goal{}).Where("id = ?", g.ID).Updates(map[string]any{
			"title": g.Title, "metric": g.Metric, "target": g.Target, "baseline": g.Baseline,
			"relevance": g.Relevance, "due_on": g.DueOn, "owner_id": g.OwnerID, "closed_at": g.ClosedAt,
			"updated_at": g.UpdatedAt,
		}).Error; err != nil {
			return err
		}
		return addGoalEvent(tx, g.ID, actor, kind, changes, "")
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to update goal: %w", err)
	}
	return s.AccountGoal(ctx, accountKey, id, today)
}

// applyGoalChange validates the checked fields of in and copies them into g; refusals
// go into verr. The baseline is captured when the metric is set.
func (s *Store) applyGoalChange(ctx context.Context, acct *Account, g *Goal, in GoalChange, check goalCheck, verr *ValidationError, today Date) error {
	if check.title {
		g.Title = strings.TrimSpace(*in.Title)
		switch {
		case g.Title == "":
			verr.Add("title", "Specific: a title is required: say what will change")
		case len([]rune(g.Title)) > MaxGoalTitle:
			verr.Add("title", fmt.Sprintf("Specific: keep the title to %d characters; put the detail in the relevance", MaxGoalTitle))
		}
	}
	if check.relevance {
		g.Relevance = strings.TrimSpace(*in.Relevance)
		switch {
		case g.Relevance == "":
			verr.Add("relevance", "Relevant: say why this goal matters to the customer")
		case len([]rune(g.Relevance)) > MaxGoalRelevance:
			verr.Add("relevance", fmt.Sprintf("Relevant: keep it to %d characters", MaxGoalRelevance))
		}
	}
	if check.due {
		d, err := ParseDate(*in.DueOn)
		switch {
		case strings.TrimSpace(*in.DueOn) == "":
			verr.Add("due_on", "Time-bound: a due date is required (YYYY-MM-DD)")
		case err != nil:
			verr.Add("due_on", fmt.Sprintf("Time-bound: due date %q is not a date as YYYY-MM-DD", *in.DueOn))
		case !d.After(today):
			verr.Add("due_on", fmt.Sprintf("Time-bound: due date %s must be after today (%s)", d, today))
		case d.After(DateOf(today.Time().AddDate(MaxGoalYears, 0, 0))):
			verr.Add("due_on", fmt.Sprintf("Time-bound: due date %s is more than %d years away; set a nearer milestone", d, MaxGoalYears))
		default:
			g.DueOn = d
		}
	}
	if in.Owner != nil {
		email := NormalizeEmail(*in.Owner)
		if email == "" {
			g.OwnerID = nil
		} else if m, err := s.TeamMemberByEmail(ctx, email); err != nil || m.DisabledAt != nil {
			verr.Add("owner", fmt.Sprintf("no active team member has the email %q", email))
		} else {
			g.OwnerID = &m.ID
		}
	}
	if check.target && in.Target != nil {
		g.Target = *in.Target
	}
	measurable := true
	m, perr := metrics.ParseGoalMetric(g.Metric)
	if check.metric {
		measurable = false
		g.Metric = strings.TrimSpace(*in.Metric)
		m, perr = metrics.ParseGoalMetric(g.Metric)
		if perr != nil {
			verr.Add("metric", "Measurable: "+perr.Error())
		} else {
			// Today's value only: no trend or explanation is needed for a baseline.
			p, cfg, _, err := s.preparedHealth(ctx, acct, today, 0, 0)
			if err != nil {
				return err
			}
			v, entitled := m.Value(p.Compute(metricsDay(today), cfg))
			switch {
			case !entitled:
				verr.Add("metric", fmt.Sprintf("Measurable: the account is not entitled to feature %q, so its adoption cannot be measured", m.Feature))
			case v == nil:
				verr.Add("metric", fmt.Sprintf("Measurable: %s cannot be measured yet: %s", g.Metric, m.NullReason()))
			default:
				g.Baseline, measurable = *v, true
			}
		}
	}
	if check.target && measurable && perr == nil {
		if problem := m.AttainableProblem(g.Target, g.Baseline); problem != "" {
			verr.Add("target", "Attainable: "+problem)
		}
	}
	return nil
}

// goalFields are the fields a goal's history records.
func goalFields(g Goal) map[string]any {
	closed := g.ClosedAt != nil
	return map[string]any{"title": g.Title, "metric": g.Metric, "target": g.Target, "baseline": g.Baseline,
		"relevance": g.Relevance, "due_on": g.DueOn.String(), "owner_id": g.OwnerID, "closed": closed}
}

func addGoalEvent(tx *gorm.DB, goalID int64, actor Actor, kind string, changes map[string]FieldChange, body string) error {
	b, err := json.Marshal(changes)
	if err != nil {
		return err
	}
	return tx.Omit("actor_email").Create(&GoalEvent{GoalID: goalID, ActorID: actor.MemberID, ActorName: actor.Name,
		Kind: kind, Changes: string(b), Body: body, CreatedAt: time.Now().UTC()}).Error
}

// MaxGoalComment bounds a comment.
const MaxGoalComment = 5000

// AddGoalComment records a comment in a goal's history.
func (s *Store) AddGoalComment(ctx context.Context, accountKey string, id int64, body string, actor Actor) (*GoalEvent, error) {
	body = strings.TrimSpace(body)
	verr := &ValidationError{Message: "invalid comment"}
	if body == "" {
		verr.Add("body", "is required")
	} else if len([]rune(body)) > MaxGoalComment {
		verr.Add("body", fmt.Sprintf("must be at most %d characters", MaxGoalComment))
	}
	if err := verr.OrNil(); err != nil {
		return nil, err
	}
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	if _, err := s.goalOf(ctx, acct.ID, id); err != nil {
		return nil, err
	}
	ev := &GoalEvent{GoalID: id, ActorID: actor.MemberID, ActorName: actor.Name, Kind: "comment", Changes: "{}", Body: body, CreatedAt: time.Now().UTC()}
	if err := s.db.WithContext(ctx).Omit("actor_email").Create(ev).Error; err != nil {
		return nil, fmt.Errorf("store: unable to add goal comment: %w", err)
	}
	return ev, nil
}

// goalsQuery selects goals with their account, CSM and owner.
func (s *Store) goalsQuery(ctx context.Context) *gorm.DB {
	return s.db.WithContext(ctx).Table("goals g").
		Select("g.*, a.key AS account_key, a.name AS account_name, a.csm_email AS csm_email, COALESCE(m.email, '') AS owner_email, " +
			"a.arr AS account_arr, a.renewal_on AS renewal_on").
		Joins("JOIN accounts a ON a.id = g.account_id").
		Joins("LEFT JOIN team_members m ON m.id = g.owner_id")
}

func (s *Store) goalOf(ctx context.Context, accountID, id int64) (*Goal, error) {
	var gs []Goal
	if err := s.goalsQuery(ctx).Where("g.account_id = ? AND g.id = ?", accountID, id).Scan(&gs).Error; err != nil {
		return nil, fmt.Errorf("store: unable to find goal %d: %w", id, err)
	}
	if len(gs) == 0 {
		return nil, fmt.Errorf("store: unable to find goal %d: %w", id, ErrNotFound)
	}
	return &gs[0], nil
}

// AccountGoal is one goal, measured, with its metric's path and its history.
func (s *Store) AccountGoal(ctx context.Context, accountKey string, id int64, today Date) (*MeasuredGoal, error) {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	g, err := s.goalOf(ctx, acct.ID, id)
	if err != nil {
		return nil, err
	}
	out, err := s.measureGoals(ctx, []Goal{*g}, today, true)
	if err != nil {
		return nil, err
	}
	if err := s.loadGoalEvents(ctx, out); err != nil {
		return nil, err
	}
	return &out[0], nil
}

// AccountGoals lists an account's goals, open ones first by due date, measured from
// live figures for today and the stored snapshots (or the rollups) since creation.
// withHistory adds each goal's events.
func (s *Store) AccountGoals(ctx context.Context, accountKey string, today Date, withHistory bool) (*Account, []MeasuredGoal, error) {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, nil, err
	}
	var gs []Goal
	if err := s.goalsQuery(ctx).Where("g.account_id = ?", acct.ID).
		Order("CASE WHEN g.closed_at IS NULL THEN 0 ELSE 1 END, g.due_on, g.id").Scan(&gs).Error; err != nil {
		return nil, nil, fmt.Errorf("store: unable to list goals: %w", err)
	}
	out, err := s.measureGoals(ctx, gs, today, true)
	if err != nil {
		return nil, nil, err
	}
	if withHistory {
		if err := s.loadGoalEvents(ctx, out); err != nil {
			return nil, nil, err
		}
	}
	return acct, out, nil
}

func (s *Store) loadGoalEvents(ctx context.Context, goals []MeasuredGoal) error {
	if len(goals) == 0 {
		return nil
	}
	ids := make([]int64, len(goals))
	for i, g := range goals {
		ids[i] = g.ID
	}
	var evs []GoalEvent
	err := s.db.WithContext(ctx).Table("goal_events e").Select("e.*, COALESCE(m.email, '') AS actor_email").
		Joins("LEFT JOIN team_members m ON m.id = e.actor_id").
		Where("e.goal_id IN ?", ids).Order("e.created_at DESC, e.id DESC").Scan(&evs).Error
	if err != nil {
		return fmt.Errorf("store: unable to read goal history: %w", err)
	}
	for i := range goals {
		goals[i].Events = []GoalEvent{}
		for _, e := range evs {
			if e.GoalID == goals[i].ID {
				goals[i].Events = append(goals[i].Events, e)
			}
		}
	}
	return nil
}

// GoalFilter narrows /goals.
type GoalFilter struct {
	Status     string // achieved, on_track, at_risk, missed; "" for all
	OwnerEmail string
	CSMEmail   string
	DueMonth   string  // YYYY-MM
	Renews     int     // the account renews within this many days (0: any)
	Closed     bool    // list closed goals instead of open ones
	AccountID  int64   // one account's goals; 0 for every account
	AccountIDs []int64 // these accounts' goals (nil: no such filter)
}

// ListGoals returns every goal across accounts that matches the filter, measured from
// the stored daily snapshots of the last GoalTrendDays days (batched, never per goal),
// most urgent first: at-risk goals due soonest, then on track, missed, achieved.
func (s *Store) ListGoals(ctx context.Context, f GoalFilter, today Date) ([]MeasuredGoal, error) {
	q := s.goalsQuery(ctx)
	if f.AccountID != 0 {
		q = q.Where("g.account_id = ?", f.AccountID)
	}
	if f.AccountIDs != nil {
		if len(f.AccountIDs) == 0 {
			return []MeasuredGoal{}, nil
		}
		q = q.Where("g.account_id IN ?", f.AccountIDs)
	}
	if f.Closed {
		q = q.Where("g.closed_at IS NOT NULL")
	} else {
		q = q.Where("g.closed_at IS NULL")
	}
	if f.OwnerEmail != "" {
		q = q.Where("m.email = ?", NormalizeEmail(f.OwnerEmail))
	}
	if f.CSMEmail != "" {
		q = q.Where("a.csm_email = ?", NormalizeEmail(f.CSMEmail))
	}
	if f.DueMonth != "" {
		start, err := time.Parse("2006-01", f.DueMonth)
		if err != nil {
			return nil, &ValidationError{Message: "invalid filter", Fields: []FieldError{{Field: "due", Message: "want a month as YYYY-MM"}}}
		}
		q = q.Where("g.due_on >= ? AND g.due_on < ?", DateOf(start), DateOf(start.AddDate(0, 1, 0)))
	}
	if f.Renews > 0 {
		q = q.Where("a.renewal_on BETWEEN ? AND ?", today, today.AddDays(f.Renews))
	}
	var gs []Goal
	if err := q.Order("g.due_on, g.id").Scan(&gs).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list goals: %w", err)
	}
	out, err := s.measureGoals(ctx, gs, today, false)
	if err != nil {
		return nil, err
	}
	if f.Status != "" {
		out = slices.DeleteFunc(out, func(g MeasuredGoal) bool { return g.Status != f.Status })
	}
	rank := func(status string) int { return slices.Index(metrics.GoalStatuses, status) }
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i].Status), rank(out[j].Status); ri != rj {
			return ri < rj
		}
		return out[i].DueOn.Before(out[j].DueOn)
	})
	return out, nil
}

// GoalOwners lists the emails owning at least one goal, for the /goals filter.
func (s *Store) GoalOwners(ctx context.Context) ([]string, error) {
	var emails []string
	err := s.db.WithContext(ctx).Raw("SELECT DISTINCT m.email FROM goals g JOIN team_members m ON m.id = g.owner_id ORDER BY m.email").
		Scan(&emails).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list goal owners: %w", err)
	}
	return emails, nil
}

// maxGoalPathDays bounds how far back a goal's path is drawn.
const maxGoalPathDays = 3 * 366

// measureGoals paces goals. Their metric path comes from the stored daily snapshots;
// live (one account's page) computes today and any day without a snapshot from the
// rollups, so the page is exact; otherwise (lists) only the last GoalTrendDays days are
// read, and an account is computed from the rollups only when it has no snapshot at all.
func (s *Store) measureGoals(ctx context.Context, goals []Goal, today Date, live bool) ([]MeasuredGoal, error) {
	out := make([]MeasuredGoal, len(goals))
	if len(goals) == 0 {
		return out, nil
	}
	byAccount := map[int64][]int{} // account id → indexes into out
	var accounts []healthAccount
	todayDay := metricsDay(today)
	// The pace follows the metric's last GoalTrendDays days, before the goal's
	// creation too; the page draws the path since creation.
	from := todayDay - metrics.GoalTrendDays + 1
	history := make([][]metrics.GoalPoint, len(goals))
	for i, g := range goals {
		out[i].Goal = g
		m, _ := metrics.ParseGoalMetric(g.Metric)
		out[i].MetricInfo = m
		if _, ok := byAccount[g.AccountID]; !ok {
			accounts = append(accounts, healthAccount{ID: g.AccountID, Key: g.AccountKey})
		}
		byAccount[g.AccountID] = append(byAccount[g.AccountID], i)
		if created := metrics.DayOf(g.CreatedAt); live && created < from {
			from = max(created, todayDay-maxGoalPathDays)
		}
	}
	seen := map[int64]map[metrics.Day]bool{}
	add := func(accountID int64, day metrics.Day, r metrics.Result) {
		if seen[accountID] == nil {
			seen[accountID] = map[metrics.Day]bool{}
		}
		seen[accountID][day] = true
		for _, i := range byAccount[accountID] {
			v, ok := out[i].MetricInfo.Value(r)
			if !ok || v == nil {
				continue
			}
			pt := metrics.GoalPoint{Day: day, Value: *v}
			if day > todayDay-metrics.GoalTrendDays {
				history[i] = append(history[i], pt)
			}
			if !live || day >= metrics.DayOf(out[i].CreatedAt) {
				out[i].Path = append(out[i].Path, pt)
			}
		}
	}
	lastStored := todayDay
	if live {
		lastStored = todayDay - 1
	}
	for start := 0; start < len(accounts); start += 200 {
		part := accounts[start:min(start+200, len(accounts))]
		ids := make([]int64, len(part))
		for i, a := range part {
			ids[i] = a.ID
		}
		if !live {
			docs, err := s.snapshotDocs(ctx, ids, DateFromEpochDay(int(from)), DateFromEpochDay(int(lastStored)))
			if err != nil {
				return nil, err
			}
			for _, d := range docs {
				add(d.account, d.day, *d.result)
			}
			continue
		}
		var rows []HealthSnapshot
		err := s.db.WithContext(ctx).Select("account_id, day, metrics").
			Where("account_id IN ? AND day BETWEEN ? AND ?", ids, DateFromEpochDay(int(from)), DateFromEpochDay(int(lastStored))).
			Find(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("store: unable to read goal metrics: %w", err)
		}
		for _, row := range rows {
			r, err := row.Result()
			if err != nil {
				return nil, err
			}
			add(row.AccountID, metricsDay(row.Day), r)
		}
	}
	// Days to compute from the rollups.
	var missing []healthAccount
	for _, a := range accounts {
		if live || len(seen[a.ID]) == 0 {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		cfg, catalog, err := s.healthSettings(ctx)
		if err != nil {
			return nil, err
		}
		for start := 0; start < len(missing); start += snapshotChunk {
			part := missing[start:min(start+snapshotChunk, len(missing))]
			first := todayDay
			for _, a := range part {
				for d := from; d <= todayDay; d++ {
					if !seen[a.ID][d] {
						first = min(first, d)
						break
					}
				}
			}
			ins, _, err := s.loadHealthInputs(ctx, part, first-metrics.WindowDays+1, todayDay, catalog)
			if err != nil {
				return nil, err
			}
			for _, a := range part {
				p := metrics.Prepare(*ins[a.Key])
				for d := first; d <= todayDay; d++ {
					if !seen[a.ID][d] {
						add(a.ID, d, p.Compute(d, cfg))
					}
				}
			}
		}
	}
	for i := range out {
		g := &out[i]
		sort.Slice(g.Path, func(a, b int) bool { return g.Path[a].Day < g.Path[b].Day })
		h := history[i]
		sort.Slice(h, func(a, b int) bool { return h[a].Day < h[b].Day })
		in := metrics.GoalInput{Metric: g.MetricInfo, History: h, Baseline: g.Baseline, Target: g.Target,
			Created: metrics.DayOf(g.CreatedAt), Due: metricsDay(g.DueOn), Today: todayDay}
		if n := len(h); n > 0 && h[n-1].Day == todayDay {
			v := h[n-1].Value
			in.Current = &v
		}
		g.GoalPace = metrics.PaceGoal(in)
		if g.Path == nil {
			g.Path = []metrics.GoalPoint{}
		}
	}
	return out, nil
}

// GoalMetricHistory is a metric of an account over the last GoalFeasibilityDays days,
// oldest first: the stored daily snapshots, and today live. Days without a value are
// left out.
func (s *Store) GoalMetricHistory(ctx context.Context, accountKey string, m metrics.GoalMetric, today Date) ([]metrics.GoalPoint, error) {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	var rows []HealthSnapshot
	err = s.db.WithContext(ctx).Select("account_id, day, metrics").
		Where("account_id = ? AND day BETWEEN ? AND ?", acct.ID, today.AddDays(-(metrics.GoalFeasibilityDays - 1)), today.AddDays(-1)).
		Order("day").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read the metric's history: %w", err)
	}
	var out []metrics.GoalPoint
	for _, row := range rows {
		r, err := row.Result()
		if err != nil {
			return nil, err
		}
		if v, ok := m.Value(r); ok && v != nil {
			out = append(out, metrics.GoalPoint{Day: metricsDay(row.Day), Value: *v})
		}
	}
	now, err := s.AccountHealth(ctx, accountKey, today)
	if err != nil {
		return nil, err
	}
	if v, ok := m.Value(now.Result); ok && v != nil {
		out = append(out, metrics.GoalPoint{Day: metricsDay(today), Value: *v})
	}
	return out, nil
}
