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

-- +goose Down
ALTER TABLE health_snapshots DROP COLUMN daily_usage_rate;
ALTER TABLE health_snapshots DROP COLUMN seat_activation;
ALTER TABLE health_snapshots DROP COLUMN executives;
ALTER TABLE health_snapshots DROP COLUMN overused;
ALTER TABLE health_snapshots DROP COLUMN underused;
