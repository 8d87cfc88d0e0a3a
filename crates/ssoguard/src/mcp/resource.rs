//! [`McpResource`]: the resource, its metadata and its tools' scopes (see the module docs).

use crate::error::ConfigError;
use crate::verify::Verifier;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;

/// An MCP endpoint protected as an OAuth resource: its URL, its metadata and the scopes its
/// tools need. Cheap to clone.
///
/// Defaults: no scope for messages other than `tools/call` (a valid token for the resource is
/// enough to initialize and list tools); a tool not named by [`tool_scopes`](Self::tool_scopes)
/// needs every scope named for any tool ([`other_tools`](Self::other_tools) changes that);
/// `scopes_supported` is every scope named.
#[derive(Debug, Clone)]
pub struct McpResource {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    resource: String,
    metadata_url: String,
    metadata_path: String,
    /// Each named tool's scopes, in the order named.
    tools: Vec<(String, Vec<String>)>,
    other_tools: Option<Vec<String>>,
    every_request: Vec<String>,
    scopes_supported: Option<Vec<String>>,
    resource_name: Option<String>,
}

/// Why an MCP request body was refused before reaching the server (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McpRequestError {
    /// Not a JSON-RPC message (or batch) this module can read unambiguously.
    #[error("the body is not a JSON-RPC message: {0}")]
    Malformed(String),
    /// A `tools/call` without a tool name.
    #[error("tools/call without a tool name")]
    NoToolName,
}

