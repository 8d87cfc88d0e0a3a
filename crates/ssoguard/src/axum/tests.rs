//! Router tests with `oneshot`: real tokens from the test issuer, real verification.

use super::*;
use crate::testing::{Fault, TestIssuer};
use crate::{JwksConfig, Verifier};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
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
        auth = auth.with_cookie(name);
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
    let mut req = Request::get(path);
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
