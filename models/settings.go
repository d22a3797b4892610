package models

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// setting is one JSON-valued deployment setting.
type setting struct {
	Key       string    `gorm:"column:key;primaryKey"`
	Value     string    `gorm:"column:value"`
	UpdatedAt time.Time `gorm:"column:updated_at"`
}

func (setting) TableName() string { return "settings" }

// GetSetting decodes a setting into v; ErrNotFound when it was never set.
func (s *Store) GetSetting(ctx context.Context, key string, v any) error {
	var row setting
	if err := s.db.WithContext(ctx).Where("key = ?", key).Take(&row).Error; err != nil {
		return fmt.Errorf("store: unable to read setting %s: %w", key, notFound(err))
	}
	if err := json.Unmarshal([]byte(row.Value), v); err != nil {
		return fmt.Errorf("store: unable to decode setting %s: %w", key, err)
	}
	return nil
}

// PutSetting stores v as the setting's JSON value.
func (s *Store) PutSetting(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: unable to encode setting %s: %w", key, err)
	}
	row := setting{Key: key, Value: string(b), UpdatedAt: time.Now().UTC()}
	err = s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "key"}},
		DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("store: unable to write setting %s: %w", key, err)
	}
	return nil
}

// PutSettingIfAbsent stores v unless the key exists, and returns the stored value in out.
// Two instances starting together thus agree on one generated secret.
func (s *Store) PutSettingIfAbsent(ctx context.Context, key string, v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: unable to encode setting %s: %w", key, err)
	}
	row := setting{Key: key, Value: string(b), UpdatedAt: time.Now().UTC()}
	if err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return fmt.Errorf("store: unable to write setting %s: %w", key, err)
	}
	return s.GetSetting(ctx, key, out)
}
