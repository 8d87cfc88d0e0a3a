//! The hardening suite's attacks, against the whole service: each forged token gets exactly a
//! 401 with `WWW-Authenticate: … error="invalid_token", error_description="<reason>"`, never a
//! 5xx, and no response echoes the token.

mod common;

use common::{Backend, TestApp};
use ssoguard::testing::attacks;

fn assert_no_echo(body: &str, token: &str) {
    let chars: Vec<char> = token.chars().collect();
    for window in chars.windows(20).step_by(7) {
        let slice: String = window.iter().collect();
        assert!(!body.contains(&slice), "response echoes the token: {slice}");
    }
}

#[tokio::test]
async fn forged_tokens_get_401_with_their_reason() {
    let capture = common::capture_logs();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let cases = attacks::attack_cases(app.issuer(), app.dev.client_id()).expect("catalogue");
    for case in &cases {
        for path in ["/api/me", "/api/tasks", "/api/admin/users/alice"] {
            let resp = app.get(path, &case.token).await;
            let status = resp.status();
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap_or_default().to_string())
                .unwrap_or_default();
            let body = resp.text().await.expect("body");
            assert_eq!(status, 401, "{} on {path}: {body}", case.name);
            let want = format!(
                "error=\"invalid_token\", error_description=\"{}\"",
                case.expected
            );
            assert!(challenge.contains(&want), "{}: {challenge}", case.name);
            assert!(body.starts_with("{\"detail\":"), "{}: {body}", case.name);
            assert_no_echo(&body, &case.token);
            assert_no_echo(&challenge, &case.token);
        }
    }
    // The logs of the whole attack run contain none of the tokens (the JWS header segment is
    // public and shared by many tokens, so only signed parts are checked).
    let log = capture.text();
    assert!(log.contains("/api/me"), "requests were logged");
    let secrets: Vec<&str> = cases
        .iter()
        .filter_map(|c| c.token.split_once('.').map(|(_, rest)| rest))
        .filter(|rest| rest.len() >= 20)
        .collect();
    common::assert_no_token_in(&log, &secrets);
}

#[tokio::test]
async fn valid_tokens_of_every_kind_pass() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (name, token) in attacks::valid_cases(app.issuer(), app.dev.client_id()) {
        let resp = app.get("/api/me", &token).await;
        assert_eq!(resp.status(), 200, "{name}");
        let resp = app
            .http
            .get(app.url("/api/me"))
            .header("authorization", format!("bearer {token}"))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200, "{name} with lowercase bearer");
    }
}

#[tokio::test]
async fn scheme_and_role_rules() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let user = app.token("alice", "user");
    for header in [
        format!("Basic {user}"),
        format!("Token {user}"),
        format!("Digest {user}"),
        "Bearer".to_string(),
        "Bearer    ".to_string(),
        user.clone(),
    ] {
        let resp = app
            .http
            .get(app.url("/api/me"))
            .header("authorization", &header)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 401, "{}", &header[..header.len().min(12)]);
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer realm=\"tasks-api\""
        );
        assert_no_echo(&resp.text().await.expect("body"), &user);
    }
    let resp = app
        .http
        .get(app.url("/api/me"))
        .header("authorization", format!("Bearer {user} {user}"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    let resp = app.get("/api/admin/users/alice", &user).await;
    assert_eq!(resp.status(), 403, "a user token on an admin route");
}
