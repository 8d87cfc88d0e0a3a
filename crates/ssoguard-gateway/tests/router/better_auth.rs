//! The Better Auth issuer kinds through the router: session cookies (`better-auth-session`) and
//! API keys (`better-auth-api-key`).

use super::*;

/// `kind = "better-auth-session"`: Better Auth's session cookie as a credential.
/// The sessions come from signed cookie caches (the library's `get-session` lookup is tested
/// against the real Better Auth in tasks-api); the lookup points nowhere, so a cookie without a
/// cache is a 503, never a 200.
#[tokio::test]
async fn better_auth_session_cookies_as_an_issuer() {
    use ssoguard::session::{SessionSecret, sign_session_token, write_compact_cookie_cache};
    const SECRET: &str = "gateway-test-secret-0123456789abcdef0123456789";
    let sso = TestIssuer::start().await.expect("issuer");
    let toml = format!(
        r#"listen = "127.0.0.1:0"

[[issuer]]
name = "a"
issuer = "{}"
audiences = ["api"]

[[issuer]]
name = "sessions"
kind = "better-auth-session"
authority = "http://127.0.0.1:9"
secret_env = "TEST_BETTER_AUTH_SECRET"

[[route]]
path = "/only-sessions"
issuers = ["sessions"]

[[route]]
path = "/api"
"#,
        sso.issuer()
    );
    let env = |k: &str| (k == "TEST_BETTER_AUTH_SECRET").then(|| SECRET.to_string());
    let config = Config::from_toml(&toml, "test.toml", &env).expect("config");
    let app = App::build(config).await.expect("app");

    let secret = SessionSecret::new(SECRET).expect("secret");
    let signed = sign_session_token("tok-1", &secret);
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    let data = write_compact_cookie_cache(
        &json!({"id": "sid-1", "token": "tok-1", "userId": "alice", "expiresAt": "2099-01-01T00:00:00.000Z"}),
        &json!({"id": "alice", "email": "alice@example.com", "role": "user"}),
        now_ms + 300_000,
        &secret,
    );
    let cookies = format!("better-auth.session_token={signed}; better-auth.session_data={data}");
    let (status, h, body) = auth(&app, "GET", "/api/x", &[("cookie", &cookies)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(header(&h, "x-auth-request-user"), "alice");
    assert_eq!(header(&h, "x-auth-request-email"), "alice@example.com");
    assert_eq!(
        header(&h, "x-auth-request-issuer"),
        "http://127.0.0.1:9/api/auth"
    );
    let (status, _, _) = auth(&app, "GET", "/only-sessions", &[("cookie", &cookies)]).await;
    assert_eq!(status, StatusCode::OK);
    let bearer = format!("Bearer {}", sso.token().aud("api").sign());
    let (status, _, _) = auth(&app, "GET", "/only-sessions", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a token is not a session");
    // Unsafe methods need an Origin of the request's host.
    let (status, _, _) = auth(&app, "POST", "/api/x", &[("cookie", &cookies)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let same_origin = [("cookie", cookies.as_str()), ("origin", "http://gw:4180")];
    let (status, _, _) = auth(&app, "POST", "/api/x", &same_origin).await;
    assert_eq!(status, StatusCode::OK);
    // Forged: 401 without a lookup; a lookup that cannot be made: 503.
    let forged = cookies.replacen("tok-1.", "tok-2.", 1);
    let (status, h, _) = auth(&app, "GET", "/api/x", &[("cookie", &forged)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(header(&h, "www-authenticate").contains("invalid signature"));
    let no_cache = format!("better-auth.session_token={signed}");
    let (status, _, _) = auth(&app, "GET", "/api/x", &[("cookie", &no_cache)]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // Bad session issuers are refused with the line.
    for (bad, says) in [
        ("secret_env = \"UNSET_VAR\"", "UNSET_VAR is not set"),
        (
            "secret_env = \"TEST_BETTER_AUTH_SECRET\"\naudiences = [\"x\"]",
            "takes authority",
        ),
    ] {
        let text = toml.replace("secret_env = \"TEST_BETTER_AUTH_SECRET\"", bad);
        let err = Config::from_toml(&text, "test.toml", &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains(says) && err.contains("line"), "{err}");
    }
    let short = |k: &str| (k == "TEST_BETTER_AUTH_SECRET").then(|| "short".to_string());
    let err = Config::from_toml(&toml, "test.toml", &short)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("at least 32") && !err.contains("short\""),
        "{err}"
    );
}

/// A Better Auth `get-session` stand-in for API keys (the plugin's `enableSessionForAPIKeys`
/// answers): `good-key` is alice's, `busy-key` is over its rate limit, any other key is
/// refused as the plugin refuses it.
async fn key_sso() -> String {
    use axum::http::HeaderMap;
    let app = axum::Router::new().route(
        "/api/auth/get-session",
        axum::routing::get(|headers: HeaderMap| async move {
            match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
                Some("good-key") => (
                    StatusCode::OK,
                    axum::Json(json!({
                        "user": {"id": "alice", "email": "alice@example.com", "role": "user"},
                        "session": {"id": "key-1", "token": "good-key"}
                    })),
                ),
                Some("busy-key") => (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"code": "RATE_LIMITED", "details": {"tryAgainIn": 7000}})),
                ),
                _ => (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"code": "INVALID_API_KEY", "message": "Invalid API key."})),
                ),
            }
        }),
    );
    ssoguard::testing::serve(app).await
}

