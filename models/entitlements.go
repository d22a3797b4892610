package models

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Monetization models of an entitlement (SPEC §4).
var EntitlementModels = []string{"perpetual", "subscription", "user", "concurrent", "device", "metered", "usage", "outcome"}

// Entitlement is what an account has the right to use.
type Entitlement struct {
	ID        int64     `gorm:"column:id;primaryKey" json:"-"`
	AccountID int64     `gorm:"column:account_id" json:"-"`
	Account   string    `gorm:"-" json:"account"`
	Key       string    `gorm:"column:key" json:"key"`
	ProductID int64     `gorm:"column:product_id" json:"-"`
	Product   string    `gorm:"-" json:"product"`
	Features  []string  `gorm:"-" json:"features"`
	Model     string    `gorm:"column:model" json:"model"`
	Quantity  float64   `gorm:"column:quantity" json:"quantity"`
	Unit      string    `gorm:"column:unit" json:"unit"`
	UnitPrice float64   `gorm:"column:unit_price" json:"unit_price"`
	StartsOn  Date      `gorm:"column:starts_on" json:"starts_on"`
	EndsOn    Date      `gorm:"column:ends_on" json:"ends_on"`
	CreatedAt time.Time `gorm:"column:created_at" json:"-"`
	UpdatedAt time.Time `gorm:"column:updated_at" json:"-"`
}

// TableName maps the struct to its table.
func (Entitlement) TableName() string { return "entitlements" }

type entitlementFeature struct {
	EntitlementID int64 `gorm:"column:entitlement_id;primaryKey"`
	FeatureID     int64 `gorm:"column:feature_id;primaryKey"`
}

func (entitlementFeature) TableName() string { return "entitlement_features" }

// Validate checks the fields that need no database.
func (e *Entitlement) Validate() *ValidationError {
	verr := &ValidationError{Message: "invalid entitlement"}
	if !ValidKey(e.Key) {
		verr.Add("key", keyRule)
	}
	e.Product = strings.TrimSpace(e.Product)
	if !ValidKey(e.Product) {
		verr.Add("product", "is required and "+keyRule)
	}
	if !oneOf(e.Model, EntitlementModels) {
		verr.Add("model", "must be one of "+strings.Join(EntitlementModels, ", "))
	}
	if e.Quantity < 0 || math.IsNaN(e.Quantity) || math.IsInf(e.Quantity, 0) {
		verr.Add("quantity", "must be a number ≥ 0")
	}
	if e.UnitPrice < 0 || math.IsNaN(e.UnitPrice) || math.IsInf(e.UnitPrice, 0) {
		verr.Add("unit_price", "must be a number ≥ 0")
	}
	e.Unit = strings.TrimSpace(e.Unit)
	if !e.StartsOn.IsZero() && !e.EndsOn.IsZero() && e.EndsOn.Before(e.StartsOn) {
		verr.Add("ends_on", "must not be before starts_on")
	}
	seen := map[string]bool{}
	feats := e.Features[:0:0]
	for _, f := range e.Features {
		f = strings.TrimSpace(f)
		if f != "" && !seen[f] {
			seen[f] = true
			feats = append(feats, f)
		}
	}
	sort.Strings(feats)
	e.Features = feats
	return verr
}

// UpsertEntitlement creates or replaces an account's entitlement by key; the account
// must exist and every listed feature must belong to the entitlement's product.
func (s *Store) UpsertEntitlement(ctx context.Context, accountKey string, e *Entitlement) (created bool, err error) {
	e.Account = accountKey
	if err := e.Validate().OrNil(); err != nil {
		return false, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		created, err = upsertEntitlement(tx, e)
		return err
	})
	return created, err
}

func upsertEntitlement(tx *gorm.DB, e *Entitlement) (bool, error) {
	var acct Account
	if err := tx.Where("key = ?", e.Account).Take(&acct).Error; err != nil {
		return false, fmt.Errorf("account %s: %w", e.Account, notFound(err))
	}
	pid, err := ensureProduct(tx, e.Product)
	if err != nil {
		return false, err
	}
	featureIDs, err := featureIDsOfProduct(tx, pid, e.Product, e.Features)
	if err != nil {
		return false, err
	}
	now := time.Now().UTC()
	e.AccountID, e.ProductID, e.UpdatedAt = acct.ID, pid, now
	var existing Entitlement
	created := false
	switch err := notFound(tx.Where("account_id = ? AND key = ?", acct.ID, e.Key).Take(&existing).Error); err {
	case nil:
		e.ID, e.CreatedAt = existing.ID, existing.CreatedAt
		err = tx.Model(&Entitlement{}).Where("id = ?", e.ID).Updates(map[string]any{
			"product_id": pid, "model": e.Model, "quantity": e.Quantity, "unit": e.Unit,
			"unit_price": e.UnitPrice, "starts_on": e.StartsOn, "ends_on": e.EndsOn, "updated_at": now}).Error
		if err != nil {
			return false, fmt.Errorf("store: unable to update entitlement %s: %w", e.Key, err)
		}
		if err := tx.Where("entitlement_id = ?", e.ID).Delete(&entitlementFeature{}).Error; err != nil {
			return false, fmt.Errorf("store: unable to replace features of %s: %w", e.Key, err)
		}
	case ErrNotFound:
		created = true
		e.CreatedAt = now
		if err := tx.Create(e).Error; err != nil {
			return false, fmt.Errorf("store: unable to create entitlement %s: %w", e.Key, err)
		}
	default:
		return false, fmt.Errorf("store: unable to find entitlement %s: %w", e.Key, err)
	}
	if len(featureIDs) > 0 {
		rows := make([]entitlementFeature, len(featureIDs))
		for i, id := range featureIDs {
			rows[i] = entitlementFeature{EntitlementID: e.ID, FeatureID: id}
		}
		if err := tx.Create(&rows).Error; err != nil {
			return false, fmt.Errorf("store: unable to write features of %s: %w", e.Key, err)
		}
	}
	return created, nil
}

