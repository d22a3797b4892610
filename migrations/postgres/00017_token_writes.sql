-- When an API token last sent a write: with read replicas, its reads go to the primary
-- for a while after (read-your-writes across every process; browsers carry a cookie).

-- +goose Up
ALTER TABLE api_tokens ADD COLUMN last_write_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN last_write_at;
