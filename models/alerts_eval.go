package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"sightline/alerts"
	"sightline/metrics"
)

const alertRulesSetting = "alert_rules"

// AlertRules returns the admin's alert rules, SPEC §8's defaults until changed.
func (s *Store) AlertRules(ctx context.Context) (alerts.Rules, error) {
	r := alerts.DefaultRules()
	err := s.GetSetting(ctx, alertRulesSetting, &r)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return r, err
	}
	return r, nil
}

// PutAlertRules validates and stores the rules; the next evaluation applies them to
// every account (the settings version changes).
func (s *Store) PutAlertRules(ctx context.Context, r alerts.Rules) error {
	verr := &ValidationError{Message: "invalid alert rules"}
	for _, p := range r.Validate() {
		verr.Add(p.Field, p.Message)
	}
	if err := verr.OrNil(); err != nil {
		return err
	}
	return s.PutSetting(ctx, alertRulesSetting, r)
}

// EvaluationResult counts what an evaluation did.
type EvaluationResult struct {
	Full                                       bool
	Accounts, Opened, Updated, Resolved, Woken int
	Took                                       time.Duration
}

func (r *EvaluationResult) add(o EvaluationResult) {
	r.Accounts += o.Accounts
	r.Opened += o.Opened
	r.Updated += o.Updated
	r.Resolved += o.Resolved
	r.Woken += o.Woken
}

// alertState is what the evaluation carries from one run to the next (job_state).
type alertState struct {
	UsageScannedAt  time.Time `json:"usage_scanned_at"`
	EvaluatedOn     string    `json:"evaluated_on"`
	SettingsVersion int64     `json:"settings_version"`
	CatalogVersion  int64     `json:"catalog_version"`
}

const alertStateName = "alert_evaluation"

// usageOverlap re-reads recent usage: a group stamped received before the last scan
// may have committed after it.
const usageOverlap = 2 * time.Minute

// EvaluateAlerts evaluates the rules at every account as of a day.
func (s *Store) EvaluateAlerts(ctx context.Context, asOf Date) (EvaluationResult, error) {
	return s.evaluate(ctx, asOf, true)
}

// EvaluateChangedAlerts evaluates only the accounts whose inputs changed since the
// last evaluation: an account, entitlement or goal written (alert_dirty, kept by
// triggers), usage received, or a snoozed alert whose date has come. A new day, or
// changed rules, scorecard or catalog, evaluate every account.
func (s *Store) EvaluateChangedAlerts(ctx context.Context, asOf Date) (EvaluationResult, error) {
	return s.evaluate(ctx, asOf, false)
}

func (s *Store) evaluate(ctx context.Context, asOf Date, full bool) (EvaluationResult, error) {
	start := time.Now()
	var st alertState
	if err := s.jobState(ctx, alertStateName, &st); err != nil {
		return EvaluationResult{}, err
	}
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return EvaluationResult{}, err
	}
	if st.EvaluatedOn != asOf.String() || st.SettingsVersion != v.Settings || st.CatalogVersion != v.Catalog {
		full = true
	}
	scanFrom := st.UsageScannedAt.Add(-usageOverlap)
	scanAt := time.Now().UTC()
	claimed, err := s.claimDirtyAccounts(ctx)
	if err != nil {
		return EvaluationResult{}, err
	}
	var ids []int64
	if !full {
		ids, err = s.accountsWithUsageSince(ctx, scanFrom)
		if err == nil {
			var due []int64
			due, err = s.accountsWithSnoozeDue(ctx, asOf)
			ids = append(append(ids, due...), claimed...)
		}
	}
	res := EvaluationResult{Full: full}
	if err == nil {
		res, err = s.evaluateAccounts(ctx, ids, full, asOf)
	}
	if err != nil {
		// Leave the claimed accounts for the next run.
		s.markDirty(context.WithoutCancel(ctx), claimed)
		return res, err
	}
	st = alertState{UsageScannedAt: scanAt, EvaluatedOn: asOf.String(), SettingsVersion: v.Settings, CatalogVersion: v.Catalog}
	if err := s.putJobState(ctx, alertStateName, st); err != nil {
		return res, err
	}
	res.Full, res.Took = full, time.Since(start)
	return res, nil
}

// claimDirtyAccounts takes the accounts marked since the last run.
func (s *Store) claimDirtyAccounts(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Raw("DELETE FROM alert_dirty RETURNING account_id").Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to claim changed accounts: %w", err)
	}
	return ids, nil
}

