//! `WWW-Authenticate` challenges for refusals, framework-free: the axum extractors, the gateway
//! and any other surface render the same header from the same error.
//!
//! - A refused or missing token (401): a `Bearer` challenge where bearer tokens are accepted
//!   and a `DPoP` challenge with `algs` (RFC 9449 §7.1); the error code goes on the challenge
//!   of the scheme the client used (`invalid_dpop_proof` always on the DPoP one).
//! - Keys or stores unavailable (503), an API key over its rate limit (429): no challenge.
//! - Too few scopes (403, RFC 6750 §3.1): [`InsufficientScope`].

use crate::dpop::DpopConfig;
use crate::error::VerifyError;
use crate::verify::Verifier;

/// An `Authorization` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449).
    Dpop,
}

impl Scheme {
    /// The scheme's name as written in headers.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => "DPoP",
        }
    }
}

impl Verifier {
    /// The `WWW-Authenticate` challenges (one header value each) for a 401: `error` is the
    /// refusal (`None` or [`VerifyError::MissingToken`]: no credentials, no error code),
    /// `used` the scheme the client sent, `realm` the service's realm if it names one. Empty
    /// for a refusal that is not an authentication failure (503, 429).
    ///
    /// # Example
    ///
    /// ```
    /// use ssoguard::challenge::Scheme;
    /// use ssoguard::dpop::{DpopConfig, DpopError};
    /// use ssoguard::{Algorithm, Verifier, VerifyError};
    ///
    /// let verifier = Verifier::builder()
    ///     .authority("http://localhost:3001")
    ///     .audience("api")
    ///     .dpop(DpopConfig::default().algorithms([Algorithm::ES256]))
    ///     .build()?;
    /// let challenges = verifier.challenges(
    ///     Some(&VerifyError::Dpop(DpopError::Replayed)),
    ///     Some(Scheme::Dpop),
    ///     None,
    /// );
    /// assert_eq!(challenges, [
    ///     "Bearer".to_string(),
    ///     r#"DPoP error="invalid_dpop_proof", error_description="DPoP proof has already been used", algs="ES256""#.to_string(),
    /// ]);
    /// # Ok::<(), ssoguard::ConfigError>(())
    /// ```
    #[must_use]
    pub fn challenges(
        &self,
        error: Option<&VerifyError>,
        used: Option<Scheme>,
        realm: Option<&str>,
    ) -> Vec<String> {
        challenges_for(Some(&self.inner.dpop), error, used, realm)
    }
}

/// [`Verifier::challenges`] for a surface that accepts DPoP with `dpop`, or only `Bearer`
/// (`None`: no DPoP challenge is offered).
pub(crate) fn challenges_for(
    dpop: Option<&DpopConfig>,
    error: Option<&VerifyError>,
    used: Option<Scheme>,
    realm: Option<&str>,
) -> Vec<String> {
    let code = match error {
        None => None,
        Some(e) if e.status_code() != 401 => return Vec::new(),
        Some(e) => e.oauth_error_code().map(|code| (code, e.to_string())),
    };
    let Some(dpop) = dpop else {
        return vec![render(Scheme::Bearer, realm, code.as_ref(), &[])];
    };
    let bearer_accepted = !dpop.required;
    let on_dpop = matches!(error, Some(VerifyError::Dpop(_)))
        || used == Some(Scheme::Dpop)
        || !bearer_accepted;
    let algs = dpop
        .algorithms
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = Vec::with_capacity(2);
    if bearer_accepted {
        let error = if on_dpop { None } else { code.as_ref() };
        out.push(render(Scheme::Bearer, realm, error, &[]));
    }
    let error = if on_dpop { code.as_ref() } else { None };
    out.push(render(Scheme::Dpop, realm, error, &[("algs", &algs)]));
    out
}

/// A request that needs scopes the token does not carry: 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` (RFC 6750 §3.1), the step-up
/// signal the MCP authorization spec relies on.
///
/// # Example
///
/// ```
/// use ssoguard::challenge::{InsufficientScope, Scheme};
///
/// let refusal = InsufficientScope::new(["tasks:write", "tasks:read"]);
/// assert_eq!(refusal.status_code(), 403);
/// assert_eq!(
///     refusal.www_authenticate(Scheme::Bearer, None),
///     r#"Bearer error="insufficient_scope", error_description="insufficient scope", scope="tasks:write tasks:read""#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("insufficient scope")]
pub struct InsufficientScope {
    /// The scopes the request needs (all of them).
    pub required: Vec<String>,
}

impl InsufficientScope {
    /// The refusal for a request needing `required`.
    pub fn new<I, S>(required: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        InsufficientScope {
            required: required.into_iter().map(Into::into).collect(),
        }
    }

    /// 403.
    #[must_use]
    pub fn status_code(&self) -> u16 {
        403
    }

