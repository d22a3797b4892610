-- The portfolio filters and sorts 10,000 accounts by their latest snapshot's figures;
-- reading them out of each snapshot's JSON on every page view cost seconds. The
-- figures it needs become columns, written with the snapshot (and filled here from
-- the JSON of the snapshots already stored).

-- +goose Up
ALTER TABLE health_snapshots
    ADD COLUMN daily_usage_rate DOUBLE PRECISION,
    ADD COLUMN seat_activation  DOUBLE PRECISION,
    ADD COLUMN executives       INTEGER,
    ADD COLUMN overused         BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN underused        BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE health_snapshots SET
    daily_usage_rate = (metrics::jsonb #>> '{daily_usage_rate}')::double precision,
    seat_activation  = (metrics::jsonb #>> '{seat_activation}')::double precision,
    executives       = (metrics::jsonb #>> '{exposure,executive}')::integer,
    overused         = COALESCE(jsonb_path_exists(metrics::jsonb, '$.entitlements[*] ? (@.status == "overused")'), FALSE),
    underused        = COALESCE(jsonb_path_exists(metrics::jsonb, '$.entitlements[*] ? (@.status == "underused")'), FALSE);

-- +goose Down
ALTER TABLE health_snapshots DROP COLUMN daily_usage_rate, DROP COLUMN seat_activation,
    DROP COLUMN executives, DROP COLUMN overused, DROP COLUMN underused;
