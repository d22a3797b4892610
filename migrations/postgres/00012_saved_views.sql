-- Saved views (issue 17): a member keeps a filtered page under a name, such as
-- "My renewals this quarter", and opens it again in one click.

-- +goose Up
CREATE TABLE saved_views (
    id         BIGSERIAL PRIMARY KEY,
    member_id  BIGINT NOT NULL REFERENCES team_members (id) ON DELETE CASCADE,
    page       TEXT NOT NULL,
    name       TEXT NOT NULL,
    query      TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (member_id, page, name)
);

-- +goose Down
DROP TABLE saved_views;
