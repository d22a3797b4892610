-- See the PostgreSQL migration.

-- +goose Up
INSERT INTO cache_versions (name) VALUES ('alerts');
-- +goose StatementBegin
CREATE TRIGGER alerts_cache_version_insert AFTER INSERT ON alerts
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'alerts'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER alerts_cache_version_update AFTER UPDATE ON alerts
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'alerts'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER alerts_cache_version_delete AFTER DELETE ON alerts
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'alerts'; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER alerts_cache_version_delete;
DROP TRIGGER alerts_cache_version_update;
DROP TRIGGER alerts_cache_version_insert;
DELETE FROM cache_versions WHERE name = 'alerts';
