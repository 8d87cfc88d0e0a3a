//! A real Better Auth server (`interop/better-auth/start.sh`) and the users signed up at it.

use super::processes::{Proc, spawn_listening};
use super::{crate_dir, free_port, missing, on_path, temp_dir};
use serde_json::{Value, json};
use std::path::PathBuf;
use tokio::process::Command;

/// Node for Better Auth, or a loud skip.
pub fn node_ready() -> bool {
    let interop = interop_dir();
    if on_path("node").is_none() {
        return missing("SKIPPED: Better Auth needs Node.js (`node` is not on PATH)");
    }
    if !interop.join("node_modules").is_dir() && on_path("npm").is_none() {
        return missing("SKIPPED: Better Auth needs npm to install its node_modules");
    }
    true
}

/// `interop/better-auth`.
pub fn interop_dir() -> PathBuf {
    crate_dir().join("../../interop/better-auth")
}

/// The seeded admin (interop/better-auth README).
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password-123";

/// A real Better Auth server whose jwt-plugin tokens carry `iss = <origin>/api/auth` and
/// `aud = rust-backend` (`BA_JWT_ISSUER`/`BA_JWT_AUDIENCE`), as the gateway's config expects.
pub struct BetterAuth {
    pub proc: Proc,
    pub origin: String,
    http: reqwest::Client,
}

impl BetterAuth {
    pub async fn start(alg: &str) -> BetterAuth {
        Self::start_with(alg, &[]).await
    }

    /// [`start`](Self::start) with extra switches of server.mjs (e.g. `BA_API_KEYS=1`).
    pub async fn start_with(alg: &str, switches: &[(&str, &str)]) -> BetterAuth {
        let name = format!("Better Auth ({alg})");
        // The issuer names the port, so the port is chosen here (see `spawn_listening`).
        let (proc, addr) = spawn_listening(&name, |port| {
            let dir = temp_dir("better-auth");
            let mut cmd = Command::new("bash");
            cmd.arg(interop_dir().join("start.sh"))
                .env("PORT", port.to_string())
                .env("BA_DB", dir.join("auth.db"))
                .env("BA_ALG", alg)
                .env("BA_JWT_ISSUER", format!("http://127.0.0.1:{port}/api/auth"))
                .env("BA_JWT_AUDIENCE", "rust-backend")
                .envs(switches.iter().copied());
            Proc::spawn(&name, cmd, Some(dir))
        })
        .await;
        let mut proc = proc;
        proc.wait_for_line("READY ").await;
        let origin = format!("http://{addr}");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        BetterAuth { proc, origin, http }
    }

    /// `host:port`.
    pub fn host(&self) -> String {
        self.origin.trim_start_matches("http://").to_string()
    }

    async fn session_token(&self, path: &str, body: Value) -> String {
        let resp = self
            .http
            .post(format!("{}/api/auth/{path}", self.origin))
            .header("origin", &self.origin)
            .json(&body)
            .send()
            .await
            .expect("Better Auth reachable");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.headers()
            .get("set-auth-token")
            .and_then(|v| v.to_str().ok())
            .expect("set-auth-token")
            .to_string()
    }

    /// A new user signed up over HTTP (`POST /sign-up/email`): its id, its session cookie
    /// (`better-auth.session_token=…`) and its bearer-plugin session token.
    pub async fn sign_up(&self, name: &str) -> SignedUp {
        let resp = self
            .http
            .post(format!("{}/api/auth/sign-up/email", self.origin))
            .header("origin", &self.origin)
            .json(&json!({
                "email": format!("{name}-{}@example.com", free_port()),
                "password": "user-password-123",
                "name": name,
            }))
            .send()
            .await
            .expect("Better Auth reachable");
        assert!(resp.status().is_success(), "sign-up: {}", resp.status());
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next())
            .find(|c| c.starts_with("better-auth.session_token=") && !c.ends_with('='))
            .expect("a session cookie")
            .to_owned();
        let bearer = resp
            .headers()
            .get("set-auth-token")
            .and_then(|v| v.to_str().ok())
            .expect("set-auth-token")
            .to_owned();
        let body: Value = resp.json().await.expect("sign-up JSON");
        let user_id = body["user"]["id"].as_str().expect("user id").to_owned();
        SignedUp {
            user_id,
            cookie,
            bearer,
        }
    }

    /// A call to the API-key plugin (`BA_API_KEYS=1`) as `user`: its JSON answer.
    pub async fn api_key_call(&self, user: &SignedUp, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/api/auth/api-key/{path}", self.origin))
            .header("origin", &self.origin)
            .bearer_auth(&user.bearer)
            .json(&body)
            .send()
            .await
            .expect("Better Auth reachable");
        let status = resp.status();
        let body: Value = resp.json().await.expect("plugin JSON");
        assert!(status.is_success(), "api-key/{path}: {status} {body}");
        body
    }

    /// A jwt-plugin token (`GET /api/auth/token`) for a session.
    async fn jwt(&self, session: &str) -> String {
        let body: Value = self
            .http
            .get(format!("{}/api/auth/token", self.origin))
            .bearer_auth(session)
            .send()
            .await
            .expect("token endpoint")
            .json()
            .await
            .expect("token JSON");
        body["token"].as_str().expect("token").to_string()
    }

    /// A new user's token (role `user`).
    pub async fn user_token(&self, name: &str) -> String {
        let email = format!("{name}-{}@example.com", free_port());
        let session = self
            .session_token(
                "sign-up/email",
                json!({"email": email, "password": "user-password-123", "name": name}),
            )
            .await;
        self.jwt(&session).await
    }

    /// The seeded admin's token (role `admin`).
    pub async fn admin_token(&self) -> String {
        let session = self
            .session_token(
                "sign-in/email",
                json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            )
            .await;
        self.jwt(&session).await
    }
}

/// A user signed up at [`BetterAuth`].
pub struct SignedUp {
    pub user_id: String,
    /// `better-auth.session_token=…`
    pub cookie: String,
    /// The bearer plugin's session token (for plugin calls).
    pub bearer: String,
}