    /// `insufficient_scope`.
    #[must_use]
    pub fn oauth_error_code(&self) -> &'static str {
        "insufficient_scope"
    }

    /// The `WWW-Authenticate` value, on the scheme the client used. Scope names outside the
    /// RFC 6749 `scope-token` characters are left out.
    #[must_use]
    pub fn www_authenticate(&self, scheme: Scheme, realm: Option<&str>) -> String {
        let scope = self
            .required
            .iter()
            .filter(|s| !s.is_empty() && s.bytes().all(is_scope_char))
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        let error = ("insufficient_scope", self.to_string());
        render(scheme, realm, Some(&error), &[("scope", &scope)])
    }
}

/// RFC 6749 §3.3 `scope-token` characters: `%x21 / %x23-5B / %x5D-7E`.
pub(crate) fn is_scope_char(b: u8) -> bool {
    b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)
}

pub(crate) fn render(
    scheme: Scheme,
    realm: Option<&str>,
    error: Option<&(&'static str, String)>,
    extra: &[(&str, &str)],
) -> String {
    let mut params: Vec<String> = Vec::with_capacity(4);
    if let Some(realm) = realm {
        params.push(format!("realm=\"{}\"", quote(realm)));
    }
    if let Some((code, description)) = error {
        params.push(format!("error=\"{code}\""));
        params.push(format!("error_description=\"{}\"", quote(description)));
    }
    for (name, value) in extra {
        params.push(format!("{name}=\"{}\"", quote(value)));
    }
    if params.is_empty() {
        scheme.as_str().to_string()
    } else {
        format!("{} {}", scheme.as_str(), params.join(", "))
    }
}

/// Makes a value safe inside a quoted-string of an HTTP header (the same rule as the axum
/// rejection's): printable ASCII only, `"` and `\` replaced.
pub(crate) fn quote(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::{DpopConfig, DpopError};
    use crate::{Algorithm, KeysUnavailable};
    use std::time::Duration;

    fn verifier(required: bool) -> Verifier {
        Verifier::builder()
            .authority("http://localhost:3001")
            .audience("api")
            .dpop(
                DpopConfig::default()
                    .algorithms([Algorithm::ES256, Algorithm::EdDSA])
                    .required(required),
            )
            .build()
            .expect("config")
    }

    #[test]
    fn a_missing_token_gets_both_challenges_without_error() {
        assert_eq!(
            verifier(false).challenges(None, None, Some("tasks")),
            [
                r#"Bearer realm="tasks""#,
                r#"DPoP realm="tasks", algs="EdDSA ES256""#
            ]
        );
        assert_eq!(
            verifier(false).challenges(Some(&VerifyError::MissingToken), None, None),
            ["Bearer", r#"DPoP algs="EdDSA ES256""#]
        );
    }

    #[test]
    fn the_error_goes_on_the_scheme_used() {
        let v = verifier(false);
        assert_eq!(
            v.challenges(Some(&VerifyError::Expired), Some(Scheme::Bearer), None),
            [
                r#"Bearer error="invalid_token", error_description="token expired""#,
                r#"DPoP algs="EdDSA ES256""#
            ]
        );
        assert_eq!(
            v.challenges(Some(&VerifyError::Expired), Some(Scheme::Dpop), None),
            [
                "Bearer",
                r#"DPoP error="invalid_token", error_description="token expired", algs="EdDSA ES256""#
            ]
        );
        assert_eq!(
            v.challenges(Some(&VerifyError::Dpop(DpopError::Url)), None, None)[1],
            r#"DPoP error="invalid_dpop_proof", error_description="DPoP proof htu does not match the request URL", algs="EdDSA ES256""#
        );
    }

    #[test]
    fn dpop_required_drops_the_bearer_challenge() {
        assert_eq!(
            verifier(true).challenges(Some(&VerifyError::DpopRequired), Some(Scheme::Bearer), None),
            [
                r#"DPoP error="invalid_token", error_description="DPoP is required: send the token with the DPoP scheme and a proof", algs="EdDSA ES256""#
            ]
        );
    }

    #[test]
    fn service_failures_get_no_challenge() {
        let unavailable = VerifyError::KeysUnavailable {
            reason: KeysUnavailable::DpopReplayStore,
            retry_after: Duration::from_secs(1),
        };
        assert!(
            verifier(false)
                .challenges(Some(&unavailable), None, None)
                .is_empty()
        );
    }

    #[test]
    fn insufficient_scope_names_what_is_needed() {
        let refusal = InsufficientScope::new(["a", "b\"c", "d e", ""]);
        assert_eq!(
            refusal.www_authenticate(Scheme::Dpop, Some("r")),
            r#"DPoP realm="r", error="insufficient_scope", error_description="insufficient scope", scope="a""#
        );
        assert_eq!(refusal.status_code(), 403);
        assert_eq!(refusal.oauth_error_code(), "insufficient_scope");
    }
}
