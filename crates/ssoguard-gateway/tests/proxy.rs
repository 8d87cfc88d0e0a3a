//! The reverse proxy on port 0 in front of small in-process upstreams: header handling, the
//! `forward_authorization` switch, opaque tokens through introspection, 504 for a silent
//! upstream, graceful shutdown with a request in flight. (The real FastAPI app, streaming and WebSocket: `real_proxies.rs`.)

mod support;

use axum::routing::any;
use serde_json::{Value, json};
use ssoguard::testing::TestIssuer;
use ssoguard_gateway::{App, Config};
use support::echo_upstream;

/// The gateway in reverse-proxy mode in front of `upstream` (an `http://` origin).
async fn gateway(sso: &TestIssuer, upstream: &str, extra: &str) -> String {
    let toml = format!(
        "upstream = \"{upstream}\"\nupstream_timeout_secs = 1\n{extra}\n\n[[issuer]]\nname = \"main\"\nissuer = \"{}\"\naudiences = [\"api\"]\nintrospection = {{ client_id = \"gw\", client_secret_env = \"GW_SECRET\" }}\n\n[[route]]\npath = \"/\"\n",
        sso.issuer()
    );
    let env = |k: &str| match k {
        "PORT" => Some("0".to_string()),
        "GW_SECRET" => Some("gw-secret".to_string()),
        _ => None,
    };
    let config = Config::from_toml(&toml, "proxy.toml", &env).expect("config");
    let app = App::build(config).await.expect("app");
    let addr = app.local_addr();
    tokio::spawn(app.run_until(std::future::pending()));
    format!("http://{addr}")
}

/// `GET url`, with `token` as the bearer token when given.
async fn get(url: &str, token: Option<&str>) -> reqwest::Response {
    let request = reqwest::Client::new().get(url);
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.expect("request")
}

#[tokio::test]
async fn headers_are_stripped_set_and_forwarded() {
    let sso = TestIssuer::start().await.expect("issuer");
    let upstream = echo_upstream().await;
    let gw = gateway(&sso, &upstream, "").await;
    let token = sso
        .token()
        .aud("api")
        .sub("u1")
        .email("u1@example.com")
        .role("user")
        .sign();
    let seen: Value = reqwest::Client::new()
        .get(format!("{gw}/anything?q=1"))
        .bearer_auth(&token)
        .header("x-auth-request-user", "admin")
        .header("x-auth-request-roles", "admin")
        .header("x-forwarded-for", "10.0.0.9")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "secret")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(seen["x-auth-request-user"], "u1", "{seen}");
    assert_eq!(seen["x-auth-request-roles"], "user", "{seen}");
    assert_eq!(seen["x-auth-request-email"], "u1@example.com", "{seen}");
    assert_eq!(seen["x-auth-request-issuer"], sso.issuer(), "{seen}");
    assert!(seen.get("authorization").is_none(), "{seen}");
    assert!(seen.get("x-hop").is_none(), "{seen}");
    // The client is no trusted proxy: its X-Forwarded-For is replaced, not extended.
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1", "{seen}");
    assert_eq!(seen["x-forwarded-proto"], "http");

    // A trusted proxy's X-Forwarded-For/-Host are kept; the scheme is public_url's.
    let gw = gateway(
        &sso,
        &upstream,
        "trusted_proxies = [\"127.0.0.1\"]\npublic_url = \"https://api.example\"",
    )
    .await;
    let seen: Value = reqwest::Client::new()
        .get(format!("{gw}/anything"))
        .bearer_auth(&token)
        .header("x-forwarded-for", "10.0.0.9")
        .header("x-forwarded-host", "app.example")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(seen["x-forwarded-for"], "10.0.0.9, 127.0.0.1", "{seen}");
    assert_eq!(seen["x-forwarded-host"], "app.example", "{seen}");
    assert_eq!(seen["x-forwarded-proto"], "https", "{seen}");
    let resp = get(&format!("{gw}/anything"), None).await;
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .expect("text")
        .to_string();
    assert!(
        challenge.contains(
            "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\""
        ),
        "{challenge}"
    );
}

#[tokio::test]
async fn authorization_is_forwarded_only_when_asked() {
    let sso = TestIssuer::start().await.expect("issuer");
    let upstream = echo_upstream().await;
    let gw = gateway(&sso, &upstream, "forward_authorization = true").await;
    let token = sso.token().aud("api").sign();
    let seen: Value = get(&format!("{gw}/x"), Some(&token))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(seen["authorization"], format!("Bearer {token}").as_str());
}

#[tokio::test]
async fn opaque_tokens_are_introspected() {
    let sso = TestIssuer::start().await.expect("issuer");
    sso.set_introspection_client("gw", "gw-secret");
    let upstream = echo_upstream().await;
    let gw = gateway(&sso, &upstream, "").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = |sub: &str| {
        json!({"iss": sso.issuer(), "client_id": "api", "aud": "api", "sub": sub,
            "exp": now + 3600, "iat": now, "scope": "api:read"})
    };
    let opaque = sso.issue_opaque(claims("svc-user"));
    let resp = get(&format!("{gw}/x"), Some(&opaque)).await;
    assert_eq!(resp.status(), 200);
    let seen: Value = resp.json().await.expect("json");
    assert_eq!(seen["x-auth-request-user"], "svc-user", "{seen}");
    sso.revoke_opaque(&opaque);
    let other = sso.issue_opaque(claims("x"));
    sso.revoke_opaque(&other);
    let resp = get(&format!("{gw}/x"), Some(&other)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(sso.introspections(), 2);
}

#[tokio::test]
async fn a_silent_upstream_is_504_and_a_closed_one_502() {
    let sso = TestIssuer::start().await.expect("issuer");
    // Accepts connections, never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });
    let gw = gateway(&sso, &format!("http://{silent_addr}"), "").await;
    let token = sso.token().aud("api").sign();
    let resp = get(&format!("{gw}/x"), Some(&token)).await;
    assert_eq!(resp.status(), 504);
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"detail": "Upstream did not answer in time"})
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let gw = gateway(&sso, &format!("http://{closed}"), "").await;
    let resp = get(&format!("{gw}/x"), Some(&token)).await;
    assert_eq!(resp.status(), 502);
    // Refused requests never reach the upstream, whatever it is.
    let resp = get(&format!("{gw}/x"), None).await;
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let sso = TestIssuer::start().await.expect("issuer");
    // An upstream that answers after 500 ms.
    let upstream = ssoguard::testing::serve(axum::Router::new().fallback(any(|| async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        "slow answer"
    })))
    .await;
    let toml = format!(
        "upstream = \"{upstream}\"\n\n[[issuer]]\nname = \"main\"\nissuer = \"{}\"\naudiences = [\"api\"]\n\n[[route]]\npath = \"/\"\n",
        sso.issuer()
    );
    let env = |k: &str| (k == "PORT").then(|| "0".to_string());
    let config = Config::from_toml(&toml, "proxy.toml", &env).expect("config");
    let app = App::build(config).await.expect("app");
    let gw = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let token = sso.token().aud("api").sign();
    let in_flight = tokio::spawn({
        let url = format!("{gw}/slow");
        let token = token.clone();
        async move { get(&url, Some(&token)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    stop.send(()).expect("stop");
    let resp = in_flight.await.expect("task");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.expect("body"), "slow answer");
    tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("the server stops once the request is done")
        .expect("task")
        .expect("serve");
    // And takes no new connections.
    let refused = reqwest::Client::new()
        .get(format!("{gw}/slow"))
        .bearer_auth(&token)
        .send()
        .await;
    assert!(refused.is_err(), "a stopped gateway answered");
}
