-- Ingestion writes the rollups only inside the transaction that creates (or has
-- read) their end user, and nothing ever deletes an end user, so the foreign keys of
-- the rollup tables guard nothing ingestion does not already ensure, while checking
-- them was a third of PostgreSQL's time for batches of new rollup rows (one lookup
-- of end_users per new row; make bench, "spread" shape: 8.8 s -> 6.0 s of PostgreSQL
-- CPU for 200,000 messages). Whoever adds a way to delete end users deletes their
-- rollup rows in the same transaction.

-- +goose Up
ALTER TABLE usage_user_days DROP CONSTRAINT usage_user_days_end_user_id_fkey;
ALTER TABLE usage_user_event_days DROP CONSTRAINT usage_user_event_days_end_user_id_fkey;
ALTER TABLE usage_user_meter_days DROP CONSTRAINT usage_user_meter_days_end_user_id_fkey;
ALTER TABLE usage_user_device_days DROP CONSTRAINT usage_user_device_days_end_user_id_fkey;

-- +goose Down
ALTER TABLE usage_user_days ADD FOREIGN KEY (end_user_id) REFERENCES end_users (id) ON DELETE CASCADE;
ALTER TABLE usage_user_event_days ADD FOREIGN KEY (end_user_id) REFERENCES end_users (id) ON DELETE CASCADE;
ALTER TABLE usage_user_meter_days ADD FOREIGN KEY (end_user_id) REFERENCES end_users (id) ON DELETE CASCADE;
ALTER TABLE usage_user_device_days ADD FOREIGN KEY (end_user_id) REFERENCES end_users (id) ON DELETE CASCADE;
