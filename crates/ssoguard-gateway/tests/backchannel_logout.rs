//! `POST /_ssoguard/backchannel-logout` through the whole router (`oneshot`), in forward-auth
//! and reverse-proxy modes, with real logout tokens from ssoguard's test issuer: the token is
//! routed to its issuer, a recorded logout refuses that session's tokens (cached verifications
//! included) and nothing else, and every refused logout token is a 400 that revokes nothing.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::any;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use ssoguard::testing::attacks::logout_attack_cases;
use ssoguard::testing::{Fault, TestIssuer};
use ssoguard_gateway::{App, Config};
use tower::ServiceExt as _;

const PATH: &str = "/_ssoguard/backchannel-logout";

fn no_env(_: &str) -> Option<String> {
    None
}

/// A gateway trusting `a` (audience `api`) and optionally `b` (audience `b-api`); proxying to
/// `upstream` when given, else forward-auth only.
async fn gateway(a: &TestIssuer, b: Option<&TestIssuer>, upstream: Option<&str>) -> App {
    let mut toml = String::from("listen = \"127.0.0.1:0\"\n");
    if let Some(upstream) = upstream {
        toml.push_str(&format!("upstream = \"{upstream}\"\n"));
    }
    toml.push_str(&format!(
        "\n[[issuer]]\nname = \"a\"\nissuer = \"{}\"\naudiences = [\"api\"]\n",
        a.issuer()
    ));
    if let Some(b) = b {
        toml.push_str(&format!(
            "\n[[issuer]]\nname = \"b\"\nissuer = \"{}\"\naudiences = [\"b-api\"]\n",
            b.issuer()
        ));
    }
    toml.push_str("\n[[route]]\npath = \"/**\"\n");
    let config = Config::from_toml(&toml, "test.toml", &no_env).expect("config");
    App::build(config).await.expect("app")
}

async fn call(app: &App, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let resp = app.router().oneshot(req).await.expect("response");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, json)
}

async fn post_logout(app: &App, token: &str) -> (StatusCode, HeaderMap, Value) {
    let body = format!("logout_token={token}");
    let req = Request::post(PATH)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request");
    call(app, req).await
}

/// The gateway's answer for `token`: forward-auth (`/_ssoguard/auth`, nginx headers) without
/// an upstream, the proxied request with one.
async fn access(app: &App, proxied: bool, token: &str) -> StatusCode {
    let bearer = format!("Bearer {token}");
    let req = if proxied {
        Request::get("/api/me").header(header::AUTHORIZATION, bearer)
    } else {
        Request::get("/_ssoguard/auth")
            .header("x-original-method", "GET")
            .header("x-original-uri", "/api/me")
            .header(header::AUTHORIZATION, bearer)
    };
    call(app, req.body(Body::empty()).expect("request")).await.0
}

async fn upstream() -> String {
    ssoguard::testing::serve(axum::Router::new().fallback(any(|| async { "upstream" }))).await
}

fn in_session(sso: &TestIssuer, aud: &str, sub: &str, sid: &str) -> String {
    sso.token().aud(aud).sub(sub).sid(sid).sign()
}

#[tokio::test]
async fn a_logout_refuses_that_session_in_both_modes() {
    let upstream = upstream().await;
    for proxied in [false, true] {
        let sso = TestIssuer::start().await.expect("issuer");
        let app = gateway(&sso, None, proxied.then_some(upstream.as_str())).await;
        let a = in_session(&sso, "api", "alice", "sid-a");
        let b = in_session(&sso, "api", "alice", "sid-b");
        let earlier = sso.token().aud("api").sub("bob").iat_in(-30).sign();
        for token in [&a, &b, &earlier] {
            assert_eq!(
                access(&app, proxied, token).await,
                StatusCode::OK,
                "{proxied}"
            );
        }
        let logout = sso.logout_token().aud("api").sid("sid-a").sign();
        let (status, headers, body) = post_logout(&app, &logout).await;
        assert_eq!(status, StatusCode::OK, "{proxied}: {body}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            access(&app, proxied, &a).await,
            StatusCode::UNAUTHORIZED,
            "{proxied}: the cached verification must not answer"
        );
        assert_eq!(access(&app, proxied, &b).await, StatusCode::OK, "{proxied}");

        // A sub-only logout: the subject's earlier tokens.
        let logout = sso
            .logout_token()
            .aud("api")
            .sub("bob")
            .without("sid")
            .sign();
        assert_eq!(post_logout(&app, &logout).await.0, StatusCode::OK);
        assert_eq!(
            access(&app, proxied, &earlier).await,
            StatusCode::UNAUTHORIZED,
            "{proxied}"
        );
        assert_eq!(access(&app, proxied, &b).await, StatusCode::OK, "{proxied}");
    }
}

