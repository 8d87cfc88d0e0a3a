//! OpenID Connect discovery, with the issuer check openidconnect-rs does and Better Auth's layout.
//!
//! Better Auth serves its metadata only under the issuer path
//! (`<origin>/api/auth/.well-known/openid-configuration`); generic providers serve
//! `<issuer>/.well-known/openid-configuration`. Given either the origin or the issuer, both
//! locations are tried, and the document is accepted **only if its `issuer` equals the issuer the
//! tokens will be checked against** (the configured one, or the URL the document was found under).

use crate::fetch::{FetchError, HttpFetcher};
use serde::{Deserialize, Serialize};

/// Provider metadata (the members ssoguard uses; others are kept in `extra`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer identifier; tokens must carry exactly this `iss`.
    pub issuer: String,
    /// Where the signing keys are.
    pub jwks_uri: String,
    /// OAuth token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// UserInfo endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// RFC 7662 introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// Signing algorithms the provider says it uses for id_tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Other members.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Why discovery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// No candidate location answered with a metadata document.
    #[error("no OpenID configuration found (tried {tried})")]
    NotFound {
        /// The URLs tried, comma-separated.
        tried: String,
        /// The last transport or HTTP error.
        last_error: String,
    },
    /// A document was found but its `issuer` is not the expected one.
    #[error("the discovery document at {url} names issuer \"{found}\", expected \"{expected}\"")]
    IssuerMismatch {
        /// Where the document was found.
        url: String,
        /// Its `issuer`.
        found: String,
        /// The issuer tokens are checked against.
        expected: String,
    },
    /// The SSO could not be reached at all.
    #[error("the SSO is unreachable: {0}")]
    Unreachable(String),
}

impl DiscoveryError {
    /// True when no server answered (as opposed to a wrong or missing document).
    #[must_use]
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DiscoveryError::Unreachable(_))
    }
}

/// Strips one trailing slash, so `http://x/` and `http://x` name the same base.
pub(crate) fn trim_slash(url: &str) -> &str {
    url.strip_suffix('/').unwrap_or(url)
}

/// The candidate (metadata URL, issuer it implies) pairs for a base URL.
#[must_use]
pub fn candidate_locations(base: &str) -> Vec<(String, String)> {
    let base = trim_slash(base);
    let mut out = vec![(
        format!("{base}/.well-known/openid-configuration"),
        base.to_string(),
    )];
    if !base.ends_with("/api/auth") {
        let issuer = format!("{base}/api/auth");
        out.push((format!("{issuer}/.well-known/openid-configuration"), issuer));
    }
    out
}

/// Fetches provider metadata from `base` (origin or issuer).
///
/// When `expected_issuer` is `Some`, the document must name exactly that issuer; otherwise it
/// must name the issuer implied by where it was found.
pub(crate) async fn discover(
    http: &HttpFetcher,
    base: &str,
    expected_issuer: Option<&str>,
) -> Result<ProviderMetadata, DiscoveryError> {
    let mut candidates = candidate_locations(base);
    if let Some(issuer) = expected_issuer {
        let own = (
            format!("{}/.well-known/openid-configuration", trim_slash(issuer)),
            issuer.to_string(),
        );
        candidates.retain(|c| c.0 != own.0);
        candidates.insert(0, own);
    }
    let mut tried = Vec::new();
    let mut last_error = String::new();
    let mut reached_any = false;
    for (url, implied_issuer) in &candidates {
        tried.push(url.clone());
        let body = match http.get(url).await {
            Ok(body) => {
                reached_any = true;
                body
            }
            Err(FetchError::Transport(e)) => {
                last_error = e;
                continue;
            }
            Err(e) => {
                reached_any = true;
                last_error = e.to_string();
                continue;
            }
        };
        let meta: ProviderMetadata = match serde_json::from_slice(&body.bytes) {
            Ok(meta) => meta,
            Err(_) => {
                last_error = format!("{url} did not return an OpenID configuration document");
                continue;
            }
        };
        let expected = expected_issuer.unwrap_or(implied_issuer);
        if meta.issuer != expected {
            return Err(DiscoveryError::IssuerMismatch {
                url: url.clone(),
                found: meta.issuer,
                expected: expected.to_string(),
            });
        }
        tracing::debug!(issuer = %meta.issuer, jwks_uri = %meta.jwks_uri, "discovered provider metadata");
        return Ok(meta);
    }
    if !reached_any {
        return Err(DiscoveryError::Unreachable(last_error));
    }
    Err(DiscoveryError::NotFound {
        tried: tried.join(", "),
        last_error,
    })
}

/// Runs discovery once, outside a [`crate::Verifier`] (diagnostic tools use it).
///
/// `base` is the origin or the issuer; `expected_issuer`, when given, must be the document's
/// `issuer`. Uses a client with a 5 s timeout and a 1 MiB response cap.
///
/// # Errors
///
/// [`DiscoveryError`] as for a verifier's discovery.
pub async fn fetch_provider_metadata(
    base: &str,
    expected_issuer: Option<&str>,
) -> Result<ProviderMetadata, DiscoveryError> {
    let http = HttpFetcher::new(
        None,
        std::time::Duration::from_secs(2),
        std::time::Duration::from_secs(5),
        1024 * 1024,
    )
    .map_err(|e| DiscoveryError::Unreachable(e.to_string()))?;
    discover(&http, base, expected_issuer).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_origin_and_issuer() {
        let c = candidate_locations("http://localhost:3001/");
        assert_eq!(
            c[0].0,
            "http://localhost:3001/.well-known/openid-configuration"
        );
        assert_eq!(
            c[1].0,
            "http://localhost:3001/api/auth/.well-known/openid-configuration"
        );
        assert_eq!(c[1].1, "http://localhost:3001/api/auth");
        let c = candidate_locations("http://localhost:3001/api/auth");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].1, "http://localhost:3001/api/auth");
    }
}
