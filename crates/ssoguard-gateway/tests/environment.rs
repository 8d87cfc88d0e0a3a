//! The binary configured by the environment alone, with the documented variable names (README's
//! quick start): no `GATEWAY_CONFIG`, one issuer, every path needs a valid token, forward-auth
//! only without `UPSTREAM_URL`, 127.0.0.1 unless `HOST` says otherwise.

mod support;

use serde_json::json;
use ssoguard::testing::TestIssuer;
use support::Gateway;

/// `GET /_ssoguard/auth` as nginx asks it, with optional bearer token and cookie.
async fn ask(gateway: &Gateway, token: Option<&str>, cookie: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .get(gateway.url("/_ssoguard/auth"))
        .header("X-Original-URI", "/api/tasks?limit=5")
        .header("X-Original-Method", "GET");
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(cookie) = cookie {
        req = req.header("Cookie", cookie);
    }
    req.send().await.expect("forward-auth request")
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn auth_server_url_alone_discovers_the_sso() {
    let sso = TestIssuer::start().await.expect("issuer");
    sso.set_default_audience("rust-backend");
    let origin = sso.origin().to_string();
    let mut gateway = Gateway::from_env(&[
        ("AUTH_SERVER_URL", origin.as_str()),
        ("SSO_CLIENT_ID", "rust-backend"),
        ("AUTH_COOKIE_NAME", "sso_token"),
        ("PORT", "0"),
    ])
    .await;
    assert!(
        gateway.addr.starts_with("127.0.0.1:"),
        "HOST defaults to loopback: {}",
        gateway.addr
    );

    // A valid token: 200 with the identity headers.
    let token = sso
        .token()
        .sub("env-user")
        .email("env@example.com")
        .role("user,admin")
        .sign();
    let resp = ask(&gateway, Some(&token), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-auth-request-user"), "env-user");
    assert_eq!(header(&resp, "x-auth-request-email"), "env@example.com");
    assert_eq!(header(&resp, "x-auth-request-roles"), "user,admin");
    assert_eq!(header(&resp, "x-auth-request-issuer"), sso.issuer());
    // The same token from AUTH_COOKIE_NAME's cookie.
    let resp = ask(&gateway, None, Some(&format!("sso_token={token}"))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-auth-request-user"), "env-user");

    // Every path needs a token; another audience or another issuer is refused.
    let resp = ask(&gateway, None, None).await;
    assert_eq!(resp.status(), 401);
    assert!(header(&resp, "www-authenticate").starts_with("Bearer"));
    let other_audience = sso.token().aud("another-api").sign();
    assert_eq!(
        ask(&gateway, Some(&other_audience), None).await.status(),
        401
    );
    // Each refusal is logged with its reason at info (here: the audience), never the token.
    let line = gateway.proc.wait_for_line("audience").await;
    let logged: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
    assert_eq!(logged["level"], "INFO", "{line}");
    assert_eq!(
        logged["fields"]["message"], "request refused: credential not accepted",
        "{line}"
    );
    assert!(
        logged["fields"]["detail"]
            .as_str()
            .is_some_and(|d| d.to_ascii_lowercase().contains("audience")),
        "{line}"
    );
    assert!(
        !gateway.proc.log().contains(&other_audience),
        "a token was logged"
    );
    assert!(
        !gateway.proc.log().contains('\u{1b}'),
        "ANSI colours in a non-terminal log"
    );
    let stranger = sso.token().iss("http://127.0.0.1:1/api/auth").sign();
    assert_eq!(ask(&gateway, Some(&stranger), None).await.status(), 401);

    // No UPSTREAM_URL: forward-auth only, anything else is 404.
    let resp = reqwest::get(gateway.url("/api/tasks")).await.expect("get");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn explicit_issuer_jwks_url_client_secret_and_host() {
    let sso = TestIssuer::start().await.expect("issuer");
    sso.set_default_audience("rust-backend");
    sso.set_introspection_client("rust-backend", "client-secret");
    let (issuer, jwks) = (sso.issuer().to_string(), sso.jwks_url());
    let gateway = Gateway::from_env(&[
        ("SSO_ISSUER", issuer.as_str()),
        ("JWKS_URL", jwks.as_str()),
        ("SSO_CLIENT_ID", "rust-backend"),
        ("SSO_CLIENT_SECRET", "client-secret"),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
    ])
    .await;
    let token = sso.token().sub("jwt-user").sign();
    let resp = ask(&gateway, Some(&token), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-auth-request-user"), "jwt-user");
    assert_eq!(
        sso.discovery_fetches(),
        0,
        "JWKS_URL and SSO_ISSUER need no discovery"
    );

    // SSO_CLIENT_SECRET: opaque access tokens are introspected as SSO_CLIENT_ID.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let opaque = sso.issue_opaque(json!({
        "iss": issuer, "client_id": "rust-backend", "aud": "rust-backend", "sub": "opaque-user",
        "exp": now + 3600, "iat": now,
    }));
    let resp = ask(&gateway, Some(&opaque), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-auth-request-user"), "opaque-user");
    assert_eq!(sso.introspections(), 1);
}
