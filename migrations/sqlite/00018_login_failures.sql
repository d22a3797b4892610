-- See the PostgreSQL migration.

-- +goose Up
CREATE TABLE login_failures (
    key       TEXT     NOT NULL,
    failed_at DATETIME NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, failed_at);
CREATE INDEX login_failures_at ON login_failures (failed_at);

-- +goose Down
DROP TABLE login_failures;
