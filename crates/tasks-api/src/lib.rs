//! tasks-api: the reference backend behind Better Auth SSO.
//!
//! User-scoped tasks on SQLite (embedded default) or Postgres, authenticated with `ssoguard`.
//! Copy it as the starting point of your own backend: `config` (env), `startup` (build → bind →
//! run), `routes/` (one module per resource), `db/` (repository), `error` (one `ApiError`).

pub mod config;
pub mod cors;
pub mod db;
pub mod error;
pub mod routes;
pub mod sessions;
pub mod startup;
pub mod telemetry;
