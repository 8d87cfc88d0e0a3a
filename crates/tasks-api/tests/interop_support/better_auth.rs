//! Starting and stopping a real Better Auth server (`interop/better-auth/start.sh`) and reading
//! its discovery document and key set.

use super::{READY_TIMEOUT, Setup, StartError, database_url, drop_database, interop_dir, loud};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

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

    /// Better Auth's own database, as a reader of its tables connects to it: the Postgres
    /// database of a Postgres setup, else `sqlite://<BA_DB>`.
    pub fn database_url(&self) -> String {
        match &self.database {
            Some((url, name)) => database_url(url, name),
            None => format!("sqlite://{}", self.dir.join("auth.db").display()),
        }
    }

    /// The server's stderr so far.
    pub fn stderr(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    pub(super) fn url(&self, path: &str) -> String {
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
}
