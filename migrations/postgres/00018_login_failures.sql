-- Failed logins, by "ip:ADDRESS" and "email:ADDRESS", so the login throttle holds
-- across every serve process (it was in each process's memory).

-- +goose Up
CREATE TABLE login_failures (
    key       TEXT        NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, failed_at);
CREATE INDEX login_failures_at ON login_failures (failed_at);

-- +goose Down
DROP TABLE login_failures;
