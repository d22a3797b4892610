package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Failed logins are kept in the database (migration 00018), so the login throttle
// counts them across every serve process, from the primary.

// LoginFailuresSince returns the times of the failures recorded for key after since,
// oldest first.
func (s *Store) LoginFailuresSince(ctx context.Context, key string, since time.Time) ([]time.Time, error) {
	var at []time.Time
	err := s.db.WithContext(Primary(ctx)).Raw("SELECT failed_at FROM login_failures WHERE key = ? AND failed_at > ? ORDER BY failed_at",
		key, since.UTC()).Scan(&at).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read login failures: %w", err)
	}
	return at, nil
}

// RecordLoginFailure records a failure for each key, and forgets failures older
// than before.
func (s *Store) RecordLoginFailure(ctx context.Context, before time.Time, keys ...string) error {
	now := time.Now().UTC()
	return s.tx(ctx, func(tx *gorm.DB) error {
		for _, k := range keys {
			if err := tx.Exec("INSERT INTO login_failures (key, failed_at) VALUES (?, ?)", k, now).Error; err != nil {
				return fmt.Errorf("store: unable to record a login failure: %w", err)
			}
		}
		if err := tx.Exec("DELETE FROM login_failures WHERE failed_at < ?", before.UTC()).Error; err != nil {
			return fmt.Errorf("store: unable to forget old login failures: %w", err)
		}
		return nil
	})
}

// ForgetLoginFailures drops the failures recorded for key (a successful login).
func (s *Store) ForgetLoginFailures(ctx context.Context, key string) error {
	if err := s.db.WithContext(ctx).Exec("DELETE FROM login_failures WHERE key = ?", key).Error; err != nil {
		return fmt.Errorf("store: unable to forget login failures: %w", err)
	}
	return nil
}
