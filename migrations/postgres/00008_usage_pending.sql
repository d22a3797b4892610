-- The roll-up queue (ingest/rollup.go). A request commits its raw messages and, in
-- the same transaction, one row here holding what its new messages add to the
-- rollups (user, time, event, device, meter, group, traits: ingest/inputs.go). The
-- roll-up stage applies such rows to the rollups and deletes them in one transaction
-- of its own, so each is counted exactly once whatever crashes in between. The rows
-- live for milliseconds; inputs are stored without compression, which cost more CPU
-- than the bytes it saved.

-- +goose Up
CREATE TABLE usage_pending (
    id          BIGSERIAL   PRIMARY KEY,
    messages    INTEGER     NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    inputs      BYTEA       NOT NULL
);
ALTER TABLE usage_pending ALTER COLUMN inputs SET STORAGE EXTERNAL;

-- +goose Down
DROP TABLE usage_pending;
