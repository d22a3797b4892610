-- See the PostgreSQL migration.

-- +goose Up
INSERT INTO cache_versions (name) VALUES ('activity');
-- +goose StatementBegin
CREATE TRIGGER notes_activity_version_insert AFTER INSERT ON notes
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER notes_activity_version_update AFTER UPDATE ON notes
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER notes_activity_version_delete AFTER DELETE ON notes
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER goals_activity_version_insert AFTER INSERT ON goals
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER goals_activity_version_update AFTER UPDATE ON goals
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER goals_activity_version_delete AFTER DELETE ON goals
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER goal_events_activity_version_insert AFTER INSERT ON goal_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER goal_events_activity_version_update AFTER UPDATE ON goal_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER goal_events_activity_version_delete AFTER DELETE ON goal_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER alert_events_activity_version_insert AFTER INSERT ON alert_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER alert_events_activity_version_update AFTER UPDATE ON alert_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER alert_events_activity_version_delete AFTER DELETE ON alert_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER renewals_activity_version_insert AFTER INSERT ON renewals
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER renewals_activity_version_update AFTER UPDATE ON renewals
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER renewals_activity_version_delete AFTER DELETE ON renewals
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER renewal_events_activity_version_insert AFTER INSERT ON renewal_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER renewal_events_activity_version_update AFTER UPDATE ON renewal_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER renewal_events_activity_version_delete AFTER DELETE ON renewal_events
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER team_members_activity_version_insert AFTER INSERT ON team_members
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER team_members_activity_version_update AFTER UPDATE ON team_members
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER team_members_activity_version_delete AFTER DELETE ON team_members
BEGIN UPDATE cache_versions SET version = version + 1 WHERE name = 'activity'; END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER team_members_activity_version_delete;
DROP TRIGGER team_members_activity_version_update;
DROP TRIGGER team_members_activity_version_insert;
DROP TRIGGER renewal_events_activity_version_delete;
DROP TRIGGER renewal_events_activity_version_update;
DROP TRIGGER renewal_events_activity_version_insert;
DROP TRIGGER renewals_activity_version_delete;
DROP TRIGGER renewals_activity_version_update;
DROP TRIGGER renewals_activity_version_insert;
DROP TRIGGER alert_events_activity_version_delete;
DROP TRIGGER alert_events_activity_version_update;
DROP TRIGGER alert_events_activity_version_insert;
DROP TRIGGER goal_events_activity_version_delete;
DROP TRIGGER goal_events_activity_version_update;
DROP TRIGGER goal_events_activity_version_insert;
DROP TRIGGER goals_activity_version_delete;
DROP TRIGGER goals_activity_version_update;
DROP TRIGGER goals_activity_version_insert;
DROP TRIGGER notes_activity_version_delete;
DROP TRIGGER notes_activity_version_update;
DROP TRIGGER notes_activity_version_insert;
DELETE FROM cache_versions WHERE name = 'activity';
