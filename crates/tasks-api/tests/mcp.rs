//! `/mcp` through the running service (port 0, its own database, the dev issuer's real
//! signatures): the resource's metadata, the 401 that names it, tokens for the resource only
//! (RFC 8707), the tools acting for the token's user on the same data as the REST API, and the
//! `insufficient_scope` step-up decided before a tool runs.

mod common;

use common::{Backend, TestApp};
use serde_json::{Value, json};
use std::time::Duration;

/// The public URL the service is configured with; the MCP resource is `<PUBLIC_URL>/mcp`.
const PUBLIC_URL: &str = "http://tasks.example.test:8000";
const RESOURCE: &str = "http://tasks.example.test:8000/mcp";
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

async fn app() -> TestApp {
    TestApp::spawn_with(Backend::Sqlite, &[("PUBLIC_URL", PUBLIC_URL)]).await
}

/// A token for the MCP resource, for `sub`, with `scope`.
fn mcp_token(app: &TestApp, sub: &str, scope: &str) -> String {
    app.issuer()
        .token()
        .sub(sub)
        .aud(RESOURCE)
        .claim("scope", json!(scope))
        .sign()
}

/// One JSON-RPC request to `/mcp` (streamable HTTP, JSON response): status, headers, body.
async fn rpc(
    app: &TestApp,
    token: Option<&str>,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    post_mcp(app, token, body.to_string()).await
}

/// `body`, as it is, posted to `/mcp`.
async fn post_mcp(
    app: &TestApp,
    token: Option<&str>,
    body: String,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(app.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-06-18")
        .timeout(Duration::from_secs(10))
        .body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, value)
}

/// The user's tasks as the REST API lists them.
async fn rest_tasks(app: &TestApp, user: &str) -> Value {
    app.get("/api/tasks", &app.token(user, "user"))
        .await
        .json()
        .await
        .expect("json")
}

fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "tasks-api-test", "version": "0"}}})
}

fn challenge(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The structured content of a successful tool call.
fn result(body: &Value) -> &Value {
    assert_eq!(body["result"]["isError"], json!(false), "{body}");
    &body["result"]["structuredContent"]
}

#[tokio::test]
async fn the_metadata_is_served_at_the_path_inserted_location() {
    let app = app().await;
    let resp = reqwest::get(app.url(METADATA_PATH)).await.expect("get");
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.expect("json");
    assert_eq!(doc["resource"], RESOURCE);
    assert_eq!(doc["authorization_servers"], json!([app.issuer().issuer()]));
    assert_eq!(
        doc["scopes_supported"],
        json!(["tasks:read", "tasks:write"])
    );
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    // PUBLIC_URL turns DPoP on: its fields are named.
    assert_eq!(doc["dpop_bound_access_tokens_required"], json!(false));
    assert!(
        doc["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
}

#[tokio::test]
async fn without_a_token_the_401_names_the_metadata() {
    let app = app().await;
    let (status, headers, body) = rpc(&app, None, &initialize()).await;
    assert_eq!(status, 401, "{body}");
    let challenge = challenge(&headers);
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(&format!(
                "resource_metadata=\"{PUBLIC_URL}/.well-known/oauth-protected-resource/mcp\""
            )),
        "{challenge}"
    );
    // The GET stream and session DELETE are guarded too.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let resp = reqwest::Client::new()
            .request(method.clone(), app.url("/mcp"))
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 401, "{method}");
    }
}

#[tokio::test]
async fn only_tokens_for_the_resource_reach_a_tool() {
    let app = app().await;
    let owner = "mcp-owner";
    let issuer = app.issuer();
    let refused = [
        // The REST API's audience (the client id) is not the MCP resource.
        (
            "REST audience",
            issuer
                .token()
                .sub(owner)
                .claim("scope", json!("tasks:read tasks:write"))
                .sign(),
        ),
        (
            "another resource",
            issuer
                .token()
                .sub(owner)
                .aud("http://tasks.example.test:8000/other")
                .claim("scope", json!("tasks:write"))
                .sign(),
        ),
        (
            "expired",
            issuer
                .token()
                .sub(owner)
                .aud(RESOURCE)
                .claim("scope", json!("tasks:write"))
                .exp_in(-3600)
                .sign(),
        ),
        (
            "another issuer",
            issuer
                .token()
                .sub(owner)
                .aud(RESOURCE)
                .iss("https://evil.example/api/auth")
                .claim("scope", json!("tasks:write"))
                .sign(),
        ),
    ];
    for (case, token) in &refused {
        let (status, headers, body) = rpc(
            &app,
            Some(token),
            &call(1, "create_task", json!({"title": case})),
        )
        .await;
        assert_eq!(status, 401, "{case}: {body}");
        let challenge = challenge(&headers);
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{case}: {challenge}"
        );
        assert!(
            challenge.contains("resource_metadata="),
            "{case}: {challenge}"
        );
    }
    // No tool ran: the owner has no task.
    let rest = app.token(owner, "user");
    let tasks: Value = app
        .get("/api/tasks", &rest)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(tasks, json!([]));
    // And the MCP token is not a REST token: the REST API's audience rules are unchanged.
    let token = mcp_token(&app, owner, "tasks:read tasks:write");
    assert_eq!(app.get("/api/tasks", &token).await.status(), 401);
}

