-- A cache version for what the account page shows besides health and alerts: notes,
-- goals and their changes, alert changes, renewals and their history, and the team.
-- Each process keeps each account's recently viewed activity, and the team, while it
-- has not moved (models/activity.go).

-- +goose Up
INSERT INTO cache_versions (name) VALUES ('activity');
CREATE TRIGGER notes_activity_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON notes
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('activity');
CREATE TRIGGER goals_activity_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON goals
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('activity');
CREATE TRIGGER goal_events_activity_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON goal_events
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('activity');
CREATE TRIGGER alert_events_activity_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alert_events
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('activity');
CREATE TRIGGER renewals_activity_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON renewals
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('activity');
CREATE TRIGGER renewal_events_activity_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON renewal_events
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('activity');
CREATE TRIGGER team_members_activity_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON team_members
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('activity');

-- +goose Down
DROP TRIGGER team_members_activity_version ON team_members;
DROP TRIGGER renewal_events_activity_version ON renewal_events;
DROP TRIGGER renewals_activity_version ON renewals;
DROP TRIGGER alert_events_activity_version ON alert_events;
DROP TRIGGER goal_events_activity_version ON goal_events;
DROP TRIGGER goals_activity_version ON goals;
DROP TRIGGER notes_activity_version ON notes;
DELETE FROM cache_versions WHERE name = 'activity';
