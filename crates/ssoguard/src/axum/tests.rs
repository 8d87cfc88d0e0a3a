//! Router tests with `oneshot`: real tokens from the test issuer, real verification.

use super::*;
use crate::testing::{Fault, TestIssuer};
use crate::{JwksConfig, Verifier};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt as _;
use std::time::Duration;
use tower::ServiceExt as _;

#[derive(Clone, axum::extract::FromRef)]
struct State {
    auth: Auth,
}

#[derive(serde::Deserialize)]
struct Mine {
    sub: String,
    tenant: String,
}

fn app(issuer: &TestIssuer, cookie: Option<&str>) -> Router {
    let verifier = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .jwks_config(JwksConfig {
            refetch_cooldown: Duration::from_secs(7),
            ..JwksConfig::default()
        })
        .build()
        .expect("config");
    let mut auth = Auth::new(verifier).with_realm("tasks");
    if let Some(name) = cookie {
        auth = auth
            .with_cookie(name)
            .with_allowed_origins(["https://app.example/"]);
    }
    let state = State { auth };
    Router::new()
        .route("/me", get(|u: CurrentUser| async move { axum::Json(u) }))
        .route(
            "/mine",
            get(|Claims(c): Claims<Mine>| async move { format!("{}/{}", c.sub, c.tenant) }),
        )
        .route(
            "/admin",
            get(|RequireRole(u, ..): RequireRole<Admin>| async move { u.id }),
        )
        .route(
            "/layered",
            get(|u: CurrentUser| async move { u.id })
                .route_layer(RequireLayer::role(&state, "admin")),
        )
        .route(
            "/service",
            get(|s: ServiceClient| async move { s.client_id }),
        )
        .route(
            "/service-admin",
            get(|| async { "ok" })
                .route_layer(RequireLayer::role(&state, "admin").allow_service_tokens()),
        )
        .route(
            "/write",
            axum::routing::post(|u: CurrentUser| async move { u.id })
                .delete(|u: CurrentUser| async move { u.id }),
        )
        .route(
            "/scoped",
            get(|| async { "ok" }).route_layer(RequireLayer::scope(&state, "api:read")),
        )
        .with_state(state)
}

/// A verifier for `issuer` with every default (audience `test-client`).
fn default_verifier(issuer: &TestIssuer) -> Verifier {
    Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .build()
        .expect("config")
}

async fn call(
    app: &Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    call_method(app, Method::GET, path, headers).await
}

async fn call_method(
    app: &Router,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn challenge(headers: &HeaderMap) -> String {
    headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn bearer_rules_and_rejection_shapes() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let app = app(&issuer, None);
    let token = issuer
        .token()
        .sub("alice")
        .email("a@example.com")
        .claim("tenant", serde_json::json!("acme"))
        .sign();

    let (status, _, body) = call(
        &app,
        "/me",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["id"], "alice");
    assert_eq!(json["role"], "user");
    assert_eq!(json["email"], "a@example.com");

    let (status, _, body) = call(
        &app,
        "/me",
        &[("authorization", &format!("bearer {token}"))],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "lowercase scheme: {body}");
    let (status, _, body) = call(
        &app,
        "/mine",
        &[("authorization", &format!("BEARER {token}"))],
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "alice/acme"));

    // Missing: 401 without an error code (RFC 6750 §3.1).
    let (status, headers, body) = call(&app, "/me", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&headers), "Bearer realm=\"tasks\"");
    assert_eq!(body, r#"{"detail":"Not authenticated"}"#);

    // Another scheme counts as no bearer credential.
    let (status, headers, _) = call(&app, "/me", &[("authorization", "Basic dXNlcjpwYXNz")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&headers), "Bearer realm=\"tasks\"");

    // Invalid: 401 invalid_token with a description that never echoes the token.
    let expired = issuer.token().exp_in(-3600).sign();
    let (status, headers, body) = call(
        &app,
        "/me",
        &[("authorization", &format!("Bearer {expired}"))],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&headers),
        "Bearer realm=\"tasks\", error=\"invalid_token\", error_description=\"token expired\""
    );
    assert_eq!(body, r#"{"detail":"Invalid token: token expired"}"#);
    assert!(!body.contains(&expired[..20]));

    // Exactly one token.
    let (status, headers, _) = call(
        &app,
        "/me",
        &[("authorization", &format!("Bearer {token} {token}"))],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge(&headers).contains("invalid_token"));
}

