//! Interop with a real Better Auth: each test starts `interop/better-auth/start.sh`
//! (Node.js; the first start runs `npm ci`, about a minute), gets real tokens over HTTP the way a
//! Next.js front end does (sign-up, sign-in, authorization code + PKCE S256, token exchange with
//! `client_secret_basic`) and sends them to the real tasks-api, configured with the documented
//! variables. Nothing is mocked.
//!
//! Without Node.js the tests are skipped (a loud `SKIPPED` line, listed by `scripts/test`), except
//! under `CI`, where they fail.
//!
//! ```sh
//! cargo test -p tasks-api --test interop -- --nocapture
//! ```

#[path = "../interop_support/mod.rs"]
mod interop_support;

mod login;
mod refusals;
mod tokens;

use std::time::Instant;

/// Prints how long a test took.
fn done(test: &str, started: Instant) {
    eprintln!("{test}: {:.1}s", started.elapsed().as_secs_f64());
}
