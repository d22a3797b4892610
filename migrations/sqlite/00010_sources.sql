-- Sources (issue 16): what a write key may do, and what arrived with it. See the
-- PostgreSQL migration of the same number for the reasoning.

-- +goose Up
ALTER TABLE write_keys ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '';
ALTER TABLE write_keys ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0 CHECK (rate_limit >= 0);

CREATE TABLE ingest_rate_windows (
    write_key_id INTEGER NOT NULL REFERENCES write_keys (id) ON DELETE CASCADE,
    minute       INTEGER NOT NULL,
    requests     INTEGER NOT NULL,
    PRIMARY KEY (write_key_id, minute)
);

CREATE TABLE source_days (
    write_key_id     INTEGER NOT NULL REFERENCES write_keys (id) ON DELETE CASCADE,
    day              INTEGER NOT NULL,
    received         INTEGER NOT NULL DEFAULT 0,
    counted          INTEGER NOT NULL DEFAULT 0,
    stored           INTEGER NOT NULL DEFAULT 0,
    duplicates       INTEGER NOT NULL DEFAULT 0,
    refused_requests INTEGER NOT NULL DEFAULT 0,
    refused_messages INTEGER NOT NULL DEFAULT 0,
    rate_limited     INTEGER NOT NULL DEFAULT 0,
    last_message_at  DATETIME,
    PRIMARY KEY (write_key_id, day)
);

CREATE TABLE source_messages (
    id           INTEGER PRIMARY KEY,
    write_key_id INTEGER  NOT NULL REFERENCES write_keys (id) ON DELETE CASCADE,
    received_at  DATETIME NOT NULL,
    type         TEXT     NOT NULL,
    event        TEXT     NOT NULL DEFAULT '',
    user_key     TEXT     NOT NULL DEFAULT '',
    group_key    TEXT     NOT NULL DEFAULT '',
    message_id   TEXT     NOT NULL DEFAULT '',
    ts           DATETIME NOT NULL,
    duplicate    BOOLEAN  NOT NULL DEFAULT FALSE,
    payload      TEXT     NOT NULL DEFAULT ''
);
CREATE INDEX source_messages_key ON source_messages (write_key_id, id);

CREATE TABLE source_refusals (
    id           INTEGER PRIMARY KEY,
    write_key_id INTEGER  NOT NULL REFERENCES write_keys (id) ON DELETE CASCADE,
    received_at  DATETIME NOT NULL,
    status       INTEGER  NOT NULL,
    path         TEXT     NOT NULL DEFAULT '',
    origin       TEXT     NOT NULL DEFAULT '',
    error        TEXT     NOT NULL,
    problems     TEXT     NOT NULL DEFAULT '[]'
);
CREATE INDEX source_refusals_key ON source_refusals (write_key_id, id);

-- +goose Down
DROP TABLE source_refusals;
DROP TABLE source_messages;
DROP TABLE source_days;
DROP TABLE ingest_rate_windows;
ALTER TABLE write_keys DROP COLUMN rate_limit;
ALTER TABLE write_keys DROP COLUMN allowed_origins;
