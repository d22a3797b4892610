-- Renewals (SPEC §9, issue 18): each renewal of an account's contract, due on a day
-- for an ARR, and once closed its outcome and the ARR after. Closed renewals are kept:
-- they are what the health score is measured against. Every change is in
-- renewal_events. An account's renewal_on follows its earliest pending renewal.

-- +goose Up
CREATE TABLE renewals (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    due_on     DATE NOT NULL,
    arr_before REAL NOT NULL DEFAULT 0 CHECK (arr_before >= 0),
    outcome    TEXT NOT NULL DEFAULT 'pending'
        CHECK (outcome IN ('pending', 'renewed', 'expanded', 'contracted', 'churned')),
    arr_after  REAL CHECK (arr_after >= 0),
    closed_on  DATE,
    note       TEXT NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (account_id, key)
);
CREATE INDEX renewals_due ON renewals (due_on);
CREATE INDEX renewals_pending ON renewals (account_id, due_on) WHERE outcome = 'pending';

CREATE TABLE renewal_events (
    id         INTEGER PRIMARY KEY,
    renewal_id INTEGER NOT NULL REFERENCES renewals (id) ON DELETE CASCADE,
    at         DATETIME NOT NULL,
    actor      TEXT NOT NULL DEFAULT '',
    change     TEXT NOT NULL
);
CREATE INDEX renewal_events_renewal ON renewal_events (renewal_id, at);

-- +goose Down
DROP TABLE renewal_events;
DROP TABLE renewals;
