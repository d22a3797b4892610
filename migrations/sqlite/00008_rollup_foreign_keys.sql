-- PostgreSQL drops the rollup tables' foreign keys here (see its 00008). SQLite
-- keeps them: it can drop a constraint only by rebuilding the table, and its checks
-- are in-process lookups that cost little. The version keeps both dialects in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
