-- Alerts (SPEC §8): the rules' findings, who owns them, their history, and where they
-- are sent (webhooks, e-mail digests).

-- +goose Up
-- At most one unresolved alert per (account, kind, subject, threshold): the partial
-- unique index holds it whatever evaluates. term is a consumption alert's entitlement
-- term (its starts_on), so such an alert opens once per entitlement, threshold and
-- term. condition_cleared tells, for an alert a person resolved, whether its condition
-- has since gone away: only then may the condition open a new alert.
CREATE TABLE alerts (
    id                BIGSERIAL PRIMARY KEY,
    account_id        BIGINT           NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind              TEXT             NOT NULL CHECK (kind IN ('consumption', 'underuse', 'health_drop',
        'renewal_risk', 'goal_at_risk', 'gone_dark', 'executive_lost')),
    subject           TEXT             NOT NULL DEFAULT '',
    threshold         DOUBLE PRECISION,
    severity          TEXT             NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state             TEXT             NOT NULL CHECK (state IN ('open', 'snoozed', 'resolved')),
    message           TEXT             NOT NULL,
    evidence          TEXT             NOT NULL DEFAULT '{}',
    owner_email       TEXT,
    term              TEXT             NOT NULL DEFAULT '',
    opened_at         TIMESTAMPTZ      NOT NULL,
    updated_at        TIMESTAMPTZ      NOT NULL,
    snoozed_until     DATE,
    resolved_at       TIMESTAMPTZ,
    resolution        TEXT CHECK (resolution IN ('acted', 'no_action', 'cleared')),
    note              TEXT             NOT NULL DEFAULT '',
    condition_cleared BOOLEAN          NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX alerts_one_unresolved ON alerts (account_id, kind, subject, COALESCE(threshold, -1))
    WHERE state <> 'resolved';
CREATE INDEX alerts_account ON alerts (account_id, kind, subject);
CREATE INDEX alerts_owner_state ON alerts (owner_email, state);
CREATE INDEX alerts_state ON alerts (state, snoozed_until);

-- Every change to an alert: who (a member, an API token, or Sightline), when, what, and the note.
CREATE TABLE alert_events (
    id         BIGSERIAL PRIMARY KEY,
    alert_id   BIGINT      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    actor_id   BIGINT REFERENCES team_members (id) ON DELETE SET NULL,
    actor_name TEXT        NOT NULL DEFAULT '',
    kind       TEXT        NOT NULL,
    changes    TEXT        NOT NULL DEFAULT '{}',
    note       TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);
CREATE INDEX alert_events_created ON alert_events (created_at);

-- Accounts whose alert inputs changed since the last evaluation (usage is found from
-- the raw messages instead). No foreign key: a row may outlive its account, and the
-- evaluation skips it.
CREATE TABLE alert_dirty (
    account_id BIGINT PRIMARY KEY
);

-- +goose StatementBegin
CREATE FUNCTION mark_alert_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO alert_dirty (account_id) VALUES (OLD.account_id) ON CONFLICT DO NOTHING;
        RETURN OLD;
    END IF;
    INSERT INTO alert_dirty (account_id) VALUES (NEW.account_id) ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION mark_account_alert_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_dirty (account_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER accounts_alert_dirty AFTER INSERT OR UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION mark_account_alert_dirty();
CREATE TRIGGER entitlements_alert_dirty AFTER INSERT OR UPDATE OR DELETE ON entitlements
    FOR EACH ROW EXECUTE FUNCTION mark_alert_dirty();
CREATE TRIGGER goals_alert_dirty AFTER INSERT OR UPDATE OR DELETE ON goals
    FOR EACH ROW EXECUTE FUNCTION mark_alert_dirty();

-- What a background job carries from one run to the next (e.g. the alert evaluation's
-- usage watermark), as JSON. Not in settings: writing there bumps the settings version.
CREATE TABLE job_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Webhooks. The signing secret must be read to sign, so it is stored as it is (shown
-- to the admin once, never returned again).
CREATE TABLE webhooks (
    id         BIGSERIAL PRIMARY KEY,
    key        TEXT        NOT NULL UNIQUE,
    url        TEXT        NOT NULL,
    events     TEXT        NOT NULL,
    format     TEXT        NOT NULL CHECK (format IN ('standard', 'slack')),
    secret     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- One message to one webhook; msg_id is its webhook-id, the same for every attempt.
CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    webhook_id      BIGINT      NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    msg_id          TEXT        NOT NULL UNIQUE,
    event_type      TEXT        NOT NULL,
    alert_id        BIGINT REFERENCES alerts (id) ON DELETE SET NULL,
    payload         TEXT        NOT NULL,
    state           TEXT        NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    last_attempt_at TIMESTAMPTZ,
    next_attempt_at TIMESTAMPTZ,
    delivered_at    TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
    id           BIGSERIAL PRIMARY KEY,
    delivery_id  BIGINT      NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at TIMESTAMPTZ NOT NULL,
    status       INTEGER,
    error        TEXT        NOT NULL DEFAULT '',
    duration_ms  INTEGER     NOT NULL DEFAULT 0,
    manual       BOOLEAN     NOT NULL DEFAULT FALSE
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- Each member's e-mail digest: daily (07:00 UTC), weekly (Mondays) or off, and when
-- the last one covered up to.
ALTER TABLE team_members
    ADD COLUMN digest         TEXT NOT NULL DEFAULT 'daily' CHECK (digest IN ('daily', 'weekly', 'off')),
    ADD COLUMN digest_sent_at TIMESTAMPTZ;

-- +goose Down
ALTER TABLE team_members DROP COLUMN digest_sent_at, DROP COLUMN digest;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TRIGGER goals_alert_dirty ON goals;
DROP TRIGGER entitlements_alert_dirty ON entitlements;
DROP TRIGGER accounts_alert_dirty ON accounts;
DROP FUNCTION mark_account_alert_dirty();
DROP FUNCTION mark_alert_dirty();
DROP TABLE job_state;
DROP TABLE alert_dirty;
DROP TABLE alert_events;
DROP TABLE alerts;
