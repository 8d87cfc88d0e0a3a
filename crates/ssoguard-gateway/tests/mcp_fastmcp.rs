//! A real third-party MCP server behind the gateway: the official Python SDK's high-level server
//! (`tests/fastapi/fastmcp_server.py`: `MCPServer`, FastMCP's name in mcp 2.x, streamable HTTP,
//! no authentication of its own) behind `[[mcp]]`, called by the same SDK's client
//! (`tests/fastapi/mcp_client.py`). Reachable only with a token for the gateway's MCP resource:
//! no token, a token for another audience or from another issuer is 401 and a tool beyond the
//! token's scopes is the `insufficient_scope` 403, each before the server sees the call; with
//! the right token the tools run and `whoami` sees the identity headers the gateway added.
//!
//! The same server with a real Better Auth (`BA_MCP_RESOURCE`) as the authorization server: the
//! official TypeScript SDK (`interop/mcp/oauth-client.mjs`) goes from the gateway's 401 through
//! the gateway's protected resource metadata, Better Auth's metadata, dynamic registration and
//! the code flow with PKCE and `resource`, and calls the tools as the signed-in user.
//!
//! Without a Python that has the MCP SDK (or Node.js, for the second test) the test is a loud
//! skip, and a failure under `CI`.

mod support;

use serde_json::{Value, json};
use ssoguard::testing::TestIssuer;
use std::path::{Path, PathBuf};
use support::{
    BetterAuth, Gateway, Proc, crate_dir, missing, node_ready, python_candidate, spawn_listening,
};
use tokio::process::Command;

