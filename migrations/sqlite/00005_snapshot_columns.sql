-- The portfolio's figures of each snapshot as columns (see the PostgreSQL migration).

-- +goose Up
ALTER TABLE health_snapshots ADD COLUMN daily_usage_rate REAL;
ALTER TABLE health_snapshots ADD COLUMN seat_activation REAL;
ALTER TABLE health_snapshots ADD COLUMN executives INTEGER;
ALTER TABLE health_snapshots ADD COLUMN overused BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE health_snapshots ADD COLUMN underused BOOLEAN NOT NULL DEFAULT 0;
UPDATE health_snapshots SET
    daily_usage_rate = json_extract(metrics, '$.daily_usage_rate'),
    seat_activation  = json_extract(metrics, '$.seat_activation'),
    executives       = json_extract(metrics, '$.exposure.executive'),
    overused  = EXISTS (SELECT 1 FROM json_each(metrics, '$.entitlements') e WHERE json_extract(e.value, '$.status') = 'overused'),
    underused = EXISTS (SELECT 1 FROM json_each(metrics, '$.entitlements') e WHERE json_extract(e.value, '$.status') = 'underused')
WHERE json_valid(metrics);

CREATE TABLE account_health_latest (
    account_id       INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    day              DATE    NOT NULL,
    score            REAL,
    color            TEXT    NOT NULL DEFAULT '',
    previous_score   REAL,
    daily_usage_rate REAL,
    seat_activation  REAL,
    executives       INTEGER,
    overused         BOOLEAN NOT NULL DEFAULT 0,
    underused        BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX account_health_latest_score ON account_health_latest (score);
INSERT INTO account_health_latest
SELECT hs.account_id, hs.day, hs.score, hs.color, hp.score, hs.daily_usage_rate, hs.seat_activation,
       hs.executives, hs.overused, hs.underused
FROM health_snapshots hs
LEFT JOIN health_snapshots hp ON hp.account_id = hs.account_id AND hp.day = date(hs.day, '-7 days')
WHERE hs.day = (SELECT max(h2.day) FROM health_snapshots h2 WHERE h2.account_id = hs.account_id);

-- +goose Down
DROP TABLE account_health_latest;
ALTER TABLE health_snapshots DROP COLUMN daily_usage_rate;
ALTER TABLE health_snapshots DROP COLUMN seat_activation;
ALTER TABLE health_snapshots DROP COLUMN executives;
ALTER TABLE health_snapshots DROP COLUMN overused;
ALTER TABLE health_snapshots DROP COLUMN underused;