func (s *Store) markDirty(ctx context.Context, ids []int64) {
	for _, id := range ids {
		s.db.WithContext(ctx).Exec("INSERT INTO alert_dirty (account_id) VALUES (?) ON CONFLICT DO NOTHING", id)
	}
}

// accountsWithUsageSince finds the accounts whose users sent messages since a time,
// from the raw messages (their received_at index), so ingestion writes nothing more.
func (s *Store) accountsWithUsageSince(ctx context.Context, since time.Time) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Raw(`SELECT DISTINCT a.id FROM accounts a
		JOIN end_users u ON u.group_key = a.key
		WHERE u.user_key IN (SELECT DISTINCT m.user_key FROM usage_messages m WHERE m.received_at > ?)`, since).
		Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to find accounts with new usage: %w", err)
	}
	return ids, nil
}

func (s *Store) accountsWithSnoozeDue(ctx context.Context, asOf Date) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&Alert{}).Distinct("account_id").
		Where("state = ? AND snoozed_until <= ?", AlertSnoozed, asOf).Pluck("account_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to find snoozed alerts due: %w", err)
	}
	return ids, nil
}

// alertChunk bounds the accounts evaluated (and written) together.
const alertChunk = 500

type alertAccount struct {
	ID        int64
	Key       string
	ARR       float64
	RenewalOn *Date
	CSMEmail  string
}

// evaluateAccounts evaluates the given accounts (every account when all), chunk by chunk.
func (s *Store) evaluateAccounts(ctx context.Context, ids []int64, all bool, asOf Date) (EvaluationResult, error) {
	var res EvaluationResult
	if !all && len(ids) == 0 {
		return res, nil
	}
	rules, err := s.AlertRules(ctx)
	if err != nil {
		return res, err
	}
	cfg, catalog, err := s.healthSettings(ctx)
	if err != nil {
		return res, err
	}
	goals, err := s.ListGoals(ctx, GoalFilter{}, asOf)
	if err != nil {
		return res, err
	}
	goalsOf := map[int64][]alerts.Goal{}
	for _, g := range goals {
		goalsOf[g.AccountID] = append(goalsOf[g.AccountID], alerts.Goal{ID: g.ID, Title: g.Title, Metric: g.Metric,
			Status: g.Status, Current: g.Current, Target: g.Target, DueOn: g.DueOn.String(), Sentence: g.Sentence})
	}
	unique := map[int64]bool{}
	for _, id := range ids {
		unique[id] = true
	}
	list := make([]int64, 0, len(unique))
	for id := range unique {
		list = append(list, id)
	}
	var after int64
	for i := 0; ; i += alertChunk {
		var accounts []alertAccount
		q := s.db.WithContext(ctx).Table("accounts").Select("id, key, arr, renewal_on, csm_email").Order("id").Limit(alertChunk)
		if all {
			q = q.Where("id > ?", after)
		} else {
			if i >= len(list) {
				break
			}
			q = q.Where("id IN ?", list[i:min(i+alertChunk, len(list))])
		}
		if err := q.Scan(&accounts).Error; err != nil {
			return res, fmt.Errorf("store: unable to list accounts to evaluate: %w", err)
		}
		if all && len(accounts) == 0 {
			break
		}
		if len(accounts) > 0 {
			after = accounts[len(accounts)-1].ID
			r, err := s.evaluateChunk(ctx, accounts, asOf, rules, cfg, catalog, goalsOf)
			if err != nil {
				return res, err
			}
			res.add(r)
		}
	}
	return res, nil
}

