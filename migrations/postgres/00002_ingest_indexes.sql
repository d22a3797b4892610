-- Ingestion writes every raw message once and reads it back almost never (audit,
-- reprocessing), so the table is kept cheap to write: a BRIN index on received_at
-- (rows arrive in received_at order) for retention instead of two B-trees per row,
-- no surrogate key (message_id is the key, so a row costs one B-tree, not two),
-- and the payload as json (checked, stored as text) rather than jsonb, whose binary
-- conversion cost a fifth of the insert; cast to jsonb when querying.

-- +goose Up
DROP INDEX usage_messages_user;
DROP INDEX usage_messages_received;
CREATE INDEX usage_messages_received ON usage_messages USING brin (received_at);
ALTER TABLE usage_messages ALTER COLUMN payload TYPE json USING payload::json;
ALTER TABLE usage_messages DROP COLUMN id;

-- +goose Down
ALTER TABLE usage_messages ADD COLUMN id BIGSERIAL PRIMARY KEY;
ALTER TABLE usage_messages ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
DROP INDEX usage_messages_received;
CREATE INDEX usage_messages_received ON usage_messages (received_at);
CREATE INDEX usage_messages_user ON usage_messages (user_key);
