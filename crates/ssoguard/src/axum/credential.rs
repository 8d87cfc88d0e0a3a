//! Where a request's credential is: `Authorization: Bearer`, the token cookie
//! ([`Auth::with_cookie`]), or Better Auth's session cookie ([`Auth::with_sessions`]), in that
//! order. Finding one never verifies it; ambiguous or malformed headers are refused here.

use super::Auth;
use crate::error::VerifyError;
use crate::session::SessionCookies;
use axum::http::{HeaderMap, header};

/// Where a request's credential came from.
pub(super) enum Credential<'h> {
    /// `Authorization: Bearer` (never CSRF-checked: browsers do not add it on their own).
    Bearer(&'h str),
    /// The token cookie of [`Auth::with_cookie`].
    TokenCookie(&'h str),
    /// Better Auth's session cookie ([`Auth::with_sessions`]).
    Session(SessionCookies<'h>),
}

impl Auth {
    /// The request's credential, in this order: `Authorization: Bearer`, the token cookie, the
    /// session cookie.
    pub(super) fn find_credential<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Credential<'h>, VerifyError> {
        match self.find_token(headers)? {
            Some((token, false)) => return Ok(Credential::Bearer(token)),
            Some((token, true)) => return Ok(Credential::TokenCookie(token)),
            None => {}
        }
        if let Some(sessions) = &self.sessions {
            let cookie_headers = headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok());
            if let Some(cookies) = sessions.find_cookies(cookie_headers)? {
                return Ok(Credential::Session(cookies));
            }
        }
        Err(VerifyError::MissingToken)
    }

    /// The request's token and whether it came from the cookie; `None` when there is none.
    pub(super) fn find_token<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<(&'h str, bool)>, VerifyError> {
        if let Some(token) = crate::bearer::bearer_token(headers)? {
            return Ok(Some((token, false)));
        }
        // No Authorization header, or another scheme (Basic, DPoP, …): look for the cookie.
        if let Some(name) = &self.cookie_name {
            let mut found = None;
            for value in headers.get_all(header::COOKIE) {
                let Ok(value) = value.to_str() else { continue };
                for pair in value.split(';') {
                    if let Some((k, v)) = pair.trim().split_once('=') {
                        if k == &**name && !v.is_empty() {
                            if found.is_some() {
                                // Which one did the SSO set? A sibling subdomain can add its own
                                // (cookie tossing); picking either would be a guess.
                                return Err(VerifyError::Malformed(
                                    "ambiguous credentials: more than one token cookie",
                                ));
                            }
                            found = Some(v.trim_matches('"'));
                        }
                    }
                }
            }
            if let Some(token) = found {
                return Ok(Some((token, true)));
            }
        }
        Ok(None)
    }
}
