//! The gateway binary with the real Better Auth server: its session cookie from an
//! email sign-up, and API keys of the `@better-auth/api-key` plugin (`BA_API_KEYS=1`, with
//! `enableSessionForAPIKeys`), through the forward-auth endpoint and the reverse proxy.

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::*;

/// Better Auth's secret when `BA_SECRET` is unset (interop/better-auth/server.mjs).
const SECRET: &str = "ssoguard-dev-secret-0123456789abcdef0123456789";

/// `GET /_ssoguard/auth` for `GET /api/x` with `headers`: the status and `X-Auth-Request-User`.
async fn forward_auth(gateway: &Gateway, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .get(gateway.url("/_ssoguard/auth"))
        .header("x-original-method", "GET")
        .header("x-original-uri", "/api/x");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("gateway reachable");
    let user = resp
        .headers()
        .get("x-auth-request-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<none>")
        .to_owned();
    (resp.status().as_u16(), user)
}

/// `GET /api/x` through the reverse proxy with `header`: what the upstream received.
async fn proxied(gateway: &Gateway, header: (&str, &str)) -> Value {
    let resp = reqwest::Client::new()
        .get(gateway.url("/api/x"))
        .header(header.0, header.1)
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("upstream JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookies_and_api_keys_of_the_real_better_auth() {
    if !node_ready() {
        return;
    }
    let sso = BetterAuth::start_with("EdDSA", &[("BA_API_KEYS", "1")]).await;
    let config = format!(
        r#"upstream = "{upstream}"

[[issuer]]
name = "tokens"
authority = "{origin}"
audiences = ["rust-backend"]

[[issuer]]
name = "sessions"
kind = "better-auth-session"
authority = "{origin}"
secret_env = "GW_TEST_BETTER_AUTH_SECRET"
cache_ttl_secs = 1

[[issuer]]
name = "keys"
kind = "better-auth-api-key"
authority = "{origin}"
cache_ttl_secs = 1

[[route]]
path = "/api"
"#,
        origin = sso.origin,
        upstream = echo_upstream().await,
    );
    let gateway = Gateway::start(&config, &[("GW_TEST_BETTER_AUTH_SECRET", SECRET)]).await;
    let user = sso.sign_up("gwuser").await;

    // A real session cookie: its user; the cookie with its token changed: 401.
    let (status, who) = forward_auth(&gateway, &[("cookie", &user.cookie)]).await;
    assert_eq!((status, who.as_str()), (200, user.user_id.as_str()));
    let (name, value) = user.cookie.split_once('=').expect("name=value");
    let first = if value.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{name}={first}{}", &value[1..]);
    let (status, _) = forward_auth(&gateway, &[("cookie", &tampered)]).await;
    assert_eq!(status, 401, "a tampered session cookie");
    let seen = proxied(&gateway, ("cookie", &user.cookie)).await;
    assert_eq!(seen["x-auth-request-user"], user.user_id.as_str(), "{seen}");

    // A real API key created through the plugin: its owner; deleted: 401 after the TTL.
    let created = sso
        .api_key_call(&user, "create", json!({"name": "gateway"}))
        .await;
    let key = created["key"].as_str().expect("key");
    let id = created["id"].as_str().expect("id");
    let (status, who) = forward_auth(&gateway, &[("x-api-key", key)]).await;
    assert_eq!((status, who.as_str()), (200, user.user_id.as_str()));
    let (status, _) = forward_auth(&gateway, &[("x-api-key", "not-a-key-of-this-sso")]).await;
    assert_eq!(status, 401, "an unknown key");
    let seen = proxied(&gateway, ("x-api-key", key)).await;
    assert_eq!(seen["x-auth-request-user"], user.user_id.as_str(), "{seen}");
    assert!(
        seen.get("x-api-key").is_none(),
        "the key went upstream: {seen}"
    );
    sso.api_key_call(&user, "delete", json!({"keyId": id}))
        .await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (status, _) = forward_auth(&gateway, &[("x-api-key", key)]).await;
    assert_eq!(
        status, 401,
        "a deleted key, once its cached answer is stale"
    );
    assert!(
        !gateway.proc.log().contains(key),
        "the key appears in the gateway's log"
    );
}
