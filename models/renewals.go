package models

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Renewal outcomes (SPEC §9). A renewal is lost when churned or contracted, kept
// when renewed or expanded, and closed when either.
const (
	OutcomePending    = "pending"
	OutcomeRenewed    = "renewed"
	OutcomeExpanded   = "expanded"
	OutcomeContracted = "contracted"
	OutcomeChurned    = "churned"
)

// RenewalOutcomes lists every outcome, pending first.
var RenewalOutcomes = []string{OutcomePending, OutcomeRenewed, OutcomeExpanded, OutcomeContracted, OutcomeChurned}

// Renewal is one renewal of an account's contract: due on a day for an ARR, and
// once closed, its outcome and the ARR after it.
type Renewal struct {
	ID        int64     `gorm:"column:id;primaryKey" json:"-"`
	AccountID int64     `gorm:"column:account_id" json:"-"`
	Account   string    `gorm:"-" json:"account"`
	Key       string    `gorm:"column:key" json:"key"`
	DueOn     Date      `gorm:"column:due_on" json:"due_on"`
	ARRBefore float64   `gorm:"column:arr_before" json:"arr_before"`
	Outcome   string    `gorm:"column:outcome" json:"outcome"`
	ARRAfter  *float64  `gorm:"column:arr_after" json:"arr_after"`
	ClosedOn  *Date     `gorm:"column:closed_on" json:"closed_on"`
	Note      string    `gorm:"column:note" json:"note"`
	CreatedAt time.Time `gorm:"column:created_at" json:"created_at"`
	UpdatedAt time.Time `gorm:"column:updated_at" json:"updated_at"`
}

// TableName maps the struct to its table.
func (Renewal) TableName() string { return "renewals" }

// Closed reports whether the renewal has an outcome.
func (r Renewal) Closed() bool { return r.Outcome != OutcomePending }

// Lost reports a churned or contracted renewal.
func (r Renewal) Lost() bool { return r.Outcome == OutcomeChurned || r.Outcome == OutcomeContracted }

// Validate checks the fields that need no database, and fills what a closed renewal
// implies: a churned renewal's ARR after is 0, a renewed one's is its ARR before.
func (r *Renewal) Validate() *ValidationError {
	verr := &ValidationError{Message: "invalid renewal"}
	r.Key = strings.TrimSpace(r.Key)
	if !ValidKey(r.Key) {
		verr.Add("key", keyRule)
	}
	if r.DueOn.IsZero() {
		verr.Add("due_on", "is required (YYYY-MM-DD)")
	}
	if r.ARRBefore < 0 || math.IsNaN(r.ARRBefore) || math.IsInf(r.ARRBefore, 0) {
		verr.Add("arr_before", "must be a number ≥ 0")
	}
	if r.Outcome == "" {
		r.Outcome = OutcomePending
	}
	if !oneOf(r.Outcome, RenewalOutcomes) {
		verr.Add("outcome", "must be one of "+strings.Join(RenewalOutcomes, ", "))
		return verr
	}
	if r.ARRAfter != nil && (*r.ARRAfter < 0 || math.IsNaN(*r.ARRAfter) || math.IsInf(*r.ARRAfter, 0)) {
		verr.Add("arr_after", "must be a number ≥ 0")
		return verr
	}
	r.Note = strings.TrimSpace(r.Note)
	if !r.Closed() {
		if r.ClosedOn != nil {
			verr.Add("closed_on", "a pending renewal is not closed: leave closed_on empty, or give the outcome")
		}
		return verr
	}
	if r.ClosedOn == nil {
		verr.Add("closed_on", "is required once the outcome is "+r.Outcome)
	}
	if r.ARRAfter == nil {
		switch r.Outcome {
		case OutcomeChurned:
			zero := 0.0
			r.ARRAfter = &zero
		case OutcomeRenewed:
			same := r.ARRBefore
			r.ARRAfter = &same
		default:
			verr.Add("arr_after", "is required once the outcome is "+r.Outcome)
			return verr
		}
	}
	switch after := *r.ARRAfter; {
	case r.Outcome == OutcomeChurned && after != 0:
		verr.Add("arr_after", "must be 0 for a churned renewal")
	case r.Outcome == OutcomeExpanded && after <= r.ARRBefore:
		verr.Add("arr_after", fmt.Sprintf("must be more than arr_before (%s) for an expanded renewal", formatNumber(r.ARRBefore)))
	case r.Outcome == OutcomeContracted && (after >= r.ARRBefore || after == 0):
		verr.Add("arr_after", fmt.Sprintf("must be between 0 and arr_before (%s) for a contracted renewal; 0 is churned", formatNumber(r.ARRBefore)))
	}
	return verr
}

