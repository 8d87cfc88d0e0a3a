//! A request's credential, framework-free: where it is ([`CredentialSources::find`]), whether a
//! cookie-borne one may be used on this request ([`Csrf`]), and the answer when it is refused
//! ([`Refusal`]). The axum extractors and the gateway both use this module, so both find the
//! same credential, apply the same CSRF rule and answer the same refusal.
//!
//! The order, and what is ambiguous (refused with 401 `Malformed`, never guessed):
//!
//! 1. an API key ([`CredentialSources::api_key_header`]) when no `Authorization` header is
//!    sent; two key headers are ambiguous;
//! 2. `Authorization: Bearer <token>` or `Authorization: DPoP <token>` with its `DPoP` proof;
//!    two `Authorization` headers, two `DPoP` headers or a value that is not one token are
//!    refused; another scheme (`Basic`, …) is not a credential here and the search goes on;
//! 3. a token cookie ([`CredentialSources::token_cookie`]); two token cookies (the same name
//!    twice, or two configured names both present) are ambiguous;
//! 4. Better Auth's session cookie ([`CredentialSources::session_cookies`]); sent twice is
//!    ambiguous.
//!
//! A credential found earlier wins over a later kind (`Authorization` over a cookie): browsers
//! add cookies on their own, a client adds a header on purpose.
//!
//! # Example
//!
//! ```
//! use http::{HeaderMap, Method};
//! use ssoguard::credential::{Credential, CredentialSources, Csrf};
//!
//! let sources = CredentialSources::new().token_cookie("sso");
//! let mut headers = HeaderMap::new();
//! headers.insert("cookie", "sso=abc.def.ghi".parse().unwrap());
//! headers.insert("origin", "https://evil.example".parse().unwrap());
//! let found = sources.find(&headers)?;
//! assert!(matches!(found, Some(Credential::TokenCookie { token: "abc.def.ghi", .. })));
//! // A cookie-borne credential on a state-changing request must come from an allowed origin.
//! let csrf = Csrf::allowed_origins(["https://app.example"]);
//! assert!(csrf.check(&Method::POST, &headers, None).is_err());
//! assert!(csrf.check(&Method::GET, &headers, None).is_ok());
//! # Ok::<(), ssoguard::VerifyError>(())
//! ```

mod csrf;
mod refusal;

pub use csrf::{CrossSite, Csrf};
pub use refusal::{Refusal, RefusalContext};

use crate::challenge::Scheme;
use crate::dpop::Presented;
use crate::error::VerifyError;
use crate::session::{SessionCookies, SessionVerifier};
use http::{HeaderMap, HeaderName, header};
use std::sync::Arc;

