//! Header hygiene, in one place: which client headers never reach the backend, and which make
//! a request refused.
//!
//! Header names are compared folded ([`fold`]): lower case, `_` read as `-`, because CGI, WSGI
//! and Rack servers (and the frameworks on them: Django, Flask, Rails, PHP) turn both into `_`
//! and so read `X_Auth_Request_User` as `X-Auth-Request-User` (the class of Puma CVE-2024-45614).

use crate::front::ORIGINAL_REQUEST_HEADERS;
use axum::http::{HeaderMap, HeaderName};
use std::borrow::Cow;

/// Reverse-proxy mode: removes every client header that names an original target, path prefix
/// or method ([`ORIGINAL_REQUEST_HEADERS`], any spelling): the backend must execute the request
/// the gateway decided about, not one a header re-routes or re-methods.
pub(crate) fn remove_route_headers(headers: &mut HeaderMap) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| ORIGINAL_REQUEST_HEADERS.contains(&fold(name.as_str()).as_ref()))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// A header name as CGI-style servers read it: lower case, `_` as `-`.
pub(crate) fn fold(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b == b'_' || b.is_ascii_uppercase()) {
        Cow::Owned(
            name.bytes()
                .map(|b| {
                    if b == b'_' {
                        '-'
                    } else {
                        char::from(b.to_ascii_lowercase())
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold("x-auth-request-user"), "x-auth-request-user");
        assert_eq!(fold("X_Auth_Request_User"), "x-auth-request-user");
        assert_eq!(fold("x_auth-request_user"), "x-auth-request-user");
    }
}
