package models

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// APIToken grants a role to a program calling /api/v1. Only its hash is stored.
type APIToken struct {
	ID          int64      `gorm:"column:id;primaryKey"`
	Name        string     `gorm:"column:name"`
	Role        Role       `gorm:"column:role"`
	TokenHash   string     `gorm:"column:token_hash"`
	TokenPrefix string     `gorm:"column:token_prefix"`
	CreatedBy   *int64     `gorm:"column:created_by"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	LastUsedAt  *time.Time `gorm:"column:last_used_at"`
	RevokedAt   *time.Time `gorm:"column:revoked_at"`
	LastWriteAt *time.Time `gorm:"column:last_write_at"` // see MarkTokenWrite
}

// TableName maps the struct to its table.
func (APIToken) TableName() string { return "api_tokens" }

// CreateAPIToken makes a token and returns its plain text, which is never stored.
func (s *Store) CreateAPIToken(ctx context.Context, name string, role Role, createdBy *int64) (string, *APIToken, error) {
	verr := &ValidationError{Message: "invalid API token"}
	name = strings.TrimSpace(name)
	if name == "" {
		verr.Add("name", "is required")
	}
	if !role.Valid() {
		verr.Add("role", "must be one of csm, manager, pm, admin")
	}
	if err := verr.OrNil(); err != nil {
		return "", nil, err
	}
	plain, hash := newSecret("sl_")
	t := &APIToken{Name: name, Role: role, TokenHash: hash, TokenPrefix: displayPrefix(plain),
		CreatedBy: createdBy, CreatedAt: time.Now().UTC()}
	if err := s.db.WithContext(ctx).Create(t).Error; err != nil {
		return "", nil, fmt.Errorf("store: unable to create API token: %w", err)
	}
	return plain, t, nil
}

// APITokenBySecret finds the live token behind a Bearer value.
func (s *Store) APITokenBySecret(ctx context.Context, plain string) (*APIToken, error) {
	var t APIToken
	// From the primary: a token just created or revoked counts at once.
	err := s.db.WithContext(Primary(ctx)).Where("token_hash = ? AND revoked_at IS NULL", HashSecret(plain)).Take(&t).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to find API token: %w", notFound(err))
	}
	return &t, nil
}

// MarkTokenWrite records that the token is sending a write, before it is made, so
// its reads for ReadYourWrites after go to the primary (only where replicas serve).
func (s *Store) MarkTokenWrite(ctx context.Context, id int64) error {
	if s.replicas == nil {
		return nil
	}
	err := s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ?", id).Update("last_write_at", time.Now().UTC()).Error
	if err != nil {
		return fmt.Errorf("store: unable to mark the token's write: %w", err)
	}
	return nil
}

// TouchInterval is how stale a token's last use may be: writing it on every call made
// a client's concurrent calls queue behind each other's row lock and commit.
const TouchInterval = time.Minute

// Stale tells whether a last use read with a token or key is older than
// TouchInterval: only then is a touch worth a write.
func Stale(lastUsed *time.Time) bool {
	return lastUsed == nil || time.Since(*lastUsed) >= TouchInterval
}

// TouchAPIToken records that a token was used, at most once per TouchInterval; it is
// best-effort bookkeeping.
func (s *Store) TouchAPIToken(ctx context.Context, id int64) {
	s.touch(ctx, &APIToken{}, id)
}

// TouchWriteKey records that a write key was used, like TouchAPIToken.
func (s *Store) TouchWriteKey(ctx context.Context, id int64) {
	s.touch(ctx, &WriteKey{}, id)
}

func (s *Store) touch(ctx context.Context, model any, id int64) {
	now := time.Now().UTC()
	s.db.WithContext(ctx).Model(model).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, now.Add(-TouchInterval)).
		Update("last_used_at", now)
}

// ListAPITokens returns every token, newest first.
func (s *Store) ListAPITokens(ctx context.Context) ([]APIToken, error) {
	var ts []APIToken
	if err := s.db.WithContext(ctx).Order("id DESC").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list API tokens: %w", err)
	}
	return ts, nil
}

// RevokeAPIToken stops a token from working.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64) error {
	res := s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ? AND revoked_at IS NULL", id).
		Update("revoked_at", time.Now().UTC())
	if res.Error != nil {
		return fmt.Errorf("store: unable to revoke API token: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// WriteKey lets a product send usage to /v1. Only its hash is stored.
type WriteKey struct {
	ID         int64      `gorm:"column:id;primaryKey"`
	Name       string     `gorm:"column:name"`
	KeyHash    string     `gorm:"column:key_hash"`
	KeyPrefix  string     `gorm:"column:key_prefix"`
	CreatedBy  *int64     `gorm:"column:created_by"`
	CreatedAt  time.Time  `gorm:"column:created_at"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
	RevokedAt  *time.Time `gorm:"column:revoked_at"`
	// AllowedOrigins are the browser origins the key may send from, space-separated
	// (see ParseOrigins); empty allows every origin.
	AllowedOrigins string `gorm:"column:allowed_origins"`
	// RateLimit is how many requests a minute the key may send, across all
	// processes; 0 is no limit.
	RateLimit int `gorm:"column:rate_limit"`
}

