//! Decoding a token **without verifying it**, and telling what it looks like.
//!
//! Every message here describes the input without quoting it: no part of a token is ever echoed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use ssoguard::JwsHeader;

/// What the input is.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A compact JWS: three base64url segments, a JSON header and a JSON payload.
    Jwt(Box<Jwt>),
    /// A compact JWE (five segments); only its header can be read.
    Jwe {
        /// The protected header.
        header: Map<String, Value>,
    },
    /// One segment of token characters: an opaque token (Better Auth's opaque access tokens).
    Opaque {
        /// Its length in characters.
        len: usize,
    },
}

/// A decoded (unverified) JWS.
#[derive(Debug)]
pub(crate) struct Jwt {
    /// The header as sent.
    pub(crate) header_json: Map<String, Value>,
    /// The header as ssoguard reads it, or why ssoguard refuses it.
    pub(crate) header: Result<JwsHeader, String>,
    /// The payload as sent.
    pub(crate) claims: Map<String, Value>,
    /// Decoded signature length in bytes.
    pub(crate) signature_len: usize,
    /// Length of the whole token in bytes.
    pub(crate) token_len: usize,
}

/// Decodes `token`; `Err` says why it is not a token at all (never quoting it).
pub(crate) fn decode(token: &str) -> Result<Decoded, String> {
    if token.is_empty() {
        return Err("not a token: the input is empty".into());
    }
    let segments: Vec<&str> = token.split('.').collect();
    match segments.len() {
        1 if looks_opaque(token) => Ok(Decoded::Opaque {
            len: token.chars().count(),
        }),
        1 => Err(
            "not a token: neither a JWT (three base64url segments separated by dots) nor an \
             opaque token (one run of token characters)"
                .into(),
        ),
        3 => decode_jws(&segments, token.len()).map(|jwt| Decoded::Jwt(Box::new(jwt))),
        5 => {
            let header = json_object(segments[0], "JWE header")?;
            Ok(Decoded::Jwe { header })
        }
        n => Err(format!(
            "not a token: {n} dot-separated segments (a JWT has 3, an encrypted JWE 5)"
        )),
    }
}

fn decode_jws(segments: &[&str], token_len: usize) -> Result<Jwt, String> {
    let header_json = json_object(segments[0], "header")?;
    let claims = json_object(segments[1], "payload")?;
    let signature = URL_SAFE_NO_PAD
        .decode(segments[2])
        .map_err(|_| "not a JWT: the signature segment is not base64url".to_string())?;
    let header_bytes = URL_SAFE_NO_PAD.decode(segments[0]).unwrap_or_default();
    let header = JwsHeader::parse(&header_bytes).map_err(|e| e.to_string());
    Ok(Jwt {
        header_json,
        header,
        claims,
        signature_len: signature.len(),
        token_len,
    })
}

fn json_object(segment: &str, what: &str) -> Result<Map<String, Value>, String> {
    if segment.is_empty() {
        return Err(format!("not a JWT: the {what} segment is empty"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| format!("not a JWT: the {what} segment is not base64url"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("not a JWT: the {what} is JSON but not an object")),
        Err(_) => Err(format!("not a JWT: the {what} is not JSON")),
    }
}

/// One run of RFC 6750 token characters, long enough to be a credential.
fn looks_opaque(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    (16..=4096).contains(&token.len())
        && !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~' | b'+' | b'/'))
}

/// A claim as a string, if it is one.
pub(crate) fn str_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// A NumericDate claim as ssoguard reads it: `Ok(None)` when absent, `Err` for a wrong type.
pub(crate) fn date_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15) {
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(f.floor() as i64))
            } else {
                Err(())
            }
        }
        Some(_) => Err(()),
    }
}

/// The audiences of `aud` (empty when absent or not strings).
pub(crate) fn audiences(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `"web"` or `["a", "b"]`, for messages.
pub(crate) fn quote_list(items: &[&str]) -> String {
    match items {
        [one] => format!("{one:?}"),
        many => format!(
            "[{}]",
            many.iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `scheme://host[:port]` without a path (a trailing `/` allowed), i.e. a bare origin.
pub(crate) fn bare_origin(url: &str) -> Option<&str> {
    let url = url.strip_suffix('/').unwrap_or(url);
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    (!rest.is_empty() && !rest.contains('/')).then_some(url)
}

pub(crate) use ssoguard::urls::origin_of;

/// The kind of token this looks like, with the reason.
pub(crate) fn kind(jwt: &Jwt) -> String {
    let typ = jwt
        .header_json
        .get("typ")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let claims = &jwt.claims;
    let sub = str_claim(claims, "sub");
    let client = str_claim(claims, "azp").or_else(|| str_claim(claims, "client_id"));
    let client_credentials = sub.is_some() && sub == client;
    if matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
        return if client_credentials {
            "client-credentials access token (header typ at+jwt, sub is the client id)".into()
        } else {
            "JWT access token (header typ at+jwt, RFC 9068)".into()
        };
    }
    if let Some(iss) = str_claim(claims, "iss").and_then(bare_origin) {
        let aud = audiences(claims);
        if aud.len() == 1 && aud[0].strip_suffix('/').unwrap_or(aud[0]) == iss {
            return "Better Auth jwt-plugin token (iss and aud are the app's bare origin; \
                    from /api/auth/token or the set-auth-jwt header)"
                .into();
        }
    }
    if client_credentials {
        return "client-credentials token (sub is the client id, azp/client_id)".into();
    }
    if claims.contains_key("aud") && matches!(typ.as_deref(), None | Some("jwt")) {
        return "OIDC id_token (has aud, no typ or typ JWT)".into();
    }
    "JWT of an unrecognised kind".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &str) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    #[test]
    fn classifies_without_panicking() {
        assert!(decode("").is_err());
        assert!(decode("a.b.c").is_err());
        assert!(decode("a.b").is_err());
        assert!(decode("....").is_err());
        assert!(decode("short").is_err());
        assert!(decode("has space in it and is long").is_err());
        assert!(matches!(
            decode("AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
            Ok(Decoded::Opaque { len: 32 })
        ));
        let h = enc(r#"{"alg":"EdDSA"}"#);
        let p = enc(r#"{"sub":"x"}"#);
        assert!(matches!(decode(&format!("{h}.{p}.")), Ok(Decoded::Jwt(_))));
        assert!(decode(&format!("{h}.{}.", enc("not json"))).is_err());
        assert!(decode(&format!("{h}.{}.", enc("[1]"))).is_err());
        assert!(decode(&format!("{h}.{p}.!!")).is_err());
        assert!(matches!(
            decode(&format!("{h}.a.b.c.d")),
            Ok(Decoded::Jwe { .. })
        ));
        let Ok(Decoded::Jwt(jwt)) = decode(&format!("{}.{p}.", enc(r#"{"kid":"k"}"#))) else {
            panic!("decodes")
        };
        assert!(jwt.header.is_err());
    }

    #[test]
    fn origins() {
        assert_eq!(bare_origin("http://h:1/"), Some("http://h:1"));
        assert_eq!(bare_origin("http://h:1/api/auth"), None);
        assert_eq!(bare_origin("h:1"), None);
        assert_eq!(origin_of("http://h:1/api/auth"), "http://h:1");
        assert_eq!(origin_of("http://h:1"), "http://h:1");
    }
}
