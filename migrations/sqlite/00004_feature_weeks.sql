-- Precomputed usage for the /features page (issue 7), so the page reads small tables
-- instead of aggregating the daily rollups per request. Written only by
-- Store.RefreshFeatureWeeks (daily with the health snapshots, backfilled by demo and
-- the snapshot command); usage is attributed to accounts as end_users.group_key is
-- at refresh time.

-- +goose Up
-- Distinct users of a feature per account and ISO week (Monday–Sunday); week is the
-- epoch day of the week's Sunday.
CREATE TABLE account_feature_weeks (
    week       INTEGER NOT NULL,
    account_id INTEGER  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    feature_id INTEGER  NOT NULL REFERENCES features (id) ON DELETE CASCADE,
    users      INTEGER NOT NULL,
    PRIMARY KEY (week, account_id, feature_id)
);

-- Distinct active users (any track or page message) per account and ISO week.
CREATE TABLE account_weeks (
    week         INTEGER NOT NULL,
    account_id   INTEGER  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    active_users INTEGER NOT NULL,
    PRIMARY KEY (week, account_id)
);

-- Distinct users of a feature per account in the 30 days as_of-29 … as_of (epoch days).
CREATE TABLE account_feature_windows (
    as_of      INTEGER NOT NULL,
    account_id INTEGER  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    feature_id INTEGER  NOT NULL REFERENCES features (id) ON DELETE CASCADE,
    users      INTEGER NOT NULL,
    PRIMARY KEY (as_of, account_id, feature_id)
);

-- Distinct active users per account in the 30 days as_of-29 … as_of.
CREATE TABLE account_windows (
    as_of        INTEGER NOT NULL,
    account_id   INTEGER  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    active_users INTEGER NOT NULL,
    PRIMARY KEY (as_of, account_id)
);

-- +goose Down
DROP TABLE account_windows;
DROP TABLE account_feature_windows;
DROP TABLE account_weeks;
DROP TABLE account_feature_weeks;
