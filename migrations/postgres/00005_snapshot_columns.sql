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

-- Each account's latest snapshot, with the score 7 days before it: one small row per
-- account, so the portfolio lists, filters and sorts 10,000 accounts without
-- touching the (wide) snapshot history. Written with every snapshot run.
CREATE TABLE account_health_latest (
    account_id       BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    day              DATE    NOT NULL,
    score            DOUBLE PRECISION,
    color            TEXT    NOT NULL DEFAULT '',
    previous_score   DOUBLE PRECISION,
    daily_usage_rate DOUBLE PRECISION,
    seat_activation  DOUBLE PRECISION,
    executives       INTEGER,
    overused         BOOLEAN NOT NULL DEFAULT FALSE,
    underused        BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX account_health_latest_score ON account_health_latest (score);
INSERT INTO account_health_latest
SELECT hs.account_id, hs.day, hs.score, hs.color, hp.score, hs.daily_usage_rate, hs.seat_activation,
       hs.executives, hs.overused, hs.underused
FROM health_snapshots hs
LEFT JOIN health_snapshots hp ON hp.account_id = hs.account_id AND hp.day = hs.day - 7
WHERE hs.day = (SELECT max(h2.day) FROM health_snapshots h2 WHERE h2.account_id = hs.account_id);

-- +goose Down
DROP TABLE account_health_latest;
ALTER TABLE health_snapshots DROP COLUMN daily_usage_rate, DROP COLUMN seat_activation,
    DROP COLUMN executives, DROP COLUMN overused, DROP COLUMN underused;