impl McpResource {
    /// The resource at `url`: the MCP endpoint's absolute http(s) URL as clients reach it
    /// (`https://api.example.com/mcp`), without query or fragment; a trailing `/` is dropped.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidUrl`] for anything else.
    pub fn new(url: impl AsRef<str>) -> Result<Self, ConfigError> {
        let raw = url.as_ref().trim();
        let invalid = || {
            ConfigError::InvalidUrl {
            setting: "MCP resource",
            reason: "give the MCP endpoint's absolute http(s) URL, without query, fragment or credentials".into(),
        }
        };
        let parsed = url::Url::parse(raw).map_err(|_| invalid())?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host_str().is_none()
            || parsed.query().is_some()
            || parsed.fragment().is_some()
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return Err(invalid());
        }
        let resource = raw.trim_end_matches('/').to_string();
        let path = parsed.path().trim_end_matches('/');
        let metadata_path = format!("/.well-known/oauth-protected-resource{path}");
        let origin = parsed.origin().ascii_serialization();
        Ok(McpResource {
            inner: Arc::new(Inner {
                metadata_url: format!("{origin}{metadata_path}"),
                metadata_path,
                resource,
                tools: Vec::new(),
                other_tools: None,
                every_request: Vec::new(),
                scopes_supported: None,
                resource_name: None,
            }),
        })
    }

    /// The scopes the tool `name` needs (all of them). Naming a tool again replaces its scopes.
    #[must_use]
    pub fn tool_scopes<I, S>(mut self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let name = name.into();
        let scopes = scopes.into_iter().map(Into::into).collect();
        let tools = &mut Arc::make_mut(&mut self.inner).tools;
        match tools.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => *existing = scopes,
            None => tools.push((name, scopes)),
        }
        self
    }

    /// The scopes a tool not named by [`tool_scopes`](Self::tool_scopes) needs. Default: every
    /// scope named for any tool (an unlisted tool is treated as the most privileged one).
    #[must_use]
    pub fn other_tools<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Arc::make_mut(&mut self.inner).other_tools =
            Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The scopes every request needs, whatever its message (also `initialize`, `tools/list`,
    /// the `GET` stream). Default: none.
    #[must_use]
    pub fn every_request<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Arc::make_mut(&mut self.inner).every_request = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The metadata's `scopes_supported`. Default: every scope named by the settings above.
    #[must_use]
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Arc::make_mut(&mut self.inner).scopes_supported =
            Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The metadata's `resource_name`. Default: none.
    #[must_use]
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).resource_name = Some(name.into());
        self
    }

    /// The resource URL: the audience its tokens carry.
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.inner.resource
    }

    /// The RFC 9728 metadata URL, path-inserted (§3.1): `<origin>/.well-known/oauth-protected-resource<path>`.
    #[must_use]
    pub fn metadata_url(&self) -> &str {
        &self.inner.metadata_url
    }

    /// The metadata's path on this origin (`/.well-known/oauth-protected-resource/mcp`), where a
    /// router mounts it.
    #[must_use]
    pub fn metadata_path(&self) -> &str {
        &self.inner.metadata_path
    }

    /// The scopes a request with no body (`GET`, `DELETE`) needs.
    #[must_use]
    pub fn scopes_for_every_request(&self) -> &[String] {
        &self.inner.every_request
    }

    /// The scopes the tool `name` needs.
    #[must_use]
    pub fn scopes_for_tool(&self, name: &str) -> Vec<String> {
        match self.inner.tools.iter().find(|(n, _)| n == name) {
            Some((_, scopes)) => scopes.clone(),
            None => match &self.inner.other_tools {
                Some(scopes) => scopes.clone(),
                None => self.named_scopes(false),
            },
        }
    }

    /// The scopes a `POST` body (one JSON-RPC message or a batch) needs: those of every request,
    /// plus, for each `tools/call`, its tool's. In the order first named, without repeats.
    ///
    /// # Errors
    ///
    /// [`McpRequestError`] when the body is not JSON-RPC this function can read unambiguously.
    pub fn required_scopes(&self, body: &[u8]) -> Result<Vec<String>, McpRequestError> {
        let mut required = self.inner.every_request.clone();
        let mut add = |scopes: Vec<String>| {
            for scope in scopes {
                if !required.contains(&scope) {
                    required.push(scope);
                }
            }
        };
        let messages: Vec<Message<'_>> = match first_byte(body) {
            Some(b'[') => serde_json::from_slice(body),
            _ => serde_json::from_slice(body).map(|m| vec![m]),
        }
        .map_err(|e| McpRequestError::Malformed(e.to_string()))?;
        for message in messages {
            if message.method.as_deref() == Some("tools/call") {
                let params = message.params.ok_or(McpRequestError::NoToolName)?;
                let params: ToolCall<'_> = serde_json::from_str(params.get())
                    .map_err(|e| McpRequestError::Malformed(e.to_string()))?;
                add(self.scopes_for_tool(&params.name));
            }
        }
        Ok(required)
    }

    /// The RFC 9728 metadata document: `resource`, `authorization_servers` (the verifier's
    /// issuer), `scopes_supported`, `bearer_methods_supported` (`header`: tokens in query
    /// strings or bodies are not accepted) and, when `dpop` is set (DPoP accepted), the DPoP
    /// fields of RFC 9449 §5.1. `None` while the issuer is not yet known (before discovery).
    #[must_use]
    pub fn metadata(&self, verifier: &Verifier, dpop: bool) -> Option<Value> {
        let issuer = verifier.issuer()?;
        let mut doc = json!({
            "resource": self.inner.resource,
            "authorization_servers": [issuer.as_ref()],
            "scopes_supported": self.inner.scopes_supported.clone().unwrap_or_else(|| self.named_scopes(true)),
            "bearer_methods_supported": ["header"],
        });
        if let Some(name) = &self.inner.resource_name {
            doc["resource_name"] = json!(name);
        }
        if dpop {
            let config = verifier.dpop();
            let algs: Vec<&str> = config
                .accepted_algorithms()
                .iter()
                .map(|a| a.as_str())
                .collect();
            doc["dpop_signing_alg_values_supported"] = json!(algs);
            doc["dpop_bound_access_tokens_required"] = json!(config.is_required());
        }
        Some(doc)
    }

    /// Every scope named for a tool (and, with `every`, for every request), in order, once.
    fn named_scopes(&self, every: bool) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let every = every.then_some(&self.inner.every_request);
        let lists = every
            .into_iter()
            .chain(self.inner.tools.iter().map(|(_, scopes)| scopes))
            .chain(self.inner.other_tools.iter());
        for scope in lists.flatten() {
            if !out.contains(scope) {
                out.push(scope.clone());
            }
        }
        out
    }
}

fn first_byte(body: &[u8]) -> Option<u8> {
    body.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// The members of a JSON-RPC message the scope decision reads. serde refuses a duplicated
/// member, so no second `method` or `params` can hide behind the first.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default)]
    method: Option<String>,
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
}

