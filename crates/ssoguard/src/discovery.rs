//! OpenID Connect discovery, with the issuer check openidconnect-rs does and Better Auth's layouts.
//!
//! Better Auth serves its metadata under its issuer (`<origin>/api/auth/.well-known/openid-configuration`,
//! `<origin><basePath>/…` with a custom `basePath`), and its docs recommend serving the same
//! document at the root too (`oauthProviderOpenIdConfigMetadata(auth)` at
//! `<origin>/.well-known/openid-configuration`), still naming `<origin>/api/auth` as the issuer.
//! Generic providers serve `<issuer>/.well-known/openid-configuration`.
//!
//! What is accepted, given the configured base URL:
//!
//! - **a bare origin** (`http://localhost:3001`): the issuer is one of the two the origin stands
//!   for, the origin itself or `<origin>/api/auth`. Both locations are tried (root first); the
//!   first document whose `issuer` is **exactly** one of those two is accepted. A document naming
//!   an issuer on another origin, another path, or no issuer at all is never accepted.
//! - **a URL with a path** (`http://localhost:3001/api/auth`, `…/auth`): that URL is the issuer.
//!   Its own location is tried, then the origin's root; the document must name exactly it.
//! - **an explicit issuer** (`SSO_ISSUER`): the document must name exactly it, wherever found.
//!
//! One trailing slash on the base is a typo, not another issuer: it is dropped. Tokens' `iss` is
//! still compared exactly. When nothing fits, the error says what was fetched, what each
//! location answered, and which setting to change.

use crate::fetch::{FetchError, HttpFetcher};
use serde::{Deserialize, Serialize};

/// Provider metadata (the members ssoguard uses; others are kept in `extra`).
///
/// What discovery accepts, given the configured base URL:
///
/// - **a bare origin** (`http://localhost:3001`): the issuer is the origin itself or
///   `<origin>/api/auth`. Both locations are tried (root first); the first document whose
///   `issuer` is **exactly** one of those two is accepted. A document naming an issuer on another
///   origin, another path, or no issuer at all is never accepted.
/// - **a URL with a path** (`http://localhost:3001/api/auth`, `…/auth`): that URL is the issuer.
///   Its own location is tried, then the origin's root; the document must name exactly it.
/// - **an explicit issuer** (`SSO_ISSUER`): the document must name exactly it, wherever found.
///
/// One trailing slash on the base is dropped; tokens' `iss` is still compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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

/// Why discovery failed. Each message names what was fetched, what it said, and the setting to
/// change (`AUTH_SERVER_URL`, `SSO_ISSUER`), so a log line or `ssoguard verify` explains it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// No candidate location answered with a metadata document.
    #[error(
        "no OpenID configuration found (tried {tried}). Better Auth serves it under its basePath \
         (default /api/auth) with the oauth-provider plugin; with another basePath set \
         AUTH_SERVER_URL=<origin><basePath>, or set SSO_ISSUER=<issuer> and JWKS_URL=<jwks url>"
    )]
    NotFound {
        /// Each URL tried, with what it answered (`<url> (<answer>)`), comma-separated.
        tried: String,
        /// The last transport or HTTP error.
        last_error: String,
    },
    /// A document was found but its `issuer` is not the expected (configured) one.
    #[error(
        "the discovery document at {url} names issuer \"{found}\", expected \"{expected}\" (tokens \
         must carry exactly the expected issuer). If \"{found}\" is the SSO's issuer, set \
         SSO_ISSUER={found}; otherwise the SSO's BETTER_AUTH_URL (baseURL) differs from the URL it \
         is reached by (localhost vs 127.0.0.1, http vs https, a proxy)"
    )]
    IssuerMismatch {
        /// Where the document was found.
        url: String,
        /// Its `issuer`.
        found: String,
        /// The issuer tokens are checked against.
        expected: String,
    },
    /// Given a bare origin, documents were found, but none names one of the two issuers that
    /// origin stands for (`<origin>` or `<origin>/api/auth`).
    #[error("{}", unaccepted_message(origin, documents))]
    IssuerNotUnderOrigin {
        /// The configured origin.
        origin: String,
        /// Each location fetched and what it said (`names issuer "…"`, `answered HTTP 404`, …).
        documents: Vec<(String, String)>,
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

fn unaccepted_message(origin: &str, documents: &[(String, String)]) -> String {
    let fetched: Vec<String> = documents
        .iter()
        .map(|(url, said)| format!("{url} {said}"))
        .collect();
    let mut out = format!(
        "discovery for {origin} found no document naming one of its issuers (\"{origin}\" or \
         \"{origin}/api/auth\"): {}",
        fetched.join("; ")
    );
    // The first issuer a document named decides the advice.
    let named = documents.iter().find_map(|(_, said)| {
        said.strip_prefix("names issuer \"")
            .and_then(|rest| rest.strip_suffix('"'))
    });
    if let Some(found) = named {
        let (found_origin, found_path) = split_origin(found);
        if found_origin == origin && !found_path.is_empty() {
            out.push_str(&format!(
                ". \"{found}\" is on this origin under another path (a Better Auth basePath other \
                 than /api/auth): set AUTH_SERVER_URL={found} (or SSO_ISSUER={found})"
            ));
        } else {
            out.push_str(&format!(
                ". An issuer on another origin is never taken from {origin}'s discovery: if \
                 \"{found}\" is the SSO's issuer, set SSO_ISSUER={found} (tokens must carry \
                 exactly that iss); otherwise the SSO's BETTER_AUTH_URL (baseURL) differs from \
                 the URL it is reached by (localhost vs 127.0.0.1, http vs https, a proxy)"
            ));
        }
    }
    out
}

/// Strips one trailing slash, so `http://x/` and `http://x` name the same base.
pub(crate) fn trim_slash(url: &str) -> &str {
    url.strip_suffix('/').unwrap_or(url)
}

/// Splits `scheme://host[:port]/path` into the origin and the path (`""` for a bare origin).
fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, ""),
    }
}