#[tokio::test]
async fn roles_as_extractor_and_as_layer() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let app = app(&issuer, None);
    let user = format!("Bearer {}", issuer.token().sub("u").role("user").sign());
    let admin = format!(
        "Bearer {}",
        issuer.token().sub("boss").role("user,admin").sign()
    );
    for path in ["/admin", "/layered"] {
        let (status, headers, body) = call(&app, path, &[("authorization", &user)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(body, r#"{"detail":"Role 'admin' required"}"#, "{path}");
        assert!(
            challenge(&headers).contains("error=\"insufficient_scope\""),
            "{path}"
        );
        let (status, _, body) = call(&app, path, &[("authorization", &admin)]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "boss"), "{path}");
        // The layer authenticates first: no token is a 401, not a 403.
        let (status, _, _) = call(&app, path, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let m2m = format!(
        "Bearer {}",
        issuer
            .token()
            .sub("svc")
            .claim("scope", serde_json::json!("api:read"))
            .sign()
    );
    assert_eq!(
        call(&app, "/scoped", &[("authorization", &m2m)]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "/scoped", &[("authorization", &user)]).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn cookie_tokens_only_when_configured() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let token = issuer.token().sub("cookie-user").sign();
    let cookie = format!("theme=dark; id_token={token}");
    let without = app(&issuer, None);
    assert_eq!(
        call(&without, "/me", &[("cookie", &cookie)]).await.0,
        StatusCode::UNAUTHORIZED
    );
    let with = app(&issuer, Some("id_token"));
    let (status, _, body) = call(&with, "/me", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("cookie-user"));
    // The header wins over the cookie.
    let other = issuer.token().sub("header-user").sign();
    let (_, _, body) = call(
        &with,
        "/me",
        &[
            ("cookie", &cookie),
            ("authorization", &format!("Bearer {other}")),
        ],
    )
    .await;
    assert!(body.contains("header-user"));
}

#[tokio::test]
async fn keys_unavailable_is_503_with_retry_after() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_fault(Some(Fault::Down));
    let app = app(&issuer, None);
    let token = issuer.token().sign();
    let (status, headers, body) = call(
        &app,
        "/me",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    assert!(headers.get("www-authenticate").is_none());
    assert!(body.contains("detail"));
}

/// A handler returning the `CurrentUser` sends its JSON, changes included.
#[tokio::test]
async fn current_user_is_sent_as_json() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let verifier = default_verifier(&issuer);
    let router = Router::new()
        .route("/me", get(|u: CurrentUser| async move { u }))
        .route(
            "/renamed",
            get(|mut u: CurrentUser| async move {
                u.name = Some("Renamed".into());
                u
            }),
        )
        .with_state(State {
            auth: Auth::new(verifier.clone()),
        });
    let token = issuer
        .token()
        .sub("alice")
        .name("Alice")
        .role("user,admin")
        .sign();
    let mut user = CurrentUser::from_claims(verifier.verify(&token).await.expect("valid"));
    for (path, name) in [("/me", "Alice"), ("/renamed", "Renamed"), ("/me", "Alice")] {
        user.name = Some(name.into());
        let request = Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let resp = router.clone().oneshot(request).await.expect("infallible");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/json");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(body, serde_json::to_vec(&user).expect("json"), "{path}");
    }
}

#[tokio::test]
async fn roles_are_for_users_unless_the_route_says_otherwise() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let app = app(&issuer, None);
    // A client-credentials token (sub = azp) that carries the admin role.
    let service = format!(
        "Bearer {}",
        issuer
            .token()
            .sub("svc")
            .claim("azp", serde_json::json!("svc"))
            .role("admin")
            .sign()
    );
    for path in ["/admin", "/layered"] {
        let (status, headers, body) = call(&app, path, &[("authorization", &service)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body.contains("A user token is required"), "{path}: {body}");
        assert!(challenge(&headers).contains("insufficient_scope"), "{path}");
    }
    let (status, _, body) = call(&app, "/service-admin", &[("authorization", &service)]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let user = format!("Bearer {}", issuer.token().sub("u").role("user").sign());
    assert_eq!(
        call(&app, "/service-admin", &[("authorization", &user)])
            .await
            .0,
        StatusCode::FORBIDDEN,
        "the role is still required"
    );
}

#[tokio::test]
async fn cookie_tokens_on_state_changing_requests_need_an_allowed_origin() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let app = app(&issuer, Some("id_token"));
    let token = issuer.token().sub("victim").sign();
    let cookie = format!("id_token={token}");
    let json = ("content-type", "application/json");
    let cross_site: [&[(&str, &str)]; 5] = [
        // Security review row 1: a `<form enctype=text/plain>` post from another site.
        &[
            ("origin", "https://evil.example"),
            ("content-type", "text/plain"),
        ],
        // Row 2: a cross-site fetch with JSON.
        &[("origin", "https://evil.example"), json],
        &[
            ("origin", "https://app.example"),
            ("sec-fetch-site", "cross-site"),
            json,
        ],
        &[json],
        &[
            ("origin", "https://app.example"),
            ("content-type", "text/plain"),
        ],
    ];
    for headers in cross_site {
        let mut all = headers.to_vec();
        all.push(("cookie", &cookie));
        let (status, headers_out, body) = call_method(&app, Method::POST, "/write", &all).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(
            body.starts_with(r#"{"detail":"Cross-site request refused: "#),
            "{body}"
        );
        assert!(challenge(&headers_out).is_empty(), "not a token problem");
    }
    let same_site = [
        ("cookie", cookie.as_str()),
        ("origin", "https://app.example"),
        ("sec-fetch-site", "same-site"),
        json,
    ];
    let (status, _, body) = call_method(&app, Method::POST, "/write", &same_site).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "victim"));
    let referer = [
        ("cookie", cookie.as_str()),
        ("referer", "https://app.example/tasks"),
    ];
    let (status, _, _) = call_method(&app, Method::DELETE, "/write", &referer).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "no body: no type needed; Referer's origin"
    );
    // Header tokens are not CSRF-checked (browsers never add them on their own); safe
    // methods with a cookie are not either.
    let bearer = format!("Bearer {token}");
    let header_token = [
        ("authorization", bearer.as_str()),
        ("origin", "https://evil.example"),
    ];
    assert_eq!(
        call_method(&app, Method::POST, "/write", &header_token)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &app,
            "/me",
            &[("cookie", &cookie), ("origin", "https://evil.example")]
        )
        .await
        .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn two_token_cookies_are_ambiguous_credentials() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let app = app(&issuer, Some("id_token"));
    let victim = issuer.token().sub("victim").sign();
    let tossed = issuer.token().sub("attacker").sign();
    for cookies in [
        vec![format!("id_token={tossed}; id_token={victim}")],
        vec![
            format!("id_token={tossed}"),
            format!("theme=x; id_token={victim}"),
        ],
    ] {
        let headers: Vec<(&str, &str)> = cookies.iter().map(|c| ("cookie", c.as_str())).collect();
        let (status, headers_out, body) = call(&app, "/me", &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(challenge(&headers_out).contains("ambiguous credentials"));
    }
}

/// An app accepting Better Auth session cookies (and bearer tokens from `issuer`). The lookup
/// points nowhere: the sessions below come from signed cookie caches, so any lookup would be a
/// 503, which the tests would see.
fn session_app(issuer: &TestIssuer) -> Router {
    use crate::session::{SessionSecret, SessionVerifier};
    let sessions = SessionVerifier::builder()
        .secret(SessionSecret::new(SESSION_SECRET).expect("secret"))
        .remote("http://127.0.0.1:9/api/auth")
        .build()
        .expect("sessions");
    let auth = Auth::new(default_verifier(issuer))
        .with_sessions(sessions)
        .with_allowed_origins(["https://app.example"]);
    Router::new()
        .route(
            "/me",
            get(|u: CurrentUser| async move { axum::Json(u) })
                .post(|u: CurrentUser| async move { u.id }),
        )
        .with_state(State { auth })
}

const SESSION_SECRET: &str = "router-test-secret-0123456789abcdef0123456789";

/// `better-auth.session_token=…; better-auth.session_data=…` for a live session of `user`.
fn session_cookies(token: &str, user: &str, impersonated_by: Option<&str>) -> String {
    use crate::session::{SessionSecret, sign_session_token, write_compact_cookie_cache};
    let secret = SessionSecret::new(SESSION_SECRET).expect("secret");
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    let session = serde_json::json!({"id": format!("sid-{user}"), "token": token, "userId": user,
        "expiresAt": "2099-01-01T00:00:00.000Z", "impersonatedBy": impersonated_by});
    let user = serde_json::json!({"id": user, "email": format!("{user}@example.com"), "name": user,
        "emailVerified": true, "role": "user,admin", "banned": false});
    format!(
        "better-auth.session_token={}; better-auth.session_data={}",
        sign_session_token(token, &secret),
        write_compact_cookie_cache(&session, &user, now_ms + 300_000, &secret)
    )
}

#[tokio::test]
async fn session_cookies_become_the_same_current_user_and_follow_the_csrf_rule() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let app = session_app(&issuer);
    let cookies = session_cookies("tok-1", "alice", Some("admin-1"));
    let (status, _, body) = call(&app, "/me", &[("cookie", &cookies)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let me: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(me["id"], "alice");
    assert_eq!(me["session_id"], "sid-alice");
    assert_eq!(me["impersonated_by"], "admin-1");
    assert_eq!(me["roles"], serde_json::json!(["user", "admin"]));

    // A bearer token wins over the cookie; its user has no session id.
    let bearer = format!("Bearer {}", issuer.token().sub("bob").sign());
    let (_, _, body) = call(
        &app,
        "/me",
        &[("cookie", &cookies), ("authorization", &bearer)],
    )
    .await;
    let me: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (me["id"].as_str(), me["session_id"].is_null()),
        (Some("bob"), true)
    );

    // State-changing requests with the session cookie: issue 16's rule.
    let json = ("content-type", "application/json");
    for headers in [
        vec![("origin", "https://evil.example"), json],
        vec![
            ("origin", "https://app.example"),
            ("content-type", "text/plain"),
        ],
        vec![
            ("origin", "https://app.example"),
            ("sec-fetch-site", "cross-site"),
            json,
        ],
        vec![json],
    ] {
        let mut all = headers.clone();
        all.push(("cookie", &cookies));
        let (status, _, body) = call_method(&app, Method::POST, "/me", &all).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}: {body}");
        assert!(
            body.starts_with(r#"{"detail":"Cross-site request refused: "#),
            "{body}"
        );
    }
    let allowed = [
        ("cookie", cookies.as_str()),
        ("origin", "https://app.example"),
        json,
    ];
    let (status, _, body) = call_method(&app, Method::POST, "/me", &allowed).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "alice"));
    // The bearer header is never CSRF-checked.
    let header_only = [
        ("authorization", bearer.as_str()),
        ("origin", "https://evil.example"),
    ];
    let (status, _, _) = call_method(&app, Method::POST, "/me", &header_only).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn forged_or_doubled_session_cookies_are_401() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let app = session_app(&issuer);
    let cookies = session_cookies("tok-2", "carol", None);
    let forged = cookies.replacen("tok-2.", "tok-3.", 1);
    let (status, headers, _) = call(&app, "/me", &[("cookie", &forged)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&headers).contains("invalid signature"),
        "{}",
        challenge(&headers)
    );
    let doubled = format!("{cookies}; {cookies}");
    let (status, headers, _) = call(&app, "/me", &[("cookie", &doubled)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&headers).contains("ambiguous credentials"),
        "{}",
        challenge(&headers)
    );
    let secure_and_plain = format!("__Secure-{cookies}; {cookies}");
    let (status, _, _) = call(&app, "/me", &[("cookie", &secure_and_plain)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // No cookie at all: 401 without an error code.
    let (status, headers, _) = call(&app, "/me", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        !challenge(&headers).contains("error="),
        "{}",
        challenge(&headers)
    );
}

/// DPoP through the extractors: the proof's `htu` is the configured public URL and the path;
/// without a public URL a DPoP request is refused with a clear 401; a bound token is never a
/// bearer token; a scope requirement names the scope (RFC 6750 §3.1).
#[tokio::test]
async fn dpop_needs_a_public_url_and_scopes_are_named() {
    use crate::Algorithm;
    use crate::testing::DpopClient;
    let issuer = TestIssuer::start().await.expect("issuer");
    let client = DpopClient::generate(Algorithm::ES256).expect("key");
    let bound = issuer.token().cnf_jkt(&client.jkt()).sign();
    let build = |auth: Auth| {
        let state = State { auth };
        Router::new()
            .route("/me", get(|u: CurrentUser| async move { u.id }))
            .route(
                "/write",
                get(|| async { "ok" }).route_layer(RequireLayer::scope(&state, "tasks:write")),
            )
            .with_state(state)
    };
    let without = build(Auth::new(default_verifier(&issuer)));
    let with = build(
        Auth::new(default_verifier(&issuer))
            .with_public_url("https://api.example/base/")
            .expect("url"),
    );
    let scheme = format!("DPoP {bound}");
    let proof = client
        .proof("GET", "https://api.example/base/me", &bound)
        .sign();
    let headers = [("authorization", scheme.as_str()), ("dpop", proof.as_str())];

    let (status, h, body) = call(&without, "/me", &headers).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("no public URL configured"), "{body}");
    assert_eq!(
        h.get_all("www-authenticate").iter().count(),
        1,
        "no DPoP offered"
    );

    let (status, _, body) = call(&with, "/me", &headers).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "user-1"));
    let (status, h, _) = call(&with, "/me", &headers).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed");
    let challenges: Vec<_> = h.get_all("www-authenticate").iter().collect();
    assert_eq!(challenges[0], r#"Bearer realm="api""#);
    assert!(
        challenges[1]
            .to_str()
            .expect("ascii")
            .starts_with(r#"DPoP realm="api", error="invalid_dpop_proof""#),
        "{challenges:?}"
    );
    let as_bearer = format!("Bearer {bound}");
    let (status, h, _) = call(&with, "/me", &[("authorization", &as_bearer)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge(&h).contains("invalid_token"), "{h:?}");

    let token = issuer
        .token()
        .claim("scope", serde_json::json!("tasks:read"))
        .sign();
    let bearer = format!("Bearer {token}");
    let (status, h, body) = call(&with, "/write", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&h),
        r#"Bearer realm="api", error="insufficient_scope", error_description="Scope 'tasks:write' required", scope="tasks:write""#
    );
    assert_eq!(body, r#"{"detail":"Scope 'tasks:write' required"}"#);
}
