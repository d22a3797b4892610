package models

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Lifecycle stages of an account.
var LifecycleStages = []string{"onboarding", "adoption", "renewal"}

// Account is a customer, keyed by the groupId its product usage carries.
type Account struct {
	ID             int64     `gorm:"column:id;primaryKey" json:"-"`
	Key            string    `gorm:"column:key" json:"key"`
	Name           string    `gorm:"column:name" json:"name"`
	ARR            float64   `gorm:"column:arr" json:"arr"`
	RenewalOn      Date      `gorm:"column:renewal_on" json:"renewal_on"`
	LifecycleStage string    `gorm:"column:lifecycle_stage" json:"lifecycle_stage"`
	Segment        string    `gorm:"column:segment" json:"segment"`
	CSMEmail       string    `gorm:"column:csm_email" json:"csm_email"`
	CreatedAt      time.Time `gorm:"column:created_at" json:"-"`
	UpdatedAt      time.Time `gorm:"column:updated_at" json:"-"`
}

// TableName maps the struct to its table.
func (Account) TableName() string { return "accounts" }

// Validate checks an account before it is written and normalises its fields.
func (a *Account) Validate() *ValidationError {
	verr := &ValidationError{Message: "invalid account"}
	if !ValidKey(a.Key) {
		verr.Add("key", keyRule)
	}
	a.Name = strings.TrimSpace(a.Name)
	if a.Name == "" {
		verr.Add("name", "is required")
	}
	if a.ARR < 0 || math.IsNaN(a.ARR) || math.IsInf(a.ARR, 0) {
		verr.Add("arr", "must be a number ≥ 0")
	}
	if a.LifecycleStage == "" {
		a.LifecycleStage = "onboarding"
	}
	if !oneOf(a.LifecycleStage, LifecycleStages) {
		verr.Add("lifecycle_stage", "must be one of onboarding, adoption, renewal")
	}
	a.Segment = strings.TrimSpace(a.Segment)
	a.CSMEmail = NormalizeEmail(a.CSMEmail)
	if a.CSMEmail != "" && !strings.Contains(a.CSMEmail, "@") {
		verr.Add("csm_email", "must be an email address")
	}
	return verr
}

func oneOf(s string, allowed []string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

// UpsertAccount creates or replaces an account by key. It reports whether it was new.
func (s *Store) UpsertAccount(ctx context.Context, a *Account) (created bool, err error) {
	if err := a.Validate().OrNil(); err != nil {
		return false, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if created, err = upsertAccount(tx, a); err != nil {
			return err
		}
		return syncRenewalOn(tx, []int64{a.ID})
	})
	return created, err
}

func upsertAccount(tx *gorm.DB, a *Account) (bool, error) {
	now := time.Now().UTC()
	var existing Account
	err := notFound(tx.Where("key = ?", a.Key).Take(&existing).Error)
	switch err {
	case nil:
		a.ID, a.CreatedAt, a.UpdatedAt = existing.ID, existing.CreatedAt, now
		err = tx.Model(&Account{}).Where("id = ?", a.ID).Updates(map[string]any{
			"name": a.Name, "arr": a.ARR, "renewal_on": a.RenewalOn, "lifecycle_stage": a.LifecycleStage,
			"segment": a.Segment, "csm_email": a.CSMEmail, "updated_at": now}).Error
		if err != nil {
			return false, fmt.Errorf("store: unable to update account %s: %w", a.Key, err)
		}
		return false, nil
	case ErrNotFound:
		a.CreatedAt, a.UpdatedAt = now, now
		if err := tx.Create(a).Error; err != nil {
			return false, fmt.Errorf("store: unable to create account %s: %w", a.Key, err)
		}
		return true, nil
	default:
		return false, fmt.Errorf("store: unable to find account %s: %w", a.Key, err)
	}
}

