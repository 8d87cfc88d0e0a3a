//! The CSRF check for cookie-borne credentials: [`Csrf`].

use http::{HeaderMap, Method, header};
use std::sync::Arc;

/// A CSRF policy for cookie-borne credentials.
///
/// A browser attaches cookies to requests other sites make it send (a `<form>` post, a `fetch`
/// in `no-cors` mode, a WebSocket opened from another page), so a cookie alone does not show
/// the user meant the request. A request carrying its credential in a cookie is checked when it
/// is state-changing (any method but `GET`, `HEAD`, `OPTIONS`) or a WebSocket handshake (a `GET`
/// that opens a two-way channel: cross-site WebSocket hijacking). For both policies
/// `Sec-Fetch-Site: cross-site` is refused (the browser itself says another site sent it); then:
///
/// - [`Csrf::allowed_origins`] (an API called by a known front end, as tasks-api): its `Origin`
///   — or, without one, its `Referer`'s origin — must be an allowed origin (the service's CORS
///   list); neither header, or `Origin: null`, is refused. Its `Content-Type` must be JSON
///   (`application/json` or `application/<x>+json`): an HTML form can only send
///   `application/x-www-form-urlencoded`, `multipart/form-data` or `text/plain`, and a
///   cross-origin `fetch` with a JSON type needs a CORS preflight. A request without a body
///   (no `Content-Type`, no `Transfer-Encoding`, `Content-Length` absent or 0) needs no type.
/// - [`Csrf::same_origin`] (a gateway fronting HTML forms): its `Origin` must be the origin the
///   request was sent to (`scheme://host[:port]`), which the caller passes from configuration or
///   a trusted proxy's headers, never from the client's `Host` alone. Any content type.
///
/// Safe methods (`GET`, `HEAD`, `OPTIONS`) other than WebSocket handshakes are not checked: they
/// must not change state, and CORS keeps their answers from other origins. `TRACE` is checked.
#[derive(Debug, Clone)]
pub struct Csrf {
    policy: Policy,
}

#[derive(Debug, Clone)]
enum Policy {
    AllowedOrigins(Arc<[Box<str>]>),
    SameOrigin,
}

/// A cookie-borne credential on a cross-site request: refused with 403, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Cross-site request refused: {0}")]
pub struct CrossSite(pub &'static str);

impl Csrf {
    /// The origins (`https://app.example.com`) whose state-changing requests may carry a cookie
    /// credential, with a JSON content type. Compared exactly (ASCII case-insensitively,
    /// without a trailing `/`). No origins: cookie credentials work for safe methods only.
    pub fn allowed_origins<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Csrf {
            policy: Policy::AllowedOrigins(
                origins
                    .into_iter()
                    .map(|o| Box::from(o.as_ref().trim().trim_end_matches('/')))
                    .collect(),
            ),
        }
    }

    /// The request's `Origin` must be the origin it was sent to (passed to
    /// [`check`](Self::check)).
    #[must_use]
    pub fn same_origin() -> Self {
        Csrf {
            policy: Policy::SameOrigin,
        }
    }

    /// Whether a request carrying a cookie credential may go on. `own_origin` is the
    /// `scheme://host[:port]` the request was sent to, from configuration or a trusted proxy
    /// (used by [`same_origin`](Self::same_origin) only; `None` refuses every checked request
    /// under that policy).
    ///
    /// # Errors
    ///
    /// [`CrossSite`] naming why.
    pub fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
        own_origin: Option<&str>,
    ) -> Result<(), CrossSite> {
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if safe && !is_websocket_handshake(headers) {
            return Ok(());
        }
        if headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
        {
            return Err(CrossSite("Sec-Fetch-Site is cross-site"));
        }
        match &self.policy {
            Policy::AllowedOrigins(allowed) => {
                let origin = match headers.get(header::ORIGIN) {
                    Some(origin) => origin.to_str().ok(),
                    None => match headers.get(header::REFERER) {
                        Some(referer) => {
                            Some(referer.to_str().ok().map_or("", crate::urls::origin_of))
                        }
                        None => return Err(CrossSite("no Origin or Referer header")),
                    },
                };
                let ok = origin.is_some_and(|origin| {
                    let origin = origin.trim_end_matches('/');
                    allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
                });
                if !ok {
                    return Err(CrossSite("origin not allowed"));
                }
                if !safe && !is_json_or_bodiless(headers) {
                    return Err(CrossSite("a JSON Content-Type is required"));
                }
                Ok(())
            }
            Policy::SameOrigin => {
                let Some(origin) = headers.get(header::ORIGIN) else {
                    return Err(CrossSite("no Origin header"));
                };
                let same = own_origin.is_some_and(|own| {
                    origin
                        .to_str()
                        .is_ok_and(|o| o.eq_ignore_ascii_case(own.trim_end_matches('/')))
                });
                if same {
                    Ok(())
                } else {
                    Err(CrossSite("origin not allowed"))
                }
            }
        }
    }
}

