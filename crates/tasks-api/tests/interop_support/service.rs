//! The real tasks-api, in-process on port 0, and how the tests call it.

use super::{BetterAuth, CLIENT_ID};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tasks_api::config::Config;
use tasks_api::startup::App;

/// The real service on port 0 with its own SQLite file.
pub struct TasksApi {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Plain client.
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    db_path: PathBuf,
    verifier: ssoguard::Verifier,
    auth: ssoguard::axum::Auth,
}

impl Drop for TasksApi {
    fn drop(&mut self) {
        self.server.abort();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db_path.display()));
        }
    }
}

/// An answer from tasks-api.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate`, if any.
    pub challenge: Option<String>,
    /// The JSON body (`Null` when empty or not JSON).
    pub body: Value,
}

impl TasksApi {
    /// tasks-api configured with the documented variables for `sso` (`AUTH_SERVER_URL=<origin>`,
    /// `SSO_CLIENT_ID=rust-backend`), plus `extra` (which wins).
    pub async fn for_server(sso: &BetterAuth, extra: &[(&str, &str)]) -> TasksApi {
        let mut vars = vec![
            ("AUTH_SERVER_URL", sso.origin.as_str()),
            ("SSO_CLIENT_ID", CLIENT_ID),
        ];
        vars.extend_from_slice(extra);
        Self::start(&vars).await
    }

    /// tasks-api with exactly these variables, plus `DATABASE_URL` (fresh SQLite), `PORT=0` and
    /// `JWKS_REFETCH_COOLDOWN=1s` unless given.
    pub async fn start(vars: &[(&str, &str)]) -> TasksApi {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db_path = std::env::temp_dir().join(format!("tasks-api-interop-{id}.db"));
        let mut map: HashMap<String, String> = [
            ("DATABASE_URL", format!("sqlite://{}", db_path.display())),
            ("PORT", "0".to_string()),
            ("JWKS_REFETCH_COOLDOWN", "1s".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in vars {
            map.insert((*k).to_string(), (*v).to_string());
        }
        let config = Config::from_lookup(false, |k| map.get(k).cloned()).expect("config");
        let app = App::build(config).await.expect("tasks-api builds");
        let base = format!("http://{}", app.local_addr());
        let verifier = app.state().auth.verifier().clone();
        let auth = app.state().auth.clone();
        let server = tokio::spawn(async move {
            let _ = app.run_until_stopped().await;
        });
        TasksApi {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            server,
            db_path,
            verifier,
            auth,
        }
    }

    /// The session-cookie verifier's counters (lookups, cache hits), when sessions are on.
    pub fn session_metrics(&self) -> Option<ssoguard::MetricsSnapshot> {
        self.auth
            .sessions()
            .map(ssoguard::session::SessionVerifier::metrics)
    }

    /// Why the signing keys are unavailable, as the service logs it (`/ready` never says why).
    pub fn keys_last_error(&self) -> Option<String> {
        self.verifier.key_status().last_error
    }

    async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp.bytes().await.expect("body");
        Reply {
            status,
            challenge,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// `GET path` with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        Self::reply(resp).await
    }

    /// `POST path` with a JSON body and a bearer token.
    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Reply {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request");
        Self::reply(resp).await
    }

    /// `GET /ready` (no token): 200 once keys are loaded, else 503 with `last_error`.
    pub async fn ready(&self) -> Reply {
        let resp = self
            .http
            .get(format!("{}/ready", self.base))
            .send()
            .await
            .expect("request");
        Self::reply(resp).await
    }

    /// `/api/me`, which must answer 200.
    pub async fn me(&self, token: &str) -> Value {
        let reply = self.get("/api/me", token).await;
        assert_eq!(reply.status, 200, "/api/me: {reply:?}");
        reply.body
    }

    /// `/api/me` must answer 401 `invalid_token`; returns the `error_description`.
    pub async fn refused(&self, token: &str) -> String {
        let reply = self.get("/api/me", token).await;
        assert_eq!(reply.status, 401, "/api/me must refuse: {reply:?}");
        let challenge = reply.challenge.expect("WWW-Authenticate");
        assert!(
            challenge.starts_with("Bearer realm=\"tasks-api\", error=\"invalid_token\""),
            "{challenge}"
        );
        challenge
            .split("error_description=\"")
            .nth(1)
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no error_description in {challenge}"))
            .to_string()
    }

    /// Asserts `/api/me` refuses `token` with exactly `reason`.
    pub async fn assert_refused(&self, token: &str, reason: &str, what: &str) {
        let got = self.refused(token).await;
        assert_eq!(got, reason, "{what}");
    }
}