/// `kind = "better-auth-api-key"`: Better Auth API keys as a credential, checked
/// with `get-session` (the real Better Auth: tests/better_auth_sessions.rs).
#[tokio::test]
async fn better_auth_api_keys_as_an_issuer() {
    let sso = TestIssuer::start().await.expect("issuer");
    let config = |authority: &str| {
        format!(
            r#"listen = "127.0.0.1:0"

[[issuer]]
name = "a"
issuer = "{}"
audiences = ["api"]

[[issuer]]
name = "keys"
kind = "better-auth-api-key"
authority = "{authority}"
cache_ttl_secs = 1

[[route]]
path = "/only-keys"
issuers = ["keys"]

[[route]]
path = "/api"
"#,
            sso.issuer()
        )
    };
    let build = |text: String| async move {
        let config = Config::from_toml(&text, "test.toml", &no_env).expect("config");
        App::build(config).await.expect("app")
    };
    let app = build(config(&key_sso().await)).await;

    let key = [("x-api-key", "good-key")];
    let (status, h, body) = auth(&app, "GET", "/api/x", &key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(header(&h, "x-auth-request-user"), "alice");
    assert_eq!(header(&h, "x-auth-request-email"), "alice@example.com");
    let (status, _, _) = auth(&app, "GET", "/only-keys", &key).await;
    assert_eq!(status, StatusCode::OK, "the rule admits the key issuer");
    let bearer = format!("Bearer {}", sso.token().aud("api").sign());
    let (status, _, _) = auth(&app, "GET", "/only-keys", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a token is not an API key");
    // With an Authorization header the key header is not read: the token decides.
    let both = [
        ("authorization", bearer.as_str()),
        ("x-api-key", "good-key"),
    ];
    let (status, _, _) = auth(&app, "GET", "/only-keys", &both).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Refused: an unknown key, two key headers; the key is never echoed.
    let (status, h, body) = auth(&app, "GET", "/api/x", &[("x-api-key", "stolen-key")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(header(&h, "www-authenticate").contains("invalid_token"));
    assert!(!body.to_string().contains("stolen-key"), "{body}");
    let two = [("x-api-key", "good-key"), ("x-api-key", "good-key")];
    let (status, _, _) = auth(&app, "GET", "/api/x", &two).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Over the key's rate limit: 429 with the plugin's wait.
    let (status, h, _) = auth(&app, "GET", "/api/x", &[("x-api-key", "busy-key")]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&h, "retry-after"), "7");

    // Better Auth unreachable: 503, never "let in".
    let down = build(config("http://127.0.0.1:9")).await;
    let (status, _, _) = auth(&down, "GET", "/api/x", &key).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}
