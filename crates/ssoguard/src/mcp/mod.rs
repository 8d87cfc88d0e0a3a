//! MCP servers as OAuth resource servers (the MCP authorization spec, 2025-06-18 and later),
//! framework-free: the resource's identity, the scopes each tool needs, and its RFC 9728
//! metadata. The axum layer that applies it is [`McpAuthLayer`] (feature `axum`); the gateway uses
//! the same rules in front of a server written in any language.
//!
//! - **Resource identity** (RFC 8707): the MCP endpoint's URL (`https://api.example.com/mcp`) is
//!   the resource; a token for it carries that URL in `aud`. Verify with a [`Verifier`](crate::Verifier) whose
//!   audience is [`McpResource::resource`].
//! - **Discovery** (RFC 9728 §3.1): the metadata lives at the path-inserted location
//!   `https://api.example.com/.well-known/oauth-protected-resource/mcp`
//!   ([`McpResource::metadata_url`]); every 401 names it in
//!   `WWW-Authenticate: Bearer resource_metadata="…"`.
//! - **Step-up** (RFC 6750 §3.1): a `tools/call` whose tool needs scopes the token lacks is
//!   refused before the tool runs, with 403 `error="insufficient_scope", scope="…"`, so the
//!   client can ask the user for more ([`McpResource::required_scopes`]).
//!
//! The request body is read to find the tool: a body that is not exactly one JSON-RPC message
//! (or a batch of them) this module can read — malformed JSON, a duplicated `method`, `params`
//! or `name` member, a `tools/call` without a string tool name — is refused, never passed on
//! unchecked: what the server executes is what was checked.
//!
//! # Example
//!
//! ```
//! use ssoguard::mcp::McpResource;
//!
//! let mcp = McpResource::new("https://api.example.com/mcp")?
//!     .tool_scopes("list_tasks", ["tasks:read"])
//!     .tool_scopes("create_task", ["tasks:write"]);
//! assert_eq!(
//!     mcp.metadata_url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource/mcp"
//! );
//! let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_task","arguments":{}}}"#;
//! assert_eq!(mcp.required_scopes(call)?, ["tasks:write"]);
//! // Any other message needs only a valid token.
//! let list = br#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
//! assert!(mcp.required_scopes(list)?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "axum")]
mod layer;
mod resource;

#[cfg(feature = "axum")]
pub use layer::{DEFAULT_MCP_MAX_BODY_BYTES, McpAuthLayer, McpAuthService};
pub use resource::{McpRequestError, McpResource};
