//! Header hygiene, in one place: which client headers never reach the backend, and which make
//! a request refused.
//!
//! Header names are compared folded ([`fold`]): lower case, `_` read as `-`, because CGI, WSGI
//! and Rack servers (and the frameworks on them: Django, Flask, Rails, PHP) turn both into `_`
//! and so read `X_Auth_Request_User` as `X-Auth-Request-User` (the class of Puma CVE-2024-45614).

use crate::front::{ORIGINAL_REQUEST_HEADERS, fold};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

/// Headers no client may send on to the backend, whoever is in front: they re-address the
/// request (`Forwarded`), claim a client address (`X-Real-IP`, set by the gateway instead), or
/// open an HTTP/2 upgrade (`HTTP2-Settings`).
const DROPPED: [&str; 3] = ["forwarded", "x-real-ip", "http2-settings"];

/// The header names that carry an identity or a credential (folded): what a client may neither
/// send under another spelling nor name in `Connection`.
#[derive(Debug, Clone)]
pub(crate) struct Protected {
    names: Vec<String>,
    /// Cookies that carry a credential (issuer `cookie`s).
    cookies: Vec<String>,
    /// Cookie name prefixes that carry a credential (Better Auth's `cookie_prefix.`).
    cookie_prefixes: Vec<String>,
}

impl Protected {
    /// `identity` (the gateway's identity headers) and `credentials` (the API-key header),
    /// plus `Authorization`, `Proxy-Authorization` and `Cookie`.
    pub(crate) fn new<'a>(
        identity: impl Iterator<Item = &'a HeaderName>,
        credentials: impl Iterator<Item = &'a HeaderName>,
        cookies: Vec<String>,
        cookie_prefixes: Vec<String>,
    ) -> Protected {
        let mut names: Vec<String> = identity
            .chain(credentials)
            .map(|n| fold(n.as_str()).into_owned())
            .collect();
        names.extend(
            ["authorization", "proxy-authorization", "cookie"]
                .iter()
                .map(|n| (*n).to_string()),
        );
        Protected {
            names,
            cookies,
            cookie_prefixes,
        }
    }

    fn is_protected(&self, name: &str) -> bool {
        let folded = fold(name);
        self.names.iter().any(|n| *n == folded)
    }

    /// Whether a cookie of this name carries a credential.
    fn is_credential_cookie(&self, name: &str) -> bool {
        let bare = name
            .strip_prefix("__Secure-")
            .or_else(|| name.strip_prefix("__Host-"))
            .unwrap_or(name);
        self.cookies.iter().any(|c| c == name || c == bare)
            || self.cookie_prefixes.iter().any(|p| {
                bare.strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with('.'))
            })
    }
}

/// Why a request is refused for its headers (400 in reverse-proxy mode, 403 in forward-auth).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `Connection` names an identity or credential header (a proxy would drop it).
    ConnectionNamesProtected(String),
    /// A header that folds onto an identity or credential header under another spelling.
    Alias(String),
    /// An upgrade to anything but WebSocket (h2c tunnels past the gateway).
    Upgrade(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::ConnectionNamesProtected(name) => write!(
                f,
                "Connection may not name an identity or credential header ({name})"
            ),
            Refused::Alias(name) => write!(
                f,
                "Header {name} is another spelling of an identity or credential header"
            ),
            Refused::Upgrade(protocol) => {
                write!(f, "Only WebSocket upgrades are proxied, not {protocol:?}")
            }
        }
    }
}

/// The tokens of every `Connection` header, lower case.
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = String> + '_ {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
}

/// The checks both modes make before anything else: `Connection` naming an identity or
/// credential header, an identity or credential header under another spelling (`_` for `-`),
/// an upgrade to anything but WebSocket.
pub(crate) fn check(headers: &HeaderMap, protected: &Protected) -> Result<(), Refused> {
    if let Some(name) = connection_tokens(headers).find(|t| protected.is_protected(t)) {
        return Err(Refused::ConnectionNamesProtected(name));
    }
    if let Some(name) = headers
        .keys()
        .find(|n| n.as_str().contains('_') && protected.is_protected(n.as_str()))
    {
        return Err(Refused::Alias(name.to_string()));
    }
    if let Some(protocol) = headers.get(header::UPGRADE) {
        let text = protocol.to_str().unwrap_or("?");
        if !is_websocket(text) {
            return Err(Refused::Upgrade(text.to_string()));
        }
    }
    Ok(())
}

