-- /features, issue 17. The last day each event name was received: a feature whose
-- events never arrived is not instrumented, which is not the same as unused. One index
-- lookup per catalog event name instead of a scan of the daily rollup.
--
-- And the feature × plan view, built with the adoption totals (00006) and read the
-- same way: per plan slice ('' every account), segment and stage,
--   grant_plan = P, feature_id = F: the accounts holding P today that are entitled to
--     F through it (accounts), those that used F in the 30 days to as_of (adopting),
--     and the ARR of those that did not (arr);
--   grant_plan = P, feature_id = 0: the accounts holding P today (accounts);
--   grant_plan = '', feature_id = F: the accounts holding a plan of F's product but
--     not entitled to F (accounts), and their ARR (arr).
--
-- And, with the every-account slice, each account's entitled features unused in the
-- 30 days to as_of, for any product ('') and per product: the page lists accounts by
-- ARR from it instead of reading every unused pair.

-- +goose Up
CREATE INDEX usage_user_event_days_name ON usage_user_event_days (event_name, day);

CREATE TABLE feature_plan_totals (
    plan       TEXT    NOT NULL,
    grant_plan TEXT    NOT NULL,
    feature_id INTEGER  NOT NULL,
    segment    TEXT    NOT NULL,
    stage      TEXT    NOT NULL,
    accounts   INTEGER NOT NULL,
    adopting   INTEGER NOT NULL,
    arr        REAL NOT NULL,
    PRIMARY KEY (plan, grant_plan, feature_id, segment, stage)
);
CREATE TABLE feature_unused_accounts (
    product      TEXT    NOT NULL,
    account_id   INTEGER  NOT NULL,
    arr          REAL NOT NULL,
    active_users INTEGER NOT NULL,
    features     TEXT    NOT NULL,
    PRIMARY KEY (product, account_id)
);
CREATE INDEX feature_unused_accounts_arr ON feature_unused_accounts (product, arr DESC);

-- Slices built before this table existed are stale.
UPDATE feature_totals_state SET generation = generation + 1;

-- +goose Down
DROP TABLE feature_unused_accounts;
DROP TABLE feature_plan_totals;
DROP INDEX usage_user_event_days_name;
