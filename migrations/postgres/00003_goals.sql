-- Goals: who made a change through the API (a token has no team member), and the
-- owner filter of /goals.

-- +goose Up
ALTER TABLE goal_events ADD COLUMN actor_name TEXT NOT NULL DEFAULT '';
CREATE INDEX goals_owner ON goals (owner_id);

-- +goose Down
DROP INDEX goals_owner;
ALTER TABLE goal_events DROP COLUMN actor_name;
