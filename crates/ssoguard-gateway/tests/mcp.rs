//! `[[mcp]]`: an MCP server behind the reverse proxy (on port 0, an in-process upstream that
//! records what reaches it), protected as an OAuth resource: path-inserted RFC 9728 metadata,
//! tokens for the resource only, per-tool scopes read from the JSON-RPC body with the
//! `insufficient_scope` step-up, the body passed on as the exact bytes checked, and nothing
//! refused ever reaching the upstream. Forward-auth refuses the endpoint (it cannot see bodies).
//! The real Python SDK's FastMCP server behind the gateway: `mcp_fastmcp.rs`.

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing;
use serde_json::{Value, json};
use ssoguard::testing::TestIssuer;
use ssoguard_gateway::{App, Config};
use std::sync::{Arc, Mutex};

const PUBLIC_URL: &str = "https://gw.example.test";
const RESOURCE: &str = "https://gw.example.test/mcp";

/// What the upstream received: (identity user header, body) per request.
type Seen = Arc<Mutex<Vec<(Option<String>, Bytes)>>>;

/// An upstream MCP stand-in at `/mcp` answering every message with an empty result.
async fn upstream() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = Router::new().route(
        "/mcp",
        routing::post(move |headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            async move {
                let user = headers
                    .get("x-auth-request-user")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                record.lock().expect("lock").push((user, body));
                axum::Json(json!({"jsonrpc": "2.0", "id": 1, "result": {}}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

fn config(sso: &TestIssuer, upstream: &str) -> String {
    format!(
        r#"upstream = "{upstream}"
public_url = "{PUBLIC_URL}"

[[issuer]]
name = "main"
issuer = "{}"
audiences = ["api"]

[[route]]
path = "/"

[[mcp]]
path = "/mcp"
[mcp.tools]
find_notes = ["notes:read"]
write_note = ["notes:write"]
"#,
        sso.issuer()
    )
}

async fn gateway(toml: &str) -> String {
    let env = |k: &str| (k == "PORT").then(|| "0".to_string());
    let config = Config::from_toml(toml, "mcp.toml", &env).expect("config");
    let app = App::build(config).await.expect("app");
    let addr = app.local_addr();
    tokio::spawn(app.run_until(std::future::pending()));
    format!("http://{addr}")
}

fn call(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": tool, "arguments": {}}})
    .to_string()
}

async fn post(gw: &str, token: Option<&str>, body: &str) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{gw}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("request")
}

fn challenge(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[tokio::test]
async fn the_mcp_endpoint_is_a_resource_with_per_tool_scopes() {
    let sso = TestIssuer::start().await.expect("issuer");
    let (up, seen) = upstream().await;
    let gw = gateway(&config(&sso, &up)).await;
    let token = |aud: &str, scope: &str| {
        sso.token()
            .sub("alice")
            .aud(aud)
            .claim("scope", json!(scope))
            .sign()
    };

    // The metadata, path-inserted.
    let doc: Value = reqwest::get(format!("{gw}/.well-known/oauth-protected-resource/mcp"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["resource"], RESOURCE);
    assert_eq!(doc["authorization_servers"], json!([sso.issuer()]));
    assert_eq!(
        doc["scopes_supported"],
        json!(["notes:read", "notes:write"])
    );

    // No token: 401 naming the MCP resource's metadata.
    let resp = post(&gw, None, &call("find_notes")).await;
    assert_eq!(resp.status(), 401);
    assert!(
        challenge(&resp).contains(&format!(
            "resource_metadata=\"{PUBLIC_URL}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{}",
        challenge(&resp)
    );
    // A token for the gateway's other audience, or another resource: 401.
    for aud in ["api", "https://gw.example.test/other"] {
        let resp = post(
            &gw,
            Some(&token(aud, "notes:read notes:write")),
            &call("find_notes"),
        )
        .await;
        assert_eq!(resp.status(), 401, "{aud}");
        assert!(challenge(&resp).contains("invalid_token"));
    }
    // A tool beyond the token's scopes: the step-up 403.
    let reader = token(RESOURCE, "notes:read");
    for tool in ["write_note", "unlisted_tool"] {
        let resp = post(&gw, Some(&reader), &call(tool)).await;
        assert_eq!(resp.status(), 403, "{tool}");
        let challenge = challenge(&resp);
        assert!(
            challenge.contains("error=\"insufficient_scope\"")
                && challenge.contains("notes:write")
                && challenge.contains("resource_metadata="),
            "{challenge}"
        );
    }
    // A body whose tool cannot be read exactly: 400.
    let smuggled = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"find_notes","name":"write_note"}}"#;
    assert_eq!(post(&gw, Some(&reader), smuggled).await.status(), 400);
    assert!(
        seen.lock().expect("lock").is_empty(),
        "nothing refused reached the upstream"
    );

    // Allowed: the upstream gets the exact bytes checked, and the caller's identity.
    let body = call("find_notes");
    let resp = post(&gw, Some(&reader), &body).await;
    assert_eq!(resp.status(), 200);
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.as_deref(), Some("alice"));
    assert_eq!(seen[0].1, body.as_bytes());
}

#[tokio::test]
async fn forward_auth_refuses_the_mcp_endpoint() {
    let sso = TestIssuer::start().await.expect("issuer");
    let (up, _) = upstream().await;
    let gw = gateway(&config(&sso, &up)).await;
    let token = sso
        .token()
        .sub("alice")
        .aud(RESOURCE)
        .claim("scope", json!("notes:read notes:write"))
        .sign();
    let resp = reqwest::Client::new()
        .get(format!("{gw}/_ssoguard/auth"))
        .header("x-original-method", "POST")
        .header("x-original-uri", "/mcp")
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn mcp_settings_that_cannot_be_enforced_are_refused_at_start() {
    let sso = TestIssuer::start().await.expect("issuer");
    let good = config(&sso, "http://127.0.0.1:9");
    let env = |_: &str| None;
    let cases = [
        // Forward-auth only: the body (the tool) is not visible.
        (
            good.replace("upstream = \"http://127.0.0.1:9\"\n", ""),
            "upstream",
        ),
        // No resource and no public_url.
        (
            good.replace(&format!("public_url = \"{PUBLIC_URL}\"\n"), ""),
            "resource",
        ),
        (
            good.replace("path = \"/mcp\"", "path = \"/mcp/*\""),
            "exact",
        ),
        (
            good.replace("path = \"/mcp\"", "path = \"/_ssoguard/mcp\""),
            "reserved",
        ),
        (
            good.replace("path = \"/mcp\"", "path = \"/mcp\"\nissuer = \"nope\""),
            "token issuer",
        ),
    ];
    for (toml, expected) in cases {
        let err = Config::from_toml(&toml, "mcp.toml", &env).expect_err(expected);
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
}
