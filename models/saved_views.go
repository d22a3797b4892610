package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm/clause"
)

// SavedView is a filtered page a member keeps under a name.
type SavedView struct {
	ID        int64     `gorm:"column:id;primaryKey"`
	MemberID  int64     `gorm:"column:member_id"`
	Page      string    `gorm:"column:page"`  // the page's path, e.g. "/"
	Name      string    `gorm:"column:name"`  // as the member typed it
	Query     string    `gorm:"column:query"` // the URL query of the view
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName maps the struct to its table.
func (SavedView) TableName() string { return "saved_views" }

// URL opens the view.
func (v SavedView) URL() string {
	if v.Query == "" {
		return v.Page
	}
	return v.Page + "?" + v.Query
}

// MaxSavedViews bounds a member's views of one page.
const MaxSavedViews = 20

// SaveView keeps (or replaces) a member's view of a page under a name.
func (s *Store) SaveView(ctx context.Context, memberID int64, page, name, query string) (*SavedView, error) {
	name = strings.TrimSpace(name)
	verr := &ValidationError{Message: "invalid view"}
	switch {
	case name == "":
		verr.Add("name", "is required: what should this view be called?")
	case len(name) > 60:
		verr.Add("name", "must be at most 60 characters")
	}
	if err := verr.OrNil(); err != nil {
		return nil, err
	}
	views, err := s.SavedViews(ctx, memberID, page)
	if err != nil {
		return nil, err
	}
	if len(views) >= MaxSavedViews {
		return nil, &ValidationError{Message: "invalid view", Fields: []FieldError{{Field: "name",
			Message: fmt.Sprintf("you have %d views of this page: delete one first", MaxSavedViews)}}}
	}
	v := &SavedView{MemberID: memberID, Page: page, Name: name, Query: query, CreatedAt: time.Now().UTC()}
	err = s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "member_id"}, {Name: "page"}, {Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"query", "created_at"}),
	}).Create(v).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to save view: %w", err)
	}
	return v, nil
}

// SavedViews lists a member's views of a page, by name.
func (s *Store) SavedViews(ctx context.Context, memberID int64, page string) ([]SavedView, error) {
	var vs []SavedView
	err := s.db.WithContext(ctx).Where("member_id = ? AND page = ?", memberID, page).Order("lower(name)").Find(&vs).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to list views: %w", err)
	}
	return vs, nil
}

// DeleteView removes one of a member's views.
func (s *Store) DeleteView(ctx context.Context, memberID, id int64) error {
	res := s.db.WithContext(ctx).Where("id = ? AND member_id = ?", id, memberID).Delete(&SavedView{})
	if res.Error != nil {
		return fmt.Errorf("store: unable to delete view: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
