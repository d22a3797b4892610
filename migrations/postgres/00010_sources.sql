-- Sources (issue 16): what a write key may do, and what arrived with it.
--
-- A write key used from a browser is public, so it can be limited to the origins of
-- the product's pages and to a number of requests a minute. The Sources page shows
-- per key what arrived lately; ingestion does not write these tables itself: each
-- process counts in memory and adds its counts here about once a second
-- (ingest.Monitor), so the hot path gains no statement and no row lock.

-- +goose Up
-- allowed_origins: space-separated origins ("https://app.example.com", or
-- "https://*.example.com" for its subdomains); empty allows every origin.
-- rate_limit: requests a minute, across all processes; 0 is no limit.
ALTER TABLE write_keys
    ADD COLUMN allowed_origins TEXT    NOT NULL DEFAULT '',
    ADD COLUMN rate_limit      INTEGER NOT NULL DEFAULT 0 CHECK (rate_limit >= 0);

-- Requests of rate-limited keys per UTC minute (epoch minutes).
CREATE TABLE ingest_rate_windows (
    write_key_id BIGINT  NOT NULL REFERENCES write_keys (id) ON DELETE CASCADE,
    minute       BIGINT  NOT NULL,
    requests     INTEGER NOT NULL,
    PRIMARY KEY (write_key_id, minute)
);

-- Per key and UTC day (epoch days): messages in accepted requests, split into those
-- counted as usage (new track and page), stored only (new identify, group, screen,
-- alias) and duplicates (acknowledged, not counted again); refused requests.
CREATE TABLE source_days (
    write_key_id     BIGINT  NOT NULL REFERENCES write_keys (id) ON DELETE CASCADE,
    day              INTEGER NOT NULL,
    received         BIGINT  NOT NULL DEFAULT 0,
    counted          BIGINT  NOT NULL DEFAULT 0,
    stored           BIGINT  NOT NULL DEFAULT 0,
    duplicates       BIGINT  NOT NULL DEFAULT 0,
    refused_requests BIGINT  NOT NULL DEFAULT 0,
    refused_messages BIGINT  NOT NULL DEFAULT 0,
    rate_limited     BIGINT  NOT NULL DEFAULT 0,
    last_message_at  TIMESTAMPTZ,
    PRIMARY KEY (write_key_id, day)
);

-- The last messages per key (kept to the newest 50), as the live tail shows them.
CREATE TABLE source_messages (
    id           BIGSERIAL PRIMARY KEY,
    write_key_id BIGINT      NOT NULL REFERENCES write_keys (id) ON DELETE CASCADE,
    received_at  TIMESTAMPTZ NOT NULL,
    type         TEXT        NOT NULL,
    event        TEXT        NOT NULL DEFAULT '',
    user_key     TEXT        NOT NULL DEFAULT '',
    group_key    TEXT        NOT NULL DEFAULT '',
    message_id   TEXT        NOT NULL DEFAULT '',
    ts           TIMESTAMPTZ NOT NULL,
    duplicate    BOOLEAN     NOT NULL DEFAULT FALSE,
    payload      TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX source_messages_key ON source_messages (write_key_id, id);

-- The last refused requests per key (kept to the newest 50), with every bad message's
-- index and reason (JSON).
CREATE TABLE source_refusals (
    id           BIGSERIAL PRIMARY KEY,
    write_key_id BIGINT      NOT NULL REFERENCES write_keys (id) ON DELETE CASCADE,
    received_at  TIMESTAMPTZ NOT NULL,
    status       INTEGER     NOT NULL,
    path         TEXT        NOT NULL DEFAULT '',
    origin       TEXT        NOT NULL DEFAULT '',
    error        TEXT        NOT NULL,
    problems     TEXT        NOT NULL DEFAULT '[]'
);
CREATE INDEX source_refusals_key ON source_refusals (write_key_id, id);

-- +goose Down
DROP TABLE source_refusals;
DROP TABLE source_messages;
DROP TABLE source_days;
DROP TABLE ingest_rate_windows;
ALTER TABLE write_keys DROP COLUMN rate_limit, DROP COLUMN allowed_origins;
