-- See the PostgreSQL migration. SQLite's triggers fire per row. One process owns a
-- SQLite file, so no process of the previous release reads feature_totals_state: it
-- goes at once.
--
-- SQLite also keeps a 'usage' version, bumped by every write to the daily usage
-- rollups and to end users: the account page keeps the health it computed while it
-- stays current. Writers queue on SQLite anyway, so the bump costs no concurrency;
-- on PostgreSQL it would make concurrent ingest transactions queue on one row, and
-- there the account page reads its rollups directly.

-- +goose Up
INSERT INTO cache_versions (name, version) SELECT 'adoption', generation FROM feature_totals_state WHERE id = 1;
INSERT INTO cache_versions (name) VALUES ('usage');
-- +goose StatementBegin
CREATE TRIGGER accounts_adoption_version_insert AFTER INSERT ON accounts
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER accounts_adoption_version_update AFTER UPDATE ON accounts
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER accounts_adoption_version_delete AFTER DELETE ON accounts
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER entitlements_adoption_version_insert AFTER INSERT ON entitlements
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER entitlements_adoption_version_update AFTER UPDATE ON entitlements
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER entitlements_adoption_version_delete AFTER DELETE ON entitlements
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER entitlement_features_adoption_version_insert AFTER INSERT ON entitlement_features
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER entitlement_features_adoption_version_update AFTER UPDATE ON entitlement_features
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER entitlement_features_adoption_version_delete AFTER DELETE ON entitlement_features
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER features_adoption_version_insert AFTER INSERT ON features
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER features_adoption_version_update AFTER UPDATE ON features
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER features_adoption_version_delete AFTER DELETE ON features
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER feature_events_adoption_version_insert AFTER INSERT ON feature_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER feature_events_adoption_version_update AFTER UPDATE ON feature_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER feature_events_adoption_version_delete AFTER DELETE ON feature_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_feature_weeks_adoption_version_insert AFTER INSERT ON account_feature_weeks
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_feature_weeks_adoption_version_update AFTER UPDATE ON account_feature_weeks
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_feature_weeks_adoption_version_delete AFTER DELETE ON account_feature_weeks
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_feature_windows_adoption_version_insert AFTER INSERT ON account_feature_windows
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_feature_windows_adoption_version_update AFTER UPDATE ON account_feature_windows
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_feature_windows_adoption_version_delete AFTER DELETE ON account_feature_windows
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_weeks_adoption_version_insert AFTER INSERT ON account_weeks
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_weeks_adoption_version_update AFTER UPDATE ON account_weeks
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_weeks_adoption_version_delete AFTER DELETE ON account_weeks
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_windows_adoption_version_insert AFTER INSERT ON account_windows
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_windows_adoption_version_update AFTER UPDATE ON account_windows
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER account_windows_adoption_version_delete AFTER DELETE ON account_windows
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER health_snapshots_adoption_version_insert AFTER INSERT ON health_snapshots
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER health_snapshots_adoption_version_update AFTER UPDATE ON health_snapshots
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER health_snapshots_adoption_version_delete AFTER DELETE ON health_snapshots
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER products_adoption_version_update AFTER UPDATE ON products
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER products_adoption_version_delete AFTER DELETE ON products
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'adoption'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER usage_user_days_usage_version_insert AFTER INSERT ON usage_user_days
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'usage'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER usage_user_days_usage_version_update AFTER UPDATE ON usage_user_days
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'usage'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER usage_user_days_usage_version_delete AFTER DELETE ON usage_user_days
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'usage'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER end_users_usage_version_insert AFTER INSERT ON end_users
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'usage'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER end_users_usage_version_update AFTER UPDATE ON end_users
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'usage'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER end_users_usage_version_delete AFTER DELETE ON end_users
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'usage'; END;
-- +goose StatementEnd
DROP TABLE feature_totals_state;

-- +goose Down
CREATE TABLE feature_totals_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO feature_totals_state (id, generation) SELECT 1, version FROM cache_versions WHERE name = 'adoption';
DROP TRIGGER end_users_usage_version_delete;
DROP TRIGGER end_users_usage_version_update;
DROP TRIGGER end_users_usage_version_insert;
DROP TRIGGER usage_user_days_usage_version_delete;
DROP TRIGGER usage_user_days_usage_version_update;
DROP TRIGGER usage_user_days_usage_version_insert;
DROP TRIGGER products_adoption_version_delete;
DROP TRIGGER products_adoption_version_update;
DROP TRIGGER health_snapshots_adoption_version_delete;
DROP TRIGGER health_snapshots_adoption_version_update;
DROP TRIGGER health_snapshots_adoption_version_insert;
DROP TRIGGER account_windows_adoption_version_delete;
DROP TRIGGER account_windows_adoption_version_update;
DROP TRIGGER account_windows_adoption_version_insert;
DROP TRIGGER account_weeks_adoption_version_delete;
DROP TRIGGER account_weeks_adoption_version_update;
DROP TRIGGER account_weeks_adoption_version_insert;
DROP TRIGGER account_feature_windows_adoption_version_delete;
DROP TRIGGER account_feature_windows_adoption_version_update;
DROP TRIGGER account_feature_windows_adoption_version_insert;
DROP TRIGGER account_feature_weeks_adoption_version_delete;
DROP TRIGGER account_feature_weeks_adoption_version_update;
DROP TRIGGER account_feature_weeks_adoption_version_insert;
DROP TRIGGER feature_events_adoption_version_delete;
DROP TRIGGER feature_events_adoption_version_update;
DROP TRIGGER feature_events_adoption_version_insert;
DROP TRIGGER features_adoption_version_delete;
DROP TRIGGER features_adoption_version_update;
DROP TRIGGER features_adoption_version_insert;
DROP TRIGGER entitlement_features_adoption_version_delete;
DROP TRIGGER entitlement_features_adoption_version_update;
DROP TRIGGER entitlement_features_adoption_version_insert;
DROP TRIGGER entitlements_adoption_version_delete;
DROP TRIGGER entitlements_adoption_version_update;
DROP TRIGGER entitlements_adoption_version_insert;
DROP TRIGGER accounts_adoption_version_delete;
DROP TRIGGER accounts_adoption_version_update;
DROP TRIGGER accounts_adoption_version_insert;
DELETE FROM cache_versions WHERE name IN ('adoption', 'usage');