// RenewalEvent is one change of a renewal, for its history.
type RenewalEvent struct {
	ID        int64     `gorm:"column:id;primaryKey" json:"-"`
	RenewalID int64     `gorm:"column:renewal_id" json:"-"`
	At        time.Time `gorm:"column:at" json:"at"`
	Actor     string    `gorm:"column:actor" json:"actor"`
	Change    string    `gorm:"column:change" json:"change"`
}

// TableName maps the struct to its table.
func (RenewalEvent) TableName() string { return "renewal_events" }

// describeRenewalChange says what a write changed, "" when nothing did.
func describeRenewalChange(old *Renewal, r *Renewal) string {
	if old == nil {
		s := fmt.Sprintf("created: due %s, ARR %s, %s", r.DueOn, formatNumber(r.ARRBefore), r.Outcome)
		if r.Closed() {
			s += fmt.Sprintf(" (ARR after %s, closed %s)", formatNumber(*r.ARRAfter), r.ClosedOn)
		}
		return s
	}
	var parts []string
	add := func(field, from, to string) {
		if from != to {
			parts = append(parts, fmt.Sprintf("%s %s → %s", field, orNone(from), orNone(to)))
		}
	}
	num := func(v *float64) string {
		if v == nil {
			return ""
		}
		return formatNumber(*v)
	}
	date := func(d *Date) string {
		if d == nil {
			return ""
		}
		return d.String()
	}
	add("outcome", old.Outcome, r.Outcome)
	add("due", old.DueOn.String(), r.DueOn.String())
	add("ARR before", formatNumber(old.ARRBefore), formatNumber(r.ARRBefore))
	add("ARR after", num(old.ARRAfter), num(r.ARRAfter))
	add("closed", date(old.ClosedOn), date(r.ClosedOn))
	if old.Note != r.Note {
		parts = append(parts, "note: "+orNone(r.Note))
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// UpsertRenewal creates or replaces an account's renewal by key, records the change in
// its history, and moves the account's renewal_on to its earliest pending renewal.
func (s *Store) UpsertRenewal(ctx context.Context, accountKey string, r *Renewal, actor Actor) (created bool, err error) {
	r.Account = accountKey
	if err := r.Validate().OrNil(); err != nil {
		return false, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		created, err = upsertRenewal(tx, r, actor.Name)
		return err
	})
	s.backtests.reset()
	return created, err
}

func upsertRenewal(tx *gorm.DB, r *Renewal, actor string) (bool, error) {
	var acct Account
	if err := tx.Where("key = ?", r.Account).Take(&acct).Error; err != nil {
		return false, fmt.Errorf("account %s: %w", r.Account, notFound(err))
	}
	now := time.Now().UTC()
	r.AccountID, r.UpdatedAt = acct.ID, now
	var existing Renewal
	var old *Renewal
	switch err := notFound(tx.Where("account_id = ? AND key = ?", acct.ID, r.Key).Take(&existing).Error); err {
	case nil:
		old = &existing
		r.ID, r.CreatedAt = existing.ID, existing.CreatedAt
		change := describeRenewalChange(old, r)
		if change == "" {
			r.UpdatedAt = existing.UpdatedAt
			return false, nil
		}
		err = tx.Model(&Renewal{}).Where("id = ?", r.ID).Updates(map[string]any{
			"due_on": r.DueOn, "arr_before": r.ARRBefore, "outcome": r.Outcome, "arr_after": r.ARRAfter,
			"closed_on": r.ClosedOn, "note": r.Note, "updated_at": now}).Error
		if err != nil {
			return false, fmt.Errorf("store: unable to update renewal %s: %w", r.Key, err)
		}
		if err := recordRenewalEvent(tx, r.ID, actor, change, now); err != nil {
			return false, err
		}
	case ErrNotFound:
		r.CreatedAt = now
		if err := tx.Create(r).Error; err != nil {
			return false, fmt.Errorf("store: unable to create renewal %s: %w", r.Key, err)
		}
		if err := recordRenewalEvent(tx, r.ID, actor, describeRenewalChange(nil, r), now); err != nil {
			return false, err
		}
	default:
		return false, fmt.Errorf("store: unable to find renewal %s: %w", r.Key, err)
	}
	return old == nil, syncRenewalOn(tx, []int64{acct.ID})
}

func recordRenewalEvent(tx *gorm.DB, renewalID int64, actor, change string, at time.Time) error {
	err := tx.Create(&RenewalEvent{RenewalID: renewalID, At: at, Actor: actor, Change: change}).Error
	if err != nil {
		return fmt.Errorf("store: unable to record a renewal's history: %w", err)
	}
	return nil
}

// syncRenewalOn sets each account's renewal_on to the due date of its earliest pending
// renewal, when it has one (SPEC §9); an account without one keeps its own date.
// No ids: every account.
func syncRenewalOn(tx *gorm.DB, accountIDs []int64) error {
	const earliest = "(SELECT MIN(r.due_on) FROM renewals r WHERE r.account_id = accounts.id AND r.outcome = 'pending')"
	sync := func(where string, args ...any) error {
		err := tx.Exec("UPDATE accounts SET renewal_on = "+earliest+" WHERE "+where+
			" AND EXISTS (SELECT 1 FROM renewals r WHERE r.account_id = accounts.id AND r.outcome = 'pending')"+
			" AND (renewal_on IS NULL OR renewal_on <> "+earliest+")", args...).Error
		if err != nil {
			return fmt.Errorf("store: unable to move renewal dates: %w", err)
		}
		return nil
	}
	if accountIDs == nil {
		return sync("1 = 1")
	}
	const chunk = 5000
	for start := 0; start < len(accountIDs); start += chunk {
		if err := sync("id IN ?", accountIDs[start:min(start+chunk, len(accountIDs))]); err != nil {
			return err
		}
	}
	return nil
}

// RenewalByKey reads one renewal of an account.
func (s *Store) RenewalByKey(ctx context.Context, accountKey, key string) (*Renewal, error) {
	rs, err := s.renewals(ctx, "a.key = ? AND r.key = ?", accountKey, key)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		if _, err := s.AccountByKey(ctx, accountKey); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("renewal %s of %s: %w", key, accountKey, ErrNotFound)
	}
	return &rs[0], nil
}

