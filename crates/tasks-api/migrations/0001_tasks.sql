-- Tasks belong to exactly one SSO user (`user_id` = the token's `sub`).
-- Portable across SQLite and Postgres through sqlx::Any: text ids, integer microsecond
-- timestamps, and `done` as 0/1 (Any cannot decode SQLite booleans).
CREATE TABLE IF NOT EXISTS tasks (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT,
    done        BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS tasks_user_created ON tasks (user_id, created_at DESC, id DESC);