// evaluateChunk judges a chunk of accounts and reconciles their alerts in one transaction.
func (s *Store) evaluateChunk(ctx context.Context, accounts []alertAccount, asOf Date, rules alerts.Rules,
	cfg metrics.Config, catalog []metrics.Feature, goalsOf map[int64][]alerts.Goal) (EvaluationResult, error) {
	day := metricsDay(asOf)
	// The days the rules read: the windows of today and of the day they compare with,
	// and gone_dark's lookback.
	back := max(max(rules.HealthDrop.Days, rules.ExecutiveLost.Days)+metrics.WindowDays-1, rules.GoneDark.LookbackDays-1)
	has := make([]healthAccount, len(accounts))
	for i, a := range accounts {
		has[i] = healthAccount{ID: a.ID, Key: a.Key}
	}
	ins, _, err := s.loadHealthInputs(ctx, has, day-metrics.Day(back), day, catalog)
	if err != nil {
		return EvaluationResult{}, err
	}
	found := make(map[int64][]alerts.Condition, len(accounts))
	for _, a := range accounts {
		in := ins[a.Key]
		p := metrics.Prepare(*in)
		memo := map[metrics.Day]metrics.Result{}
		input := alerts.Input{Account: a.Key, ARR: a.ARR, AsOf: day, Entitlements: in.Entitlements,
			Goals: goalsOf[a.ID], UnderusedBelow: cfg.UnderusedBelow,
			Health: func(d metrics.Day) metrics.Result {
				r, ok := memo[d]
				if !ok {
					r = p.Compute(d, cfg)
					memo[d] = r
				}
				return r
			},
			UsageMessages: func(from, to metrics.Day) int {
				n := 0
				for _, act := range in.Activity {
					if act.Day >= from && act.Day <= to {
						n += act.Messages
					}
				}
				return n
			},
		}
		if a.RenewalOn != nil && !a.RenewalOn.IsZero() {
			input.RenewalOn = metricsDay(*a.RenewalOn)
		}
		found[a.ID] = alerts.Conditions(input, rules)
	}
	var res EvaluationResult
	err = s.tx(ctx, func(tx *gorm.DB) error {
		r, err := s.reconcile(ctx, tx, accounts, found, asOf)
		res = r
		return err
	})
	res.Accounts = len(accounts)
	return res, err
}

func alertKey(kind, subject string, threshold *float64) string {
	t := "-"
	if threshold != nil {
		t = strconv.FormatFloat(*threshold, 'g', -1, 64)
	}
	return kind + "\x00" + subject + "\x00" + t
}