// featureIDsOfProduct resolves feature keys, refusing unknown ones and those of other products.
func featureIDsOfProduct(tx *gorm.DB, productID int64, product string, keys []string) ([]int64, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	var fs []Feature
	if err := tx.Where("key IN ?", keys).Find(&fs).Error; err != nil {
		return nil, fmt.Errorf("store: unable to find features: %w", err)
	}
	byKey := make(map[string]Feature, len(fs))
	for _, f := range fs {
		byKey[f.Key] = f
	}
	verr := &ValidationError{Message: "invalid entitlement"}
	ids := make([]int64, 0, len(keys))
	for _, k := range keys {
		f, ok := byKey[k]
		switch {
		case !ok:
			verr.Add("features", fmt.Sprintf("unknown feature %q", k))
		case f.ProductID != productID:
			verr.Add("features", fmt.Sprintf("feature %q does not belong to product %q", k, product))
		default:
			ids = append(ids, f.ID)
		}
	}
	return ids, verr.OrNil()
}

func (s *Store) fillEntitlements(ctx context.Context, es []Entitlement, accountKeys map[int64]string) error {
	if len(es) == 0 {
		return nil
	}
	ids := make([]int64, len(es))
	byID := make(map[int64]*Entitlement, len(es))
	for i := range es {
		ids[i] = es[i].ID
		es[i].Features = []string{}
		es[i].Account = accountKeys[es[i].AccountID]
		byID[es[i].ID] = &es[i]
	}
	productKey, err := productKeys(s.db.WithContext(ctx))
	if err != nil {
		return err
	}
	for i := range es {
		es[i].Product = productKey[es[i].ProductID]
	}
	type row struct {
		EntitlementID int64
		Key           string
	}
	var rows []row
	err = s.db.WithContext(ctx).Table("entitlement_features ef").
		Select("ef.entitlement_id, f.key").Joins("JOIN features f ON f.id = ef.feature_id").
		Where("ef.entitlement_id IN ?", ids).Order("f.key").Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("store: unable to list entitlement features: %w", err)
	}
	for _, r := range rows {
		byID[r.EntitlementID].Features = append(byID[r.EntitlementID].Features, r.Key)
	}
	return nil
}

// ListEntitlementsAfter pages through an account's entitlements by key (limit ≤ 0: all).
func (s *Store) ListEntitlementsAfter(ctx context.Context, accountKey, after string, limit int) ([]Entitlement, error) {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Where("account_id = ?", acct.ID).Order("key")
	if after != "" {
		q = q.Where("key > ?", after)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var es []Entitlement
	if err := q.Find(&es).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list entitlements: %w", err)
	}
	return es, s.fillEntitlements(ctx, es, map[int64]string{acct.ID: acct.Key})
}

// EntitlementByKey finds one entitlement of an account.
func (s *Store) EntitlementByKey(ctx context.Context, accountKey, key string) (*Entitlement, error) {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	var e Entitlement
	if err := s.db.WithContext(ctx).Where("account_id = ? AND key = ?", acct.ID, key).Take(&e).Error; err != nil {
		return nil, fmt.Errorf("store: unable to find entitlement %s: %w", key, notFound(err))
	}
	es := []Entitlement{e}
	if err := s.fillEntitlements(ctx, es, map[int64]string{acct.ID: acct.Key}); err != nil {
		return nil, err
	}
	return &es[0], nil
}

// DeleteEntitlement removes one entitlement of an account (its feature list cascades).
func (s *Store) DeleteEntitlement(ctx context.Context, accountKey, key string) error {
	acct, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("account_id = ? AND key = ?", acct.ID, key).Delete(&Entitlement{})
		if res.Error != nil {
			return fmt.Errorf("store: unable to delete entitlement %s: %w", key, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("entitlement %s: %w", key, ErrNotFound)
		}
		return nil
	})
}

// entitlementFeatureKeys maps every entitlement id to the keys of the features it lists.
func entitlementFeatureKeys(db *gorm.DB) (map[int64][]string, error) {
	var links []struct {
		EntitlementID int64
		Key           string
	}
	err := db.Raw("SELECT ef.entitlement_id, f.key FROM entitlement_features ef JOIN features f ON f.id = ef.feature_id").
		Scan(&links).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list entitlement features: %w", err)
	}
	feats := map[int64][]string{}
	for _, l := range links {
		feats[l.EntitlementID] = append(feats[l.EntitlementID], l.Key)
	}
	return feats, nil
}
