-- What the account page and the health API read on every call, made cheaper.
--
-- 1. Each server process keeps the scorecard and the feature catalog in memory instead of
-- reading them (five queries) on every account page and health API call. There may be
-- several processes, so a copy is checked on every use against a version number that
-- triggers bump whenever the tables it copies change, whatever code (or SQL) wrote
-- them: reading two small rows is the whole cost of a cache hit, and a change takes
-- effect on the next page view in every process.

-- The portfolio keeps its unfiltered sort orders and filter choices the same way,
-- under a version bumped by any change to accounts or to their latest health.

-- 2. An account's users (id, department, level) come from the index alone: the
-- index-only scan reads a few pages where the table costs one page per user. The
-- index replaces end_users_group, which it serves too (same leading column). It
-- changes with a user's department or level, as rarely as identify calls change them.

-- +goose Up
CREATE INDEX end_users_group_traits ON end_users (group_key, id) INCLUDE (department, level);
DROP INDEX end_users_group;

CREATE TABLE cache_versions (
    name    TEXT   PRIMARY KEY,
    version BIGINT NOT NULL DEFAULT 0
);
INSERT INTO cache_versions (name) VALUES ('catalog'), ('settings'), ('portfolio');

-- +goose StatementBegin
CREATE FUNCTION bump_cache_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_versions SET version = version + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- Statement-level, so a bulk import bumps once. Inserting a product changes no
-- feature (a feature naming it is inserted after it), and entitlement writes insert
-- products on every call, so only updates and deletes of products count.
CREATE TRIGGER features_cache_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON features
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('catalog');
CREATE TRIGGER feature_events_cache_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON feature_events
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('catalog');
CREATE TRIGGER products_cache_version AFTER UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('catalog');
CREATE TRIGGER settings_cache_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('settings');
CREATE TRIGGER accounts_cache_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('portfolio');
CREATE TRIGGER account_health_latest_cache_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON account_health_latest
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('portfolio');

-- +goose Down
DROP TRIGGER account_health_latest_cache_version ON account_health_latest;
DROP TRIGGER accounts_cache_version ON accounts;
DROP TRIGGER settings_cache_version ON settings;
DROP TRIGGER products_cache_version ON products;
DROP TRIGGER feature_events_cache_version ON feature_events;
DROP TRIGGER features_cache_version ON features;
DROP FUNCTION bump_cache_version();
DROP TABLE cache_versions;
CREATE INDEX end_users_group ON end_users (group_key);
DROP INDEX end_users_group_traits;
