-- One mechanism keeps every cache current: a version in cache_versions, bumped by a
-- trigger in the transaction of any write to the tables behind the cache. The
-- adoption totals (00006) had their own generation, bumped from Go by each write
-- path; it becomes the 'adoption' version, kept by triggers like the others.

-- +goose Up
INSERT INTO cache_versions (name, version) SELECT 'adoption', generation FROM feature_totals_state WHERE id = 1;
CREATE TRIGGER accounts_adoption_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
CREATE TRIGGER entitlements_adoption_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON entitlements
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
CREATE TRIGGER entitlement_features_adoption_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON entitlement_features
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
CREATE TRIGGER features_adoption_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON features
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
CREATE TRIGGER feature_events_adoption_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON feature_events
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
CREATE TRIGGER account_feature_weeks_adoption_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON account_feature_weeks
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
CREATE TRIGGER account_feature_windows_adoption_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON account_feature_windows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
CREATE TRIGGER account_weeks_adoption_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON account_weeks
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
CREATE TRIGGER account_windows_adoption_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON account_windows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
CREATE TRIGGER health_snapshots_adoption_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON health_snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
CREATE TRIGGER products_adoption_version AFTER UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('adoption');
-- Until the next release, processes of the previous one may still run (a rolling
-- upgrade): they read feature_totals_state and bump it from Go. The two counters follow
-- each other both ways, so every process sees one number. A later migration drops
-- both triggers and the table.
-- +goose StatementBegin
CREATE FUNCTION follow_adoption_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE feature_totals_state SET generation = NEW.version WHERE id = 1 AND generation <> NEW.version;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION follow_feature_totals_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_versions SET version = NEW.generation WHERE name = 'adoption' AND version <> NEW.generation;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER feature_totals_state_follows AFTER UPDATE ON cache_versions
    FOR EACH ROW WHEN (NEW.name = 'adoption') EXECUTE FUNCTION follow_adoption_version();
CREATE TRIGGER adoption_version_follows AFTER UPDATE ON feature_totals_state
    FOR EACH ROW EXECUTE FUNCTION follow_feature_totals_state();

-- +goose Down
DROP TRIGGER adoption_version_follows ON feature_totals_state;
DROP TRIGGER feature_totals_state_follows ON cache_versions;
DROP FUNCTION follow_feature_totals_state();
DROP FUNCTION follow_adoption_version();
DROP TRIGGER products_adoption_version ON products;
DROP TRIGGER health_snapshots_adoption_version ON health_snapshots;
DROP TRIGGER account_windows_adoption_version ON account_windows;
DROP TRIGGER account_weeks_adoption_version ON account_weeks;
DROP TRIGGER account_feature_windows_adoption_version ON account_feature_windows;
DROP TRIGGER account_feature_weeks_adoption_version ON account_feature_weeks;
DROP TRIGGER feature_events_adoption_version ON feature_events;
DROP TRIGGER features_adoption_version ON features;
DROP TRIGGER entitlement_features_adoption_version ON entitlement_features;
DROP TRIGGER entitlements_adoption_version ON entitlements;
DROP TRIGGER accounts_adoption_version ON accounts;
DELETE FROM cache_versions WHERE name = 'adoption';
