package models

import (
	"context"
	"fmt"
	"time"
)

// LoginSession is the server-side record of a logged-in browser.
type LoginSession struct {
	IDHash       string    `gorm:"column:id_hash;primaryKey"`
	TeamMemberID int64     `gorm:"column:team_member_id"`
	CreatedAt    time.Time `gorm:"column:created_at"`
	ExpiresAt    time.Time `gorm:"column:expires_at"`
}

// TableName maps the struct to its table.
func (LoginSession) TableName() string { return "login_sessions" }

// CreateLoginSession starts a session for a member and returns its new random id.
// A fresh id at every login is what stops session fixation.
func (s *Store) CreateLoginSession(ctx context.Context, memberID int64, ttl time.Duration) (string, error) {
	plain, hash := newSecret("")
	now := time.Now().UTC()
	ls := LoginSession{IDHash: hash, TeamMemberID: memberID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.db.WithContext(ctx).Create(&ls).Error; err != nil {
		return "", fmt.Errorf("store: unable to create login session: %w", err)
	}
	// Expired sessions are swept here rather than by a job: logins are rare enough.
	s.db.WithContext(ctx).Where("expires_at < ?", now).Delete(&LoginSession{})
	return plain, nil
}

// SessionMember returns the enabled member behind a live session id.
func (s *Store) SessionMember(ctx context.Context, sessionID string) (*TeamMember, error) {
	var m TeamMember
	// From the primary: a fresh login or a logout counts at once.
	err := s.db.WithContext(Primary(ctx)).
		Joins("JOIN login_sessions ls ON ls.team_member_id = team_members.id").
		Where("ls.id_hash = ? AND ls.expires_at > ? AND team_members.disabled_at IS NULL",
			HashSecret(sessionID), time.Now().UTC()).
		Take(&m).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to find session: %w", notFound(err))
	}
	return &m, nil
}

// DeleteLoginSession ends a session (logout).
func (s *Store) DeleteLoginSession(ctx context.Context, sessionID string) error {
	err := s.db.WithContext(ctx).Where("id_hash = ?", HashSecret(sessionID)).Delete(&LoginSession{}).Error
	if err != nil {
		return fmt.Errorf("store: unable to delete login session: %w", err)
	}
	return nil
}
