-- Tasks of an organization (Better Auth's organization plugin): `organization_id` is the
-- organization, `user_id` the member who created it. Kept apart from personal tasks so that no
-- personal query can ever return one. Portable across SQLite and Postgres, as 0001.
CREATE TABLE IF NOT EXISTS org_tasks (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    title           TEXT NOT NULL,
    description     TEXT,
    done            BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS org_tasks_org_created ON org_tasks (organization_id, created_at DESC, id DESC);
