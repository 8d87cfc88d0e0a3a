//! `ssoguard dev-issuer` and `ssoguard mint`, as processes: mint, verify against the dev
//! issuer, and the refused arguments.

use super::*;

struct DevProcess {
    child: std::process::Child,
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mint_and_verify_round_trip_against_a_dev_issuer_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("dev-keys.json");
    let keys = keys.to_str().expect("utf-8 path").to_string();
    // Port 0: the dev issuer binds a free port itself and names it in its banner (a port picked
    // here and released could be taken by another test's server in between).
    let mut dev = DevProcess {
        child: std::process::Command::new(env!("CARGO_BIN_EXE_ssoguard"))
            .args(["dev-issuer", "--addr", "127.0.0.1:0", "--keys", &keys])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("dev-issuer starts"),
    };
    let stdout = dev.child.stdout.take().expect("stdout");
    let (origin_tx, origin_rx) = tokio::sync::oneshot::channel();
    // Reads stdout to its end (the assertions at the bottom look at all of it) and hands over
    // the origin as soon as the banner's issuer line arrives.
    let stdout_reader = std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut origin_tx = Some(origin_tx);
        let mut all = String::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
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
    let origin = tokio::time::timeout(Duration::from_secs(30), origin_rx)
        .await
        .expect("the dev issuer printed its banner in time")
        .expect("an issuer line in the banner");
    let http = reqwest::Client::new();
    let discovery = format!("{origin}/api/auth/.well-known/openid-configuration");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if http
            .get(&discovery)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(Instant::now() < deadline, "the dev issuer did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let issuer = format!("{origin}/api/auth");
    let minted = ssoguard(
        &[
            "mint",
            "--keys",
            &keys,
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
            "--issuer",
            &issuer,
        ],
        "",
    )
    .await;
    minted.assert_code(0);
    let token = minted.stdout.trim().to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let run = ssoguard(
        &[
            "verify",
            "--issuer",
            &origin,
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
    assert_eq!(json["claims"]["sub"], "alice");
    assert_eq!(json["claims"]["role"], "admin");
    assert_eq!(json["claims"]["organization_id"], "org-1");
    assert_eq!(json["claims"]["permissions"], json!(["tasks:read"]));
    let exp = json["claims"]["exp"].as_i64().expect("exp");
    let iat = json["claims"]["iat"].as_i64().expect("iat");
    assert_eq!(exp - iat, 900);

    // An expired one, minted with an exp in the past.
    let expired = ssoguard(
        &[
            "mint",
            "--keys",
            &keys,
            "--sub",
            "alice",
            "--issuer",
            &issuer,
            "--claim",
            "exp=1700000000",
        ],
        "",
    )
    .await;
    let expired = expired.stdout.trim().to_string();
    verify_text(&origin, &expired)
        .await
        .assert_code(1)
        .assert_contains("expired");

    // The token endpoint (what the printed curl line calls) issues tokens that verify too.
    let body: Value = http
        .post(format!("{issuer}/oauth2/token"))
        .form(&[("grant_type", "urn:ssoguard:dev-user"), ("user", "alice")])
        .send()
        .await
        .expect("token endpoint")
        .json()
        .await
        .expect("json");
    let id_token = body["id_token"].as_str().expect("id_token");
    verify_text(&origin, id_token).await.assert_code(0);

    // SIGTERM stops it cleanly; it printed the banner, the issuer and the curl line.
    let pid = dev.child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = dev.child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = dev.child.kill();
    let stdout = stdout_reader.join().expect("stdout reader");
    let mut stderr = String::new();
    use std::io::Read as _;
    if let Some(mut err) = dev.child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert!(stderr.contains("FOR DEVELOPMENT ONLY"), "{stderr}");
    assert!(
        stdout.contains(&format!("issuer         {issuer}")),
        "{stdout}"
    );
    assert!(stdout.contains("client secret  dev-secret"), "{stdout}");
    assert!(stdout.contains("api key        dev-api-key"), "{stdout}");
    assert!(
        stdout.contains("alice (alice@example.com, role user)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "curl -s -X POST {issuer}/oauth2/token -d grant_type=urn:ssoguard:dev-user -d user=alice"
        )),
        "{stdout}"
    );
    if cfg!(unix) {
        assert!(status.is_some_and(|s| s.success()), "{status:?} {stderr}");
    }
}

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
async fn mint_refuses_bad_arguments_with_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.json");
    let missing = missing.to_str().expect("path");
    ssoguard(&["mint", "--keys", missing, "--sub", "a"], "")
        .await
        .assert_code(2)
        .assert_contains("ssoguard dev-issuer --keys");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{]").expect("write");
    ssoguard(
        &[
            "mint",
            "--keys",
            garbage.to_str().expect("path"),
            "--sub",
            "a",
        ],
        "",
    )
    .await
    .assert_code(2)
    .assert_contains("not a dev issuer keys file");
    for ttl in ["-5m", "0s", "3w", "soon"] {
        let run = ssoguard(&["mint", "--keys", missing, "--sub", "a", "--ttl", ttl], "").await;
        run.assert_code(2);
        if ttl == "-5m" {
            run.assert_contains("--claim exp=");
        }
    }
    ssoguard(&["mint", "--keys", missing], "")
        .await
        .assert_code(2);
    ssoguard(
        &[
            "mint", "--keys", missing, "--sub", "a", "--claim", "novalue",
        ],
        "",
    )
    .await
    .assert_code(2);
}
