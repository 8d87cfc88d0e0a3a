//! The `ssoguard` binary, run as a separate process against real issuers on real ports.

use assert_cmd::Command;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use ssoguard::Algorithm;
use ssoguard::testing::{Fault, SigningKey, TestIssuer};
use std::time::{Duration, Instant};

mod dev;
mod inspect;
mod jwks;
mod verify;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }

    /// The text line of a verify step (`  aud        ✗ …`).
    fn step(&self, name: &str) -> String {
        self.stdout
            .lines()
            .find(|l| l.starts_with(&format!("  {name:<10} ")))
            .unwrap_or_else(|| panic!("no {name} line in:\n{}", self.stdout))
            .to_string()
    }

    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    /// `needle` occurs in the output, whitespace runs (hint wrapping) counting as one space.
    fn assert_contains(&self, needle: &str) -> &Self {
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            squash(&self.all()).contains(&squash(needle)),
            "expected {needle:?} in\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// No output contains the token or any 20-character slice of it.
    fn assert_no_leak(&self, token: &str) -> &Self {
        let all = self.all();
        let bytes = token.as_bytes();
        for start in 0..bytes.len().saturating_sub(19) {
            if let Some(slice) = token.get(start..start + 20) {
                assert!(
                    !all.contains(slice),
                    "output contains a slice of the token: {slice}\n{all}"
                );
            }
        }
        self
    }
}

/// Runs the binary on a blocking thread (the issuer keeps serving on the runtime meanwhile).
async fn ssoguard(args: &[&str], stdin: impl Into<Vec<u8>>) -> Run {
    let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
    let stdin = stdin.into();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssoguard"));
        cmd.args(&args)
            .env_remove("SSO_ISSUER")
            .env_remove("SSO_CLIENT_ID")
            .env_remove("JWKS_URL")
            .env_remove("RUST_LOG")
            .timeout(Duration::from_secs(60))
            .write_stdin(stdin);
        let out = cmd.output().expect("runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("join")
}

/// `verify --issuer <origin> [extra…]` with the token on stdin.
async fn verify(issuer: &TestIssuer, token: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "--issuer", issuer.origin()];
    args.extend_from_slice(extra);
    let run = ssoguard(&args, format!("{token}\n")).await;
    run.assert_no_leak(token);
    run
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn enc(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn claims_for(issuer: &TestIssuer) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({"iss": issuer.issuer(), "sub": "alice", "aud": "test-client", "iat": now, "exp": now + 3600})
}

#[tokio::test(flavor = "multi_thread")]
async fn every_subcommand_has_examples_in_its_help() {
    for cmd in ["inspect", "verify", "jwks", "dev-issuer", "mint"] {
        ssoguard(&[cmd, "--help"], "")
            .await
            .assert_code(0)
            .assert_contains("Examples:");
    }
    ssoguard(&["verify", "--help"], "")
        .await
        .assert_contains("\"exit_code\"")
        .assert_contains("\"decisive\"");
    ssoguard(&["--help"], "")
        .await
        .assert_code(0)
        .assert_contains("Examples:");
}
