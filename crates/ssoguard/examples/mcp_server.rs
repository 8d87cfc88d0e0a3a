//! A minimal MCP server (`rmcp`, streamable HTTP) protected by ssoguard as an OAuth resource:
//! tokens from the SSO whose `aud` is the server's URL, per-tool scopes with the
//! `insufficient_scope` step-up, and RFC 9728 metadata at the path-inserted location — what an
//! MCP client (Claude, the MCP SDKs) needs to sign the user in on its own.
//!
//! ```sh
//! # a development SSO (tokens, JWKS, discovery): `ssoguard dev-issuer`, or Better Auth
//! AUTH_SERVER_URL=http://127.0.0.1:3001 MCP_PUBLIC_URL=http://127.0.0.1:8090 \
//!   cargo run -p ssoguard --example mcp_server --features testing
//! curl -si -X POST http://127.0.0.1:8090/mcp   # 401, WWW-Authenticate: Bearer resource_metadata="…"
//! curl -s http://127.0.0.1:8090/.well-known/oauth-protected-resource/mcp
//! ```
//!
//! Tools: `whoami` (scope `notes:read`) answers the caller's user id; `add_note` (scope
//! `notes:write`) echoes a note back. `cargo test -p ssoguard --example mcp_server --features
//! testing` runs it against a real in-process issuer.

use axum::Router;
use axum::http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use ssoguard::Verifier;
use ssoguard::axum::{Auth, CurrentUser};
use ssoguard::mcp::McpAuthLayer;
use ssoguard::mcp::McpResource;
use std::sync::Arc;

/// The MCP server: its tools act for the caller the guard attached.
#[derive(Clone)]
struct Notes {
    tool_router: ToolRouter<Self>,
}

/// `add_note` arguments.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct NoteArgs {
    /// The note.
    text: String,
}

#[tool_router]
impl Notes {
    fn new() -> Self {
        Notes {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Your user id.")]
    async fn whoami(&self, Extension(parts): Extension<Parts>) -> Result<String, ErrorData> {
        caller(&parts).map(|user| user.id)
    }

    #[tool(description = "Add a note (echoed back).")]
    async fn add_note(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<NoteArgs>,
    ) -> Result<String, ErrorData> {
        let user = caller(&parts)?;
        Ok(format!("{}: {}", user.id, args.text))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Notes {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// The user [`McpAuthLayer`] attached; never absent behind it.
fn caller(parts: &Parts) -> Result<CurrentUser, ErrorData> {
    parts
        .extensions
        .get::<CurrentUser>()
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("no authenticated caller", None))
}

/// The resource at `<public_url>/mcp` and its tools' scopes.
fn resource(public_url: &str) -> Result<McpResource, ssoguard::ConfigError> {
    Ok(
        McpResource::new(format!("{}/mcp", public_url.trim_end_matches('/')))?
            .tool_scopes("whoami", ["notes:read"])
            .tool_scopes("add_note", ["notes:write"]),
    )
}

/// The app: `/mcp` behind the guard, and the resource's metadata. The verifier's audience must
/// be the resource (RFC 8707).
fn app(verifier: Verifier, resource: McpResource) -> Router {
    let guard = McpAuthLayer::new(Auth::new(verifier), resource);
    let server = StreamableHttpService::new(
        || Ok(Notes::new()),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true),
    );
    Router::new()
        .route_service("/mcp", tower::Layer::layer(&guard, server))
        .merge(guard.metadata_router())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let authority =
        std::env::var("AUTH_SERVER_URL").unwrap_or_else(|_| "http://127.0.0.1:3001".into());
    let public_url =
        std::env::var("MCP_PUBLIC_URL").unwrap_or_else(|_| "http://127.0.0.1:8090".into());
    let resource = resource(&public_url)?;
    let verifier = Verifier::builder()
        .authority(authority)
        .audience(resource.resource())
        .build()?;
    let addr = public_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("MCP server at {}", resource.resource());
    axum::serve(listener, app(verifier, resource)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use ssoguard::testing::TestIssuer;

    async fn post(url: &str, token: Option<&str>, body: Value) -> (u16, String, Value) {
        let mut req = reqwest::Client::new()
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().expect("ascii").to_string())
            .unwrap_or_default();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, challenge, body)
    }

    fn call(tool: &str, arguments: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": tool, "arguments": arguments}})
    }

    #[tokio::test]
    async fn the_example_server_is_a_protected_resource() {
        let sso = TestIssuer::start().await.expect("issuer");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let resource = resource(&base).expect("resource");
        let verifier = Verifier::builder()
            .authority(sso.issuer())
            .audience(resource.resource())
            .build()
            .expect("verifier");
        tokio::spawn(async move { axum::serve(listener, app(verifier, resource)).await });
        let url = format!("{base}/mcp");

        let (status, challenge, _) = post(&url, None, call("whoami", json!({}))).await;
        assert_eq!(status, 401);
        assert!(challenge.contains(&format!(
            "resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""
        )));
        let doc: Value = reqwest::get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(doc["resource"], url.as_str());
        assert_eq!(doc["authorization_servers"], json!([sso.issuer()]));

        let reader = sso
            .token()
            .sub("ada")
            .aud(&url)
            .claim("scope", json!("notes:read"))
            .sign();
        let (status, _, body) = post(&url, Some(&reader), call("whoami", json!({}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["content"][0]["text"], "ada");
        let (status, challenge, _) =
            post(&url, Some(&reader), call("add_note", json!({"text": "hi"}))).await;
        assert_eq!(status, 403);
        assert!(challenge.contains("scope=\"notes:write\""), "{challenge}");

        // A token for another audience never reaches a tool.
        let other = sso
            .token()
            .sub("ada")
            .aud("another-api")
            .claim("scope", json!("notes:read"))
            .sign();
        let (status, _, _) = post(&url, Some(&other), call("whoami", json!({}))).await;
        assert_eq!(status, 401);
    }
}
