//! `[[mcp]]`: an MCP server behind the gateway, protected as an OAuth resource
//! ([`ssoguard::mcp`]).
//!
//! ```toml
//! [[mcp]]
//! path = "/mcp"                          # the endpoint, exactly (not a prefix)
//! # resource = "https://api.example/mcp" # default: public_url + path
//! # issuer = "better-auth"               # default: the first token issuer
//! every_request = []                     # scopes any MCP request needs
//! # other_tools = ["notes:admin"]        # default: every scope named under [mcp.tools]
//! [mcp.tools]
//! find_notes = ["notes:read"]
//! write_note = ["notes:write"]
//! ```
//!
//! The gateway reads each `POST`'s JSON-RPC body to find the tool, so tool rules are enforced
//! by the reverse proxy only: an `[[mcp]]` needs `upstream`, and forward-auth refuses the
//! endpoint's path (a front's `auth_request` does not pass bodies).

use super::{ConfigError, McpConfig};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// `[[mcp]]` in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileMcp {
    path: Spanned<String>,
    resource: Option<Spanned<String>>,
    issuer: Option<Spanned<String>>,
    #[serde(default)]
    every_request: Vec<String>,
    other_tools: Option<Vec<String>>,
    #[serde(default)]
    tools: BTreeMap<String, Vec<String>>,
}

/// Checks the `[[mcp]]` entries: an exact path outside `/_ssoguard/`, a resource (given, or
/// `public_url` + path), an issuer that is a token issuer, the reverse-proxy mode.
pub(super) fn mcp_from_file(
    entries: &[FileMcp],
    public_url: Option<&str>,
    upstream: bool,
    issuers: &[super::IssuerConfig],
    at: &impl Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<Vec<McpConfig>, ConfigError> {
    let token_issuers: Vec<&String> = issuers
        .iter()
        .filter(|i| i.session.is_none() && i.api_key.is_none())
        .map(|i| &i.name)
        .collect();
    let mut out: Vec<McpConfig> = Vec::with_capacity(entries.len());
    for entry in entries {
        let path = entry.path.get_ref().trim();
        let span = entry.path.span();
        if !path.starts_with('/')
            || path.contains(['*', '?', '[', '#', '%'])
            || path.contains("//")
            || crate::path::canonical(path).as_deref() != Some(path)
        {
            return Err(at(
                span,
                format!("[[mcp]] path {path:?} must be one exact, canonical path such as \"/mcp\""),
            ));
        }
        if path.starts_with(super::RESERVED_PREFIX) {
            return Err(at(span, format!("[[mcp]] path {path:?} is reserved")));
        }
        if out.iter().any(|m| m.path == path) {
            return Err(at(span, format!("[[mcp]] path {path:?} is given twice")));
        }
        if !upstream {
            return Err(at(
                span,
                "[[mcp]] needs `upstream` (reverse-proxy mode): the gateway reads each request's \
                 JSON-RPC body to find the tool, which a forward-auth front does not pass"
                    .into(),
            ));
        }
        let resource = match (&entry.resource, public_url) {
            (Some(r), _) => r.get_ref().trim().to_string(),
            (None, Some(base)) => format!("{}{path}", base.trim_end_matches('/')),
            (None, None) => {
                return Err(at(
                    span,
                    "[[mcp]] needs `resource` (the URL clients reach the MCP server at) or \
                     `public_url`"
                        .into(),
                ));
            }
        };
        if let Err(e) = ssoguard::mcp::McpResource::new(&resource) {
            let span = entry.resource.as_ref().map_or(span, Spanned::span);
            return Err(at(span, format!("[[mcp]] resource {resource:?}: {e}")));
        }
        let issuer = match &entry.issuer {
            None => None,
            Some(name) if token_issuers.contains(&name.get_ref()) => Some(name.get_ref().clone()),
            Some(name) => {
                return Err(at(
                    name.span(),
                    format!(
                        "[[mcp]] issuer {:?} is not a token issuer (sessions and API keys are not MCP credentials)",
                        name.get_ref()
                    ),
                ));
            }
        };
        out.push(McpConfig {
            path: path.to_string(),
            resource,
            issuer,
            every_request: entry.every_request.clone(),
            other_tools: entry.other_tools.clone(),
            tools: entry
                .tools
                .iter()
                .map(|(name, scopes)| (name.clone(), scopes.clone()))
                .collect(),
        });
    }
    Ok(out)
}
