//! No token, nor any 20-character slice of one, ever appears in the service's logs — captured
//! at TRACE level during valid, invalid, expired and cookie-borne authenticated requests.

mod common;

use common::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_appears_in_logs() {
    let capture = common::capture_logs();
    let app = TestApp::spawn_with(Backend::Sqlite, &[("AUTH_COOKIE_NAME", "id_token")]).await;
    let valid = app.token("alice", "user");
    let admin = app.token("admin", "admin");
    let expired = app.issuer().token().exp_in(-3600).sign();
    let wrong_aud = app.issuer().token().aud("other").sign();
    let forged = format!("{}x", &valid[..valid.len() - 1]);
    let tokens = [
        valid.as_str(),
        admin.as_str(),
        expired.as_str(),
        wrong_aud.as_str(),
        forged.as_str(),
    ];
    for token in tokens {
        let _ = app.get("/api/me", token).await;
        let _ = app
            .post_json("/api/tasks", token, &serde_json::json!({"title": "t"}))
            .await;
        let _ = app.get("/api/admin/users/alice", token).await;
        let _ = app
            .http
            .get(app.url("/api/me"))
            .header("cookie", format!("id_token={token}"))
            .send()
            .await;
    }
    let log = capture.text();
    assert!(log.len() > 1000, "the capture saw the requests:\n{log}");
    assert!(log.contains("/api/me"), "request spans are logged");
    common::assert_no_token_in(&log, &tokens);
}

/// Better Auth session cookies: neither the cookie, its token, the cookie cache nor
/// the secret appears in the logs — for an accepted cookie (from its cookie cache), a forged
/// one, and one whose lookup fails (the test issuer has no `get-session`: 503, logged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_cookie_or_secret_appears_in_logs() {
    use ssoguard::session::{SessionSecret, sign_session_token, write_compact_cookie_cache};
    const SECRET: &str = "logs-test-secret-0123456789abcdef0123456789";
    let capture = common::capture_logs();
    let app = TestApp::spawn_with(Backend::Sqlite, &[("BETTER_AUTH_SECRET", SECRET)]).await;
    let secret = SessionSecret::new(SECRET).expect("secret");
    let token = "LogsTestSessionToken0123456789ab";
    let session = serde_json::json!({"id": "sid-1", "token": token, "userId": "alice",
        "expiresAt": "2099-01-01T00:00:00.000Z"});
    let user = serde_json::json!({"id": "alice", "email": "alice@example.com"});
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms");
    let signed = sign_session_token(token, &secret);
    let data = write_compact_cookie_cache(&session, &user, now_ms + 300_000, &secret);
    let forged = sign_session_token(
        token,
        &SessionSecret::new(SECRET.replace('l', "L")).expect("s"),
    );
    let cached = format!("better-auth.session_token={signed}; better-auth.session_data={data}");
    let cases = [
        (cached.as_str(), 200),
        (&*format!("better-auth.session_token={forged}"), 401),
        (&*format!("better-auth.session_token={signed}"), 503),
    ];
    for (cookie, status) in cases {
        let resp = app
            .http
            .get(app.url("/api/me"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), status, "{cookie}");
    }
    let log = capture.text();
    assert!(
        log.contains("session lookup"),
        "the failed lookup is logged:\n{log}"
    );
    common::assert_no_token_in(&log, &[token, &signed, &data, &forged, SECRET]);
}
