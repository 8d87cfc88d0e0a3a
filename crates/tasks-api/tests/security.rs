//! The security review's black-box findings, replayed against the running service:
//! cookie-borne tokens and cross-site requests (rows 1, 2), cookie tossing (row 6), what
//! `/ready` tells a stranger (row 8) and plain http to the SSO (row 9).

mod common;

use common::{Backend, TestApp};
use serde_json::{Value, json};
use tasks_api::config::Config;
use tasks_api::startup::App;

/// The service with `AUTH_COOKIE_NAME=id_token` and the default CORS origins
/// (`http://localhost:3000` among them).
async fn cookie_app() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, &[("AUTH_COOKIE_NAME", "id_token")]).await
}

async fn tasks_of(app: &TestApp, token: &str) -> Vec<Value> {
    let resp = app.get("/api/tasks", token).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

async fn assert_refused_403(resp: reqwest::Response, what: &str) {
    assert_eq!(resp.status(), 403, "{what}");
    let body: Value = resp.json().await.expect("json");
    assert!(body["detail"].is_string(), "{what}: {body}");
}

/// Row 1: a cross-site `<form enctype=text/plain>` post with the token in the cookie.
#[tokio::test]
async fn cross_site_form_post_with_a_cookie_token_is_refused_and_writes_nothing() {
    let app = cookie_app().await;
    let victim = app.token("victim", "user");
    let resp = app
        .http
        .post(app.url("/api/tasks"))
        .header("cookie", format!("id_token={victim}"))
        .header("origin", "https://evil.example")
        .header("content-type", "text/plain")
        .body(r#"{"title":"x","y":"="}"#)
        .send()
        .await
        .expect("request");
    assert_refused_403(resp, "form post").await;
    assert!(tasks_of(&app, &victim).await.is_empty(), "nothing written");
}

/// Row 2: a cross-site `fetch` with JSON and the cookie: foreign `Origin`, or
/// `Sec-Fetch-Site: cross-site`, or no origin at all. A same-site one goes through.
#[tokio::test]
async fn cross_site_json_fetch_with_a_cookie_token_is_refused() {
    let app = cookie_app().await;
    let victim = app.token("victim", "user");
    let cookie = format!("id_token={victim}");
    let attempts: [(&str, &[(&str, &str)]); 4] = [
        ("foreign Origin", &[("origin", "https://evil.example")]),
        (
            "Sec-Fetch-Site: cross-site",
            &[
                ("origin", "http://localhost:3000"),
                ("sec-fetch-site", "cross-site"),
            ],
        ),
        (
            "foreign Referer",
            &[("referer", "https://evil.example/page")],
        ),
        ("neither Origin nor Referer", &[]),
    ];
    for (what, headers) in attempts {
        let mut req = app
            .http
            .post(app.url("/api/tasks"))
            .header("cookie", &cookie)
            .json(&json!({"title": "x"}));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        assert_refused_403(req.send().await.expect("request"), what).await;
    }
    let task = app.create_task(&victim, "seed").await;
    let id = task["id"].as_str().expect("id").to_string();
    let resp = app
        .http
        .delete(app.url(&format!("/api/tasks/{id}")))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert_refused_403(resp, "cross-site delete").await;
    assert_eq!(tasks_of(&app, &victim).await.len(), 1, "nothing changed");

    // The front end on an allowed origin: through.
    let resp = app
        .http
        .post(app.url("/api/tasks"))
        .header("cookie", &cookie)
        .header("origin", "http://localhost:3000")
        .header("sec-fetch-site", "same-site")
        .json(&json!({"title": "mine"}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 201);
    assert_eq!(tasks_of(&app, &victim).await.len(), 2);
}

/// Row 6: two cookies of the token's name (one tossed in from a sibling subdomain).
#[tokio::test]
async fn two_token_cookies_are_refused_as_ambiguous() {
    let app = cookie_app().await;
    let victim = app.token("victim", "user");
    let attacker = app.token("attacker", "user");
    let resp = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", format!("id_token={attacker}; id_token={victim}"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(challenge.contains("ambiguous credentials"), "{challenge}");
}

/// Row 8: `/ready` while the SSO is unreachable says what is down, not where or why.
#[tokio::test]
async fn ready_names_what_is_unavailable_but_not_the_sso_or_its_error() {
    let app = TestApp::spawn_with_sso_down(Backend::Sqlite).await;
    // A request makes the service try (and fail) to fetch the keys.
    let resp = app.get("/api/me", &app.token("alice", "user")).await;
    assert_eq!(resp.status(), 503);
    let resp = app.http.get(app.url("/ready")).send().await.expect("ready");
    assert_eq!(resp.status(), 503);
    let text = resp.text().await.expect("body");
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["signing_keys"], "unavailable", "{body}");
    assert_eq!(body["not_ready"], json!(["signing_keys"]));
    let origin = app.issuer().origin().to_string();
    let host_port = origin.trim_start_matches("http://");
    for secret in [host_port, "127.0.0.1", "connection", "http://", "failed"] {
        assert!(!text.contains(secret), "/ready leaks {secret:?}: {text}");
    }
}

/// Row 9: plain http to a non-loopback SSO is refused at start, naming https and the opt-in;
/// `SSO_ALLOW_HTTP=1` allows it; loopback http (every other test) stays allowed.
#[tokio::test]
async fn plain_http_to_a_remote_sso_is_refused_at_start_unless_allowed() {
    let database = common::fresh_database(Backend::Sqlite).await;
    let config = |allow: Option<&str>| {
        let vars = [
            ("AUTH_SERVER_URL", "http://sso.example.invalid:3001"),
            ("SSO_CLIENT_ID", "rust-backend"),
            ("DATABASE_URL", database.as_str()),
            ("PORT", "0"),
            ("SSO_ALLOW_HTTP", allow.unwrap_or("")),
        ];
        Config::from_lookup(false, |k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_string())
        })
        .expect("config")
    };
    let err = App::build(config(None))
        .await
        .err()
        .expect("plain http to a remote host is refused");
    let message = err.to_string();
    assert!(
        message.contains("https") && message.contains("SSO_ALLOW_HTTP=1"),
        "{message}"
    );
    assert!(message.contains("AUTH_SERVER_URL"), "{message}");
    let jwks = Config {
        auth_server_url: "https://sso.example.invalid".into(),
        jwks_url: Some("http://10.1.2.3/api/auth/jwks".into()),
        ..config(None)
    };
    let err = App::build(jwks).await.err().expect("refused");
    assert!(err.to_string().contains("JWKS_URL"), "{err}");

    let app = App::build(config(Some("1")))
        .await
        .expect("SSO_ALLOW_HTTP=1 is the explicit opt-in");
    drop(app);
}
