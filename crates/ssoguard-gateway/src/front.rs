//! Forward-auth mode: which headers describe the original request, chosen by configuration.
//!
//! A proxy in front (nginx `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`) asks
//! `/_ssoguard/auth` about a request it holds, and names that request's target and method in
//! headers of its own. Every front copies the client's other headers into that question too, so
//! a header the front does not set may come from the client. The gateway therefore reads exactly
//! one header set, the configured front's ([`Front`], `front = "..."`, `GATEWAY_FRONT`), and
//! refuses a question that also carries any other header that names an original target or
//! method ([`ORIGINAL_REQUEST_HEADERS`]): another front's set, IIS-style rewrites, method
//! overrides, prefixes. Header names are compared case-folded with `_` read as `-` (as CGI, WSGI
//! and Rack servers read them), so `X_Original_URI` is such a header too.
//!
//! Adding a front is adding a row to [`Front::set`]; a unit test checks that every header of
//! every set is in [`ORIGINAL_REQUEST_HEADERS`], so a new set is refused under every other front.

use axum::http::HeaderMap;
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The proxy in front of the gateway in forward-auth mode. Default [`Front::Nginx`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Front {
    /// nginx `auth_request`: `X-Original-URI`, `X-Original-Method` (set by `deploy/nginx.conf`),
    /// `X-Forwarded-Host`, `X-Forwarded-Proto`.
    #[default]
    Nginx,
    /// Caddy `forward_auth`: `X-Forwarded-Uri`, `-Method`, `-Host`, `-Proto`.
    Caddy,
    /// Traefik `ForwardAuth`: `X-Forwarded-Uri`, `-Method`, `-Host`, `-Proto`.
    Traefik,
    /// Any other proxy: it must send `X-Forwarded-Uri`, `-Method`, `-Host`, `-Proto` (the
    /// de-facto convention of Traefik, Caddy, Authelia and oauth2-proxy), overwriting the
    /// client's copies.
    Generic,
}

/// The headers one front sets to describe the original request (lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderSet {
    /// The original request target (path and query).
    pub uri: &'static str,
    /// The original method.
    pub method: &'static str,
    /// The host the client addressed.
    pub host: &'static str,
    /// `http` or `https`.
    pub proto: &'static str,
}

const NGINX: HeaderSet = HeaderSet {
    uri: "x-original-uri",
    method: "x-original-method",
    host: "x-forwarded-host",
    proto: "x-forwarded-proto",
};

const FORWARDED: HeaderSet = HeaderSet {
    uri: "x-forwarded-uri",
    method: "x-forwarded-method",
    host: "x-forwarded-host",
    proto: "x-forwarded-proto",
};

/// Every header (folded: lower case, `-`) that some front or backend framework reads as the
/// original request's target, path prefix or method. In forward-auth mode a question carrying
/// one that is not the configured front's `uri` or `method` is refused; in reverse-proxy mode
/// they are removed before the request is forwarded (`hygiene`).
pub const ORIGINAL_REQUEST_HEADERS: [&str; 16] = [
    // nginx auth_request convention, and its relatives.
    "x-original-uri",
    "x-original-method",
    "x-original-url",
    "x-original-path",
    // Traefik / Caddy / generic forward-auth convention.
    "x-forwarded-uri",
    "x-forwarded-method",
    "x-forwarded-url",
    "x-forwarded-path",
    "x-forwarded-prefix",
    // IIS URL Rewrite / Symfony / Zend.
    "x-rewrite-url",
    // Envoy.
    "x-envoy-original-path",
    "x-envoy-original-url",
    // Method overrides (Express method-override, Symfony, Rails, ASP.NET, Spring).
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-http-method",
];

impl Front {
    /// The header set this front sets.
    #[must_use]
    pub fn set(self) -> &'static HeaderSet {
        match self {
            Front::Nginx => &NGINX,
            Front::Caddy | Front::Traefik | Front::Generic => &FORWARDED,
        }
    }

    /// Every front, for documentation and tests.
    pub const ALL: [Front; 4] = [Front::Nginx, Front::Caddy, Front::Traefik, Front::Generic];

    /// The configuration name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Front::Nginx => "nginx",
            Front::Caddy => "caddy",
            Front::Traefik => "traefik",
            Front::Generic => "generic",
        }
    }
}

impl fmt::Display for Front {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Front {
    type Err = String;

    fn from_str(s: &str) -> Result<Front, String> {
        Front::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("front {s:?} is not one of nginx, caddy, traefik, generic"))
    }
}

/// The original request, as the configured front states it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Original<'h> {
    pub(crate) uri: &'h str,
    pub(crate) method: &'h str,
}