fn well_known(base: &str) -> String {
    format!("{base}/.well-known/openid-configuration")
}

/// The candidate (metadata URL, issuer expected first there) pairs for a base URL.
///
/// A bare origin gives its root and `<origin>/api/auth` (either location may name either of
/// the two issuers); a URL with a path gives its own location and the origin's root, both for
/// that URL as the issuer.
#[must_use]
pub(crate) fn candidate_locations(base: &str) -> Vec<(String, String)> {
    let base = trim_slash(base);
    let (origin, path) = split_origin(base);
    if path.is_empty() {
        let api_auth = format!("{origin}/api/auth");
        vec![
            (well_known(origin), origin.to_string()),
            (well_known(&api_auth), api_auth),
        ]
    } else {
        vec![
            (well_known(base), base.to_string()),
            (well_known(origin), base.to_string()),
        ]
    }
}

/// The issuers a base URL stands for when no issuer is configured (see the module docs).
#[must_use]
pub(crate) fn accepted_issuers(base: &str) -> Vec<String> {
    let base = trim_slash(base);
    let (origin, path) = split_origin(base);
    if path.is_empty() {
        vec![origin.to_string(), format!("{origin}/api/auth")]
    } else {
        vec![base.to_string()]
    }
}

/// What one location answered.
enum Answer {
    Document(Box<ProviderMetadata>),
    /// Reached, but no usable document (HTTP error, not JSON, no issuer, no jwks_uri).
    Unusable(String),
    /// Not reached at all.
    Transport(String),
}

async fn fetch_document(http: &HttpFetcher, url: &str) -> Answer {
    let body = match http.get(url).await {
        Ok(body) => body,
        Err(FetchError::Transport(e)) => return Answer::Transport(e),
        Err(FetchError::Status { status, .. }) => {
            return Answer::Unusable(format!("answered HTTP {status}"));
        }
        Err(e @ FetchError::TooLarge { .. }) => return Answer::Unusable(e.to_string()),
    };
    let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice(&body.bytes) else {
        return Answer::Unusable("is not a JSON OpenID configuration document".into());
    };
    match doc.get("issuer") {
        Some(serde_json::Value::String(i)) if !i.is_empty() => {}
        _ => return Answer::Unusable("names no issuer".into()),
    }
    match serde_json::from_value::<ProviderMetadata>(serde_json::Value::Object(doc)) {
        Ok(meta) => Answer::Document(Box::new(meta)),
        Err(e) => Answer::Unusable(format!("is not a usable OpenID configuration ({e})")),
    }
}