// reconcile makes the stored alerts of the accounts agree with what holds: one alert
// per condition, updated in place while it lasts, resolved as cleared when it goes; a
// person's resolution holds until the condition has cleared; a snoozed alert comes
// back on its date; a consumption alert opens once per entitlement, threshold and term.
func (s *Store) reconcile(ctx context.Context, tx *gorm.DB, accounts []alertAccount, found map[int64][]alerts.Condition, asOf Date) (EvaluationResult, error) {
	var res EvaluationResult
	ids := make([]int64, len(accounts))
	for i, a := range accounts {
		ids[i] = a.ID
	}
	var stored []Alert
	err := tx.Where("account_id IN ?", ids).
		Where("state <> ? OR (resolution IN ? AND condition_cleared = ?) OR kind = ?",
			AlertResolved, []string{ResolutionActed, ResolutionNoAction}, false, alerts.KindConsumption).
		Order("id").Find(&stored).Error
	if err != nil {
		return res, fmt.Errorf("store: unable to read alerts: %w", err)
	}
	type byKey struct {
		unresolved *Alert
		held       []*Alert // resolved by a person, condition not cleared since
		terms      map[string]bool
	}
	known := map[int64]map[string]*byKey{}
	get := func(account int64, key string) *byKey {
		if known[account] == nil {
			known[account] = map[string]*byKey{}
		}
		k := known[account][key]
		if k == nil {
			k = &byKey{terms: map[string]bool{}}
			known[account][key] = k
		}
		return k
	}
	for i := range stored {
		a := &stored[i]
		k := get(a.AccountID, alertKey(a.Kind, a.Subject, a.Threshold))
		if a.Kind == alerts.KindConsumption {
			k.terms[a.Term] = true
		}
		switch {
		case a.State != AlertResolved:
			k.unresolved = a
		case a.Resolution != nil && *a.Resolution != ResolutionCleared && !a.ConditionCleared:
			k.held = append(k.held, a)
		}
	}
	now := time.Now().UTC()
	var opened, resolved, reopened []int64
	for _, acct := range accounts {
		holds := map[string]alerts.Condition{}
		for _, c := range found[acct.ID] {
			holds[alertKey(c.Kind, c.Subject, c.Threshold)] = c
		}
		for key, k := range known[acct.ID] {
			c, ok := holds[key]
			if a := k.unresolved; a != nil {
				if !ok {
					upd := tx.Model(&Alert{}).Where("id = ? AND state <> ?", a.ID, AlertResolved).Updates(map[string]any{
						"state": AlertResolved, "resolution": ResolutionCleared, "resolved_at": now, "updated_at": now,
						"snoozed_until": nil, "condition_cleared": true})
					err := upd.Error
					if err == nil && upd.RowsAffected == 0 {
						continue // another evaluation resolved it first
					}
					if err == nil {
						err = addAlertEvent(tx, a.ID, Sightline, "resolved", map[string]FieldChange{
							"state": {a.State, AlertResolved}, "resolution": {nil, ResolutionCleared}}, "The condition no longer holds.", now)
					}
					if err != nil {
						return res, err
					}
					resolved = append(resolved, a.ID)
					res.Resolved++
					continue
				}
				fields := map[string]any{}
				changes := map[string]FieldChange{}
				evidence := evidenceJSON(c.Evidence)
				if c.Message != a.Message {
					fields["message"] = c.Message
					changes["message"] = FieldChange{a.Message, c.Message}
				}
				if c.Severity != a.Severity {
					fields["severity"] = c.Severity
					changes["severity"] = FieldChange{a.Severity, c.Severity}
				}
				if evidence != a.Evidence {
					fields["evidence"] = evidence
				}
				kind := "updated"
				if a.State == AlertSnoozed && a.SnoozedUntil != nil && !a.SnoozedUntil.After(asOf) {
					fields["state"], fields["snoozed_until"] = AlertOpen, nil
					changes["state"] = FieldChange{AlertSnoozed, AlertOpen}
					kind = "woke"
					reopened = append(reopened, a.ID)
					res.Woken++
				}
				if len(fields) == 0 {
					continue
				}
				if len(changes) > 0 {
					fields["updated_at"] = now
				}
				upd := tx.Model(&Alert{}).Where("id = ? AND state = ?", a.ID, a.State).Updates(fields)
				if upd.Error != nil {
					return res, fmt.Errorf("store: unable to update alert: %w", upd.Error)
				}
				if upd.RowsAffected == 0 {
					continue // changed meanwhile (by a person or another evaluation)
				}
				if len(changes) > 0 {
					note := ""
					if kind == "woke" {
						note = "Snoozed until " + a.SnoozedUntil.String() + "; the condition still holds."
					}
					if err := addAlertEvent(tx, a.ID, Sightline, kind, changes, note, now); err != nil {
						return res, err
					}
					if kind == "updated" {
						res.Updated++
					}
				}
			}
			if !ok {
				for _, h := range k.held {
					// The condition cleared: when it returns, a new alert may open.
					if err := tx.Model(&Alert{}).Where("id = ?", h.ID).Update("condition_cleared", true).Error; err != nil {
						return res, err
					}
					if err := addAlertEvent(tx, h.ID, Sightline, "cleared", nil, "The condition no longer holds.", now); err != nil {
						return res, err
					}
				}
			}
		}
		for key, c := range holds {
			k := known[acct.ID][key]
			if k != nil && (k.unresolved != nil || len(k.held) > 0) {
				continue
			}
			if c.Kind == alerts.KindConsumption && k != nil && k.terms[c.Term] {
				continue // once per entitlement, threshold and term
			}
			a := Alert{AccountID: acct.ID, Kind: c.Kind, Subject: c.Subject, Threshold: c.Threshold, Severity: c.Severity,
				State: AlertOpen, Message: c.Message, Evidence: evidenceJSON(c.Evidence), Term: c.Term,
				OpenedAt: now, UpdatedAt: now}
			if acct.CSMEmail != "" {
				owner := acct.CSMEmail
				a.OwnerEmail = &owner
			}
			// Another evaluation may open it at the same moment: the unique index keeps
			// one, and this one then does nothing.
			ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&a)
			if ins.Error != nil {
				return res, fmt.Errorf("store: unable to open alert: %w", ins.Error)
			}
			if ins.RowsAffected == 0 {
				continue
			}
			if err := addAlertEvent(tx, a.ID, Sightline, "opened", nil, "", now); err != nil {
				return res, err
			}
			opened = append(opened, a.ID)
			res.Opened++
		}
	}
	for _, e := range []struct {
		event string
		ids   []int64
	}{{EventAlertOpened, opened}, {EventAlertResolved, resolved}, {EventAlertReopened, reopened}} {
		if err := s.queueWebhooks(ctx, tx, e.event, e.ids); err != nil {
			return res, err
		}
	}
	return res, nil
}

func evidenceJSON(ev map[string]any) string {
	if len(ev) == 0 {
		return "{}"
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// jobState reads a job's state (zero when none was stored).
func (s *Store) jobState(ctx context.Context, name string, out any) error {
	var value string
	err := s.db.WithContext(ctx).Raw("SELECT value FROM job_state WHERE name = ?", name).Scan(&value).Error
	if err != nil {
		return fmt.Errorf("store: unable to read job state %s: %w", name, err)
	}
	if value == "" {
		return nil
	}
	return json.Unmarshal([]byte(value), out)
}

func (s *Store) putJobState(ctx context.Context, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"value"})}).
		Table("job_state").Create(map[string]any{"name": name, "value": string(b)}).Error
	if err != nil {
		return fmt.Errorf("store: unable to write job state %s: %w", name, err)
	}
	return nil
}