/// Why a forward-auth question is refused before any rule is looked at.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unclear {
    /// A header naming an original target or method that the configured front does not set.
    Foreign(String),
    /// The front's own header is missing (the front is not configured as `front` says).
    Missing(&'static str),
    /// The front's header is sent twice, or is not text.
    Duplicate(&'static str),
}

impl fmt::Display for Unclear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unclear::Foreign(name) => write!(
                f,
                "Forward-auth request carries {name}, which the configured front does not set"
            ),
            Unclear::Missing(name) => {
                write!(f, "Forward-auth request names no original request ({name})")
            }
            Unclear::Duplicate(name) => write!(f, "Forward-auth request has an unclear {name}"),
        }
    }
}

/// Reads the original request from the configured front's headers, refusing any other header
/// that names a target or method.
pub(crate) fn original(front: Front, headers: &HeaderMap) -> Result<Original<'_>, Unclear> {
    let set = front.set();
    for name in headers.keys() {
        let raw = name.as_str();
        let folded = fold(raw);
        if !ORIGINAL_REQUEST_HEADERS.contains(&folded.as_ref()) {
            continue;
        }
        // Only the exact spelling of this front's own headers counts; `X_Original_URI` or the
        // other front's set is a client's copy.
        if raw != set.uri && raw != set.method {
            return Err(Unclear::Foreign(raw.to_string()));
        }
    }
    let one = |name: &'static str| {
        let mut values = headers.get_all(name).iter();
        let value = values.next().ok_or(Unclear::Missing(name))?;
        if values.next().is_some() {
            return Err(Unclear::Duplicate(name));
        }
        value.to_str().map_err(|_| Unclear::Duplicate(name))
    };
    Ok(Original {
        uri: one(set.uri)?,
        method: one(set.method)?,
    })
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
    use axum::http::HeaderValue;

    #[test]
    fn every_set_is_known_so_every_other_front_refuses_it() {
        for front in Front::ALL {
            let set = front.set();
            for name in [set.uri, set.method] {
                assert!(ORIGINAL_REQUEST_HEADERS.contains(&name), "{front}: {name}");
                assert_eq!(fold(name), name, "{name} is stored folded");
            }
            assert_eq!(front.name().parse::<Front>(), Ok(front));
        }
        assert!("envoy".parse::<Front>().is_err());
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn only_the_configured_set_counts() {
        let nginx = headers(&[("x-original-uri", "/a"), ("x-original-method", "GET")]);
        let forwarded = headers(&[("x-forwarded-uri", "/a"), ("x-forwarded-method", "GET")]);
        let expected = Original {
            uri: "/a",
            method: "GET",
        };
        assert_eq!(original(Front::Nginx, &nginx), Ok(expected));
        for front in [Front::Caddy, Front::Traefik, Front::Generic] {
            assert_eq!(
                original(front, &forwarded),
                Ok(Original {
                    uri: "/a",
                    method: "GET"
                })
            );
            assert_eq!(
                original(front, &nginx),
                Err(Unclear::Foreign("x-original-uri".into()))
            );
        }
        assert!(matches!(
            original(Front::Nginx, &forwarded),
            Err(Unclear::Foreign(_))
        ));
    }

    #[test]
    fn any_other_original_request_header_is_refused() {
        for front in Front::ALL {
            let set = front.set();
            for extra in ORIGINAL_REQUEST_HEADERS
                .iter()
                .filter(|h| **h != set.uri && **h != set.method)
                .map(|h| (*h).to_string())
                .chain([
                    set.uri.replace('-', "_"),
                    set.method.replace('-', "_"),
                    "X_Original_URI".into(),
                    "x-forwarded_uri".into(),
                ])
            {
                let h = headers(&[(set.uri, "/a"), (set.method, "GET"), (&extra, "/admin")]);
                assert!(
                    matches!(original(front, &h), Err(Unclear::Foreign(_))),
                    "{front}: {extra}"
                );
            }
        }
    }

    #[test]
    fn the_set_must_be_present_once() {
        let set = Front::Caddy.set();
        assert_eq!(
            original(Front::Caddy, &headers(&[(set.method, "GET")])),
            Err(Unclear::Missing(set.uri))
        );
        assert_eq!(
            original(Front::Caddy, &headers(&[(set.uri, "/")])),
            Err(Unclear::Missing(set.method))
        );
        let twice = headers(&[(set.uri, "/a"), (set.uri, "/b"), (set.method, "GET")]);
        assert_eq!(
            original(Front::Caddy, &twice),
            Err(Unclear::Duplicate(set.uri))
        );
    }

    #[test]
    fn folding() {
        assert_eq!(fold("x-auth-request-user"), "x-auth-request-user");
        assert_eq!(fold("X_Auth_Request_User"), "x-auth-request-user");
        assert_eq!(fold("x_auth-request_user"), "x-auth-request-user");
    }
}
