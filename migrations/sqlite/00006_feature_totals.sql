-- The /features page at 10,000 accounts × 50 features cannot add up per-account rows
-- on every view. It reads totals instead: per feature, period, segment and lifecycle
-- stage, the sums the adoption figures are ratios of. They are a cache over the
-- per-account usage tables (00004) and what they are joined with (accounts,
-- entitlements, catalog), rebuilt by Store.ensureFeatureTotals when that changed.
-- Being a cache they have no foreign keys (a rebuild follows every write) and, on
-- PostgreSQL, are UNLOGGED: a crash empties them all, feature_totals_builds included,
-- which only means a rebuild.

-- +goose Up
-- Bumped (one row, in the same transaction) by every write to accounts,
-- entitlements or the catalog, and by every refresh of the usage tables.
CREATE TABLE feature_totals_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO feature_totals_state (id, generation) VALUES (1, 0);

-- The slices of feature_totals that are built: plan '' covers every account, any
-- other plan the accounts holding an entitlement with that key active on as_of.
-- A slice is current while as_of is the report's day and generation the state's.
CREATE TABLE feature_totals_builds (
    plan       TEXT    PRIMARY KEY,
    as_of      INTEGER NOT NULL,
    generation INTEGER NOT NULL
);

-- Sums over the entitled accounts of a slice, per feature and period: kind 0 is an ISO
-- week (period = its Sunday, epoch day), kind 1 a 30-day window (period = its last day).
CREATE TABLE feature_totals (
    plan              TEXT             NOT NULL,
    kind              INTEGER          NOT NULL,
    period            INTEGER          NOT NULL,
    feature_id        INTEGER          NOT NULL,
    segment           TEXT             NOT NULL,
    stage             TEXT             NOT NULL,
    entitled_accounts INTEGER          NOT NULL,
    adopting_accounts INTEGER          NOT NULL,
    active_users      INTEGER          NOT NULL,
    feature_users     INTEGER          NOT NULL,
    arr_at_stake      REAL             NOT NULL,
    PRIMARY KEY (plan, kind, period, feature_id, segment, stage)
);

-- The (account, feature) pairs entitled on the '' slice's as_of, with their usage in the
-- 30 days to then: the entitled-but-unused list and each feature's accounts, paged in SQL.
CREATE TABLE feature_entitled_accounts (
    account_id   INTEGER          NOT NULL,
    feature_id   INTEGER          NOT NULL,
    arr          REAL             NOT NULL,
    users        INTEGER          NOT NULL,
    active_users INTEGER          NOT NULL,
    PRIMARY KEY (account_id, feature_id)
);
CREATE INDEX feature_entitled_unused ON feature_entitled_accounts (arr DESC) WHERE users = 0;
CREATE INDEX feature_entitled_feature ON feature_entitled_accounts (feature_id, arr DESC);

-- Per plan slice, the accounts with at least one entitled feature unused in the 30 days
-- to as_of, per product ('' any product), segment and stage: the ARR at stake.
CREATE TABLE feature_unused_totals (
    plan     TEXT    NOT NULL,
    product  TEXT    NOT NULL,
    segment  TEXT    NOT NULL,
    stage    TEXT    NOT NULL,
    accounts INTEGER NOT NULL,
    arr      REAL NOT NULL,
    PRIMARY KEY (plan, product, segment, stage)
);

-- The overused positions of each account's latest snapshot up to the '' slice's as_of,
-- with their growth (metrics.OverusePosition as JSON), so the leakage report does not
-- decode every snapshot on every view.
CREATE TABLE feature_overuse (
    account_id INTEGER NOT NULL,
    ordinal    INTEGER NOT NULL,
    product    TEXT    NOT NULL,
    position   TEXT    NOT NULL,
    PRIMARY KEY (account_id, ordinal)
);

-- The plan filter's choices are the distinct entitlement keys.
CREATE INDEX entitlements_key ON entitlements (key);

-- +goose Down
DROP INDEX entitlements_key;
DROP TABLE feature_overuse;
DROP TABLE feature_unused_totals;
DROP TABLE feature_entitled_accounts;
DROP TABLE feature_totals;
DROP TABLE feature_totals_builds;
DROP TABLE feature_totals_state;