/// Fetches provider metadata from `base` (origin or issuer).
///
/// When `expected_issuer` is `Some`, the document must name exactly that issuer; otherwise it
/// must name one of [`accepted_issuers`] of `base`.
pub(crate) async fn discover(
    http: &HttpFetcher,
    base: &str,
    expected_issuer: Option<&str>,
) -> Result<ProviderMetadata, DiscoveryError> {
    let base = trim_slash(base);
    let mut locations: Vec<String> = candidate_locations(base)
        .into_iter()
        .map(|(url, _)| url)
        .collect();
    let accepted = match expected_issuer {
        Some(issuer) => {
            let own = well_known(trim_slash(issuer));
            locations.retain(|url| *url != own);
            locations.insert(0, own);
            vec![issuer.to_string()]
        }
        None => accepted_issuers(base),
    };
    // An explicit issuer (configured, or a URL with a path) is one exact value: the first
    // document naming another is the answer. A bare origin keeps looking at its other location.
    let exact = expected_issuer.is_some() || !split_origin(base).1.is_empty();
    let mut said: Vec<(String, String)> = Vec::new();
    let mut reached_any = false;
    let mut named_any = false;
    let mut last_error = String::new();
    for url in &locations {
        match fetch_document(http, url).await {
            Answer::Transport(e) => {
                said.push((url.clone(), format!("was not reached: {e}")));
                last_error = e;
            }
            Answer::Unusable(why) => {
                reached_any = true;
                last_error = format!("{url} {why}");
                said.push((url.clone(), why));
            }
            Answer::Document(meta) if accepted.contains(&meta.issuer) => {
                tracing::debug!(url = %url, issuer = %meta.issuer, jwks_uri = %meta.jwks_uri, "discovered provider metadata");
                return Ok(*meta);
            }
            Answer::Document(meta) if exact => {
                return Err(DiscoveryError::IssuerMismatch {
                    url: url.clone(),
                    found: meta.issuer,
                    expected: accepted.join(" or "),
                });
            }
            Answer::Document(meta) => {
                reached_any = true;
                named_any = true;
                last_error = format!("{url} names issuer \"{}\"", meta.issuer);
                said.push((url.clone(), format!("names issuer \"{}\"", meta.issuer)));
            }
        }
    }
    if !reached_any {
        return Err(DiscoveryError::Unreachable(last_error));
    }
    if named_any {
        return Err(DiscoveryError::IssuerNotUnderOrigin {
            origin: base.to_string(),
            documents: said,
        });
    }
    let tried: Vec<String> = said
        .iter()
        .map(|(url, why)| format!("{url} ({why})"))
        .collect();
    Err(DiscoveryError::NotFound {
        tried: tried.join(", "),
        last_error,
    })
}

impl ProviderMetadata {
    /// Runs discovery once, outside a [`crate::Verifier`] (diagnostic tools use it).
    ///
    /// `base` is the origin or the issuer; `expected_issuer`, when given, must be the document's
    /// `issuer`. Uses a client with a 5 s timeout and a 1 MiB response cap.
    ///
    /// # Errors
    ///
    /// [`DiscoveryError`] as for a verifier's discovery.
    pub async fn fetch(
        base: &str,
        expected_issuer: Option<&str>,
    ) -> Result<ProviderMetadata, DiscoveryError> {
        fetch_provider_metadata(base, expected_issuer).await
    }

    /// The discovery document URLs tried for `base`, in order, each with the issuer expected
    /// first there (the rules are on [`ProviderMetadata`]).
    #[must_use]
    pub fn candidate_locations(base: &str) -> Vec<(String, String)> {
        candidate_locations(base)
    }
}

