//! The README's run command, for real: the `tasks-api` binary in `--dev` mode prints a token and
//! curl lines that work; without `--dev` it trusts no dev issuer and names what is missing.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn dev_mode_prints_a_working_token_and_curl_lines() {
    let dir = std::env::temp_dir().join(format!("tasks-api-dev-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tasks-api"))
        .arg("--dev")
        .current_dir(&dir)
        .env_remove("SSO_CLIENT_ID")
        .env_remove("DATABASE_URL")
        .env_remove("AUTH_SERVER_URL")
        .env_remove("LOG_FORMAT")
        .env_remove("NO_COLOR")
        .env("PORT", "0")
        .env("DEV_ISSUER_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn tasks-api --dev");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stdout).lines();
    let (mut user_token, mut admin_token, mut me_curl) = (None, None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.expect("read") {
            if let Some(t) = line.strip_prefix("USER_TOKEN=") {
                user_token = Some(t.to_string());
            } else if let Some(t) = line.strip_prefix("ADMIN_TOKEN=") {
                admin_token = Some(t.to_string());
            } else if line.starts_with("curl -s http") && line.contains("/api/me") {
                me_curl = Some(line.clone());
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("banner within 30 s");
    let user_token = user_token.expect("USER_TOKEN printed");
    let admin_token = admin_token.expect("ADMIN_TOKEN printed");
    let me_curl = me_curl.expect("curl line printed");
    let url = me_curl
        .split_whitespace()
        .nth(2)
        .expect("url in the curl line")
        .to_string();
    assert!(me_curl.contains(&format!("Bearer {user_token}")));

    let http = reqwest::Client::new();
    let me: serde_json::Value = http
        .get(&url)
        .bearer_auth(&user_token)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["id"], "alice");
    let admin_url = url.replace("/api/me", "/api/admin/users/alice");
    let resp = http
        .get(&admin_url)
        .bearer_auth(&admin_token)
        .send()
        .await
        .expect("admin");
    assert_eq!(resp.status(), 200);

    // The loud warning is logged (stderr), and no token is.
    child.kill().await.expect("kill");
    let mut err_lines = BufReader::new(stderr).lines();
    let mut log = String::new();
    while let Ok(Some(line)) = err_lines.next_line().await {
        log.push_str(&line);
        log.push('\n');
    }
    assert!(log.contains("DEV MODE"), "{log}");
    assert!(!log.contains(&user_token[..40]));
    // stderr is a pipe here, not a terminal: plain text, no ANSI colour codes.
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a piped log: {log:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn without_dev_the_client_id_is_required() {
    // A directory of its own holding an empty `.env`: the binary loads the first `.env` found in
    // its working directory or a parent, so a stray one in the shared temp directory must not be
    // reached.
    let dir = std::env::temp_dir().join(format!(
        "tasks-api-no-client-id-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join(".env"), "# empty\n").expect(".env");
    let out = Command::new(env!("CARGO_BIN_EXE_tasks-api"))
        .env_remove("SSO_CLIENT_ID")
        .current_dir(&dir)
        .output()
        .await
        .expect("run");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SSO_CLIENT_ID is required"), "{stderr}");
}
