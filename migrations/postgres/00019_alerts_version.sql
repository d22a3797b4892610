-- A cache version for the alerts, so each process keeps the open alerts the portfolio
-- and the account pages show their risk flags from.

-- +goose Up
INSERT INTO cache_versions (name) VALUES ('alerts');
CREATE TRIGGER alerts_cache_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alerts
    FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_version('alerts');

-- +goose Down
DROP TRIGGER alerts_cache_version ON alerts;
DELETE FROM cache_versions WHERE name = 'alerts';
