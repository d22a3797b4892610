-- The roll-up queue (ingest/rollup.go); see the PostgreSQL migration. AUTOINCREMENT:
-- an id is never reused once its row is applied and deleted.

-- +goose Up
CREATE TABLE usage_pending (
    id          INTEGER  PRIMARY KEY AUTOINCREMENT,
    messages    INTEGER  NOT NULL,
    received_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    inputs      BLOB     NOT NULL
);

-- +goose Down
DROP TABLE usage_pending;