#[tokio::test]
async fn the_logout_token_is_routed_to_its_issuer() {
    let a = TestIssuer::start().await.expect("issuer a");
    let b = TestIssuer::start().await.expect("issuer b");
    let app = gateway(&a, Some(&b), None).await;
    let in_a = in_session(&a, "api", "alice", "same-sid");
    let in_b = in_session(&b, "b-api", "alice", "same-sid");
    assert_eq!(access(&app, false, &in_a).await, StatusCode::OK);
    assert_eq!(access(&app, false, &in_b).await, StatusCode::OK);
    // b's logout, for b's client: only b's session ends.
    let logout = b.logout_token().aud("b-api").sid("same-sid").sign();
    assert_eq!(post_logout(&app, &logout).await.0, StatusCode::OK);
    assert_eq!(access(&app, false, &in_b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(access(&app, false, &in_a).await, StatusCode::OK);
    // b's logout token with a's audience: refused by b's verifier.
    let crossed = b.logout_token().aud("api").sid("same-sid").sign();
    let (status, _, body) = post_logout(&app, &crossed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // An issuer the gateway does not know.
    let stranger = TestIssuer::start().await.expect("stranger");
    let unknown = stranger.logout_token().aud("api").sid("same-sid").sign();
    let (status, _, body) = post_logout(&app, &unknown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(access(&app, false, &in_a).await, StatusCode::OK);
}

#[tokio::test]
async fn refused_logout_tokens_are_400_and_revoke_nothing() {
    let sso = TestIssuer::start().await.expect("issuer");
    let app = gateway(&sso, None, None).await;
    let sid = "sid-attacked";
    let token = in_session(&sso, "api", "dave", sid);
    let cases = logout_attack_cases(&sso, "api", sid).expect("EdDSA key");
    assert!(cases.len() >= 8, "the catalogue: {}", cases.len());
    for case in cases {
        let mut answer = post_logout(&app, &case.token).await;
        if case.replay {
            assert_eq!(answer.0, StatusCode::OK, "{}: first post", case.name);
            answer = post_logout(&app, &case.token).await;
        }
        let (status, headers, body) = answer;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", case.name);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{}", case.name);
        assert_eq!(body["error"], "invalid_request", "{}", case.name);
        assert!(
            !body.to_string().contains(&case.token),
            "{}: the token is echoed",
            case.name
        );
        if !case.replay {
            assert_eq!(
                access(&app, false, &token).await,
                StatusCode::OK,
                "{} revoked the session",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn other_methods_are_405_and_malformed_bodies_400() {
    let sso = TestIssuer::start().await.expect("issuer");
    let app = gateway(&sso, None, None).await;
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let req = Request::builder()
            .method(method)
            .uri(PATH)
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            call(&app, req).await.0,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
    }
    let token = sso.logout_token().aud("api").sign();
    let requests = [
        Request::post(PATH).body(Body::empty()),
        Request::post(PATH)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "logout_token": token }).to_string())),
        Request::post(PATH)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("token=x")),
    ];
    for req in requests {
        let (status, headers, body) = call(&app, req.expect("request")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(body["error_description"], "missing logout_token");
    }
}

#[tokio::test]
async fn an_unreachable_sso_is_503_never_200() {
    let sso = TestIssuer::start().await.expect("issuer");
    sso.set_fault(Some(Fault::Down));
    let app = gateway(&sso, None, None).await;
    let token = sso.logout_token().aud("api").sign();
    let (status, headers, body) = post_logout(&app, &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(body["error"], "temporarily_unavailable");
}

/// The token issuer and the session-cookie issuer of one SSO share its revocations: a logout
/// refuses the signed-out session's cookie (answered from its cookie cache, no lookup) and
/// leaves the user's other session alone.
#[tokio::test]
async fn a_logout_ends_that_sessions_cookie_too() {
    use ssoguard::session::{SessionSecret, sign_session_token, write_compact_cookie_cache};
    const SECRET: &str = "gateway-logout-secret-0123456789abcdef012345";
    let sso = TestIssuer::start().await.expect("issuer");
    let toml = format!(
        "listen = \"127.0.0.1:0\"\n\n[[issuer]]\nname = \"tokens\"\nissuer = \"{}\"\n\
         audiences = [\"api\"]\n\n[[issuer]]\nname = \"sessions\"\nkind = \"better-auth-session\"\n\
         authority = \"{}\"\nsecret_env = \"TEST_SECRET\"\n\n[[route]]\npath = \"/**\"\n",
        sso.issuer(),
        sso.origin()
    );
    let env = |k: &str| (k == "TEST_SECRET").then(|| SECRET.to_string());
    let config = Config::from_toml(&toml, "test.toml", &env).expect("config");
    let app = App::build(config).await.expect("app");
    let secret = SessionSecret::new(SECRET).expect("secret");
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    let cookie = |token: &str, sid: &str| {
        let data = write_compact_cookie_cache(
            &json!({"id": sid, "token": token, "userId": "erin", "expiresAt": "2099-01-01T00:00:00.000Z"}),
            &json!({"id": "erin", "email": "erin@example.com", "role": "user"}),
            now_ms + 300_000,
            &secret,
        );
        format!(
            "better-auth.session_token={}; better-auth.session_data={data}",
            sign_session_token(token, &secret)
        )
    };
    let with_cookie = |cookie: String| {
        let app = &app;
        async move {
            let req = Request::get("/_ssoguard/auth")
                .header("x-original-method", "GET")
                .header("x-original-uri", "/api/me")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .expect("request");
            call(app, req).await.0
        }
    };
    let (a, b) = (cookie("tok-a", "sid-a"), cookie("tok-b", "sid-b"));
    assert_eq!(with_cookie(a.clone()).await, StatusCode::OK);
    let logout = sso
        .logout_token()
        .aud("api")
        .claim("sid", json!("sid-a"))
        .sign();
    assert_eq!(post_logout(&app, &logout).await.0, StatusCode::OK);
    assert_eq!(with_cookie(a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(with_cookie(b).await, StatusCode::OK);
}
