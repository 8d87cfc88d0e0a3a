//! Back-channel logout through the gateway binary with the real Better Auth: the seeded client's
//! `backchannel_logout_uri` is the gateway's `/_ssoguard/backchannel-logout` (written into the
//! client's row by server.mjs, `BA_BACKCHANNEL_LOGOUT_URI`: Better Auth's registration accepts
//! only public https URIs). A user signs in twice through the authorization code flow
//! (interop/better-auth/backchannel.mjs), signs one session out at the SSO, Better Auth POSTs
//! the logout token to the gateway, and that session's id_token is refused (forward-auth 401)
//! within 1 s while the other session's still passes. A forged logout token and an id_token
//! posted as one (Better Auth's real signature, but a `nonce`) are 400 and revoke nothing.

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::*;

/// A new session of `email` and its tokens: `(id_token, session cookie)`.
async fn login(sso: &BetterAuth, email: &str) -> (String, String) {
    let out = tokio::process::Command::new("node")
        .current_dir(interop_dir())
        .args([
            "backchannel.mjs",
            "login",
            &sso.origin,
            email,
            "user-password-123",
        ])
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    (
        answer["id_token"].as_str().expect("id_token").to_owned(),
        answer["cookie"].as_str().expect("cookie").to_owned(),
    )
}

/// `GET /_ssoguard/auth` for `GET /api/x` with the token: the status.
async fn forward_auth(gateway: &Gateway, token: &str) -> u16 {
    reqwest::Client::new()
        .get(gateway.url("/_ssoguard/auth"))
        .header("x-original-method", "GET")
        .header("x-original-uri", "/api/x")
        .bearer_auth(token)
        .send()
        .await
        .expect("gateway reachable")
        .status()
        .as_u16()
}

async fn post_logout(gateway: &Gateway, token: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(gateway.url("/_ssoguard/backchannel-logout"))
        .form(&[("logout_token", token)])
        .send()
        .await
        .expect("gateway reachable");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_at_the_sso_ends_that_session_at_the_gateway() {
    if !node_ready() {
        return;
    }
    let port = free_port();
    let receiver = format!("http://127.0.0.1:{port}/_ssoguard/backchannel-logout");
    let sso = BetterAuth::start_with("EdDSA", &[("BA_BACKCHANNEL_LOGOUT_URI", &receiver)]).await;
    let issuer = format!("{}/api/auth", sso.origin);
    let config = format!(
        "[[issuer]]\nname = \"better-auth\"\nissuer = \"{issuer}\"\naudiences = [\"rust-backend\"]\n\n[[route]]\npath = \"/**\"\n"
    );
    let port_text = port.to_string();
    let gateway = Gateway::start(&config, &[("PORT", &port_text)]).await;

    // A user with a password (sign-up), then two sessions through the code flow.
    let email = format!("logout-{}@example.com", free_port());
    let resp = reqwest::Client::new()
        .post(format!("{issuer}/sign-up/email"))
        .header("origin", &sso.origin)
        .json(&json!({"email": email, "password": "user-password-123", "name": "Logout"}))
        .send()
        .await
        .expect("sign-up");
    assert!(resp.status().is_success(), "sign-up: {}", resp.status());
    let (first, first_cookie) = login(&sso, &email).await;
    let (second, _) = login(&sso, &email).await;
    let (first_sid, second_sid) = (
        claims(&first)["sid"].clone(),
        claims(&second)["sid"].clone(),
    );
    assert!(
        first_sid.is_string() && first_sid != second_sid,
        "{first_sid} {second_sid}"
    );
    assert_eq!(forward_auth(&gateway, &first).await, 200);
    assert_eq!(forward_auth(&gateway, &second).await, 200);

    // Refused logout tokens revoke nothing.
    let forger = ssoguard::testing::TestIssuer::start()
        .await
        .expect("forger");
    let forged = forger
        .logout_token()
        .iss(&issuer)
        .aud("rust-backend")
        .sid(second_sid.as_str().expect("sid"))
        .sign();
    let (status, body) = post_logout(&gateway, &forged).await;
    assert_eq!(status, 400, "forged: {body}");
    let (status, body) = post_logout(&gateway, &second).await;
    assert_eq!(status, 400, "an id_token (nonce) as logout token: {body}");
    assert_eq!(forward_auth(&gateway, &second).await, 200);

    let resp = reqwest::Client::new()
        .post(format!("{issuer}/sign-out"))
        .header("origin", &sso.origin)
        .header("cookie", &first_cookie)
        .json(&json!({}))
        .send()
        .await
        .expect("sign-out");
    assert_eq!(resp.status(), 200, "sign-out");
    let start = Instant::now();
    while forward_auth(&gateway, &first).await != 401 {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "still accepted 1 s after sign-out\n{}\n{}",
            sso.proc.log(),
            gateway.proc.log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    eprintln!("signed-out session refused after {:?}", start.elapsed());
    assert_eq!(
        forward_auth(&gateway, &second).await,
        200,
        "the other session"
    );
}