/// Where a request's credential came from ([`CredentialSources::find`]).
#[derive(Debug, Clone)]
pub enum Credential<'h> {
    /// `Authorization: Bearer <token>` (never CSRF-checked: browsers do not add it on their
    /// own).
    Bearer(&'h str),
    /// `Authorization: DPoP <token>` and the `DPoP` header's proof (`None` when absent).
    Dpop {
        /// The access token.
        token: &'h str,
        /// The proof JWT.
        proof: Option<&'h str>,
    },
    /// A token cookie: the token, and the index of its name in the order the names were
    /// configured ([`CredentialSources::token_cookie`]).
    TokenCookie {
        /// The token.
        token: &'h str,
        /// Which configured cookie name carried it.
        cookie: usize,
    },
    /// Better Auth's session cookie(s).
    Session(SessionCookies<'h>),
    /// An API key, from the configured key header.
    ApiKey(&'h str),
}

impl Credential<'_> {
    /// True for the credentials a browser attaches on its own (cookies): those are
    /// CSRF-checked ([`Csrf`]).
    #[must_use]
    pub fn is_cookie(&self) -> bool {
        matches!(
            self,
            Credential::TokenCookie { .. } | Credential::Session(_)
        )
    }

    /// The `Authorization` scheme it came with, for the challenge of a refusal.
    #[must_use]
    pub fn scheme(&self) -> Option<Scheme> {
        match self {
            Credential::Bearer(_) => Some(Scheme::Bearer),
            Credential::Dpop { .. } => Some(Scheme::Dpop),
            _ => None,
        }
    }
}

/// Where credentials may come from. Default ([`new`](Self::new)): `Authorization` only
/// (`Bearer`, and `DPoP`); cookies and API keys are ignored until named.
#[derive(Debug, Clone, Default)]
pub struct CredentialSources {
    pub(crate) cookies: Vec<Arc<str>>,
    sessions: Option<SessionVerifier>,
    pub(crate) api_key_header: Option<HeaderName>,
}

impl CredentialSources {
    /// `Authorization` only.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Also a token in the cookie `name` (may be called for several names: each is a
    /// possible source, and more than one present is ambiguous).
    #[must_use]
    pub fn token_cookie(mut self, name: impl Into<String>) -> Self {
        self.cookies.push(Arc::from(name.into()));
        self
    }

    /// Also Better Auth's session cookie, with the names `sessions` reads.
    #[must_use]
    pub fn session_cookies(mut self, sessions: &SessionVerifier) -> Self {
        self.sessions = Some(sessions.clone());
        self
    }

    /// Also an API key in header `name` (when no `Authorization` header is sent).
    #[must_use]
    pub fn api_key_header(mut self, name: HeaderName) -> Self {
        self.api_key_header = Some(name);
        self
    }

    /// The configured token cookie names, in order.
    pub fn token_cookies(&self) -> impl Iterator<Item = &str> {
        self.cookies.iter().map(|c| &**c)
    }

    /// The request's one credential, `Ok(None)` when it has none (see the
    /// [module documentation](self) for the order). Finding never verifies.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Malformed`] for ambiguous or malformed credentials;
    /// [`VerifyError::MissingToken`] for an `Authorization` scheme with no token;
    /// [`VerifyError::Dpop`] for two `DPoP` headers or one that is not visible ASCII.
    pub fn find<'h>(&self, headers: &'h HeaderMap) -> Result<Option<Credential<'h>>, VerifyError> {
        if let Some(name) = &self.api_key_header {
            if !headers.contains_key(header::AUTHORIZATION) {
                let mut values = headers.get_all(name).iter();
                if let Some(value) = values.next() {
                    if values.next().is_some() {
                        return Err(VerifyError::Malformed(
                            "ambiguous credentials: more than one API key header",
                        ));
                    }
                    let key = value
                        .to_str()
                        .map_err(|_| VerifyError::Malformed("an API key is printable ASCII"))?;
                    return Ok(Some(Credential::ApiKey(key)));
                }
            }
        }
        if let Some(found) = authorization(headers)? {
            return Ok(Some(found));
        }
        if let Some(found) = self.token_cookie_of(headers)? {
            return Ok(Some(found));
        }
        if let Some(sessions) = &self.sessions {
            let cookie_headers = headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok());
            if let Some(cookies) = sessions.find_cookies(cookie_headers)? {
                return Ok(Some(Credential::Session(cookies)));
            }
        }
        Ok(None)
    }

    /// The request's token, ignoring API keys and session cookies: `Authorization`, else a
    /// token cookie.
    ///
    /// # Errors
    ///
    /// As [`find`](Self::find).
    pub fn find_token<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<Credential<'h>>, VerifyError> {
        match authorization(headers)? {
            Some(found) => Ok(Some(found)),
            None => self.token_cookie_of(headers),
        }
    }

    fn token_cookie_of<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<Credential<'h>>, VerifyError> {
        if self.cookies.is_empty() {
            return Ok(None);
        }
        let mut found = None;
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                let Some((k, v)) = pair.trim().split_once('=') else {
                    continue;
                };
                let Some(index) = self.cookies.iter().position(|c| **c == *k) else {
                    continue;
                };
                if v.is_empty() {
                    continue;
                }
                if found.is_some() {
                    // Which one did the SSO set? A sibling subdomain can add its own (cookie
                    // tossing); picking either would be a guess.
                    return Err(VerifyError::Malformed(
                        "ambiguous credentials: more than one token cookie",
                    ));
                }
                found = Some(Credential::TokenCookie {
                    token: v.trim_matches('"'),
                    cookie: index,
                });
            }
        }
        Ok(found)
    }
}

/// The `Authorization` credential: `Bearer` (the one parser of [`crate::bearer`]) or `DPoP`.
fn authorization(headers: &HeaderMap) -> Result<Option<Credential<'_>>, VerifyError> {
    if let Some(token) = crate::bearer::bearer_token(headers)? {
        return Ok(Some(Credential::Bearer(token)));
    }
    match Presented::from_headers(headers)? {
        Some(Presented::Dpop { token: "", .. }) => Err(VerifyError::MissingToken),
        Some(Presented::Dpop { token, proof }) => {
            if memchr::memchr(b' ', token.as_bytes()).is_some() {
                return Err(VerifyError::Malformed("expected exactly one DPoP token"));
            }
            Ok(Some(Credential::Dpop { token, proof }))
        }
        // Bearer was handled above; another scheme is no credential here.
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests;
