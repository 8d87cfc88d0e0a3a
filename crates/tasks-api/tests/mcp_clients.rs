//! Real MCP clients nobody here wrote, against tasks-api's `/mcp` and a real Better Auth
//! (`BA_MCP_RESOURCE`: the MCP resource, `tasks:*` scopes, open dynamic client registration).
//!
//! - The official TypeScript SDK (`interop/mcp/oauth-client.mjs`, `@modelcontextprotocol/sdk`
//!   pinned by its lockfile) runs its own OAuth client end to end: 401 → protected resource
//!   metadata → authorization server metadata → dynamic registration → code + PKCE + `resource`
//!   (the user's sign-in and consent through Better Auth's own endpoints) → token → `tools/list`,
//!   `create_task`, `list_tasks` as that user; the task is then visible over REST.
//! - A user who grants only `tasks:read`: `create_task` meets the step-up `403
//!   insufficient_scope` before anything is written; the SDK asks for `scope=tasks:write`, the
//!   user grants it, and the call passes.
//! - The official Python SDK (`crates/ssoguard-gateway/tests/fastapi/mcp_client.py`, `mcp` in the
//!   gateway tests' venv) calls the tools with a Better Auth token for the MCP resource.
//! - Refused with 401 and no tool run: a token for another audience (the REST API's client id,
//!   Better Auth's other resource), an expired one (a Better Auth whose clock runs behind) and
//!   one from another issuer (`ssoguard::testing::TestIssuer`).
//!
//! Without Node.js, or without a Python with `mcp`, the test prints `SKIPPED: …` and passes,
//! except under `CI`, where it fails.

mod interop_support;