/// `tools/call` parameters: the tool's name (a duplicated `name` is refused).
#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mcp() -> McpResource {
        McpResource::new("https://api.example.com/mcp")
            .expect("url")
            .tool_scopes("list_tasks", ["tasks:read"])
            .tool_scopes("create_task", ["tasks:write"])
    }

    fn call(name: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{name}","arguments":{{}}}}}}"#
        )
    }

    #[test]
    fn the_metadata_url_is_path_inserted() {
        let m = McpResource::new("https://api.example.com/v1/mcp/").expect("url");
        assert_eq!(m.resource(), "https://api.example.com/v1/mcp");
        assert_eq!(
            m.metadata_url(),
            "https://api.example.com/.well-known/oauth-protected-resource/v1/mcp"
        );
        assert_eq!(
            m.metadata_path(),
            "/.well-known/oauth-protected-resource/v1/mcp"
        );
        let root = McpResource::new("http://127.0.0.1:8000").expect("url");
        assert_eq!(
            root.metadata_url(),
            "http://127.0.0.1:8000/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn urls_that_cannot_name_a_resource_are_refused() {
        for bad in [
            "api.example.com/mcp",
            "ftp://api.example.com/mcp",
            "https://api.example.com/mcp?x=1",
            "https://api.example.com/mcp#f",
            "https://user:pw@api.example.com/mcp",
            "",
        ] {
            assert!(McpResource::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_tool_needs_its_scopes() {
        let m = mcp();
        assert_eq!(
            m.required_scopes(call("list_tasks").as_bytes()),
            Ok(vec!["tasks:read".to_string()])
        );
        assert_eq!(
            m.required_scopes(call("create_task").as_bytes()),
            Ok(vec!["tasks:write".to_string()])
        );
    }

    #[test]
    fn an_unlisted_tool_needs_every_named_scope_unless_configured() {
        assert_eq!(
            mcp().required_scopes(call("drop_all").as_bytes()),
            Ok(vec!["tasks:read".to_string(), "tasks:write".to_string()])
        );
        let m = mcp().other_tools(["admin"]);
        assert_eq!(
            m.required_scopes(call("drop_all").as_bytes()),
            Ok(vec!["admin".to_string()])
        );
    }

    #[test]
    fn other_messages_need_only_the_every_request_scopes() {
        let m = mcp();
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":{}}"#,
        ] {
            assert_eq!(m.required_scopes(body.as_bytes()), Ok(vec![]), "{body}");
        }
        let m = mcp().every_request(["mcp"]);
        assert_eq!(
            m.required_scopes(call("list_tasks").as_bytes()),
            Ok(vec!["mcp".to_string(), "tasks:read".to_string()])
        );
    }

    #[test]
    fn a_batch_needs_the_union() {
        let body = format!("[{}, {}]", call("list_tasks"), call("create_task"));
        assert_eq!(
            mcp().required_scopes(body.as_bytes()),
            Ok(vec!["tasks:read".to_string(), "tasks:write".to_string()])
        );
    }

    #[test]
    fn ambiguous_or_unreadable_bodies_are_refused() {
        let m = mcp();
        for body in [
            "",
            "not json",
            // A second `method` could make another parser run another message.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"create_task"}}"#,
            // A second `name` could make the server run another tool than the one checked.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks","name":"create_task"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks"},"params":{"name":"create_task"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call"}]"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks"}} trailing"#,
        ] {
            assert!(m.required_scopes(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn escaped_tool_names_are_read_as_the_server_reads_them() {
        // `list\u005ftasks` is `list_tasks`; an escape must not dodge the tool's rule.
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create\u005ftask"}}"#;
        assert_eq!(
            mcp().required_scopes(body.as_bytes()),
            Ok(vec!["tasks:write".to_string()])
        );
        let body =
            r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"create_task"}}"#;
        assert_eq!(
            mcp().required_scopes(body.as_bytes()),
            Ok(vec!["tasks:write".to_string()])
        );
    }

    #[test]
    fn scopes_supported_defaults_to_every_named_scope() {
        let m = mcp().every_request(["mcp"]);
        assert_eq!(m.named_scopes(true), ["mcp", "tasks:read", "tasks:write"]);
    }
}
