//! Child processes killed on drop (their output kept for failure messages), the gateway binary,
//! the FastAPI app under uvicorn, and an in-process echo upstream.

use super::{crate_dir, free_port, missing, temp_dir};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `GATEWAY_PYTHON`, else the venv `.ci/run` makes, if that file exists.
pub fn python_candidate() -> Option<PathBuf> {
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
pub async fn listening(addr: &str, what: &str, proc: &mut Proc) -> Result<(), String> {
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
pub async fn spawn_listening(what: &str, mut spawn: impl FnMut(u16) -> Proc) -> (Proc, String) {
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
