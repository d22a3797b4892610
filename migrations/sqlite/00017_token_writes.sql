-- See the PostgreSQL migration.

-- +goose Up
ALTER TABLE api_tokens ADD COLUMN last_write_at DATETIME;

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN last_write_at;