// ListRenewals lists an account's renewals, latest due first (404 for an unknown account).
func (s *Store) ListRenewals(ctx context.Context, accountKey string) ([]Renewal, error) {
	if _, err := s.AccountByKey(ctx, accountKey); err != nil {
		return nil, err
	}
	return s.renewals(ctx, "a.key = ?", accountKey)
}

// AllRenewals lists every renewal, by account and due date.
func (s *Store) AllRenewals(ctx context.Context) ([]Renewal, error) {
	return s.renewals(ctx, "1 = 1")
}

func (s *Store) renewals(ctx context.Context, where string, args ...any) ([]Renewal, error) {
	var rows []struct {
		Renewal    `gorm:"embedded"`
		AccountKey string `gorm:"column:account_key"`
	}
	err := s.db.WithContext(ctx).Table("renewals r").Select("r.*, a.key AS account_key").
		Joins("JOIN accounts a ON a.id = r.account_id").Where(where, args...).
		Order("a.key, r.due_on DESC, r.key").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list renewals: %w", err)
	}
	rs := make([]Renewal, len(rows))
	for i, r := range rows {
		rs[i] = r.Renewal
		rs[i].Account = r.AccountKey
	}
	return rs, nil
}

// AccountRenewals lists an account's renewals as ListRenewals does, with each one's
// changes, oldest first, by renewal id: the account page's panel in one read.
func (s *Store) AccountRenewals(ctx context.Context, accountID int64) ([]Renewal, map[int64][]RenewalEvent, error) {
	var rows []struct {
		Renewal     `gorm:"embedded"`
		AccountKey  string     `gorm:"column:account_key"`
		EventID     *int64     `gorm:"column:event_id"`
		EventAt     *time.Time `gorm:"column:event_at"`
		EventActor  *string    `gorm:"column:event_actor"`
		EventChange *string    `gorm:"column:event_change"`
	}
	err := s.db.WithContext(ctx).Raw("SELECT r.*, a.key AS account_key, e.id AS event_id, e.at AS event_at,"+
		" e.actor AS event_actor, e.change AS event_change FROM renewals r JOIN accounts a ON a.id = r.account_id"+
		" LEFT JOIN renewal_events e ON e.renewal_id = r.id WHERE r.account_id = ?"+
		" ORDER BY r.due_on DESC, r.key, e.at, e.id", accountID).Scan(&rows).Error
	if err != nil {
		return nil, nil, fmt.Errorf("store: unable to list the account's renewals: %w", err)
	}
	var rs []Renewal
	history := map[int64][]RenewalEvent{}
	for _, r := range rows {
		if len(rs) == 0 || rs[len(rs)-1].ID != r.ID {
			rs = append(rs, r.Renewal)
			rs[len(rs)-1].Account = r.AccountKey
		}
		if r.EventID != nil {
			history[r.ID] = append(history[r.ID], RenewalEvent{ID: *r.EventID, RenewalID: r.ID, At: *r.EventAt,
				Actor: *r.EventActor, Change: *r.EventChange})
		}
	}
	return rs, history, nil
}

