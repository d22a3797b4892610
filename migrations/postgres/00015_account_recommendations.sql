-- What to change at each account (SPEC §9), as computed by the daily snapshot job for
-- every account, so views across accounts (the licence model fit on /features) read
-- them without recomputing a book's usage. The account page computes its own live.

-- +goose Up
CREATE TABLE account_recommendations (
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    day         DATE NOT NULL,
    kind        TEXT NOT NULL,
    entitlement TEXT,
    feature     TEXT,
    message     TEXT NOT NULL,
    evidence    TEXT NOT NULL,
    arr_change  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account_id, position)
);
CREATE INDEX account_recommendations_kind ON account_recommendations (kind);

-- +goose Down
DROP TABLE account_recommendations;
