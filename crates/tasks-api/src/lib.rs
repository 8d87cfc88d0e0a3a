//! tasks-api: the reference backend behind Better Auth SSO.
//!
//! User-scoped tasks, and organization tasks (Better Auth's organization plugin), on SQLite
//! (embedded default) or Postgres, authenticated with `ssoguard`.
//! Copy it as the starting point of your own backend: `config` (env), `startup` (build → bind →
//! run), `routes/` (one module per resource), `input` (what the task routes read, as the types the
//! OpenAPI schema is generated from), `db/` (repository), `error` (one `ApiError`).

pub mod api_keys;
pub mod config;
pub mod cors;
pub mod db;
pub mod error;
pub mod input;
pub mod organizations;
pub mod routes;
pub mod sessions;
pub mod startup;
pub mod telemetry;