/// Whether an `Upgrade` value asks for WebSocket (and nothing else).
pub(crate) fn is_websocket(upgrade: &str) -> bool {
    upgrade.trim().eq_ignore_ascii_case("websocket")
}

/// Reverse-proxy mode, after [`check`]: removes what the backend must not get from the client
/// (route and method headers, `Forwarded`, `X-Real-IP`, `HTTP2-Settings`, and the credential
/// cookies unless `keep_cookies`).
pub(crate) fn clean_for_upstream(
    headers: &mut HeaderMap,
    protected: &Protected,
    keep_cookies: bool,
) {
    remove_route_headers(headers);
    for name in DROPPED {
        headers.remove(name);
    }
    if keep_cookies || (protected.cookies.is_empty() && protected.cookie_prefixes.is_empty()) {
        return;
    }
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n).trim();
            !protected.is_credential_cookie(name)
        })
        .map(str::to_string)
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&kept.join("; ")) {
            headers.insert(header::COOKIE, value);
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn protected() -> Protected {
        let identity = [HeaderName::from_static("x-auth-request-user")];
        let key = [HeaderName::from_static("x-api-key")];
        Protected::new(
            identity.iter(),
            key.iter(),
            vec!["sso".into()],
            vec!["better-auth".into()],
        )
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn refusals() {
        let p = protected();
        for (pairs, expected) in [
            (
                vec![("connection", "close, X-Auth-Request-User")],
                Refused::ConnectionNamesProtected("x-auth-request-user".into()),
            ),
            (
                vec![("connection", "x_auth_request_user")],
                Refused::ConnectionNamesProtected("x_auth_request_user".into()),
            ),
            (
                vec![
                    ("connection", "keep-alive"),
                    ("connection", "Authorization"),
                ],
                Refused::ConnectionNamesProtected("authorization".into()),
            ),
            (
                vec![("connection", "X-API-KEY")],
                Refused::ConnectionNamesProtected("x-api-key".into()),
            ),
            (
                vec![("X_Auth_Request_User", "admin")],
                Refused::Alias("x_auth_request_user".into()),
            ),
            (vec![("x_api-key", "k")], Refused::Alias("x_api-key".into())),
            (
                vec![("connection", "Upgrade"), ("upgrade", "h2c")],
                Refused::Upgrade("h2c".into()),
            ),
            (
                vec![("upgrade", "websocket, h2c")],
                Refused::Upgrade("websocket, h2c".into()),
            ),
        ] {
            assert_eq!(check(&headers(&pairs), &p), Err(expected), "{pairs:?}");
        }
        let fine = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
            ("x-request_id", "1"),
        ]);
        assert_eq!(check(&fine, &p), Ok(()));
    }

    #[test]
    fn cleaning() {
        let p = protected();
        let mut h = headers(&[
            ("forwarded", "for=1.2.3.4;host=evil"),
            ("x-real-ip", "6.6.6.6"),
            ("http2-settings", "AAMAAABkAAQAAP__"),
            ("x-original-url", "/admin"),
            ("x_rewrite_url", "/admin"),
            ("x-http-method-override", "DELETE"),
            ("cookie", "theme=dark; sso=tok; better-auth.session_token=s"),
            ("cookie", "__Secure-better-auth.session_data=d; lang=en"),
            ("x-kept", "1"),
        ]);
        clean_for_upstream(&mut h, &p, false);
        let mut names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["cookie", "x-kept"]);
        assert_eq!(h["cookie"], "theme=dark; lang=en");
        let mut h = headers(&[("cookie", "sso=tok")]);
        clean_for_upstream(&mut h, &p, false);
        assert!(!h.contains_key("cookie"));
        let mut h = headers(&[("cookie", "sso=tok")]);
        clean_for_upstream(&mut h, &p, true);
        assert_eq!(h["cookie"], "sso=tok");
    }
}
