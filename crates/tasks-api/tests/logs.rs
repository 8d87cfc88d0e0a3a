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
