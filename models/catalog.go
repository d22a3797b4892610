package models

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// keyPattern is what external keys (accounts, features, entitlements, products) may look like.
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$`)

// ValidKey reports whether s can be an external key.
func ValidKey(s string) bool { return keyPattern.MatchString(s) }

const keyRule = "must be 1–200 letters, digits or . _ : @ -, starting with a letter or digit"

// Product groups features; it exists once a feature or entitlement names it.
type Product struct {
	ID   int64  `gorm:"column:id;primaryKey" json:"-"`
	Key  string `gorm:"column:key" json:"key"`
	Name string `gorm:"column:name" json:"name"`
}

// TableName maps the struct to its table.
func (Product) TableName() string { return "products" }

// Feature is a capability of a product, recognised in usage by its event names.
type Feature struct {
	ID         int64     `gorm:"column:id;primaryKey" json:"-"`
	Key        string    `gorm:"column:key" json:"key"`
	Name       string    `gorm:"column:name" json:"name"`
	ProductID  int64     `gorm:"column:product_id" json:"-"`
	Product    string    `gorm:"-" json:"product"`
	EventNames []string  `gorm:"-" json:"event_names"`
	KeyFeature bool      `gorm:"column:key_feature" json:"key_feature"`
	CreatedAt  time.Time `gorm:"column:created_at" json:"-"`
	UpdatedAt  time.Time `gorm:"column:updated_at" json:"-"`
}

// TableName maps the struct to its table.
func (Feature) TableName() string { return "features" }

type featureEvent struct {
	FeatureID int64  `gorm:"column:feature_id;primaryKey"`
	EventName string `gorm:"column:event_name;primaryKey"`
}

func (featureEvent) TableName() string { return "feature_events" }

// Validate checks a feature before it is written.
func (f *Feature) Validate() *ValidationError {
	verr := &ValidationError{Message: "invalid feature"}
	if !ValidKey(f.Key) {
		verr.Add("key", keyRule)
	}
	f.Name = strings.TrimSpace(f.Name)
	if f.Name == "" {
		verr.Add("name", "is required")
	}
	f.Product = strings.TrimSpace(f.Product)
	if !ValidKey(f.Product) {
		verr.Add("product", "is required and "+keyRule)
	}
	seen := map[string]bool{}
	names := f.EventNames[:0:0]
	for i, n := range f.EventNames {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			verr.Add(fmt.Sprintf("event_names[%d]", i), "must not be empty")
		case len(n) > 200:
			verr.Add(fmt.Sprintf("event_names[%d]", i), "must be at most 200 characters")
		case strings.Contains(n, "|"):
			verr.Add(fmt.Sprintf("event_names[%d]", i), "must not contain | (the CSV list separator)")
		case !seen[n]:
			seen[n] = true
			names = append(names, n)
		}
	}
	f.EventNames = names
	return verr
}

// ensureProduct returns the id of a product key, creating the product when new.
func ensureProduct(tx *gorm.DB, key string) (int64, error) {
	p := Product{Key: key, Name: key}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&p).Error; err != nil {
		return 0, fmt.Errorf("store: unable to create product %s: %w", key, err)
	}
	if err := tx.Where("key = ?", key).Take(&p).Error; err != nil {
		return 0, fmt.Errorf("store: unable to find product %s: %w", key, err)
	}
	return p.ID, nil
}

// UpsertFeature creates or replaces a feature by key. It reports whether it was new.
func (s *Store) UpsertFeature(ctx context.Context, f *Feature) (created bool, err error) {
	if err := f.Validate().OrNil(); err != nil {
		return false, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		created, err = upsertFeature(tx, f)
		return err
	})
	return created, err
}

func upsertFeature(tx *gorm.DB, f *Feature) (bool, error) {
	pid, err := ensureProduct(tx, f.Product)
	if err != nil {
		return false, err
	}
	now := time.Now().UTC()
	var existing Feature
	err = tx.Where("key = ?", f.Key).Take(&existing).Error
	created := false
	switch notFound(err) {
	case nil:
		f.ID, f.CreatedAt = existing.ID, existing.CreatedAt
		err = tx.Model(&Feature{}).Where("id = ?", f.ID).Updates(map[string]any{
			"name": f.Name, "product_id": pid, "key_feature": f.KeyFeature, "updated_at": now}).Error
	case ErrNotFound:
		created = true
		f.ProductID, f.CreatedAt, f.UpdatedAt = pid, now, now
		err = tx.Create(f).Error
	}
	if err != nil {
		return false, fmt.Errorf("store: unable to write feature %s: %w", f.Key, err)
	}
	f.ProductID = pid
	if err := tx.Where("feature_id = ?", f.ID).Delete(&featureEvent{}).Error; err != nil {
		return false, fmt.Errorf("store: unable to replace event names of %s: %w", f.Key, err)
	}
	if len(f.EventNames) > 0 {
		rows := make([]featureEvent, len(f.EventNames))
		for i, n := range f.EventNames {
			rows[i] = featureEvent{FeatureID: f.ID, EventName: n}
		}
		if err := tx.Create(&rows).Error; err != nil {
			return false, fmt.Errorf("store: unable to write event names of %s: %w", f.Key, err)
		}
	}
	return created, nil
}

// ListFeatures returns features ordered by key, with product keys and event names filled in.
// after and limit page through them (limit ≤ 0: all).
func (s *Store) ListFeatures(ctx context.Context, after string, limit int) ([]Feature, error) {
	q := s.db.WithContext(ctx).Order("key")
	if after != "" {
		q = q.Where("key > ?", after)
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	var fs []Feature
	if err := q.Find(&fs).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list features: %w", err)
	}
	return fs, s.fillFeatures(ctx, fs)
}

// FeatureByKey finds one feature.
func (s *Store) FeatureByKey(ctx context.Context, key string) (*Feature, error) {
	var f Feature
	if err := s.db.WithContext(ctx).Where("key = ?", key).Take(&f).Error; err != nil {
		return nil, fmt.Errorf("store: unable to find feature %s: %w", key, notFound(err))
	}
	fs := []Feature{f}
	if err := s.fillFeatures(ctx, fs); err != nil {
		return nil, err
	}
	return &fs[0], nil
}

func (s *Store) fillFeatures(ctx context.Context, fs []Feature) error {
	if len(fs) == 0 {
		return nil
	}
	ids := make([]int64, len(fs))
	for i := range fs {
		ids[i] = fs[i].ID
		fs[i].EventNames = []string{}
	}
	productKey, err := productKeys(s.db.WithContext(ctx))
	if err != nil {
		return err
	}
	var events []featureEvent
	if err := s.db.WithContext(ctx).Where("feature_id IN ?", ids).Order("event_name").Find(&events).Error; err != nil {
		return fmt.Errorf("store: unable to list feature events: %w", err)
	}
	byID := make(map[int64]*Feature, len(fs))
	for i := range fs {
		fs[i].Product = productKey[fs[i].ProductID]
		byID[fs[i].ID] = &fs[i]
	}
	for _, e := range events {
		f := byID[e.FeatureID]
		f.EventNames = append(f.EventNames, e.EventName)
	}
	for i := range fs {
		sort.Strings(fs[i].EventNames)
	}
	return nil
}

// DeleteFeature removes a feature and its event names. A feature still listed by an
// entitlement is refused with ErrConflict: dropping it silently would narrow that
// entitlement, or widen it to "every feature" when it was the only one listed.
func (s *Store) DeleteFeature(ctx context.Context, key string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var f Feature
		if err := tx.Where("key = ?", key).Take(&f).Error; err != nil {
			return fmt.Errorf("store: unable to find feature %s: %w", key, notFound(err))
		}
		var n int64
		if err := tx.Model(&entitlementFeature{}).Where("feature_id = ?", f.ID).Count(&n).Error; err != nil {
			return fmt.Errorf("store: unable to count entitlements of feature %s: %w", key, err)
		}
		if n > 0 {
			return fmt.Errorf("feature %s is listed by %d entitlement(s); remove it from them first: %w", key, n, ErrConflict)
		}
		if err := tx.Where("id = ?", f.ID).Delete(&Feature{}).Error; err != nil {
			return fmt.Errorf("store: unable to delete feature %s: %w", key, err)
		}
		return nil
	})
}
