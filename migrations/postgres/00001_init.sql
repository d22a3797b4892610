-- Sightline schema, PostgreSQL. Business dates (renewal, terms, due dates,
-- snapshots) are DATE; usage rollups key days as integers (days since
-- 1970-01-01 UTC) so the same SQL runs on both dialects.

-- +goose Up
CREATE TABLE team_members (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT        NOT NULL UNIQUE CHECK (email = lower(email)),
    name          TEXT        NOT NULL DEFAULT '',
    role          TEXT        NOT NULL CHECK (role IN ('csm', 'manager', 'pm', 'admin')),
    password_hash TEXT        NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    disabled_at   TIMESTAMPTZ
);

-- Server-side half of a login: the cookie carries a random id, the table its hash,
-- so logout and expiry really end a session.
CREATE TABLE login_sessions (
    id_hash        TEXT PRIMARY KEY,
    team_member_id BIGINT      NOT NULL REFERENCES team_members (id) ON DELETE CASCADE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_sessions_member ON login_sessions (team_member_id);
CREATE INDEX login_sessions_expires ON login_sessions (expires_at);

CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT        NOT NULL,
    role         TEXT        NOT NULL CHECK (role IN ('csm', 'manager', 'pm', 'admin')),
    token_hash   TEXT        NOT NULL UNIQUE,
    token_prefix TEXT        NOT NULL,
    created_by   BIGINT REFERENCES team_members (id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE write_keys (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT        NOT NULL,
    key_hash     TEXT        NOT NULL UNIQUE,
    key_prefix   TEXT        NOT NULL,
    created_by   BIGINT REFERENCES team_members (id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

-- Deployment settings (scorecard, event names, generated session secret) as JSON.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id   BIGSERIAL PRIMARY KEY,
    key  TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT ''
);

CREATE TABLE features (
    id          BIGSERIAL PRIMARY KEY,
    key         TEXT        NOT NULL UNIQUE,
    name        TEXT        NOT NULL DEFAULT '',
    product_id  BIGINT      NOT NULL REFERENCES products (id),
    key_feature BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX features_product ON features (product_id);

-- Which track event names mean "this feature was used" (exact match).
CREATE TABLE feature_events (
    feature_id BIGINT NOT NULL REFERENCES features (id) ON DELETE CASCADE,
    event_name TEXT   NOT NULL,
    PRIMARY KEY (feature_id, event_name)
);
CREATE INDEX feature_events_name ON feature_events (event_name);

CREATE TABLE accounts (
    id              BIGSERIAL PRIMARY KEY,
    key             TEXT             NOT NULL UNIQUE,
    name            TEXT             NOT NULL DEFAULT '',
    arr             DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (arr >= 0),
    renewal_on      DATE,
    lifecycle_stage TEXT             NOT NULL DEFAULT 'onboarding'
        CHECK (lifecycle_stage IN ('onboarding', 'adoption', 'renewal')),
    segment         TEXT             NOT NULL DEFAULT '',
    csm_email       TEXT             NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ      NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ      NOT NULL DEFAULT now()
);
CREATE INDEX accounts_name ON accounts (lower(name));
CREATE INDEX accounts_csm ON accounts (csm_email);
CREATE INDEX accounts_segment ON accounts (segment);
CREATE INDEX accounts_renewal ON accounts (renewal_on);
CREATE INDEX accounts_arr ON accounts (arr);

CREATE TABLE entitlements (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT           NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key        TEXT             NOT NULL,
    product_id BIGINT           NOT NULL REFERENCES products (id),
    model      TEXT             NOT NULL CHECK (model IN ('perpetual', 'subscription', 'user',
        'concurrent', 'device', 'metered', 'usage', 'outcome')),
    quantity   DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    unit       TEXT             NOT NULL DEFAULT '',
    unit_price DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (unit_price >= 0),
    starts_on  DATE,
    ends_on    DATE,
    created_at TIMESTAMPTZ      NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ      NOT NULL DEFAULT now(),
    UNIQUE (account_id, key),
    CHECK (ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX entitlements_product ON entitlements (product_id);

-- Explicit feature list of an entitlement; none means every feature of the product.
CREATE TABLE entitlement_features (
    entitlement_id BIGINT NOT NULL REFERENCES entitlements (id) ON DELETE CASCADE,
    feature_id     BIGINT NOT NULL REFERENCES features (id) ON DELETE CASCADE,
    PRIMARY KEY (entitlement_id, feature_id)
);
CREATE INDEX entitlement_features_feature ON entitlement_features (feature_id);

-- People using the vendor's product. group_key is the groupId of the user's latest
-- group call (by message timestamp); it is joined to accounts.key when metrics are
-- computed, so a late or moved group call re-attributes all of the user's usage.
CREATE TABLE end_users (
    id            BIGSERIAL PRIMARY KEY,
    user_key      TEXT        NOT NULL UNIQUE,
    group_key     TEXT,
    group_at      TIMESTAMPTZ,
    email         TEXT        NOT NULL DEFAULT '',
    name          TEXT        NOT NULL DEFAULT '',
    department    TEXT        NOT NULL DEFAULT '',
    level         TEXT        NOT NULL DEFAULT 'unknown',
    traits_at     TIMESTAMPTZ,
    first_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX end_users_group ON end_users (group_key);

-- Raw messages, kept for audit and reprocessing; message_id makes retries idempotent.
CREATE TABLE usage_messages (
    id           BIGSERIAL PRIMARY KEY,
    message_id   TEXT        NOT NULL UNIQUE,
    type         TEXT        NOT NULL,
    user_key     TEXT        NOT NULL,
    event        TEXT        NOT NULL DEFAULT '',
    group_key    TEXT        NOT NULL DEFAULT '',
    ts           TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    write_key_id BIGINT,
    payload      JSONB       NOT NULL
);
CREATE INDEX usage_messages_received ON usage_messages (received_at);
CREATE INDEX usage_messages_user ON usage_messages (user_key);

-- Daily rollups per end user, maintained as messages arrive.
-- usage_user_days: track+page messages, and a bitmask of the UTC hours active.
CREATE TABLE usage_user_days (
    end_user_id BIGINT  NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    day         INTEGER NOT NULL,
    messages    INTEGER NOT NULL DEFAULT 0,
    hours_mask  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (end_user_id, day)
);
CREATE INDEX usage_user_days_day ON usage_user_days (day);

-- track events by name, with the sum of properties.duration_seconds.
CREATE TABLE usage_user_event_days (
    end_user_id      BIGINT           NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    day              INTEGER          NOT NULL,
    event_name       TEXT             NOT NULL,
    events           INTEGER          NOT NULL DEFAULT 0,
    duration_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (end_user_id, day, event_name)
);

-- "Usage Reported" quantities by meter.
CREATE TABLE usage_user_meter_days (
    end_user_id BIGINT           NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    day         INTEGER          NOT NULL,
    meter       TEXT             NOT NULL,
    quantity    DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (end_user_id, day, meter)
);

-- Distinct context.device.id values seen.
CREATE TABLE usage_user_device_days (
    end_user_id BIGINT  NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    day         INTEGER NOT NULL,
    device_id   TEXT    NOT NULL,
    PRIMARY KEY (end_user_id, day, device_id)
);

CREATE TABLE notes (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    author_id  BIGINT REFERENCES team_members (id) ON DELETE SET NULL,
    body       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notes_account ON notes (account_id, created_at);

CREATE TABLE goals (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT           NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title      TEXT             NOT NULL,
    metric     TEXT             NOT NULL,
    target     DOUBLE PRECISION NOT NULL,
    baseline   DOUBLE PRECISION NOT NULL,
    relevance  TEXT             NOT NULL,
    due_on     DATE             NOT NULL,
    owner_id   BIGINT REFERENCES team_members (id) ON DELETE SET NULL,
    created_by BIGINT REFERENCES team_members (id) ON DELETE SET NULL,
    closed_at  TIMESTAMPTZ,
    created_at TIMESTAMPTZ      NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ      NOT NULL DEFAULT now()
);
CREATE INDEX goals_account ON goals (account_id);
CREATE INDEX goals_due ON goals (due_on);

-- Every change to a goal (creation, edits, closing, comments), who and when.
CREATE TABLE goal_events (
    id         BIGSERIAL PRIMARY KEY,
    goal_id    BIGINT      NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    actor_id   BIGINT REFERENCES team_members (id) ON DELETE SET NULL,
    kind       TEXT        NOT NULL,
    changes    TEXT        NOT NULL DEFAULT '{}',
    body       TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX goal_events_goal ON goal_events (goal_id, created_at);

-- One row per account and day: the health score and the metrics behind it.
CREATE TABLE health_snapshots (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    day        DATE   NOT NULL,
    score      DOUBLE PRECISION,
    color      TEXT   NOT NULL DEFAULT '',
    metrics    TEXT   NOT NULL DEFAULT '{}',
    PRIMARY KEY (account_id, day)
);
CREATE INDEX health_snapshots_day ON health_snapshots (day, score);

-- +goose Down
DROP TABLE health_snapshots;
DROP TABLE goal_events;
DROP TABLE goals;
DROP TABLE notes;
DROP TABLE usage_user_device_days;
DROP TABLE usage_user_meter_days;
DROP TABLE usage_user_event_days;
DROP TABLE usage_user_days;
DROP TABLE usage_messages;
DROP TABLE end_users;
DROP TABLE entitlement_features;
DROP TABLE entitlements;
DROP TABLE accounts;
DROP TABLE feature_events;
DROP TABLE features;
DROP TABLE products;
DROP TABLE settings;
DROP TABLE write_keys;
DROP TABLE api_tokens;
DROP TABLE login_sessions;
DROP TABLE team_members;
