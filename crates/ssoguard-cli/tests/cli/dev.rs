//! `ssoguard dev-issuer` and `ssoguard mint`, as processes: one test per behaviour, each with its
//! own dev issuer process ([`DevIssuer::start`]).

use super::*;

/// A running `ssoguard dev-issuer` on a port it chose, with its keys file in a temporary folder.
struct DevIssuer {
    child: std::process::Child,
    /// Reads stdout to its end, so [`DevIssuer::stop`] can look at all of it.
    stdout: Option<std::thread::JoinHandle<String>>,
    /// `http://127.0.0.1:<port>`
    origin: String,
    keys: String,
    _dir: tempfile::TempDir,
}

/// What a stopped dev issuer printed, and how it ended.
struct Stopped {
    /// `None` when it did not exit within 10 s of SIGTERM.
    status: Option<std::process::ExitStatus>,
    stdout: String,
    stderr: String,
}

impl DevIssuer {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = dir.path().join("dev-keys.json");
        let keys = keys.to_str().expect("utf-8 path").to_string();
        // Port 0: the dev issuer binds a free port itself and names it in its banner (a port
        // picked here and released could be taken by another test's server in between).
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ssoguard"))
            .args(["dev-issuer", "--addr", "127.0.0.1:0", "--keys", &keys])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("dev-issuer starts");
        let out = child.stdout.take().expect("stdout");
        let (origin_tx, origin_rx) = tokio::sync::oneshot::channel();
        // Hands over the origin as soon as the banner's issuer line arrives.
        let stdout = std::thread::spawn(move || {
            use std::io::BufRead as _;
            let mut origin_tx = Some(origin_tx);
            let mut all = String::new();
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                let origin = line
                    .strip_prefix("issuer")
                    .and_then(|rest| rest.trim().strip_suffix("/api/auth"));
                if let Some(origin) = origin
                    && let Some(tx) = origin_tx.take()
                {
                    let _ = tx.send(origin.to_string());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let mut dev = DevIssuer {
            child,
            stdout: Some(stdout),
            origin: String::new(),
            keys,
            _dir: dir,
        };
        dev.origin = tokio::time::timeout(Duration::from_secs(30), origin_rx)
            .await
            .expect("the dev issuer printed its banner in time")
            .expect("an issuer line in the banner");
        let discovery = format!("{}/.well-known/openid-configuration", dev.issuer());
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !http
            .get(&discovery)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "the dev issuer did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        dev
    }

    /// `<origin>/api/auth`
    fn issuer(&self) -> String {
        format!("{}/api/auth", self.origin)
    }

    /// `ssoguard mint --keys <keys> --issuer <issuer> <args…>`: the token (exit 0 checked).
    async fn mint(&self, args: &[&str]) -> String {
        let issuer = self.issuer();
        let mut all = vec!["mint", "--keys", &self.keys, "--issuer", &issuer];
        all.extend_from_slice(args);
        let run = ssoguard(&all, "").await;
        run.assert_code(0);
        let token = run.stdout.trim().to_string();
        assert_eq!(token.split('.').count(), 3, "{token}");
        token
    }

    /// SIGTERM, then everything it printed.
    async fn stop(mut self) -> Stopped {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break Some(status);
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let _ = self.child.kill();
        let stdout = self
            .stdout
            .take()
            .expect("stdout reader")
            .join()
            .expect("stdout reader");
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            use std::io::Read as _;
            let _ = err.read_to_string(&mut stderr);
        }
        Stopped {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for DevIssuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ssoguard verify` against the dev issuer (audience `dev-client`), text output; the token never
/// appears in the output.
async fn verify_text(origin: &str, token: &str) -> Run {
    let run = ssoguard(
        &["verify", "--issuer", origin, "--audience", "dev-client"],
        token.to_string(),
    )
    .await;
    run.assert_no_leak(token);
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn a_minted_token_verifies_with_the_claims_it_was_given() {
    let dev = DevIssuer::start().await;
    let token = dev
        .mint(&[
            "--sub",
            "alice",
            "--email",
            "alice@example.com",
            "--role",
            "admin",
            "--ttl",
            "15m",
            "--claim",
            "organization_id=org-1",
            "--claim",
            "permissions=[\"tasks:read\"]",
        ])
        .await;
    let run = ssoguard(
        &[
            "verify",
            "--issuer",
            &dev.origin,
            "--audience",
            "dev-client",
            "--json",
        ],
        token.clone(),
    )
    .await;
    run.assert_code(0).assert_no_leak(&token);
    let json = run.json();
    assert_eq!(json["valid"], true);
    let claims = &json["claims"];
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["organization_id"], "org-1");
    assert_eq!(claims["permissions"], json!(["tasks:read"]));
    let lifetime = claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat");
    assert_eq!(lifetime, 900, "--ttl 15m");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_minted_with_a_past_exp_is_refused_as_expired() {
    let dev = DevIssuer::start().await;
    let expired = dev
        .mint(&["--sub", "alice", "--claim", "exp=1700000000"])
        .await;
    verify_text(&dev.origin, &expired)
        .await
        .assert_code(1)
        .assert_contains("expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_endpoint_of_the_printed_curl_line_issues_tokens_that_verify() {
    let dev = DevIssuer::start().await;
    let body: Value = reqwest::Client::new()
        .post(format!("{}/oauth2/token", dev.issuer()))
        .form(&[("grant_type", "urn:ssoguard:dev-user"), ("user", "alice")])
        .send()
        .await
        .expect("token endpoint")
        .json()
        .await
        .expect("json");
    let id_token = body["id_token"].as_str().expect("id_token");
    verify_text(&dev.origin, id_token).await.assert_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_banner_names_issuer_client_secret_api_key_users_and_a_curl_line() {
    let dev = DevIssuer::start().await;
    let issuer = dev.issuer();
    let out = dev.stop().await.stdout;
    assert!(out.contains(&format!("issuer         {issuer}")), "{out}");
    assert!(out.contains("client secret  dev-secret"), "{out}");
    assert!(out.contains("api key        dev-api-key"), "{out}");
    assert!(
        out.contains("alice (alice@example.com, role user)"),
        "{out}"
    );
    let curl = format!(
        "curl -s -X POST {issuer}/oauth2/token -d grant_type=urn:ssoguard:dev-user -d user=alice"
    );
    assert!(out.contains(&curl), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn it_warns_it_is_for_development_and_stops_cleanly_on_sigterm() {
    let stopped = DevIssuer::start().await.stop().await;
    assert!(
        stopped.stderr.contains("FOR DEVELOPMENT ONLY"),
        "{}",
        stopped.stderr
    );
    if cfg!(unix) {
        assert!(
            stopped.status.is_some_and(|s| s.success()),
            "{:?} {}",
            stopped.status,
            stopped.stderr
        );
    }
}

/// A keys file path that does not exist (mint refuses before reading it for bad arguments).
fn missing_keys(dir: &tempfile::TempDir) -> String {
    dir.path()
        .join("none.json")
        .to_str()
        .expect("path")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn mint_without_a_keys_file_exits_2_and_names_the_command_that_makes_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    ssoguard(&["mint", "--keys", &missing_keys(&dir), "--sub", "a"], "")
        .await
        .assert_code(2)
        .assert_contains("ssoguard dev-issuer --keys");
}

#[tokio::test(flavor = "multi_thread")]
async fn mint_with_a_garbage_keys_file_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{]").expect("write");
    let garbage = garbage.to_str().expect("path");
    ssoguard(&["mint", "--keys", garbage, "--sub", "a"], "")
        .await
        .assert_code(2)
        .assert_contains("not a dev issuer keys file");
}

#[tokio::test(flavor = "multi_thread")]
async fn mint_refuses_a_ttl_that_is_not_a_positive_duration_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = missing_keys(&dir);
    for ttl in ["-5m", "0s", "3w", "soon"] {
        let run = ssoguard(&["mint", "--keys", &keys, "--sub", "a", "--ttl", ttl], "").await;
        run.assert_code(2);
        if ttl == "-5m" {
            // A past expiry has its own spelling.
            run.assert_contains("--claim exp=");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mint_without_sub_or_with_a_claim_without_value_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = missing_keys(&dir);
    ssoguard(&["mint", "--keys", &keys], "")
        .await
        .assert_code(2);
    ssoguard(
        &["mint", "--keys", &keys, "--sub", "a", "--claim", "novalue"],
        "",
    )
    .await
    .assert_code(2);
}