/// A Python with the MCP SDK (`GATEWAY_PYTHON`, else the venv `.ci/run` makes), or a skip.
fn python_with_mcp() -> Option<PathBuf> {
    let candidate = python_candidate();
    let ok = candidate.as_ref().is_some_and(|p| {
        std::process::Command::new(p)
            .args(["-c", "import mcp, uvicorn"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if ok {
        candidate
    } else {
        missing(
            "SKIPPED: no Python with the MCP SDK (run .ci/run, or set GATEWAY_PYTHON to a \
             python with crates/ssoguard-gateway/tests/fastapi/requirements.txt installed)",
        );
        None
    }
}

/// `fastmcp_server.py` on a free port: the process and its `127.0.0.1:<port>`.
async fn fastmcp_server(python: &Path) -> (Proc, String) {
    let (mut proc, addr) = spawn_listening("fastmcp_server.py", |port| {
        let mut cmd = Command::new(python);
        cmd.arg("fastmcp_server.py")
            .arg(port.to_string())
            .current_dir(crate_dir().join("tests/fastapi"));
        Proc::spawn("fastmcp_server.py", cmd, None)
    })
    .await;
    proc.wait_for_line("READY ").await;
    (proc, addr)
}

/// `mcp_client.py <url> <token> <tool> <args>...`: whether everything passed, and its report.
async fn client(python: &Path, url: &str, token: &str, calls: &[(&str, Value)]) -> (bool, Value) {
    let mut cmd = Command::new(python);
    cmd.arg(crate_dir().join("tests/fastapi/mcp_client.py"))
        .args([url, token]);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdks_server_behind_the_gateway_needs_a_token_for_its_resource() {
    let Some(python) = python_with_mcp() else {
        return;
    };
    let sso = TestIssuer::start().await.expect("issuer");
    let other = TestIssuer::start().await.expect("another issuer");
    let (_server, server_addr) = fastmcp_server(&python).await;
    // The resource is the gateway's public URL + path, so the gateway's port is chosen first.
    let port = support::free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let resource = format!("{public_url}/mcp");
    let config = format!(
        r#"upstream = "http://{server_addr}"
public_url = "{public_url}"

[[issuer]]
name = "main"
issuer = "{}"
audiences = ["api"]

[[route]]
path = "/"

[[mcp]]
path = "/mcp"
[mcp.tools]
echo = ["notes:read"]
whoami = ["notes:read"]
"#,
        sso.issuer()
    );
    let gateway = Gateway::start(&config, &[("PORT", &port.to_string())]).await;
    let url = gateway.url("/mcp");
    assert_eq!(url, resource, "the gateway on its reserved port");

    // The right token: the SDK's client reaches the server's tools, as the token's subject.
    let token = |issuer: &TestIssuer, aud: &str, scope: &str| {
        issuer
            .token()
            .sub("alice")
            .aud(aud)
            .claim("email", json!("alice@example.com"))
            .claim("scope", json!(scope))
            .sign()
    };
    let reader = token(&sso, &resource, "notes:read");
    let (ok, report) = client(
        &python,
        &url,
        &reader,
        &[("echo", json!({"text": "hello"})), ("whoami", json!({}))],
    )
    .await;
    assert!(ok, "{report}");
    assert_eq!(report["tools"], json!(["echo", "whoami"]));
    assert_eq!(
        report["calls"][0]["result"]["structured"]["result"],
        "hello"
    );
    let identity = &report["calls"][1]["result"]["structured"];
    assert_eq!(identity["x-auth-request-user"], "alice", "{report}");
    assert_eq!(identity["x-auth-request-email"], "alice@example.com");
    eprintln!(
        "Python SDK through the gateway: protocol {}, identity {identity}",
        report["protocol_version"]
    );

    // Refused before the server: no token's worth of access without the resource.
    let refusals = [
        (
            "a token for the gateway's other audience",
            token(&sso, "api", "notes:read"),
            401,
        ),
        (
            "a token for another resource",
            token(&sso, &format!("{public_url}/other"), "notes:read"),
            401,
        ),
        (
            "another issuer's token",
            token(&other, &resource, "notes:read"),
            401,
        ),
        (
            "a token without the tool's scope",
            token(&sso, &resource, "notes:write"),
            403,
        ),
    ];
    for (what, bad, status) in refusals {
        let (ok, report) = client(&python, &url, &bad, &[("whoami", json!({}))]).await;
        assert!(!ok, "{what}: accepted: {report}");
        assert_eq!(report["refused"]["status"], status, "{what}: {report}");
        let challenge = report["refused"]["www_authenticate"]
            .as_str()
            .unwrap_or_default();
        assert!(
            challenge.contains(&format!(
                "resource_metadata=\"{public_url}/.well-known/oauth-protected-resource/mcp\""
            )),
            "{what}: {challenge}"
        );
        if status == 403 {
            assert!(
                challenge.contains("error=\"insufficient_scope\"")
                    && challenge.contains("notes:read"),
                "{what}: {challenge}"
            );
        }
        let ran = report["calls"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c.get("result").is_some());
        assert!(!ran, "{what}: a tool ran: {report}");
    }
}

/// `interop/mcp/oauth-client.mjs` (after `install.sh`) signing `email` in at `sso` and granting
/// `scopes`, calling `calls` at `url`: its JSON report.
async fn typescript_client(
    url: &str,
    sso: &BetterAuth,
    email: &str,
    scopes: &[&str],
    calls: &Value,
) -> Value {
    let dir = crate_dir().join("../../interop/mcp");
    let status = std::process::Command::new("bash")
        .arg(dir.join("install.sh"))
        .status()
        .expect("run interop/mcp/install.sh");
    assert!(status.success(), "interop/mcp/install.sh failed");
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("oauth-client.mjs")
        .args([url, &sso.origin, email, "user-password-123"])
        .args(scopes)
        .env("MCP_CALLS", calls.to_string())
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "oauth-client.mjs: {}\n--- Better Auth ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        sso.proc.log()
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_signs_in_through_better_auth_to_the_server_behind_the_gateway() {
    if !node_ready() {
        return;
    }
    let Some(python) = python_with_mcp() else {
        return;
    };
    let (_server, server_addr) = fastmcp_server(&python).await;
    let port = support::free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let resource = format!("{public_url}/mcp");
    let sso = BetterAuth::start_with("EdDSA", &[("BA_MCP_RESOURCE", &resource)]).await;
    let config = format!(
        r#"upstream = "http://{server_addr}"
public_url = "{public_url}"

[[issuer]]
name = "better-auth"
authority = "{origin}"
audiences = ["rust-backend"]

[[route]]
path = "/"

[[mcp]]
path = "/mcp"
[mcp.tools]
echo = ["tasks:read"]
whoami = ["tasks:read"]
"#,
        origin = sso.origin,
    );
    let gateway = Gateway::start(&config, &[("PORT", &port.to_string())]).await;
    assert_eq!(
        gateway.url("/mcp"),
        resource,
        "the gateway on its reserved port"
    );

    let email = format!("mcp-gw-{port}@example.com");
    let signed_up: Value = reqwest::Client::new()
        .post(format!("{}/api/auth/sign-up/email", sso.origin))
        .header("origin", &sso.origin)
        .json(&json!({"email": email, "password": "user-password-123", "name": "MCP GW"}))
        .send()
        .await
        .expect("sign-up")
        .json()
        .await
        .expect("sign-up JSON");
    let user_id = signed_up["user"]["id"].as_str().expect("user id");

    let calls = json!([["echo", {"text": "through the gateway"}], ["whoami", {}]]);
    let report = typescript_client(&resource, &sso, &email, &["tasks:read"], &calls).await;
    let urls: Vec<(String, u64)> = report["exchanges"]
        .as_array()
        .expect("exchanges")
        .iter()
        .take(5)
        .map(|e| {
            (
                e["url"].as_str().unwrap_or_default().to_string(),
                e["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let issuer = format!("{}/api/auth", sso.origin);
    assert_eq!(
        urls,
        [
            (resource.clone(), 401),
            (
                format!("{public_url}/.well-known/oauth-protected-resource/mcp"),
                200
            ),
            (
                format!(
                    "{}/.well-known/oauth-authorization-server/api/auth",
                    sso.origin
                ),
                200
            ),
            (format!("{issuer}/oauth2/register"), 201),
            (format!("{issuer}/oauth2/token"), 200),
        ],
        "{report}"
    );
    assert_eq!(report["token"]["aud"], resource.as_str());
    assert_eq!(report["token"]["scope"], "tasks:read");
    assert_eq!(report["tools"], json!(["echo", "whoami"]));
    let calls = report["calls"].as_array().expect("calls");
    assert_eq!(
        calls[0]["ok"]["structured"]["result"], "through the gateway",
        "{report}"
    );
    let identity = &calls[1]["ok"]["structured"];
    assert_eq!(identity["x-auth-request-user"], user_id, "{report}");
    assert_eq!(identity["x-auth-request-email"], email.as_str());
}
