package models

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// TeamMember is a person who logs in to Sightline.
type TeamMember struct {
	ID           int64      `gorm:"column:id;primaryKey"`
	Email        string     `gorm:"column:email"`
	Name         string     `gorm:"column:name"`
	Role         Role       `gorm:"column:role"`
	PasswordHash string     `gorm:"column:password_hash"`
	CreatedAt    time.Time  `gorm:"column:created_at"`
	DisabledAt   *time.Time `gorm:"column:disabled_at"`
	// Digest is how often the member gets their alert digest: daily, weekly or off.
	Digest       string     `gorm:"column:digest;default:daily"`
	DigestSentAt *time.Time `gorm:"column:digest_sent_at"`
}

// TableName maps the struct to its table.
func (TeamMember) TableName() string { return "team_members" }

// BcryptCost is the work factor for new password hashes; tests lower it.
var BcryptCost = 12

// dummyHash is compared against when the email is unknown, so both failures take as
// long; it is made at the current cost on first use.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not-a-password"), BcryptCost)
	return h
})

// ErrBadCredentials covers both an unknown email and a wrong password.
var ErrBadCredentials = errors.New("wrong email or password")

// NormalizeEmail lower-cases and trims an email address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateTeamMember adds a login. The password is hashed with bcrypt.
func (s *Store) CreateTeamMember(ctx context.Context, email, name string, role Role, password string) (*TeamMember, error) {
	verr := &ValidationError{Message: "invalid team member"}
	email = NormalizeEmail(email)
	if _, err := mail.ParseAddress(email); err != nil || !strings.Contains(email, "@") {
		verr.Add("email", "must be an email address")
	}
	if !role.Valid() {
		verr.Add("role", "must be one of csm, manager, pm, admin")
	}
	if len(password) < 4 {
		verr.Add("password", "must be at least 4 characters")
	}
	if len(password) > 72 {
		verr.Add("password", "must be at most 72 bytes")
	}
	if err := verr.OrNil(); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	return s.AddTeamMember(ctx, email, name, role, hash)
}

// HashPassword is the bcrypt hash a login's password is stored as, for callers that
// make it ahead of time (the demo, while it seeds).
func HashPassword(password string) (string, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("store: unable to hash password: %w", err)
	}
	return string(hash), nil
}

// AddTeamMember adds a login whose password HashPassword hashed; the email and role
// are those CreateTeamMember checked.
func (s *Store) AddTeamMember(ctx context.Context, email, name string, role Role, hash string) (*TeamMember, error) {
	email = NormalizeEmail(email)
	m := &TeamMember{Email: email, Name: name, Role: role, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(m)
	if res.Error != nil {
		return nil, fmt.Errorf("store: unable to create team member: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("team member %s: %w", email, ErrConflict)
	}
	return m, nil
}

// Authenticate checks an email and password. Unknown emails cost as much as wrong passwords.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*TeamMember, error) {
	m, err := s.TeamMemberByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(m.PasswordHash), []byte(password)) != nil || m.DisabledAt != nil {
		return nil, ErrBadCredentials
	}
	return m, nil
}

// TeamMemberByEmail finds a login by email.
func (s *Store) TeamMemberByEmail(ctx context.Context, email string) (*TeamMember, error) {
	var m TeamMember
	err := s.db.WithContext(ctx).Where("email = ?", NormalizeEmail(email)).Take(&m).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to find team member: %w", notFound(err))
	}
	return &m, nil
}

// TeamMemberByID finds a login by id.
func (s *Store) TeamMemberByID(ctx context.Context, id int64) (*TeamMember, error) {
	var m TeamMember
	if err := s.db.WithContext(ctx).Take(&m, id).Error; err != nil {
		return nil, fmt.Errorf("store: unable to find team member: %w", notFound(err))
	}
	return &m, nil
}

// CountTeamMembers tells whether any login exists.
func (s *Store) CountTeamMembers(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&TeamMember{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("store: unable to count team members: %w", err)
	}
	return n, nil
}

// SetTeamMemberRole changes a login's role.
func (s *Store) SetTeamMemberRole(ctx context.Context, id int64, role Role) error {
	if !role.Valid() {
		return &ValidationError{Fields: []FieldError{{Field: "role", Message: "must be one of csm, manager, pm, admin"}}}
	}
	return s.updateTeamMember(ctx, id, map[string]any{"role": string(role)})
}

// SetTeamMemberDisabled disables or re-enables a login; disabling ends its sessions.
func (s *Store) SetTeamMemberDisabled(ctx context.Context, id int64, disabled bool) error {
	var at any
	if disabled {
		at = time.Now().UTC()
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&TeamMember{}).Where("id = ?", id).Update("disabled_at", at)
		if res.Error != nil {
			return fmt.Errorf("store: unable to update team member: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if disabled {
			return tx.Where("team_member_id = ?", id).Delete(&LoginSession{}).Error
		}
		return nil
	})
}

func (s *Store) updateTeamMember(ctx context.Context, id int64, fields map[string]any) error {
	res := s.db.WithContext(ctx).Model(&TeamMember{}).Where("id = ?", id).Updates(fields)
	if res.Error != nil {
		return fmt.Errorf("store: unable to update team member: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