/// [`ProviderMetadata::fetch`].
pub(crate) async fn fetch_provider_metadata(
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
    fn a_bare_origin_stands_for_itself_and_api_auth_at_both_locations() {
        for base in ["http://localhost:3001", "http://localhost:3001/"] {
            let c = candidate_locations(base);
            assert_eq!(
                c,
                [
                    (
                        "http://localhost:3001/.well-known/openid-configuration".to_string(),
                        "http://localhost:3001".to_string()
                    ),
                    (
                        "http://localhost:3001/api/auth/.well-known/openid-configuration"
                            .to_string(),
                        "http://localhost:3001/api/auth".to_string()
                    ),
                ]
            );
            assert_eq!(
                accepted_issuers(base),
                ["http://localhost:3001", "http://localhost:3001/api/auth"]
            );
        }
    }

    #[test]
    fn a_url_with_a_path_is_the_issuer_exactly() {
        for base in [
            "http://localhost:3001/api/auth",
            "http://localhost:3001/api/auth/",
        ] {
            assert_eq!(accepted_issuers(base), ["http://localhost:3001/api/auth"]);
            let c = candidate_locations(base);
            assert_eq!(
                c[0].0,
                "http://localhost:3001/api/auth/.well-known/openid-configuration"
            );
            // The docs' root alias is the fallback location, still for that issuer only.
            assert_eq!(
                c[1].0,
                "http://localhost:3001/.well-known/openid-configuration"
            );
            assert!(c.iter().all(|(_, i)| i == "http://localhost:3001/api/auth"));
        }
        assert_eq!(
            accepted_issuers("https://sso.example.com/auth"),
            ["https://sso.example.com/auth"]
        );
    }

    #[test]
    fn origin_splitting() {
        assert_eq!(split_origin("http://a:1"), ("http://a:1", ""));
        assert_eq!(
            split_origin("http://a:1/api/auth"),
            ("http://a:1", "/api/auth")
        );
        assert_eq!(
            split_origin("https://a.example/x/y"),
            ("https://a.example", "/x/y")
        );
    }

    #[test]
    fn another_origins_issuer_is_explained_with_the_setting_to_change() {
        let err = DiscoveryError::IssuerNotUnderOrigin {
            origin: "http://127.0.0.1:3001".into(),
            documents: vec![
                (
                    "http://127.0.0.1:3001/.well-known/openid-configuration".into(),
                    "names issuer \"http://localhost:3001/api/auth\"".into(),
                ),
                (
                    "http://127.0.0.1:3001/api/auth/.well-known/openid-configuration".into(),
                    "answered HTTP 404".into(),
                ),
            ],
        };
        let msg = err.to_string();
        for part in [
            "http://127.0.0.1:3001/.well-known/openid-configuration names issuer \"http://localhost:3001/api/auth\"",
            "http://127.0.0.1:3001/api/auth/.well-known/openid-configuration answered HTTP 404",
            "\"http://127.0.0.1:3001\" or \"http://127.0.0.1:3001/api/auth\"",
            "another origin",
            "SSO_ISSUER=http://localhost:3001/api/auth",
            "BETTER_AUTH_URL",
        ] {
            assert!(msg.contains(part), "{part:?} missing from: {msg}");
        }
    }

    #[test]
    fn a_custom_base_path_is_explained_with_the_setting_to_change() {
        let err = DiscoveryError::IssuerNotUnderOrigin {
            origin: "http://127.0.0.1:3001".into(),
            documents: vec![(
                "http://127.0.0.1:3001/.well-known/openid-configuration".into(),
                "names issuer \"http://127.0.0.1:3001/auth\"".into(),
            )],
        };
        let msg = err.to_string();
        assert!(
            msg.contains("AUTH_SERVER_URL=http://127.0.0.1:3001/auth"),
            "{msg}"
        );
        assert!(msg.contains("basePath"), "{msg}");
        assert!(!msg.contains("another origin"), "{msg}");
    }

    #[test]
    fn mismatch_and_not_found_name_the_settings() {
        let msg = DiscoveryError::IssuerMismatch {
            url: "http://a/api/auth/.well-known/openid-configuration".into(),
            found: "http://a/api/auth".into(),
            expected: "http://a".into(),
        }
        .to_string();
        assert!(msg.contains("names issuer \"http://a/api/auth\""), "{msg}");
        assert!(msg.contains("SSO_ISSUER=http://a/api/auth"), "{msg}");
        let msg = DiscoveryError::NotFound {
            tried: "http://a/.well-known/openid-configuration (answered HTTP 404)".into(),
            last_error: "answered HTTP 404".into(),
        }
        .to_string();
        assert!(msg.contains("(answered HTTP 404)"), "{msg}");
        assert!(msg.contains("AUTH_SERVER_URL=<origin><basePath>"), "{msg}");
    }
}
