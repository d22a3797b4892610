-- Ingestion writes every raw message once and reads it back almost never (audit,
-- reprocessing), so its indexes are kept to what retention needs: a BRIN index on
-- received_at (rows arrive in received_at order) instead of two B-trees per row.

-- +goose Up
DROP INDEX usage_messages_user;
DROP INDEX usage_messages_received;
CREATE INDEX usage_messages_received ON usage_messages USING brin (received_at);

-- +goose Down
DROP INDEX usage_messages_received;
CREATE INDEX usage_messages_received ON usage_messages (received_at);
CREATE INDEX usage_messages_user ON usage_messages (user_key);
