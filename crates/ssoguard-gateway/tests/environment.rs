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

/// The forward-auth `curl` lines of both READMEs' quick starts, run as written (the headers each
/// names, `$USER_TOKEN` a token of the development SSO's client `dev-client`) against the binary
/// configured as the quick start configures it: the first answers 200 with the identity
/// headers, the second (no token) 401. A README line the gateway would refuse fails here.
#[tokio::test]
async fn the_readme_quick_start_lines_work_as_written() {
    let sso = TestIssuer::start().await.expect("issuer");
    let origin = sso.origin().to_string();
    let gateway = Gateway::from_env(&[
        ("AUTH_SERVER_URL", origin.as_str()),
        ("SSO_CLIENT_ID", "dev-client"),
        ("PORT", "0"),
    ])
    .await;
    let user_token = sso.token().aud("dev-client").sub("alice").sign();
    let root = support::crate_dir().join("../..");
    for readme in [
        root.join("README.md"),
        support::crate_dir().join("README.md"),
    ] {
        let text = std::fs::read_to_string(&readme).expect("README");
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("curl -si http://127.0.0.1:4180/_ssoguard/auth"))
            .collect();
        assert_eq!(
            lines.len(),
            2,
            "{}: the two forward-auth lines",
            readme.display()
        );
        for (line, expected) in lines.iter().zip([200, 401]) {
            let mut request = reqwest::Client::new().get(gateway.url("/_ssoguard/auth"));
            for header in line.split(" -H \"").skip(1) {
                let header = header.split('"').next().expect("a quoted header");
                let (name, value) = header.split_once(": ").expect("Name: value");
                request = request.header(name, value.replace("$USER_TOKEN", &user_token));
            }
            let resp = request.send().await.expect("forward-auth request");
            assert_eq!(
                resp.status().as_u16(),
                expected,
                "{}: {line}",
                readme.display()
            );
            if expected == 200 {
                assert_eq!(header(&resp, "x-auth-request-user"), "alice");
            }
        }
    }
}