/// True for a WebSocket opening handshake (`Upgrade: websocket`, or a `Sec-WebSocket-Key`).
#[must_use]
pub(crate) fn is_websocket_handshake(headers: &HeaderMap) -> bool {
    headers.contains_key(header::SEC_WEBSOCKET_KEY)
        || headers
            .get_all(header::UPGRADE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| {
                let name = p.trim().split('/').next().unwrap_or("");
                name.eq_ignore_ascii_case("websocket")
            })
}

fn is_json_or_bodiless(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE) {
        Some(value) => {
            let Ok(value) = value.to_str() else {
                return false;
            };
            let media = value.split(';').next().unwrap_or("").trim();
            let Some((kind, subtype)) = media.split_once('/') else {
                return false;
            };
            kind.eq_ignore_ascii_case("application")
                && (subtype.eq_ignore_ascii_case("json")
                    || subtype.len() > 5
                        && subtype.is_char_boundary(subtype.len() - 5)
                        && subtype[subtype.len() - 5..].eq_ignore_ascii_case("+json"))
        }
        None => {
            !headers.contains_key(header::TRANSFER_ENCODING)
                && headers
                    .get(header::CONTENT_LENGTH)
                    .is_none_or(|len| len.as_bytes() == b"0")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const ALLOWED: &str = "https://app.example";

    fn check(method: Method, pairs: &[(&'static str, &'static str)]) -> Option<&'static str> {
        Csrf::allowed_origins([ALLOWED])
            .check(&method, &headers(pairs), None)
            .err()
            .map(|e| e.0)
    }

    fn same(method: Method, pairs: &[(&'static str, &'static str)]) -> Option<&'static str> {
        Csrf::same_origin()
            .check(&method, &headers(pairs), Some("https://gw.example"))
            .err()
            .map(|e| e.0)
    }

    #[test]
    fn same_origin_json_passes_and_safe_methods_are_not_checked() {
        let json = ("content-type", "application/json; charset=utf-8");
        assert_eq!(check(Method::POST, &[("origin", ALLOWED), json]), None);
        assert_eq!(
            check(Method::PATCH, &[("origin", "HTTPS://APP.EXAMPLE"), json]),
            None
        );
        assert_eq!(
            check(
                Method::PUT,
                &[
                    ("referer", "https://app.example/tasks?x=1"),
                    ("content-type", "application/merge-patch+json"),
                ]
            ),
            None
        );
        assert_eq!(
            check(
                Method::DELETE,
                &[("origin", ALLOWED), ("sec-fetch-site", "same-site")]
            ),
            None,
            "no body, no type needed"
        );
        assert_eq!(
            check(Method::GET, &[("origin", "https://evil.example")]),
            None
        );
        assert_eq!(
            check(Method::HEAD, &[("sec-fetch-site", "cross-site")]),
            None
        );
    }

    #[test]
    fn cross_site_or_unproven_origin_or_form_types_are_refused() {
        let json = ("content-type", "application/json");
        let cases: [(&[(&'static str, &'static str)], &str); 9] = [
            (
                &[("origin", "https://evil.example"), json],
                "origin not allowed",
            ),
            (&[("origin", "null"), json], "origin not allowed"),
            (&[json], "no Origin or Referer header"),
            (
                &[("referer", "https://evil.example/x"), json],
                "origin not allowed",
            ),
            (&[("referer", "not a url"), json], "origin not allowed"),
            (
                &[("origin", ALLOWED), ("sec-fetch-site", "cross-site"), json],
                "Sec-Fetch-Site is cross-site",
            ),
            (
                &[("origin", ALLOWED), ("content-type", "text/plain")],
                "a JSON Content-Type is required",
            ),
            (
                &[
                    ("origin", ALLOWED),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                "a JSON Content-Type is required",
            ),
            (
                &[("origin", ALLOWED), ("content-length", "12")],
                "a JSON Content-Type is required",
            ),
        ];
        for (pairs, reason) in cases {
            assert_eq!(check(Method::POST, pairs), Some(reason), "{pairs:?}");
        }
        assert_eq!(
            check(Method::TRACE, &[("origin", "https://evil.example")]),
            Some("origin not allowed"),
            "TRACE is not a safe method here"
        );
        let none: [&str; 0] = [];
        assert_eq!(
            Csrf::allowed_origins(none)
                .check(&Method::POST, &headers(&[("origin", ALLOWED), json]), None)
                .err(),
            Some(CrossSite("origin not allowed")),
            "no allowed origins: cookie credentials only for safe methods"
        );
    }

    #[test]
    fn websocket_handshakes_are_checked_like_unsafe_methods() {
        let ws = [("upgrade", "websocket"), ("connection", "Upgrade")];
        assert_eq!(
            check(
                Method::GET,
                &[ws[0], ws[1], ("origin", "https://evil.example")]
            ),
            Some("origin not allowed")
        );
        assert_eq!(check(Method::GET, &ws), Some("no Origin or Referer header"));
        assert_eq!(
            check(Method::GET, &[ws[0], ws[1], ("origin", ALLOWED)]),
            None
        );
        assert_eq!(
            same(
                Method::GET,
                &[
                    ("sec-websocket-key", "x"),
                    ("origin", "https://evil.example")
                ]
            ),
            Some("origin not allowed")
        );
        assert_eq!(
            same(
                Method::GET,
                &[("sec-websocket-key", "x"), ("origin", "https://gw.example")]
            ),
            None
        );
    }

    #[test]
    fn same_origin_needs_the_configured_origin() {
        let form = ("content-type", "application/x-www-form-urlencoded");
        assert_eq!(
            same(Method::POST, &[("origin", "https://gw.example"), form]),
            None
        );
        assert_eq!(
            same(Method::POST, &[("origin", "HTTPS://GW.EXAMPLE")]),
            None
        );
        assert_eq!(
            same(Method::POST, &[("origin", "http://gw.example")]),
            Some("origin not allowed"),
            "another scheme is another origin"
        );
        assert_eq!(
            same(Method::POST, &[("origin", "https://gw.example:8443")]),
            Some("origin not allowed")
        );
        assert_eq!(
            same(Method::POST, &[("origin", "null")]),
            Some("origin not allowed")
        );
        assert_eq!(
            same(Method::POST, &[("referer", "https://gw.example/form")]),
            Some("no Origin header")
        );
        assert_eq!(
            Csrf::same_origin()
                .check(
                    &Method::POST,
                    &headers(&[("origin", "https://gw.example")]),
                    None
                )
                .err(),
            Some(CrossSite("origin not allowed")),
            "no known origin: refused"
        );
        assert_eq!(same(Method::GET, &[]), None);
    }
}
