-- Raw messages are written once and read almost never: only retention needs an index.

-- +goose Up
DROP INDEX usage_messages_user;

-- +goose Down
CREATE INDEX usage_messages_user ON usage_messages (user_key);