// DeleteRenewal removes a renewal and its history; the account's renewal_on follows
// its remaining pending renewals.
func (s *Store) DeleteRenewal(ctx context.Context, accountKey, key string) error {
	r, err := s.RenewalByKey(ctx, accountKey, key)
	if err != nil {
		return err
	}
	defer s.backtests.reset()
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", r.ID).Delete(&Renewal{}).Error; err != nil {
			return fmt.Errorf("store: unable to delete renewal %s: %w", key, err)
		}
		return syncRenewalOn(tx, []int64{r.AccountID})
	})
}

// importRenewals writes a CSV file's renewals: all of them or, when any names an
// unknown account, none. New and changed renewals get a history line ("CSV import"),
// unchanged ones are left alone, and the accounts' renewal dates follow.
func importRenewals(tx *gorm.DB, b *ImportBatch, ie *importErrors) error {
	accountID, _, err := accountKeys(tx)
	if err != nil {
		return err
	}
	for i, r := range b.Renewals {
		if _, ok := accountID[r.Account]; !ok {
			ie.add(b.Lines[i], "account", fmt.Sprintf("unknown account %q; import or create the account first", r.Account))
			if ie.full() {
				break
			}
		}
	}
	sort.SliceStable(ie.verr.Fields, func(i, j int) bool { return ie.verr.Fields[i].Line < ie.verr.Fields[j].Line })
	if err := ie.orNil(); err != nil {
		return err
	}
	var existing []Renewal
	if err := tx.Find(&existing).Error; err != nil {
		return fmt.Errorf("store: unable to list renewals: %w", err)
	}
	type at struct {
		account int64
		key     string
	}
	old := make(map[at]*Renewal, len(existing))
	for i := range existing {
		old[at{existing[i].AccountID, existing[i].Key}] = &existing[i]
	}
	now := time.Now().UTC()
	var write []*Renewal
	var events []RenewalEvent
	changes := map[at]string{}
	touched := map[int64]bool{}
	for i := range b.Renewals {
		r := &b.Renewals[i]
		r.AccountID = accountID[r.Account]
		k := at{r.AccountID, r.Key}
		change := describeRenewalChange(old[k], r)
		if change == "" {
			continue
		}
		changes[k] = change
		write = append(write, r)
		touched[r.AccountID] = true
	}
	err = bulkWrite(tx, "INSERT INTO renewals (account_id, key, due_on, arr_before, outcome, arr_after, closed_on, note, created_at, updated_at) VALUES ",
		" ON CONFLICT (account_id, key) DO UPDATE SET due_on = excluded.due_on, arr_before = excluded.arr_before, outcome = excluded.outcome,"+
			" arr_after = excluded.arr_after, closed_on = excluded.closed_on, note = excluded.note, updated_at = excluded.updated_at RETURNING id, account_id, key",
		10, len(write), func(i int, args []any) []any {
			r := write[i]
			return append(args, r.AccountID, r.Key, r.DueOn, r.ARRBefore, r.Outcome, r.ARRAfter, r.ClosedOn, r.Note, now, now)
		}, func(rows *sql.Rows) error {
			var e RenewalEvent
			var account int64
			var key string
			if err := rows.Scan(&e.RenewalID, &account, &key); err != nil {
				return err
			}
			e.At, e.Actor, e.Change = now, "CSV import", changes[at{account, key}]
			events = append(events, e)
			return nil
		})
	if err != nil {
		return fmt.Errorf("store: unable to write renewals: %w", err)
	}
	err = bulkWrite(tx, "INSERT INTO renewal_events (renewal_id, at, actor, change) VALUES ", "", 4, len(events),
		func(i int, args []any) []any {
			return append(args, events[i].RenewalID, events[i].At, events[i].Actor, events[i].Change)
		}, nil)
	if err != nil {
		return fmt.Errorf("store: unable to record the renewals' history: %w", err)
	}
	ids := make([]int64, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	return syncRenewalOn(tx, ids)
}
