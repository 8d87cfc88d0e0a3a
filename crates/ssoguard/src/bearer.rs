//! The one parser of `Authorization: Bearer` headers (RFC 6750 §2.1), shared by the axum
//! extractors and the dev issuer, so no second, looser reading of the header exists anywhere.

use crate::error::VerifyError;
use http::{HeaderMap, header};

/// The request's bearer token from its `Authorization` header.
///
/// - `Ok(Some(token))`: exactly one header, scheme `Bearer` (case-insensitive), one token;
/// - `Ok(None)`: no `Authorization` header, or another scheme (Basic, DPoP, …): no bearer
///   credential, the caller may look elsewhere (a cookie);
/// - `Err(MissingToken)`: `Bearer` with nothing after it;
/// - `Err(Malformed)`: several `Authorization` headers, a value that is not ASCII, or more than
///   one token.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, VerifyError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(VerifyError::Malformed("more than one Authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| VerifyError::Malformed("Authorization header is not ASCII"))?;
    match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = rest.trim_matches(' ');
            if token.is_empty() {
                return Err(VerifyError::MissingToken);
            }
            // memchr: a token is ~1 KB, and `str::contains` scans it byte by byte.
            if memchr::memchr(b' ', token.as_bytes()).is_some() {
                return Err(VerifyError::Malformed("expected exactly one bearer token"));
            }
            Ok(Some(token))
        }
        None if value.eq_ignore_ascii_case("bearer") => Err(VerifyError::MissingToken),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(values: &[&'static str]) -> Result<Option<String>, VerifyError> {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::AUTHORIZATION, HeaderValue::from_static(v));
        }
        bearer_token(&headers).map(|t| t.map(str::to_string))
    }

    #[test]
    fn reads_one_bearer_token_and_nothing_looser() {
        assert_eq!(parse(&[]).ok(), Some(None));
        assert_eq!(parse(&["Bearer abc"]).ok(), Some(Some("abc".into())));
        assert_eq!(parse(&["bEaReR  abc "]).ok(), Some(Some("abc".into())));
        assert_eq!(parse(&["Basic dXNlcjpwYXNz"]).ok(), Some(None));
        assert!(matches!(parse(&["Bearer"]), Err(VerifyError::MissingToken)));
        assert!(matches!(
            parse(&["Bearer  "]),
            Err(VerifyError::MissingToken)
        ));
        assert!(matches!(
            parse(&["Bearer a b"]),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            parse(&["Bearer a", "Bearer b"]),
            Err(VerifyError::Malformed(_))
        ));
    }
}
