//! `POST /auth/backchannel-logout` through the whole router (`oneshot`), with real logout
//! tokens from the test issuer: a recorded logout refuses that session's tokens (cached
//! verifications and session cookies included) and nothing else; every refused logout token is a
//! 400 with the OAuth error body and revokes nothing.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Backend, TestApp};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use ssoguard::session::{SessionSecret, sign_session_token, write_compact_cookie_cache};
use ssoguard::testing::attacks::logout_attack_cases;
use tower::ServiceExt as _;

const PATH: &str = "/auth/backchannel-logout";

async fn call(app: &TestApp, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = tasks_api::startup::build_router(app.state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, json)
}

fn form(token: &str) -> Request<Body> {
    let body = format!(
        "logout_token={}",
        token.replace('+', "%2B").replace('/', "%2F")
    );
    Request::post(PATH)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request")
}

async fn post_logout(app: &TestApp, token: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    call(app, form(token)).await
}

async fn me(app: &TestApp, bearer: &str) -> StatusCode {
    let request = Request::get("/api/me")
        .header(header::AUTHORIZATION, format!("Bearer {bearer}"))
        .body(Body::empty())
        .expect("request");
    call(app, request).await.0
}

/// An id_token of `sub` in session `sid`.
fn session_token(app: &TestApp, sub: &str, sid: &str) -> String {
    app.issuer()
        .token()
        .sub(sub)
        .email(&format!("{sub}@example.com"))
        .sid(sid)
        .sign()
}

fn audience(app: &TestApp) -> String {
    app.dev.client_id().to_string()
}

#[tokio::test]
async fn a_logout_refuses_that_session_and_no_other() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (a, b) = (
        session_token(&app, "alice", "sid-a"),
        session_token(&app, "alice", "sid-b"),
    );
    // Both verified once, so the verified-token cache holds them.
    assert_eq!(me(&app, &a).await, StatusCode::OK);
    assert_eq!(me(&app, &b).await, StatusCode::OK);

    let logout = app
        .issuer()
        .logout_token()
        .aud(&audience(&app))
        .sub("alice")
        .claim("sid", json!("sid-a"))
        .sign();
    let (status, headers, body) = post_logout(&app, &logout).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");

    assert_eq!(
        me(&app, &a).await,
        StatusCode::UNAUTHORIZED,
        "the cache must not answer"
    );
    assert_eq!(
        me(&app, &b).await,
        StatusCode::OK,
        "another session of the same user"
    );
    // A fresh token of the revoked session too.
    let again = session_token(&app, "alice", "sid-a");
    assert_eq!(me(&app, &again).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_sub_only_logout_refuses_the_subjects_earlier_tokens() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let earlier = app.issuer().token().sub("bob").iat_in(-30).sign();
    let other = app.issuer().token().sub("carol").iat_in(-30).sign();
    assert_eq!(me(&app, &earlier).await, StatusCode::OK);
    let token = app
        .issuer()
        .logout_token()
        .aud(&audience(&app))
        .sub("bob")
        .without("sid")
        .sign();
    let (status, _, body) = post_logout(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(me(&app, &earlier).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &other).await, StatusCode::OK, "another subject");
    let later = app.issuer().token().sub("bob").iat_in(5).sign();
    assert_eq!(
        me(&app, &later).await,
        StatusCode::OK,
        "issued after the logout"
    );
}

#[tokio::test]
async fn refused_logout_tokens_are_400_and_revoke_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let sid = "sid-attacked";
    let token = session_token(&app, "dave", sid);
    let cases = logout_attack_cases(app.issuer(), &audience(&app), sid).expect("EdDSA key");
    assert!(cases.len() >= 8, "the catalogue: {}", cases.len());
    for case in cases {
        if case.replay {
            continue;
        }
        let (status, headers, body) = post_logout(&app, &case.token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", case.name);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{}", case.name);
        assert_eq!(body["error"], "invalid_request", "{}", case.name);
        assert_eq!(
            body["error_description"],
            case.expected.to_string(),
            "{}",
            case.name
        );
        assert!(
            !body.to_string().contains(&case.token),
            "{}: the token is echoed",
            case.name
        );
        assert_eq!(
            me(&app, &token).await,
            StatusCode::OK,
            "{} revoked",
            case.name
        );
    }
}

