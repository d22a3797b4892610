package models

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Note is a free-text remark a team member leaves on an account.
type Note struct {
	ID          int64     `gorm:"column:id;primaryKey" json:"id"`
	AccountID   int64     `gorm:"column:account_id" json:"-"`
	AuthorID    *int64    `gorm:"column:author_id" json:"-"`
	AuthorEmail string    `gorm:"->;column:author_email" json:"author"`
	Body        string    `gorm:"column:body" json:"body"`
	CreatedAt   time.Time `gorm:"column:created_at" json:"created_at"`
}

// TableName maps the struct to its table.
func (Note) TableName() string { return "notes" }

// MaxNoteLength bounds a note so one paste cannot bloat every page view.
const MaxNoteLength = 5000

// AddNote records a note on an account.
func (s *Store) AddNote(ctx context.Context, accountKey string, authorID int64, body string) (*Note, error) {
	body = strings.TrimSpace(body)
	verr := &ValidationError{Message: "invalid note"}
	if body == "" {
		verr.Add("body", "is required")
	} else if len([]rune(body)) > MaxNoteLength {
		verr.Add("body", fmt.Sprintf("must be at most %d characters", MaxNoteLength))
	}
	if err := verr.OrNil(); err != nil {
		return nil, err
	}
	a, err := s.AccountByKey(ctx, accountKey)
	if err != nil {
		return nil, err
	}
	n := &Note{AccountID: a.ID, AuthorID: &authorID, Body: body, CreatedAt: time.Now().UTC()}
	if err := s.db.WithContext(ctx).Omit("author_email").Create(n).Error; err != nil {
		return nil, fmt.Errorf("store: unable to add note: %w", err)
	}
	return n, nil
}

// ListNotes returns an account's notes, newest first.
func (s *Store) ListNotes(ctx context.Context, accountID int64, limit int) ([]Note, error) {
	var notes []Note
	err := s.db.WithContext(ctx).Table("notes n").
		Select("n.*, COALESCE(m.email, '') AS author_email").
		Joins("LEFT JOIN team_members m ON m.id = n.author_id").
		Where("n.account_id = ?", accountID).Order("n.created_at DESC, n.id DESC").Limit(limit).
		Scan(&notes).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list notes: %w", err)
	}
	return notes, nil
}