// TableName maps the struct to its table.
func (WriteKey) TableName() string { return "write_keys" }

// WriteKeyInput is what an admin sets on a write key.
type WriteKeyInput struct {
	Name string
	// Origins lists the allowed browser origins, separated by commas or spaces.
	Origins   string
	RateLimit int
}

// validate checks the input and returns the origins in their stored form.
func (in WriteKeyInput) validate(verr *ValidationError) (origins string) {
	origins, err := ParseOrigins(in.Origins)
	if err != nil {
		verr.Add("origins", err.Error())
	}
	if in.RateLimit < 0 {
		verr.Add("rate_limit", "must be 0 (no limit) or more requests a minute")
	}
	return origins
}

// CreateWriteKey makes an ingest key and returns its plain text, which is never stored.
func (s *Store) CreateWriteKey(ctx context.Context, in WriteKeyInput, createdBy *int64) (string, *WriteKey, error) {
	verr := &ValidationError{Message: "invalid write key"}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		verr.Add("name", "is required")
	}
	origins := in.validate(verr)
	if err := verr.OrNil(); err != nil {
		return "", nil, err
	}
	plain, hash := newSecret("wk_")
	k := &WriteKey{Name: name, KeyHash: hash, KeyPrefix: displayPrefix(plain), CreatedBy: createdBy,
		CreatedAt: time.Now().UTC(), AllowedOrigins: origins, RateLimit: in.RateLimit}
	if err := s.db.WithContext(ctx).Create(k).Error; err != nil {
		return "", nil, fmt.Errorf("store: unable to create write key: %w", err)
	}
	return plain, k, nil
}

// UpdateWriteKeyLimits changes a live key's allowed origins and rate limit; every
// process applies them within WriteKeyRecheck.
func (s *Store) UpdateWriteKeyLimits(ctx context.Context, id int64, in WriteKeyInput) (*WriteKey, error) {
	verr := &ValidationError{Message: "invalid write key"}
	origins := in.validate(verr)
	if err := verr.OrNil(); err != nil {
		return nil, err
	}
	res := s.db.WithContext(ctx).Model(&WriteKey{}).Where("id = ? AND revoked_at IS NULL", id).
		Updates(map[string]any{"allowed_origins": origins, "rate_limit": in.RateLimit})
	if res.Error != nil {
		return nil, fmt.Errorf("store: unable to update write key: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, ErrNotFound
	}
	var k WriteKey
	if err := s.db.WithContext(ctx).Take(&k, id).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read write key: %w", notFound(err))
	}
	return &k, nil
}

// WriteKeyBySecret finds the live write key behind a Basic-auth user name.
func (s *Store) WriteKeyBySecret(ctx context.Context, plain string) (*WriteKey, error) {
	return s.WriteKeyByHash(ctx, HashSecret(plain))
}

// WriteKeyByHash finds the live write key whose secret has this HashSecret.
func (s *Store) WriteKeyByHash(ctx context.Context, hash string) (*WriteKey, error) {
	// Plain database/sql, not GORM's reflection: ingestion asks this often.
	var k WriteKey
	err := s.SQL().QueryRowContext(ctx, `SELECT id, name, key_hash, key_prefix, created_by, created_at, last_used_at, revoked_at,
		allowed_origins, rate_limit
		FROM write_keys WHERE key_hash = $1 AND revoked_at IS NULL`, hash).
		Scan(&k.ID, &k.Name, &k.KeyHash, &k.KeyPrefix, &k.CreatedBy, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt,
			&k.AllowedOrigins, &k.RateLimit)
	if err != nil {
		return nil, fmt.Errorf("store: unable to find write key: %w", notFound(err))
	}
	return &k, nil
}

// ListWriteKeys returns every write key, newest first.
func (s *Store) ListWriteKeys(ctx context.Context) ([]WriteKey, error) {
	var ks []WriteKey
	if err := s.db.WithContext(ctx).Order("id DESC").Find(&ks).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list write keys: %w", err)
	}
	return ks, nil
}

// RevokeWriteKey stops a write key from working.
func (s *Store) RevokeWriteKey(ctx context.Context, id int64) error {
	res := s.db.WithContext(ctx).Model(&WriteKey{}).Where("id = ? AND revoked_at IS NULL", id).
		Update("revoked_at", time.Now().UTC())
	if res.Error != nil {
		return fmt.Errorf("store: unable to revoke write key: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