#[tokio::test]
async fn a_replayed_logout_token_is_400() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let cases = logout_attack_cases(app.issuer(), &audience(&app), "sid-r").expect("EdDSA key");
    let replay = cases.into_iter().find(|c| c.replay).expect("a replay case");
    assert_eq!(post_logout(&app, &replay.token).await.0, StatusCode::OK);
    let (status, _, body) = post_logout(&app, &replay.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_description"], "logout token already used");
}

#[tokio::test]
async fn other_methods_and_malformed_requests() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for method in ["GET", "PUT", "DELETE"] {
        let request = Request::builder()
            .method(method)
            .uri(PATH)
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            call(&app, request).await.0,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
    }
    let token = app.issuer().logout_token().aud(&audience(&app)).sign();
    let requests = [
        // No body.
        Request::post(PATH)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::empty()),
        // Not a form.
        Request::post(PATH)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"logout_token": token}).to_string())),
        // An empty token.
        Request::post(PATH)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("logout_token=")),
    ];
    for request in requests {
        let (status, headers, body) = call(&app, request.expect("request")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["error_description"], "missing logout_token");
    }
}

#[tokio::test]
async fn the_sso_down_is_503_never_200() {
    let app = TestApp::spawn_with_sso_down(Backend::Sqlite).await;
    let token = app.issuer().logout_token().aud(&audience(&app)).sign();
    let (status, headers, body) = post_logout(&app, &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["error"], "temporarily_unavailable");
}

/// server.mjs's default `BA_SECRET`, any ≥ 32 characters would do.
const SECRET: &str = "ssoguard-dev-secret-0123456789abcdef0123456789";

#[tokio::test]
async fn a_logout_ends_the_session_cookie_too() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("BETTER_AUTH_SECRET", SECRET)]).await;
    let secret = SessionSecret::new(SECRET).expect("secret");
    let expires_ms = (time::OffsetDateTime::now_utc().unix_timestamp() + 3_600) * 1000;
    let expires = time::OffsetDateTime::from_unix_timestamp(expires_ms / 1000)
        .expect("time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    // A cookie-cache cookie answers without any lookup: the revocation check is all that stands
    // between a signed-out session and the API.
    let cookie = |token: &str, sid: &str| {
        let session = json!({"id": sid, "token": token, "userId": "erin", "expiresAt": expires});
        let user = json!({"id": "erin", "email": "erin@example.com", "name": "erin",
            "emailVerified": true, "role": "user", "banned": false, "banExpires": null});
        format!(
            "better-auth.session_token={}; better-auth.session_data={}",
            sign_session_token(token, &secret),
            write_compact_cookie_cache(&session, &user, expires_ms, &secret)
        )
    };
    let me_cookie = |cookie: String| {
        let app = &app;
        async move {
            let request = Request::get("/api/me")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .expect("request");
            call(app, request).await
        }
    };
    let (a, b) = (
        cookie("tok-a", "sid-cookie-a"),
        cookie("tok-b", "sid-cookie-b"),
    );
    let (status, _, body) = me_cookie(a.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "erin", "{body}");
    assert_eq!(body["session_id"], "sid-cookie-a", "{body}");

    let logout = app
        .issuer()
        .logout_token()
        .aud(&audience(&app))
        .claim("sid", json!("sid-cookie-a"))
        .sign();
    assert_eq!(post_logout(&app, &logout).await.0, StatusCode::OK);
    assert_eq!(me_cookie(a).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me_cookie(b).await.0, StatusCode::OK);
}
