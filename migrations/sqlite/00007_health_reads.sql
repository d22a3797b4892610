-- See the PostgreSQL migration. SQLite has no INCLUDE; every index holds the rowid (id).
-- Its triggers fire per row: a bulk import of the catalog bumps once per row, which is cheap.

-- +goose Up
CREATE INDEX end_users_group_traits ON end_users (group_key, department, level);
DROP INDEX end_users_group;

CREATE TABLE cache_versions (
    name    TEXT    PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 0
);
INSERT INTO cache_versions (name) VALUES ('catalog'), ('settings'), ('portfolio');

-- +goose StatementBegin
CREATE TRIGGER features_cache_version_insert AFTER INSERT ON features
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'catalog'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER features_cache_version_update AFTER UPDATE ON features
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'catalog'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER features_cache_version_delete AFTER DELETE ON features
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'catalog'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER feature_events_cache_version_insert AFTER INSERT ON feature_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'catalog'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER feature_events_cache_version_update AFTER UPDATE ON feature_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'catalog'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER feature_events_cache_version_delete AFTER DELETE ON feature_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'catalog'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER products_cache_version_update AFTER UPDATE ON products
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'catalog'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER products_cache_version_delete AFTER DELETE ON products
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'catalog'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_cache_version_insert AFTER INSERT ON settings
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'settings'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_cache_version_update AFTER UPDATE ON settings
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'settings'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER settings_cache_version_delete AFTER DELETE ON settings
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'settings'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER accounts_cache_version_insert AFTER INSERT ON accounts
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'portfolio'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER accounts_cache_version_update AFTER UPDATE ON accounts
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'portfolio'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER accounts_cache_version_delete AFTER DELETE ON accounts
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'portfolio'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_health_latest_cache_version_insert AFTER INSERT ON account_health_latest
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'portfolio'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_health_latest_cache_version_update AFTER UPDATE ON account_health_latest
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'portfolio'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_health_latest_cache_version_delete AFTER DELETE ON account_health_latest
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'portfolio'; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER account_health_latest_cache_version_delete;
DROP TRIGGER account_health_latest_cache_version_update;
DROP TRIGGER account_health_latest_cache_version_insert;
DROP TRIGGER accounts_cache_version_delete;
DROP TRIGGER accounts_cache_version_update;
DROP TRIGGER accounts_cache_version_insert;
DROP TRIGGER settings_cache_version_delete;
DROP TRIGGER settings_cache_version_update;
DROP TRIGGER settings_cache_version_insert;
DROP TRIGGER products_cache_version_delete;
DROP TRIGGER products_cache_version_update;
DROP TRIGGER feature_events_cache_version_delete;
DROP TRIGGER feature_events_cache_version_update;
DROP TRIGGER feature_events_cache_version_insert;
DROP TRIGGER features_cache_version_delete;
DROP TRIGGER features_cache_version_update;
DROP TRIGGER features_cache_version_insert;
DROP TABLE cache_versions;
CREATE INDEX end_users_group ON end_users (group_key);
DROP INDEX end_users_group_traits;
