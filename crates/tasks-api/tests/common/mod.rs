//! Whole-app test harness: the real service on port 0, its own database (a SQLite file, or a
//! fresh Postgres schema when `TEST_DATABASE_URL` is set), and a dev issuer minting real tokens.

#![allow(dead_code, unreachable_pub)]

use ssoguard::Algorithm;
use ssoguard::dev::{DevIssuer, DevIssuerConfig};
use ssoguard::testing::{SigningKey, TestIssuer};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use tasks_api::config::Config;
use tasks_api::routes::AppState;
use tasks_api::startup::App;

pub mod skip;
#[allow(unused_imports)] // not every test binary skips
pub use skip::skip;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub dev: DevIssuer,
    pub http: reqwest::Client,
    pub backend: Backend,
    /// The running app's shared state (its verifier's metrics, its database).
    pub state: AppState,
    server: tokio::task::JoinHandle<()>,
    /// The SQLite file this app was given, removed (with its journal files) when it is dropped.
    sqlite_file: Option<String>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(path) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
    }
}

/// The Postgres URL for tests, if configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
}

/// A database URL of its own for one test.
pub async fn fresh_database(backend: Backend) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("tasks-api-test-{id}.db"));
            format!("sqlite://{}", path.display())
        }
        Backend::Postgres => {
            let url = postgres_url().expect("TEST_DATABASE_URL");
            let schema = format!("t_{id}");
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .await
                .expect("create schema");
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}options=-c%20search_path%3D{schema}")
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[]).await
    }

    /// Spawns with extra environment variables (they override the defaults here).
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
        Self::spawn_inner(backend, extra, false).await
    }

    /// Spawns while the SSO is down (connections refused) from the very start.
    pub async fn spawn_with_sso_down(backend: Backend) -> TestApp {
        Self::spawn_inner(backend, &[], true).await
    }

    async fn spawn_inner(backend: Backend, extra: &[(&str, &str)], sso_down: bool) -> TestApp {
        let keys = Algorithm::ALL
            .iter()
            .map(|alg| {
                SigningKey::generate(*alg, format!("k-{}", alg.as_str().to_lowercase()))
                    .expect("key")
            })
            .collect();
        let mut dev_config = DevIssuerConfig::with_keys(keys);
        dev_config.addr = "127.0.0.1:0".into();
        let dev = DevIssuer::start(dev_config).await.expect("dev issuer");
        if sso_down {
            dev.issuer().set_fault(Some(ssoguard::testing::Fault::Down));
        }
        let database_url = fresh_database(backend).await;
        let sqlite_file = database_url.strip_prefix("sqlite://").map(str::to_owned);
        let mut vars: HashMap<String, String> = [
            ("AUTH_SERVER_URL", dev.issuer().origin().to_string()),
            ("SSO_CLIENT_ID", dev.client_id().to_string()),
            ("SSO_API_KEY", dev.api_key().to_string()),
            ("DATABASE_URL", database_url),
            ("PORT", "0".to_string()),
            ("JWKS_REFETCH_COOLDOWN", "1s".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_string(), (*v).to_string());
        }
        let config = Config::from_lookup(false, |k| vars.get(k).cloned()).expect("config");
        let app = App::build(config).await.expect("app builds");
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let server = tokio::spawn(async move {
            let _ = app.run_until_stopped().await;
        });
        TestApp {
            base,
            dev,
            http: reqwest::Client::new(),
            backend,
            state,
            server,
            sqlite_file,
        }
    }

    pub fn issuer(&self) -> &TestIssuer {
        self.dev.issuer()
    }

    /// A token for `sub` with `role`.
    pub fn token(&self, sub: &str, role: &str) -> String {
        self.issuer()
            .token()
            .sub(sub)
            .email(&format!("{sub}@example.com"))
            .role(role)
            .sign()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn create_task(&self, token: &str, title: &str) -> serde_json::Value {
        let resp = self
            .post_json("/api/tasks", token, &serde_json::json!({"title": title}))
            .await;
        assert_eq!(resp.status(), 201);
        resp.json().await.expect("json")
    }
}

/// Runs an async test body against SQLite, and against Postgres when configured.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                if $crate::common::postgres_url().is_none() {
                    $crate::common::skip("set TEST_DATABASE_URL to run the Postgres variant");
                    return;
                }
                super::$name($crate::common::Backend::Postgres).await;
            }
        }
    };
}

/// Log lines captured from the whole test binary (TRACE level, no colours).
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Capture {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().map(|v| v.clone()).unwrap_or_default()).into_owned()
    }
}

/// Installs (once per test binary) a global TRACE subscriber writing into a buffer.
pub fn capture_logs() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(capture.clone())
            .with_ansi(false)
            .init();
        capture
    })
}

/// Panics if `text` contains any token or any 20-character slice of one.
pub fn assert_no_token_in(text: &str, tokens: &[&str]) {
    for token in tokens {
        let chars: Vec<char> = token.chars().collect();
        for window in chars.windows(20) {
            let slice: String = window.iter().collect();
            assert!(!text.contains(&slice), "a token slice leaked: {slice}");
        }
    }
}

/// One HTTP/1.1 keep-alive connection with its requests written by hand, so a test knows which
/// requests share a connection (a client's pool may open another one at any time).
pub struct OneConnection(tokio::io::BufReader<tokio::net::TcpStream>);

impl OneConnection {
    pub async fn open(app: &TestApp) -> OneConnection {
        let addr = app.base.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        OneConnection(tokio::io::BufReader::new(stream))
    }

    /// `GET path` with a bearer token: the status and the body.
    pub async fn get(&mut self, path: &str, token: &str) -> (u16, String) {
        use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: tasks-api\r\nAuthorization: Bearer {token}\r\n\r\n"
        );
        self.0
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("write");
        let (mut status, mut length, mut line) = (0, 0, String::new());
        loop {
            line.clear();
            self.0.read_line(&mut line).await.expect("read head");
            let line = line.trim_end();
            if status == 0 {
                status = line
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .expect("status line");
            } else if line.is_empty() {
                break;
            } else if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("content-length");
                }
            }
        }
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).await.expect("read body");
        (status, String::from_utf8(body).expect("utf-8 body"))
    }
}
