//! Interop harness: real Better Auth servers (`interop/better-auth/start.sh`) talked to over HTTP
//! the way a Next.js front end and its server side would, and the real tasks-api in-process.
//! No mocks: every token here was minted by Better Auth.

#![allow(dead_code, unreachable_pub)]

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tasks_api::config::Config;
use tasks_api::startup::App;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

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

/// True when the interop tests can run. Otherwise prints a loud `SKIPPED` line and returns
/// false, or panics when `CI` is set (CI must never skip silently).
pub fn prerequisites_met() -> bool {
    let missing = if !on_path("node") {
        Some("SKIPPED: interop tests need Node.js (`node` is not on PATH)")
    } else if !interop_dir().join("node_modules").is_dir() && !on_path("npm") {
        Some(
            "SKIPPED: interop tests need npm to install interop/better-auth/node_modules \
             (`npm` is not on PATH)",
        )
    } else {
        None
    };
    match missing {
        None => true,
        Some(message) if std::env::var_os("CI").is_some() => {
            panic!("{message}; CI is set, so this is a failure, not a skip")
        }
        Some(message) => {
            loud(message);
            false
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Better Auth server
// ---------------------------------------------------------------------------------------------

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

/// A running Better Auth server (`start.sh`), killed and its database deleted on drop.
pub struct BetterAuth {
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    /// `BA_ALG`.
    pub alg: String,
    /// `BA_BASE_PATH` (default `/api/auth`).
    pub base_path: String,
    /// The OAuth issuer: `BA_JWT_ISSUER` when set (the oauth-provider plugin takes the jwt
    /// plugin's issuer), else `<origin><base_path>`.
    pub issuer: String,
    /// The setup it runs in (package set and database), for failure messages.
    pub setup: Setup,
    /// The `better-auth` version it runs (from its start log line).
    pub version: String,
    /// Client for Better Auth: redirects off, no cookie store (cookies are copied by hand).
    pub http: reqwest::Client,
    child: Child,
    _stdout: BufReader<ChildStdout>,
    log: Arc<Mutex<Vec<String>>>,
    dir: PathBuf,
    /// The Postgres database it owns (dropped with it).
    database: Option<(String, String)>,
}

impl Drop for BetterAuth {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            let log = self.log.lock().map(|l| l.join("\n")).unwrap_or_default();
            eprintln!(
                "--- Better Auth {} ({}, setup: {}) stderr ---\n{log}\n---",
                self.origin, self.alg, self.setup
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin_url, name)) = self.database.take() {
            drop_database(admin_url, name);
        }
    }
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
    /// The newest published better-auth (`interop/better-auth/latest/`) on SQLite.
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

impl BetterAuth {
    /// Starts a server for `alg` on a free port with a fresh database and extra `env`.
    pub async fn start(alg: &str, env: &[(&str, &str)]) -> BetterAuth {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        Self::start_env(alg, &env).await
    }

    /// [`BetterAuth::start`] with owned variables.
    pub async fn start_env(alg: &str, env: &[(String, String)]) -> BetterAuth {
        Self::start_in(Setup::current(), alg, env).await
    }

    /// [`BetterAuth::start_env`] in a given setup (package set and database), whatever
    /// `SSOGUARD_INTEROP_SETUP` says.
    pub async fn start_in(setup: Setup, alg: &str, env: &[(String, String)]) -> BetterAuth {
        match Self::spawn(setup, alg, 0, env).await {
            Ok(server) => server,
            Err(e) => panic!("Better Auth ({alg}) did not start: {}", e.message),
        }
    }

    /// Starts a server whose environment depends on its own origin (e.g. `BA_JWT_ISSUER`): the
    /// port is reserved first, and the start retried on the rare port clash.
    pub async fn start_with_origin(
        alg: &str,
        env: &[(String, String)],
        origin_env: impl Fn(&str) -> Vec<(String, String)>,
    ) -> BetterAuth {
        let mut last = String::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("reserve a port")
                .port();
            let mut all = env.to_vec();
            all.extend(origin_env(&format!("http://127.0.0.1:{port}")));
            match Self::spawn(Setup::current(), alg, port, &all).await {
                Ok(server) => return server,
                // 1 = EADDRINUSE and other start failures: another process took the port.
                Err(e) if e.code == Some(1) => last = e.message,
                Err(e) => panic!("Better Auth ({alg}) did not start: {}", e.message),
            }
        }
        panic!("Better Auth ({alg}) did not start on a reserved port: {last}")
    }

    async fn spawn(
        setup: Setup,
        alg: &str,
        port: u16,
        env: &[(String, String)],
    ) -> Result<BetterAuth, StartError> {
        let (setup_env, database) = setup.server_env().await;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("ssoguard-interop-{id}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let var = |name: &str| {
            env.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let base_path = var("BA_BASE_PATH").unwrap_or_else(|| "/api/auth".into());
        let jwt_issuer = var("BA_JWT_ISSUER");
        let mut cmd = Command::new("bash");
        cmd.arg(interop_dir().join("start.sh"))
            .env("PORT", port.to_string())
            .env("BA_DB", dir.join("auth.db"))
            .env("BA_ALG", alg)
            .envs(setup_env.iter().map(|(k, v)| (k, v)))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .expect("spawn bash interop/better-auth/start.sh");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("start.sh:") {
                    // npm ci progress: worth seeing live, it takes a minute.
                    loud(&line);
                }
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let started = Instant::now();
        let mut line = String::new();
        let read = tokio::time::timeout(READY_TIMEOUT, stdout.read_line(&mut line)).await;
        let fail = |mut child: Child, code: Option<i32>, what: String| {
            let _ = child.start_kill();
            let _ = std::fs::remove_dir_all(&dir);
            if let Some((url, name)) = database.clone() {
                drop_database(url, name);
            }
            let log = log.lock().map(|l| l.join("\n")).unwrap_or_default();
            StartError {
                code,
                message: format!("setup: {setup}: {what}\n--- stderr ---\n{log}"),
            }
        };
        match read {
            Ok(Ok(n)) if n > 0 && line.starts_with("READY ") => {
                let origin = line["READY ".len()..].trim().to_string();
                let http = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("http client");
                let version = log
                    .lock()
                    .ok()
                    .and_then(|l| {
                        l.iter().find_map(|line| {
                            line.split_once("better-auth=")
                                .and_then(|(_, rest)| rest.split_whitespace().next())
                                .map(str::to_string)
                        })
                    })
                    .unwrap_or_default();
                eprintln!(
                    "Better Auth {version} {alg} ready at {origin} in {:.1}s ({setup})",
                    started.elapsed().as_secs_f64()
                );
                let issuer = jwt_issuer.unwrap_or_else(|| format!("{origin}{base_path}"));
                Ok(BetterAuth {
                    origin,
                    alg: alg.to_string(),
                    base_path,
                    issuer,
                    setup,
                    version,
                    database,
                    http,
                    child,
                    _stdout: stdout,
                    log,
                    dir,
                })
            }
            Ok(_) => {
                // EOF (or garbage): the process is exiting; collect its code and stderr.
                let code = tokio::time::timeout(Duration::from_secs(10), child.wait())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .and_then(|s| s.code());
                tokio::time::sleep(Duration::from_millis(100)).await;
                Err(fail(
                    child,
                    code,
                    format!("exited with {code:?}, stdout {line:?}"),
                ))
            }
            Err(_) => Err(fail(
                child,
                None,
                format!("no READY line within {READY_TIMEOUT:?}"),
            )),
        }
    }

    /// The SQLite file it keeps its tables in (`None` on Postgres).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.database.is_none().then(|| self.dir.join("auth.db"))
    }

    /// The URL of the Postgres database it keeps its tables in (Postgres setup only).
    pub fn postgres_url(&self) -> Option<String> {
        self.database
            .as_ref()
            .map(|(url, name)| database_url(url, name))
    }

    /// `<origin><basePath>` (`<origin>/api/auth` by default): the base of every endpoint.
    pub fn base(&self) -> String {
        format!("{}{}", self.origin, self.base_path)
    }

    /// The issuer Better Auth puts in `iss` (and in its discovery document): `<origin>/api/auth`
    /// unless `BA_BASE_PATH` or `BA_JWT_ISSUER` say otherwise.
    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }

    /// The server's stderr so far.
    pub fn stderr(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// `GET /.well-known/openid-configuration`.
    pub async fn discovery(&self) -> Value {
        let resp = self
            .http
            .get(self.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery");
        assert_eq!(resp.status(), 200, "discovery");
        resp.json().await.expect("discovery json")
    }

    /// `GET <origin>/.well-known/openid-configuration` (the docs' root alias): status and body.
    pub async fn root_discovery(&self) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}/.well-known/openid-configuration", self.origin))
            .send()
            .await
            .expect("root discovery");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The `kid`s currently in `GET /jwks`.
    pub async fn jwks_kids(&self) -> Vec<String> {
        let jwks: Value = self
            .http
            .get(self.url("/jwks"))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("jwks json");
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_string())
            .collect()
    }

    /// `POST /sign-up/email`: the new user is signed in right away.
    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> Session {
        let resp = self
            .http
            .post(self.url("/sign-up/email"))
            .header("origin", FRONTEND_ORIGIN)
            .json(&json!({"email": email, "password": password, "name": name}))
            .send()
            .await
            .expect("sign-up");
        Session::from_response(self, resp, "sign-up").await.0
    }

    /// `POST /sign-in/email`.
    pub async fn sign_in(&self, email: &str, password: &str) -> Session {
        let resp = self
            .http
            .post(self.url("/sign-in/email"))
            .header("origin", FRONTEND_ORIGIN)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("sign-in");
        Session::from_response(self, resp, "sign-in").await.0
    }

    /// Signs up a fresh user with a unique address.
    pub async fn new_user(&self, name: &str) -> Session {
        let email = format!(
            "{}-{}@example.com",
            name.to_lowercase().replace(' ', "-"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        self.sign_up(&email, "user-password-123", name).await
    }

    /// The Next.js login: the front end sends the browser to `/oauth2/authorize` (code + PKCE
    /// S256), Better Auth redirects to the login page with a signed query, the login page posts
    /// the credentials with that query, and Better Auth answers with the callback URL carrying
    /// the code; the server side then exchanges the code (`client_secret_basic`).
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        resource: Option<&str>,
    ) -> (Session, Tokens) {
        let request = AuthorizeRequest::new(resource);
        let resp = self
            .http
            .get(self.url("/oauth2/authorize"))
            .query(&request.params())
            .send()
            .await
            .expect("authorize");
        assert_eq!(resp.status(), 302, "authorize without a session");
        let location = location(&resp);
        let login_page = format!("{}/login?", self.origin);
        assert!(
            location.starts_with(&login_page),
            "authorize without a session must redirect to the login page, got {location}"
        );
        let oauth_query = &location[login_page.len()..];
        assert!(
            oauth_query.contains("sig="),
            "signed login query: {oauth_query}"
        );
        let resp = self
            .http
            .post(self.url("/sign-in/email"))
            .header("origin", FRONTEND_ORIGIN)
            .json(&json!({"email": email, "password": password, "oauth_query": oauth_query}))
            .send()
            .await
            .expect("sign-in with oauth_query");
        let (session, body) = Session::from_response(self, resp, "sign-in with oauth_query").await;
        assert_eq!(body["redirect"], true, "{body}");
        let callback = body["url"].as_str().expect("callback url").to_string();
        let code = request.code_from_callback(&callback, &self.issuer());
        let tokens = self.exchange_code(&code, &request, resource).await;
        (session, tokens)
    }

    /// Code + PKCE for a user who is already signed in (session cookie, as a browser sends it).
    pub async fn authorize(&self, session: &Session, resource: Option<&str>) -> Tokens {
        let request = AuthorizeRequest::new(resource);
        let resp = self
            .http
            .get(self.url("/oauth2/authorize"))
            .query(&request.params())
            .header("cookie", &session.cookie)
            .send()
            .await
            .expect("authorize");
        assert_eq!(resp.status(), 302, "authorize with a session");
        let code = request.code_from_callback(&location(&resp), &self.issuer());
        self.exchange_code(&code, &request, resource).await
    }

    async fn exchange_code(
        &self,
        code: &str,
        request: &AuthorizeRequest,
        resource: Option<&str>,
    ) -> Tokens {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &request.verifier),
        ];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let mut tokens = self.token_request(&form).await;
        let claims = jwt_claims(&tokens.id_token);
        assert_eq!(
            claims["nonce"].as_str(),
            Some(request.nonce.as_str()),
            "id_token nonce"
        );
        tokens.nonce = Some(request.nonce.clone());
        tokens
    }

    /// The refresh-token grant.
    pub async fn refresh(&self, refresh_token: &str) -> Tokens {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// `POST /oauth2/token` (form, `client_secret_basic`), expecting 200 with an id_token.
    async fn token_request(&self, form: &[(&str, &str)]) -> Tokens {
        let body = self.token_endpoint(form).await;
        Tokens {
            id_token: body["id_token"].as_str().expect("id_token").to_string(),
            access_token: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_string(),
            refresh_token: body["refresh_token"].as_str().map(str::to_string),
            nonce: None,
        }
    }

    /// `POST /oauth2/token` (form, `client_secret_basic`), expecting 200.
    pub async fn token_endpoint(&self, form: &[(&str, &str)]) -> Value {
        let resp = self
            .http
            .post(self.url("/oauth2/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .expect("token endpoint");
        let status = resp.status();
        let body: Value = resp.json().await.expect("token json");
        assert_eq!(status, 200, "token endpoint {form:?}: {body}");
        body
    }

    /// `POST /oauth2/revoke` (form, `client_secret_basic`) of an opaque access token.
    pub async fn revoke_access_token(&self, token: &str) {
        let resp = self
            .http
            .post(self.url("/oauth2/revoke"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .expect("revoke");
        assert_eq!(resp.status(), 200, "revoke");
    }

    /// Admin plugin `POST /admin/set-role` with the admin's bearer session token.
    pub async fn set_role(&self, admin: &Session, user_id: &str, roles: &[&str]) {
        let body = self
            .admin_post(
                "/admin/set-role",
                admin,
                &json!({"userId": user_id, "role": roles}),
            )
            .await;
        assert_eq!(body["user"]["role"], roles.join(","), "{body}");
    }

    /// Admin plugin `POST /admin/update-user`.
    pub async fn update_user(&self, admin: &Session, user_id: &str, data: Value) {
        self.admin_post(
            "/admin/update-user",
            admin,
            &json!({"userId": user_id, "data": data}),
        )
        .await;
    }

    async fn admin_post(&self, path: &str, admin: &Session, body: &Value) -> Value {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(&admin.bearer)
            .json(body)
            .send()
            .await
            .expect("admin call");
        let status = resp.status();
        let body: Value = resp.json().await.expect("admin json");
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// The jwt plugin's `GET /token`, with a bearer session token.
    pub async fn jwt_plugin_token(&self, session: &Session) -> String {
        let resp = self
            .http
            .get(self.url("/token"))
            .bearer_auth(&session.bearer)
            .send()
            .await
            .expect("/token");
        assert_eq!(resp.status(), 200, "/token");
        let body: Value = resp.json().await.expect("json");
        body["token"].as_str().expect("token").to_string()
    }
}

/// A Better Auth session, as sign-up/sign-in return it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user's id (`sub` of their tokens).
    pub user_id: String,
    /// Their email.
    pub email: String,
    /// `better-auth.session_token=…`, as a browser sends it back.
    pub cookie: String,
    /// The `set-auth-token` header (bearer plugin): the session token for `Authorization`.
    pub bearer: String,
}

impl Session {
    /// The session from a sign-up/sign-in answer. The sign-in that completes an authorization
    /// answers `{"redirect":true,"url":…}` without the user, which then comes from
    /// `GET /get-session` (as the front end's `useSession` would fetch it).
    async fn from_response(
        sso: &BetterAuth,
        resp: reqwest::Response,
        what: &str,
    ) -> (Session, Value) {
        let status = resp.status();
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("better-auth.session_token="))
            .map(|v| v.split(';').next().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("{what}: no session cookie"));
        let bearer = resp
            .headers()
            .get("set-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{what}: no set-auth-token header"));
        let body: Value = resp.json().await.expect("json");
        assert_eq!(status, 200, "{what}: {body}");
        let user = if body["user"].is_object() {
            body["user"].clone()
        } else {
            let session: Value = sso
                .http
                .get(sso.url("/get-session"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("get-session")
                .json()
                .await
                .expect("get-session json");
            session["user"].clone()
        };
        let session = Session {
            user_id: user["id"].as_str().expect("user.id").to_string(),
            email: user["email"].as_str().expect("user.email").to_string(),
            cookie,
            bearer,
        };
        (session, body)
    }
}

/// What the token endpoint returned.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The OIDC id_token (aud = client id).
    pub id_token: String,
    /// Opaque, or a JWT when a `resource` was requested.
    pub access_token: String,
    /// Present with `offline_access`.
    pub refresh_token: Option<String>,
    /// The nonce sent on the authorize request (and found in the id_token).
    pub nonce: Option<String>,
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location header")
        .to_string()
}

fn random_b64(bytes: usize) -> String {
    let mut buf = Vec::with_capacity(bytes + 16);
    while buf.len() < bytes {
        buf.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    buf.truncate(bytes);
    URL_SAFE_NO_PAD.encode(buf)
}

/// One authorization request: PKCE S256 pair, state and nonce.
struct AuthorizeRequest {
    verifier: String,
    challenge: String,
    state: String,
    nonce: String,
    resource: Option<String>,
}

impl AuthorizeRequest {
    fn new(resource: Option<&str>) -> Self {
        let verifier = random_b64(32);
        let challenge =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
        AuthorizeRequest {
            verifier,
            challenge,
            state: random_b64(12),
            nonce: random_b64(12),
            resource: resource.map(str::to_string),
        }
    }

    fn params(&self) -> Vec<(&str, &str)> {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile email offline_access"),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.challenge),
            ("code_challenge_method", "S256"),
        ];
        if let Some(resource) = &self.resource {
            params.push(("resource", resource));
        }
        params
    }

    /// Checks the callback (redirect URI, state, RFC 9207 `iss`) and returns the code.
    fn code_from_callback(&self, callback: &str, issuer: &str) -> String {
        let url = reqwest::Url::parse(callback).expect("callback URL");
        assert!(callback.starts_with(REDIRECT_URI), "callback {callback}");
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q.get("state"),
            Some(&self.state),
            "state echoed: {callback}"
        );
        assert_eq!(
            q.get("iss").map(String::as_str),
            Some(issuer),
            "iss: {callback}"
        );
        q.get("code")
            .unwrap_or_else(|| panic!("no code in {callback}"))
            .clone()
    }
}

// ---------------------------------------------------------------------------------------------
// JWT inspection and tampering (no verification: that is tasks-api's job)
// ---------------------------------------------------------------------------------------------

fn segment(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("JWT segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// The decoded JOSE header.
pub fn jwt_header(token: &str) -> Value {
    segment(token, 0)
}

/// The decoded claims.
pub fn jwt_claims(token: &str) -> Value {
    segment(token, 1)
}

/// The header's `kid`.
pub fn kid(token: &str) -> String {
    jwt_header(token)["kid"].as_str().expect("kid").to_string()
}

/// The token with segment `i` (0 header, 1 claims) re-encoded after `edit`; the signature is
/// kept, so it no longer matches.
pub fn tamper(token: &str, i: usize, edit: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut value = segment(token, i);
    edit(&mut value);
    parts[i] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).expect("json"));
    parts.join(".")
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("time")
}

// ---------------------------------------------------------------------------------------------
// tasks-api, in-process
// ---------------------------------------------------------------------------------------------

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
    /// tasks-api configured with the seed's variables for `sso` (`AUTH_SERVER_URL=<origin>`,
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
