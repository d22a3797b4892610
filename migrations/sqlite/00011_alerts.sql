-- Alerts (SPEC §8). See the PostgreSQL migration of the same number for the reasoning.

-- +goose Up
CREATE TABLE alerts (
    id                INTEGER PRIMARY KEY,
    account_id        INTEGER  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind              TEXT     NOT NULL CHECK (kind IN ('consumption', 'underuse', 'health_drop',
        'renewal_risk', 'goal_at_risk', 'gone_dark', 'executive_lost')),
    subject           TEXT     NOT NULL DEFAULT '',
    threshold         REAL,
    severity          TEXT     NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state             TEXT     NOT NULL CHECK (state IN ('open', 'snoozed', 'resolved')),
    message           TEXT     NOT NULL,
    evidence          TEXT     NOT NULL DEFAULT '{}',
    owner_email       TEXT,
    term              TEXT     NOT NULL DEFAULT '',
    opened_at         DATETIME NOT NULL,
    updated_at        DATETIME NOT NULL,
    snoozed_until     DATE,
    resolved_at       DATETIME,
    resolution        TEXT CHECK (resolution IN ('acted', 'no_action', 'cleared')),
    note              TEXT     NOT NULL DEFAULT '',
    condition_cleared BOOLEAN  NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX alerts_one_unresolved ON alerts (account_id, kind, subject, COALESCE(threshold, -1))
    WHERE state <> 'resolved';
CREATE INDEX alerts_account ON alerts (account_id, kind, subject);
CREATE INDEX alerts_owner_state ON alerts (owner_email, state);
CREATE INDEX alerts_state ON alerts (state, snoozed_until);

CREATE TABLE alert_events (
    id         INTEGER PRIMARY KEY,
    alert_id   INTEGER  NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    actor_id   INTEGER REFERENCES team_members (id) ON DELETE SET NULL,
    actor_name TEXT     NOT NULL DEFAULT '',
    kind       TEXT     NOT NULL,
    changes    TEXT     NOT NULL DEFAULT '{}',
    note       TEXT     NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);
CREATE INDEX alert_events_created ON alert_events (created_at);

CREATE TABLE alert_dirty (
    account_id INTEGER PRIMARY KEY
);
CREATE TRIGGER accounts_alert_dirty_insert AFTER INSERT ON accounts
BEGIN INSERT INTO alert_dirty (account_id) VALUES (NEW.id) ON CONFLICT DO NOTHING; END;
CREATE TRIGGER accounts_alert_dirty_update AFTER UPDATE ON accounts
BEGIN INSERT INTO alert_dirty (account_id) VALUES (NEW.id) ON CONFLICT DO NOTHING; END;
CREATE TRIGGER entitlements_alert_dirty_insert AFTER INSERT ON entitlements
BEGIN INSERT INTO alert_dirty (account_id) VALUES (NEW.account_id) ON CONFLICT DO NOTHING; END;
CREATE TRIGGER entitlements_alert_dirty_update AFTER UPDATE ON entitlements
BEGIN INSERT INTO alert_dirty (account_id) VALUES (NEW.account_id) ON CONFLICT DO NOTHING; END;
CREATE TRIGGER entitlements_alert_dirty_delete AFTER DELETE ON entitlements
BEGIN INSERT INTO alert_dirty (account_id) VALUES (OLD.account_id) ON CONFLICT DO NOTHING; END;
CREATE TRIGGER goals_alert_dirty_insert AFTER INSERT ON goals
BEGIN INSERT INTO alert_dirty (account_id) VALUES (NEW.account_id) ON CONFLICT DO NOTHING; END;
CREATE TRIGGER goals_alert_dirty_update AFTER UPDATE ON goals
BEGIN INSERT INTO alert_dirty (account_id) VALUES (NEW.account_id) ON CONFLICT DO NOTHING; END;
CREATE TRIGGER goals_alert_dirty_delete AFTER DELETE ON goals
BEGIN INSERT INTO alert_dirty (account_id) VALUES (OLD.account_id) ON CONFLICT DO NOTHING; END;

-- What a background job carries from one run to the next (e.g. the alert evaluation's
-- usage watermark), as JSON. Not in settings: writing there bumps the settings version.
CREATE TABLE job_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY,
    key        TEXT     NOT NULL UNIQUE,
    url        TEXT     NOT NULL,
    events     TEXT     NOT NULL,
    format     TEXT     NOT NULL CHECK (format IN ('standard', 'slack')),
    secret     TEXT     NOT NULL,
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER  NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    msg_id          TEXT     NOT NULL UNIQUE,
    event_type      TEXT     NOT NULL,
    alert_id        INTEGER REFERENCES alerts (id) ON DELETE SET NULL,
    payload         TEXT     NOT NULL,
    state           TEXT     NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER  NOT NULL DEFAULT 0,
    created_at      DATETIME NOT NULL,
    last_attempt_at DATETIME,
    next_attempt_at DATETIME,
    delivered_at    DATETIME,
    last_status     INTEGER,
    last_error      TEXT     NOT NULL DEFAULT ''
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER  NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at DATETIME NOT NULL,
    status       INTEGER,
    error        TEXT     NOT NULL DEFAULT '',
    duration_ms  INTEGER  NOT NULL DEFAULT 0,
    manual       BOOLEAN  NOT NULL DEFAULT FALSE
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

ALTER TABLE team_members ADD COLUMN digest TEXT NOT NULL DEFAULT 'daily' CHECK (digest IN ('daily', 'weekly', 'off'));
ALTER TABLE team_members ADD COLUMN digest_sent_at DATETIME;

-- +goose Down
ALTER TABLE team_members DROP COLUMN digest_sent_at;
ALTER TABLE team_members DROP COLUMN digest;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TRIGGER goals_alert_dirty_delete;
DROP TRIGGER goals_alert_dirty_update;
DROP TRIGGER goals_alert_dirty_insert;
DROP TRIGGER entitlements_alert_dirty_delete;
DROP TRIGGER entitlements_alert_dirty_update;
DROP TRIGGER entitlements_alert_dirty_insert;
DROP TRIGGER accounts_alert_dirty_update;
DROP TRIGGER accounts_alert_dirty_insert;
DROP TABLE job_state;
DROP TABLE alert_dirty;
DROP TABLE alert_events;
DROP TABLE alerts;