#[tokio::test]
async fn the_tools_act_for_the_tokens_user_on_the_rest_apis_data() {
    let app = app().await;
    let alice = mcp_token(&app, "alice", "tasks:read tasks:write");
    let (status, _, body) = rpc(&app, Some(&alice), &initialize()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["serverInfo"]["name"], "tasks-api");

    let (status, _, body) = rpc(
        &app,
        Some(&alice),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["create_task", "delete_task", "list_tasks", "update_task"]
    );

    let (status, _, body) = rpc(
        &app,
        Some(&alice),
        &call(2, "create_task", json!({"title": "from MCP"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let task = result(&body).clone();
    assert_eq!(task["title"], "from MCP");
    assert_eq!(task["user_id"], "alice");
    let id = task["id"].as_str().expect("id").to_string();

    // The REST API sees the same task for the same user.
    let rest = rest_tasks(&app, "alice").await;
    assert_eq!(rest[0]["id"], id.as_str());

    let (_, _, body) = rpc(
        &app,
        Some(&alice),
        &call(3, "update_task", json!({"id": id, "done": true})),
    )
    .await;
    assert_eq!(result(&body)["done"], true);
    let (_, _, body) = rpc(&app, Some(&alice), &call(4, "list_tasks", json!({}))).await;
    assert_eq!(result(&body)["tasks"][0]["id"], id.as_str());

    // Another user's token: the task does not exist for them.
    let bob = mcp_token(&app, "bob", "tasks:read tasks:write");
    let (_, _, body) = rpc(&app, Some(&bob), &call(5, "list_tasks", json!({}))).await;
    assert_eq!(result(&body)["tasks"], json!([]));
    for tool in ["update_task", "delete_task"] {
        let (status, _, body) = rpc(
            &app,
            Some(&bob),
            &call(6, tool, json!({"id": id, "title": "mine"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["isError"], true, "{tool}: {body}");
        assert_eq!(
            body["result"]["structuredContent"]["detail"],
            "Task not found"
        );
    }

    // The REST API's validation: a blank title is refused with its field error.
    let (_, _, body) = rpc(
        &app,
        Some(&alice),
        &call(7, "create_task", json!({"title": "  "})),
    )
    .await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    assert_eq!(
        body["result"]["structuredContent"]["detail"][0]["loc"],
        json!(["body", "title"])
    );

    let (_, _, body) = rpc(
        &app,
        Some(&alice),
        &call(8, "delete_task", json!({"id": id})),
    )
    .await;
    assert_eq!(result(&body)["deleted"], id.as_str());
    let rest = rest_tasks(&app, "alice").await;
    assert_eq!(rest, json!([]));
}

#[tokio::test]
async fn a_tool_beyond_the_tokens_scopes_is_a_step_up_403_before_it_runs() {
    let app = app().await;
    let reader = mcp_token(&app, "reader", "tasks:read");
    let (status, _, body) = rpc(&app, Some(&reader), &call(1, "list_tasks", json!({}))).await;
    assert_eq!(status, 200, "{body}");
    for (tool, args) in [
        ("create_task", json!({"title": "no"})),
        ("update_task", json!({"id": "x", "done": true})),
        ("delete_task", json!({"id": "x"})),
        // A tool the server does not list needs every scope.
        ("drop_everything", json!({})),
    ] {
        let (status, headers, body) = rpc(&app, Some(&reader), &call(2, tool, args)).await;
        assert_eq!(status, 403, "{tool}: {body}");
        let challenge = challenge(&headers);
        assert!(
            challenge.starts_with("Bearer ")
                && challenge.contains("error=\"insufficient_scope\"")
                && (challenge.contains("scope=\"tasks:write\"")
                    || challenge.contains("scope=\"tasks:read tasks:write\""))
                && challenge.contains("resource_metadata="),
            "{tool}: {challenge}"
        );
    }
    let writer_only = mcp_token(&app, "writer", "tasks:write");
    let (status, headers, _) =
        rpc(&app, Some(&writer_only), &call(3, "list_tasks", json!({}))).await;
    assert_eq!(status, 403);
    assert!(challenge(&headers).contains("scope=\"tasks:read\""));
    // Nothing was created.
    let tasks = rest_tasks(&app, "reader").await;
    assert_eq!(tasks, json!([]));
}

#[tokio::test]
async fn bodies_the_guard_cannot_read_exactly_never_reach_the_server() {
    let app = app().await;
    let reader = mcp_token(&app, "reader", "tasks:read");
    let smuggled = [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks","name":"create_task","arguments":{"title":"x"}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"create_task","arguments":{"title":"x"}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks"},"params":{"name":"create_task","arguments":{"title":"x"}}}"#,
        "not json",
    ];
    for body in smuggled {
        let (status, _, _) = post_mcp(&app, Some(&reader), body.to_string()).await;
        assert_eq!(status, 400, "{body}");
    }
    // An escaped tool name is the same tool.
    let escaped = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create\u005ftask","arguments":{"title":"x"}}}"#;
    let (status, _, _) = post_mcp(&app, Some(&reader), escaped.to_string()).await;
    assert_eq!(status, 403);
    let tasks = rest_tasks(&app, "reader").await;
    assert_eq!(tasks, json!([]));
}

#[tokio::test]
async fn a_service_token_is_refused_tools_act_for_users() {
    let app = app().await;
    let client_id = app.dev.client_id().to_string();
    let service = app
        .issuer()
        .token()
        .sub(&client_id)
        .aud(RESOURCE)
        .claim("azp", json!(client_id))
        .claim("scope", json!("tasks:read tasks:write"))
        .sign();
    let (status, _, body) = rpc(&app, Some(&service), &call(1, "list_tasks", json!({}))).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn without_a_public_url_there_is_no_mcp_endpoint() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.token("u", "user");
    let (status, _, _) = rpc(&app, Some(&token), &initialize()).await;
    assert_eq!(status, 404);
    assert_eq!(
        reqwest::get(app.url(METADATA_PATH))
            .await
            .expect("get")
            .status(),
        404
    );
}