// AccountByKey finds one account.
func (s *Store) AccountByKey(ctx context.Context, key string) (*Account, error) {
	var a Account
	if err := s.db.WithContext(ctx).Where("key = ?", key).Take(&a).Error; err != nil {
		return nil, fmt.Errorf("store: unable to find account %s: %w", key, notFound(err))
	}
	return &a, nil
}

// ListAccountsAfter pages through accounts by key, for the API and exports.
func (s *Store) ListAccountsAfter(ctx context.Context, after string, limit int) ([]Account, error) {
	q := s.db.WithContext(ctx).Order("key")
	if after != "" {
		q = q.Where("key > ?", after)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var as []Account
	if err := q.Find(&as).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list accounts: %w", err)
	}
	return as, nil
}

// CountAccounts counts every account.
func (s *Store) CountAccounts(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Account{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("store: unable to count accounts: %w", err)
	}
	return n, nil
}

// AccountFacets lists the distinct segments and CSMs, for the portfolio filters, from
// the process's copy while the stored portfolio version says it is current.
func (s *Store) AccountFacets(ctx context.Context) (segments, csms []string, err error) {
	ctx = Primary(ctx) // the versions and the copy from one source: see primaryCopies
	v, err := s.readCacheVersions(ctx)
	if err != nil {
		return nil, nil, err
	}
	c := s.folio
	c.mu.Lock()
	c.at(v.Portfolio)
	if c.facets {
		segments, csms = slices.Clone(c.segments), slices.Clone(c.csms)
		c.mu.Unlock()
		return segments, csms, nil
	}
	c.mu.Unlock()
	type facets struct{ segments, csms []string }
	filled, err, _ := s.filling.Do(fmt.Sprintf("facets %d", v.Portfolio), func() (any, error) {
		var f facets
		db := s.db.WithContext(context.WithoutCancel(ctx)).Model(&Account{}) // shared by the waiting requests
		if err := db.Distinct("segment").Where("segment <> ''").Order("segment").Pluck("segment", &f.segments).Error; err != nil {
			return nil, fmt.Errorf("store: unable to list segments: %w", err)
		}
		db = s.db.WithContext(context.WithoutCancel(ctx)).Model(&Account{})
		if err := db.Distinct("csm_email").Where("csm_email <> ''").Order("csm_email").Pluck("csm_email", &f.csms).Error; err != nil {
			return nil, fmt.Errorf("store: unable to list CSMs: %w", err)
		}
		c.mu.Lock()
		c.at(v.Portfolio)
		c.facets, c.segments, c.csms = true, f.segments, f.csms
		c.loads++
		c.mu.Unlock()
		return f, nil
	})
	if err != nil {
		return nil, nil, err
	}
	f := filled.(facets)
	return slices.Clone(f.segments), slices.Clone(f.csms), nil
}

// SetAccountCSM assigns an account to a CSM (or to nobody with "").
func (s *Store) SetAccountCSM(ctx context.Context, key, csmEmail string) error {
	csmEmail = NormalizeEmail(csmEmail)
	if csmEmail != "" && !strings.Contains(csmEmail, "@") {
		verr := &ValidationError{Message: "invalid CSM"}
		verr.Add("csm_email", "must be an email address")
		return verr
	}
	res := s.db.WithContext(ctx).Model(&Account{}).Where("key = ?", key).
		Updates(map[string]any{"csm_email": NormalizeEmail(csmEmail), "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("store: unable to assign CSM: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteAccount removes an account. Its entitlements, notes, goals and health
// snapshots go with it (ON DELETE CASCADE): they mean nothing without the account.
// Usage stays: it belongs to end users, and counts again if the account comes back.
func (s *Store) DeleteAccount(ctx context.Context, key string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("key = ?", key).Delete(&Account{})
		if res.Error != nil {
			return fmt.Errorf("store: unable to delete account %s: %w", key, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("account %s: %w", key, ErrNotFound)
		}
		return nil
	})
}
