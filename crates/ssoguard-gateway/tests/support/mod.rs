//! Harness for the whole-system tests: the gateway binary, the FastAPI app under uvicorn, real
//! nginx and Caddy, and real Better Auth servers (`interop/better-auth/start.sh`).
//!
//! Every process is killed on drop. The configuration files are the ones in `deploy/` (shown in
//! README); only their example addresses are replaced by the live ones.
//!
//! A missing tool is a loud skip locally and a failure when `CI` is set.
//!
//! By concern: `processes` (a child process killed on drop, the gateway binary, the FastAPI
//! app, an echo upstream), `proxies` (nginx, Caddy and Traefik on the files of `deploy/`),
//! `better_auth` (a real Better Auth server and its users), `tokens` (reading and forging JWTs);
//! this file holds what they share (paths, skips, ports).

#![allow(dead_code, unreachable_pub, unused_imports)]

mod better_auth;
mod processes;
mod proxies;
mod tokens;

pub use better_auth::*;
pub use processes::*;
pub use proxies::*;
pub use tokens::*;

use std::io::Write as _;
use std::path::PathBuf;

/// `crates/ssoguard-gateway`.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of `deploy/`.
pub fn deploy_file(name: &str) -> String {
    std::fs::read_to_string(crate_dir().join("deploy").join(name)).expect("deploy file")
}

/// Written straight to stderr, past the test harness's capture.
pub fn loud(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "\n*** {message} ***\n");
}

fn on_path(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A missing prerequisite: a loud skip, recorded as `<package>/<binary>::<test>: <reason>` in
/// the file `SSOGUARD_SKIP_LOG` names (`scripts/test` lists it); a panic under CI.
pub fn missing(message: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{message}; CI is set, so this is a failure, not a skip (.ci/run installs it)");
    }
    if let Some(log) = std::env::var_os("SSOGUARD_SKIP_LOG") {
        let test = std::thread::current()
            .name()
            .unwrap_or("unknown test")
            .to_owned();
        let reason = message.trim_start_matches("SKIPPED: ");
        let line = format!(
            "ssoguard-gateway/{}::{test}: {reason}\n",
            env!("CARGO_CRATE_NAME")
        );
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log);
        let _ = file.and_then(|mut f| f.write_all(line.as_bytes()));
    }
    loud(message);
    false
}

/// A port that was free a moment ago (for nginx, Caddy, uvicorn and Better Auth, which
/// cannot report a port-0 choice in a form the harness reads).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("reserve a port")
        .port()
}

pub fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ssoguard-gw-{what}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
