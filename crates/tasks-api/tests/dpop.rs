//! DPoP (RFC 9449) through the running service: `PUBLIC_URL` names the URL proofs must bind,
//! a proof from the token's key is accepted, the DPoP attack catalogue is refused over HTTP with
//! the DPoP challenge, and without `PUBLIC_URL` DPoP is refused while bearer tokens keep working.

mod common;

use common::{Backend, TestApp};
use serde_json::Value;
use ssoguard::Algorithm;
use ssoguard::challenge::Scheme;
use ssoguard::testing::DpopClient;
use ssoguard::testing::attacks::dpop_attack_cases;

/// The public URL the service is configured with (proofs name it, not the socket address).
const PUBLIC_URL: &str = "https://tasks.example.test";

async fn app() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, &[("PUBLIC_URL", PUBLIC_URL)]).await
}

/// A DPoP-bound token for `sub`, and the client holding its key.
fn bound_token(app: &TestApp, sub: &str) -> (String, DpopClient) {
    let client = DpopClient::generate(Algorithm::ES256).expect("client key");
    let token = app
        .issuer()
        .token()
        .sub(sub)
        .role("user")
        .cnf_jkt(&client.jkt())
        .sign();
    (token, client)
}

/// `method path` with `Authorization: <scheme> <token>` and an optional `DPoP` proof.
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .request(method.clone(), app.url(path))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    if method == reqwest::Method::POST {
        request = request.json(&serde_json::json!({"title": "bound"}));
    }
    request.send().await.expect("request")
}

fn challenges(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_bound_token_with_a_proof_from_its_key_reaches_the_api() {
    let app = app().await;
    let (token, client) = bound_token(&app, "alice");
    let url = format!("{PUBLIC_URL}/api/me");
    let proof = client.proof("GET", &url, &token).sign();
    let response = send(
        &app,
        reqwest::Method::GET,
        "/api/me",
        "DPoP",
        &token,
        Some(&proof),
    )
    .await;
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.expect("json");
    assert_eq!(me["id"], "alice");

    // The proof binds the method too: a POST needs its own.
    let url = format!("{PUBLIC_URL}/api/tasks");
    let proof = client.proof("POST", &url, &token).sign();
    let response = send(
        &app,
        reqwest::Method::POST,
        "/api/tasks",
        "DPoP",
        &token,
        Some(&proof),
    )
    .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn every_dpop_attack_is_refused_over_http_with_the_dpop_challenge() {
    let app = app().await;
    let audience = app.dev.client_id().to_string();
    let url = format!("{PUBLIC_URL}/api/tasks");
    let cases = dpop_attack_cases(app.issuer(), &audience, &url).expect("an EdDSA key");
    assert!(cases.len() > 10, "the catalogue is not empty");
    for case in cases {
        let method = reqwest::Method::from_bytes(case.method.as_str().as_bytes()).expect("method");
        let scheme = match case.scheme {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => "DPoP",
        };
        if case.replay {
            let first = send(
                &app,
                method.clone(),
                "/api/tasks",
                scheme,
                &case.token,
                case.proof.as_deref(),
            )
            .await;
            assert!(
                first.status().is_success(),
                "{}: first use {}",
                case.name,
                first.status()
            );
        }
        let response = send(
            &app,
            method,
            "/api/tasks",
            scheme,
            &case.token,
            case.proof.as_deref(),
        )
        .await;
        let status = response.status().as_u16();
        let expected = case.expected.status_code();
        assert_eq!(status, expected, "{}", case.name);
        let challenges = challenges(&response);
        assert!(
            challenges
                .iter()
                .any(|c| c.starts_with("DPoP ") && c.contains("algs=")),
            "{}: {challenges:?}",
            case.name
        );
        let body = response.text().await.unwrap_or_default();
        assert!(
            !body.contains(&case.token),
            "{}: the token is echoed",
            case.name
        );
    }
}

#[tokio::test]
async fn without_public_url_dpop_is_refused_and_bearer_still_works() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (token, client) = bound_token(&app, "alice");
    let proof = client.proof("GET", &app.url("/api/me"), &token).sign();
    let response = send(
        &app,
        reqwest::Method::GET,
        "/api/me",
        "DPoP",
        &token,
        Some(&proof),
    )
    .await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("public URL"),
        "{body}"
    );
    // A bound token cannot be downgraded to Bearer; an unbound one works as before.
    let response = send(
        &app,
        reqwest::Method::GET,
        "/api/me",
        "Bearer",
        &token,
        None,
    )
    .await;
    assert_eq!(response.status(), 401);
    let plain = app.token("bob", "user");
    let response = send(
        &app,
        reqwest::Method::GET,
        "/api/me",
        "Bearer",
        &plain,
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn with_dpop_required_a_bearer_token_is_refused_with_the_dpop_challenge() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("PUBLIC_URL", PUBLIC_URL), ("DPOP_REQUIRED", "1")],
    )
    .await;
    let plain = app.token("bob", "user");
    let response = send(
        &app,
        reqwest::Method::GET,
        "/api/me",
        "Bearer",
        &plain,
        None,
    )
    .await;
    assert_eq!(response.status(), 401);
    let schemes = challenges(&response);
    assert!(
        schemes.iter().any(|c| c.starts_with("DPoP")),
        "a DPoP challenge: {schemes:?}"
    );
    assert!(
        !schemes.iter().any(|c| c.starts_with("Bearer")),
        "no Bearer challenge when bearer tokens are refused: {schemes:?}"
    );
    // The same user with a bound token and its proof is served.
    let (token, client) = bound_token(&app, "bob");
    let proof = client
        .proof("GET", &format!("{PUBLIC_URL}/api/me"), &token)
        .sign();
    let response = send(
        &app,
        reqwest::Method::GET,
        "/api/me",
        "DPoP",
        &token,
        Some(&proof),
    )
    .await;
    assert_eq!(response.status(), 200);
}
