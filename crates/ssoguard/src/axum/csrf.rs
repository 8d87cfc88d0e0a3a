//! The CSRF check for cookie-borne tokens (see [`Auth::with_cookie`](super::Auth::with_cookie)).
//!
//! A browser attaches cookies to requests other sites make it send (a `<form>` post, a
//! `fetch` in `no-cors` mode), so a cookie alone does not show the user meant the request. A
//! state-changing request carrying the token in a cookie must show where it came from:
//!
//! 1. `Sec-Fetch-Site: cross-site` is refused (the browser itself says another site sent it);
//! 2. its `Origin` — or, without one, its `Referer`'s origin — must be an allowed origin (the
//!    service's CORS list); neither header, or `Origin: null`, is refused;
//! 3. its `Content-Type` must be JSON (`application/json` or `application/<x>+json`): an HTML
//!    form can only send `application/x-www-form-urlencoded`, `multipart/form-data` or
//!    `text/plain`, and a cross-origin `fetch` with a JSON type needs a CORS preflight. A
//!    request without a body (no `Content-Type`, no `Transfer-Encoding`, `Content-Length`
//!    absent or 0), which no form can send, needs no type.
//!
//! Safe methods (`GET`, `HEAD`, `OPTIONS`, `TRACE`) are not checked: they must not change
//! state, and CORS keeps their answers from other origins.

use axum::http::{HeaderMap, Method, header};

/// Why a cookie-borne request is refused as cross-site, or `None` when it may go on.
pub(super) fn cross_site_refusal(
    method: &Method,
    headers: &HeaderMap,
    allowed_origins: &[Box<str>],
) -> Option<&'static str> {
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return None;
    }
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return Some("Sec-Fetch-Site is cross-site");
    }
    let origin = match headers.get(header::ORIGIN) {
        Some(origin) => origin.to_str().ok(),
        None => match headers.get(header::REFERER) {
            Some(referer) => Some(referer.to_str().ok().map_or("", origin_of)),
            None => return Some("no Origin or Referer header"),
        },
    };
    let allowed = origin.is_some_and(|origin| {
        let origin = origin.trim_end_matches('/');
        allowed_origins
            .iter()
            .any(|a| a.eq_ignore_ascii_case(origin))
    });
    if !allowed {
        return Some("origin not allowed");
    }
    if !is_json_or_bodiless(headers) {
        return Some("a JSON Content-Type is required");
    }
    None
}

/// The `scheme://host[:port]` of an absolute URL (`""` when it has no scheme).
fn origin_of(url: &str) -> &str {
    let Some(scheme_end) = url.find("://") else {
        return "";
    };
    let rest = &url[scheme_end + 3..];
    let end = rest
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + 3 + i);
    &url[..end]
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
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const ALLOWED: &str = "https://app.example";

    fn check(method: Method, pairs: &[(&'static str, &'static str)]) -> Option<&'static str> {
        cross_site_refusal(&method, &headers(pairs), &[Box::from(ALLOWED)])
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
            cross_site_refusal(&Method::POST, &headers(&[("origin", ALLOWED), json]), &[]),
            Some("origin not allowed"),
            "no allowed origins: cookie tokens only for safe methods"
        );
    }
}
