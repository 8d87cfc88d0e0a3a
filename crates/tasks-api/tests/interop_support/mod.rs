//! Interop harness: real Better Auth servers (`interop/better-auth/start.sh`) talked to over HTTP
//! the way a Next.js front end and its server side would, and the real tasks-api in-process.
//! No mocks: every token here was minted by Better Auth.

// Each test binary uses its own part of the harness.
#![allow(dead_code, unreachable_pub, unused_imports)]

mod better_auth;
mod jwt;
mod oauth;
mod service;
// The same file as `common::skip`: binaries with both harnesses (api_keys) load it twice.
#[allow(clippy::duplicate_mod)]
#[path = "../common/skip.rs"]
mod skip;

pub use better_auth::BetterAuth;
pub use jwt::{jwt_claims, jwt_header, kid, now, tamper};
pub use oauth::{Session, Tokens};
pub use service::{Reply, TasksApi};
pub use skip::skip;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The seeded OAuth client (server.mjs defaults).
pub const CLIENT_ID: &str = "rust-backend";
/// Its secret.
pub const CLIENT_SECRET: &str = "rust-backend-secret";
/// The one configured RFC 8707 resource.
pub const RESOURCE: &str = "http://localhost:8000";
/// The client's only redirect URI (nothing listens there: redirects are read, not followed).
pub const REDIRECT_URI: &str = "http://localhost:8976/callback";
/// The seeded admin.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// The seeded admin's password.
pub const ADMIN_PASSWORD: &str = "admin-password-123";
/// The Next.js front end's origin (one of the server's trusted origins).
pub const FRONTEND_ORIGIN: &str = "http://localhost:3000";
/// Every algorithm Better Auth's jwt plugin offers.
pub const ALGORITHMS: [&str; 5] = ["EdDSA", "ES256", "ES512", "RS256", "PS256"];

/// First start runs `npm ci` (about a minute, longer under a parallel cargo build).
const READY_TIMEOUT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------------
// Prerequisites
// ---------------------------------------------------------------------------------------------

/// `interop/better-auth`.
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/better-auth")
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Written straight to the process's stderr, past the test harness's output capture.
pub fn loud(message: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n*** {message} ***\n");
}

/// True when the interop tests can run. Otherwise the test is recorded as skipped with the
/// reason ([`skip`]: a failure under `CI`) and this returns false.
pub fn prerequisites_met() -> bool {
    let missing = if !on_path("node") {
        Some("interop tests need Node.js (`node` is not on PATH)")
    } else if !interop_dir().join("node_modules").is_dir() && !on_path("npm") {
        Some(
            "interop tests need npm to install interop/better-auth/node_modules \
             (`npm` is not on PATH)",
        )
    } else {
        None
    };
    match missing {
        None => true,
        Some(reason) => {
            skip(reason);
            false
        }
    }
}

/// Environment for a Better Auth whose clock runs `seconds` off (see `clock_skew.cjs`).
pub fn clock_skew_env(seconds: i64) -> Vec<(String, String)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop_support/clock_skew.cjs");
    vec![
        (
            "NODE_OPTIONS".into(),
            format!("--require=\"{}\"", script.display()),
        ),
        ("BA_CLOCK_SKEW_SECONDS".into(), seconds.to_string()),
    ]
}

// ---------------------------------------------------------------------------------------------
// Setups: which Better Auth package set and database the servers run on
// ---------------------------------------------------------------------------------------------

/// The package set and database every server of this test process uses, chosen by
/// `SSOGUARD_INTEROP_SETUP` so that the whole suite can run again on another setup (`.ci/run`
/// does: `latest`, then `postgres`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// The pinned set (`interop/better-auth/package-lock.json`, better-auth 1.7.5) on SQLite.
    Pinned,
    /// The newest better-auth set (`interop/better-auth/latest/`, pinned) on SQLite.
    Latest,
    /// The pinned set on Postgres (a `pg` pool, a fresh database from `TEST_DATABASE_URL`).
    Postgres,
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Setup::Pinned => "pinned better-auth set on SQLite",
            Setup::Latest => "newest better-auth (interop/better-auth/latest) on SQLite",
            Setup::Postgres => "pinned better-auth set on Postgres (pg pool)",
        })
    }
}

impl Setup {
    /// This process's setup (`SSOGUARD_INTEROP_SETUP`: unset/`pinned`, `latest`, `postgres`).
    pub fn current() -> Setup {
        match std::env::var("SSOGUARD_INTEROP_SETUP").as_deref() {
            Err(_) | Ok("" | "pinned") => Setup::Pinned,
            Ok("latest") => Setup::Latest,
            Ok("postgres") => Setup::Postgres,
            Ok(other) => panic!("SSOGUARD_INTEROP_SETUP={other}: use pinned, latest or postgres"),
        }
    }

    /// The environment `start.sh` needs for this setup (a Postgres setup creates the database).
    async fn server_env(self) -> (Vec<(String, String)>, Option<(String, String)>) {
        match self {
            Setup::Pinned => (vec![], None),
            Setup::Latest => (vec![("BA_SET".into(), "latest".into())], None),
            Setup::Postgres => {
                let (url, name) = create_database().await;
                let db_url = database_url(&url, &name);
                (vec![("BA_DATABASE_URL".into(), db_url)], Some((url, name)))
            }
        }
    }
}

/// `TEST_DATABASE_URL`, required for the Postgres setup (a clear failure without it).
pub fn test_database_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// `url` with its database name replaced by `name`.
fn database_url(url: &str, name: &str) -> String {
    let (before_query, query) = url
        .split_once('?')
        .map_or((url, None), |(a, b)| (a, Some(b)));
    let after_scheme = before_query.find("://").map_or(0, |i| i + 3);
    let base = match before_query[after_scheme..].find('/') {
        Some(i) => &before_query[..after_scheme + i],
        None => before_query,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Creates a fresh database `ba_<uuid>` on `TEST_DATABASE_URL`'s server.
pub async fn create_database() -> (String, String) {
    use sqlx::Connection as _;
    let url = test_database_url()
        .expect("the Postgres interop setup needs TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)");
    let name = format!("ba_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create the Better Auth database");
    (url, name)
}

fn drop_database(admin_url: String, name: String) {
    // Drop runs outside any runtime guarantee: a thread with its own small runtime.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            use sqlx::Connection as _;
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        });
    })
    .join();
}

/// Why a start failed (the server's stderr is in the message).
#[derive(Debug)]
pub struct StartError {
    /// Exit code, when the process exited.
    pub code: Option<i32>,
    /// What happened, with the server's stderr.
    pub message: String,
}
