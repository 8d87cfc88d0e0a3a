//! Identity headers: claims of a verified token turned into header values.
//!
//! A claim path is a claim name or a dotted path into nested objects (`org.role`); `roles` is
//! the token's roles comma-joined (Better Auth's `"user,admin"` and an array alike). Arrays are
//! joined with commas, numbers and booleans written as JSON, objects and `null` give no header.
//! A value with a control character (CR, LF, NUL, TAB, …) is refused, never forwarded: it
//! could split or smuggle headers in a backend that parses them loosely.

use axum::http::{HeaderName, HeaderValue};
use serde_json::Value;
use ssoguard::TokenClaims;

/// A claim that cannot travel as a header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UnsafeValue(pub(crate) HeaderName);

/// The value of `path` in `claims`, as header text (None when absent).
pub(crate) fn claim_text(claims: &TokenClaims, path: &str) -> Option<String> {
    match path {
        "sub" => return Some(claims.sub.clone()),
        "iss" => return Some(claims.iss.clone()),
        "roles" => {
            let roles = claims.roles();
            return (!roles.is_empty()).then(|| roles.join(","));
        }
        "email" => return claims.email.clone(),
        "name" => return claims.name.clone(),
        "role" => return claims.role().map(str::to_owned),
        "organization_id" => return claims.organization_id.clone(),
        "scope" => return claims.scope.clone(),
        "permissions" => {
            return (!claims.permissions.is_empty()).then(|| claims.permissions.join(","));
        }
        _ => {}
    }
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut value = claims.extra.get(first)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    text_of(value)
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        Value::Array(items) => {
            let texts: Vec<String> = items.iter().filter_map(text_of).collect();
            (!texts.is_empty()).then(|| texts.join(","))
        }
        Value::Null | Value::Object(_) => None,
    }
}

/// The identity headers for `claims`, or the first header whose value is unsafe.
pub(crate) fn headers_for(
    claims: &TokenClaims,
    mapping: &[(HeaderName, String)],
) -> Result<Vec<(HeaderName, HeaderValue)>, UnsafeValue> {
    let mut out = Vec::with_capacity(mapping.len());
    for (name, path) in mapping {
        let Some(text) = claim_text(claims, path) else {
            continue;
        };
        if text.bytes().any(|b| b.is_ascii_control()) {
            return Err(UnsafeValue(name.clone()));
        }
        // from_bytes keeps UTF-8 (obs-text) as sent; control bytes were refused above.
        let value =
            HeaderValue::from_bytes(text.as_bytes()).map_err(|_| UnsafeValue(name.clone()))?;
        out.push((name.clone(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(extra: Value) -> TokenClaims {
        let mut base = json!({"iss": "https://i/api/auth", "sub": "u1", "aud": "a", "exp": 2_000_000_000i64,
            "email": "u@example.com", "role": "user,admin", "permissions": ["r", "w"]});
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        TokenClaims::from_json(&base).expect("claims")
    }

    #[test]
    fn paths_arrays_and_types() {
        let c = claims(
            json!({"org": {"role": "owner", "ids": [1, 2], "deep": {"x": true}},
            "groups": ["a", "b"], "age": 42, "nothing": null}),
        );
        assert_eq!(claim_text(&c, "sub").as_deref(), Some("u1"));
        assert_eq!(claim_text(&c, "roles").as_deref(), Some("user,admin"));
        assert_eq!(claim_text(&c, "permissions").as_deref(), Some("r,w"));
        assert_eq!(claim_text(&c, "org.role").as_deref(), Some("owner"));
        assert_eq!(claim_text(&c, "org.ids").as_deref(), Some("1,2"));
        assert_eq!(claim_text(&c, "org.deep.x").as_deref(), Some("true"));
        assert_eq!(claim_text(&c, "groups").as_deref(), Some("a,b"));
        assert_eq!(claim_text(&c, "age").as_deref(), Some("42"));
        assert_eq!(claim_text(&c, "org").as_deref(), None);
        assert_eq!(claim_text(&c, "nothing").as_deref(), None);
        assert_eq!(claim_text(&c, "org.missing").as_deref(), None);
        assert_eq!(claim_text(&c, "name").as_deref(), None);
    }

    #[test]
    fn control_characters_are_refused() {
        let name = HeaderName::from_static("x-name");
        let mapping = vec![(name.clone(), "nick".to_string())];
        for bad in [
            "a\r\nX-Auth-Request-User: admin",
            "a\nb",
            "tab\there",
            "nul\0",
        ] {
            let c = claims(json!({ "nick": bad }));
            assert_eq!(headers_for(&c, &mapping), Err(UnsafeValue(name.clone())));
        }
        let c = claims(json!({ "nick": "José" }));
        let headers = headers_for(&c, &mapping).expect("utf-8 is fine");
        assert_eq!(headers[0].1.as_bytes(), "José".as_bytes());
    }
}