use interop_support::{
    BetterAuth, RESOURCE, Session, TasksApi, clock_skew_env, interop_dir, jwt_claims,
    prerequisites_met, skip,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const PASSWORD: &str = "user-password-123";

/// Better Auth as the MCP authorization server and tasks-api with `PUBLIC_URL`, its resource
/// `<PUBLIC_URL>/mcp` known to both.
struct McpStack {
    sso: BetterAuth,
    api: TasksApi,
    /// `<PUBLIC_URL>/mcp`: the MCP endpoint and its resource identifier.
    resource: String,
}

impl McpStack {
    /// tasks-api's port is reserved first: Better Auth must know the resource before it starts.
    async fn start(better_auth_env: &[(String, String)]) -> McpStack {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("reserve a port")
            .port();
        let public_url = format!("http://127.0.0.1:{port}");
        let resource = format!("{public_url}/mcp");
        let mut env = better_auth_env.to_vec();
        env.push(("BA_MCP_RESOURCE".into(), resource.clone()));
        let sso = BetterAuth::start_env("EdDSA", &env).await;
        let api = TasksApi::for_server(
            &sso,
            &[("PUBLIC_URL", &public_url), ("PORT", &port.to_string())],
        )
        .await;
        assert_eq!(api.base, public_url, "tasks-api on its reserved port");
        McpStack { sso, api, resource }
    }

    /// The user's tasks over REST (the id_token's audience is the REST API's client id).
    async fn rest_titles(&self, user: &Session) -> Vec<String> {
        let tokens = self.sso.authorize(user, None).await;
        let reply = self.api.get("/api/tasks", &tokens.id_token).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply
            .body
            .as_array()
            .expect("an array of tasks")
            .iter()
            .map(|t| t["title"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// `interop/mcp`, with its pinned SDK installed (`install.sh`: `npm ci` when needed).
fn typescript_sdk() -> PathBuf {
    let dir = interop_dir().join("../mcp");
    let status = std::process::Command::new("bash")
        .arg(dir.join("install.sh"))
        .status()
        .expect("run interop/mcp/install.sh");
    assert!(status.success(), "interop/mcp/install.sh failed");
    dir
}

/// `oauth-client.mjs` for `user`, granting `scopes` at Better Auth's consent: its JSON report.
async fn typescript_client(stack: &McpStack, user: &Session, scopes: &[&str]) -> Value {
    let out = tokio::process::Command::new("node")
        .current_dir(typescript_sdk())
        .arg("oauth-client.mjs")
        .args([&stack.resource, &stack.sso.origin, &user.email, PASSWORD])
        .args(scopes)
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "oauth-client.mjs: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        stack.sso.stderr()
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oauth-client.mjs printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A Python with the MCP SDK: `GATEWAY_PYTHON`, else the venv `.ci/run` makes, or a skip.
fn python_sdk() -> Option<PathBuf> {
    let candidate = std::env::var_os("GATEWAY_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/ssoguard-venv/bin/python"))
        })
        .filter(|p| p.is_file());
    let ok = candidate.as_ref().is_some_and(|p| {
        std::process::Command::new(p)
            .args(["-c", "import mcp"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if !ok {
        skip(
            "no Python with the MCP SDK (run .ci/run, or set GATEWAY_PYTHON to a python with \
             crates/ssoguard-gateway/tests/fastapi/requirements.txt installed)",
        );
        return None;
    }
    candidate
}

/// `mcp_client.py <url> <token> [<tool> <json>]...`: its exit status and JSON report.
async fn python_client(
    python: &Path,
    url: &str,
    token: &str,
    calls: &[(&str, Value)],
) -> (bool, Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ssoguard-gateway/tests/fastapi/mcp_client.py");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(script).args([url, token]);
    for (tool, arguments) in calls {
        cmd.arg(tool).arg(arguments.to_string());
    }
    let out = cmd.output().await.expect("python runs");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "mcp_client.py printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

/// The tasks a tool result holds, read from its text content: a task (`create_task`) or
/// `{"tasks": [...], "next_cursor": ...}` (`list_tasks`). The structured content is the same.
fn tasks_in(result: &Value) -> Vec<Value> {
    let text = result["text"][0].as_str().expect("a text content");
    let value: Value = serde_json::from_str(text).expect("the text is JSON");
    assert_eq!(
        result["structured"], value,
        "structuredContent = the text's JSON"
    );
    match value.get("tasks") {
        Some(Value::Array(tasks)) => tasks.clone(),
        _ => vec![value],
    }
}

fn titles(tasks: &[Value]) -> Vec<&str> {
    tasks
        .iter()
        .map(|t| t["title"].as_str().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_signs_in_through_better_auth_and_calls_the_tools() {
    if !prerequisites_met() {
        return;
    }
    let stack = McpStack::start(&[]).await;
    let user = stack.sso.new_user("MCP TS User").await;
    let report = typescript_client(&stack, &user, &["tasks:read", "tasks:write"]).await;

    // The discovery the SDK went through, in order, before its first authorized request.
    let exchanges = report["exchanges"].as_array().expect("exchanges");
    let step = |i: usize| {
        let e = &exchanges[i];
        (
            e["method"].as_str().unwrap_or_default().to_string(),
            e["url"].as_str().unwrap_or_default().to_string(),
            e["status"].as_u64().unwrap_or_default(),
        )
    };
    let public_url = stack.api.base.clone();
    let metadata_url = format!("{public_url}/.well-known/oauth-protected-resource/mcp");
    assert_eq!(step(0), ("POST".into(), stack.resource.clone(), 401));
    let challenge = exchanges[0]["www_authenticate"]
        .as_str()
        .unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge}"
    );
    assert_eq!(step(1), ("GET".into(), metadata_url, 200));
    assert_eq!(
        step(2),
        (
            "GET".into(),
            format!(
                "{}/.well-known/oauth-authorization-server/api/auth",
                stack.sso.origin
            ),
            200
        )
    );
    assert_eq!(
        step(3),
        (
            "POST".into(),
            format!("{}/oauth2/register", stack.sso.issuer),
            201
        )
    );
    assert_eq!(
        step(4),
        (
            "POST".into(),
            format!("{}/oauth2/token", stack.sso.issuer),
            200
        )
    );
    assert_eq!(step(5).1, stack.resource, "then back to the MCP server");

    // The protected resource metadata the SDK read (RFC 9728, path-inserted).
    let metadata: Value = stack
        .api
        .http
        .get(format!(
            "{public_url}/.well-known/oauth-protected-resource/mcp"
        ))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("metadata JSON");
    assert_eq!(metadata["resource"], stack.resource.as_str());
    assert_eq!(metadata["authorization_servers"], json!([stack.sso.issuer]));
    assert_eq!(
        metadata["scopes_supported"],
        json!(["tasks:read", "tasks:write"])
    );
    assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));

    // A public client, registered on the spot; the user consented; the token is for /mcp.
    assert_eq!(report["registration"]["token_endpoint_auth_method"], "none");
    assert_eq!(report["registration"]["has_client_secret"], false);
    assert_eq!(report["authorization"]["resource"], stack.resource.as_str());
    assert_eq!(report["authorization"]["consent"], true);
    let token = &report["token"];
    assert_eq!(token["iss"], stack.sso.issuer.as_str());
    assert_eq!(token["aud"], stack.resource.as_str());
    assert_eq!(token["sub"], user.user_id.as_str());
    assert_eq!(token["scope"], "tasks:read tasks:write");
    assert_eq!(token["client_id"], report["client_id"]);

    assert_eq!(
        report["tools"],
        json!(["create_task", "delete_task", "list_tasks", "update_task"])
    );
    let title = report["title"].as_str().expect("title");
    let created = &report["create_task"]["ok"];
    assert_eq!(created["is_error"], false, "{report}");
    let task = &tasks_in(created)[0];
    assert_eq!(task["title"], title);
    assert_eq!(task["user_id"], user.user_id.as_str());
    assert_eq!(created["structured"]["title"], title, "structuredContent");
    let listed = &report["list_tasks"]["ok"];
    assert_eq!(titles(&tasks_in(listed)), [title], "{report}");

    // The same task over REST, for that user; the MCP token is not a REST token.
    assert_eq!(stack.rest_titles(&user).await, [title]);
    let mcp_token = report["access_token"].as_str().expect("access_token");
    assert_eq!(stack.api.get("/api/tasks", mcp_token).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_with_a_read_only_token_meets_the_step_up() {
    if !prerequisites_met() {
        return;
    }
    let stack = McpStack::start(&[]).await;
    let user = stack.sso.new_user("MCP Reader").await;
    let report = typescript_client(&stack, &user, &["tasks:read"]).await;
    assert_eq!(
        report["authorization"]["requested_scope"], "tasks:read tasks:write",
        "the SDK asks for the metadata's scopes_supported"
    );
    assert_eq!(
        report["token"]["scope"], "tasks:read",
        "the user granted less"
    );

    // create_task: 403 insufficient_scope, decided before the tool ran.
    let step_up = &report["step_up"];
    let refusal = &step_up["exchanges"][0];
    assert_eq!(refusal["status"], 403, "{report}");
    let challenge = refusal["www_authenticate"].as_str().unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"tasks:write\""),
        "{challenge}"
    );
    assert_eq!(report["create_task"]["error"]["class"], "UnauthorizedError");
    let after_refusal = &report["list_tasks_after_refusal"]["ok"];
    assert!(tasks_in(after_refusal).is_empty(), "{report}");

    // The SDK's step-up: a new authorization request for the challenge's scope and resource.
    assert_eq!(step_up["authorization_request"]["scope"], "tasks:write");
    assert_eq!(
        step_up["authorization_request"]["resource"],
        stack.resource.as_str()
    );
    assert_eq!(step_up["token"]["scope"], "tasks:write");
    let created = &step_up["create_task"]["ok"];
    assert_eq!(created["is_error"], false, "{report}");
    // One task: the call refused before the step-up wrote nothing.
    let title = report["title"].as_str().expect("title");
    assert_eq!(stack.rest_titles(&user).await, [title]);
    eprintln!(
        "after the step-up (token scope tasks:write only), list_tasks: {}",
        report["list_tasks"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_calls_the_tools_with_a_better_auth_token() {
    if !prerequisites_met() {
        return;
    }
    let Some(python) = python_sdk() else {
        return;
    };
    let stack = McpStack::start(&[]).await;
    let user = stack.sso.new_user("MCP Python User").await;
    // A real Better Auth token for the MCP resource, obtained by the TypeScript SDK's flow.
    let typescript = typescript_client(&stack, &user, &["tasks:read", "tasks:write"]).await;
    let token = typescript["access_token"].as_str().expect("access_token");

    let title = "from the MCP Python SDK";
    let (ok, report) = python_client(
        &python,
        &stack.resource,
        token,
        &[
            ("create_task", json!({"title": title, "description": "py"})),
            ("list_tasks", json!({})),
        ],
    )
    .await;
    assert!(ok, "{report}");
    assert_eq!(
        report["tools"],
        json!(["create_task", "delete_task", "list_tasks", "update_task"])
    );
    let created = &tasks_in(&report["calls"][0]["result"])[0];
    assert_eq!(created["title"], title);
    assert_eq!(created["user_id"], user.user_id.as_str());
    let listed = tasks_in(&report["calls"][1]["result"]);
    assert!(titles(&listed).contains(&title), "{report}");
    assert!(stack.rest_titles(&user).await.contains(&title.to_string()));
    eprintln!(
        "Python SDK protocol version: {}",
        report["protocol_version"]
    );
}

/// The Python SDK with `token`: refused with 401 before any tool ran. The same token in a raw
/// `initialize` shows the challenge (the SDK keeps only the status), which names `reason`.
async fn assert_refused(python: &Path, stack: &McpStack, token: &str, reason: &str, what: &str) {
    let raw = stack
        .api
        .http
        .post(&stack.resource)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}}),
        )
        .send()
        .await
        .expect("POST /mcp");
    assert_eq!(raw.status(), 401, "{what}: raw initialize");
    let challenge = raw
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(&format!("error_description=\"{reason}\""))
            && challenge.contains(&format!(
                "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
                stack.api.base
            )),
        "{what}: {challenge}"
    );
    eprintln!("{what}: 401 {challenge}");

    let (ok, report) = python_client(
        python,
        &stack.resource,
        token,
        &[("create_task", json!({"title": what}))],
    )
    .await;
    assert!(!ok, "{what}: accepted: {report}");
    assert_eq!(report["refused"]["status"], 401, "{what}: {report}");
    assert!(
        report["calls"].as_array().is_none_or(Vec::is_empty),
        "{what}: a tool ran: {report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_for_another_audience_or_issuer_or_expired_are_refused() {
    if !prerequisites_met() {
        return;
    }
    let Some(python) = python_sdk() else {
        return;
    };
    // The trusted SSO, and one whose clock runs 2 h behind (its access tokens, 1 h, expired).
    let behind = clock_skew_env(-2 * 3600);
    let (stack, late) = tokio::join!(McpStack::start(&[]), McpStack::start(&behind));
    let user = stack.sso.new_user("MCP Refused User").await;

    // Another audience: the id_token (aud = the REST API's client id) and Better Auth's other
    // resource (BA_RESOURCE), both valid REST credentials of the same user.
    let rest = stack.sso.authorize(&user, Some(RESOURCE)).await;
    assert!(
        jwt_claims(&rest.access_token)["aud"]
            .as_array()
            .is_some_and(|aud| aud.contains(&json!(RESOURCE))),
        "a JWT for {RESOURCE}"
    );
    assert_refused(
        &python,
        &stack,
        &rest.id_token,
        "audience mismatch",
        "the REST client id's id_token",
    )
    .await;
    assert_refused(
        &python,
        &stack,
        &rest.access_token,
        "audience mismatch",
        "a token for BA_RESOURCE",
    )
    .await;

    // Expired: the late Better Auth's token for its own tasks-api's MCP resource.
    let late_user = late.sso.new_user("MCP Late User").await;
    let expired = late.sso.authorize(&late_user, Some(&late.resource)).await;
    let claims = jwt_claims(&expired.access_token);
    assert!(
        claims["aud"]
            .as_array()
            .is_some_and(|aud| aud.contains(&json!(late.resource))),
        "{claims}"
    );
    assert!(claims["exp"].as_i64().expect("exp") < interop_support::now());
    assert_refused(
        &python,
        &late,
        &expired.access_token,
        "token expired",
        "an expired token",
    )
    .await;

    // Another issuer: right audience, subject and scopes, signed by a key tasks-api never met.
    let other = ssoguard::testing::TestIssuer::start()
        .await
        .expect("issuer");
    let foreign = other
        .token()
        .aud(&stack.resource)
        .sub(&user.user_id)
        .claim("scope", json!("tasks:read tasks:write"))
        .sign();
    assert_refused(
        &python,
        &stack,
        &foreign,
        "issuer mismatch",
        "another issuer's token",
    )
    .await;

    // No tool ran: nothing was created.
    assert!(stack.rest_titles(&user).await.is_empty());
}
