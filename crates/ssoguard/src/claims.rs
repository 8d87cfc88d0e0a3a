//! Verified claims: the registered ones typed, Better Auth's user claims typed, the rest kept.
//!
//! [`TokenClaims`] is built only from a payload whose signature has been verified. Roles follow
//! Better Auth's admin plugin, which stores several roles as one comma-separated string
//! (`"user,admin"`); a JSON array is accepted too.

use crate::error::VerifyError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `aud` claim: one audience or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience string.
    One(String),
    /// An array of audiences.
    Many(Vec<String>),
}

impl Audience {
    /// True when `aud` equals `audience` or is an array containing it.
    #[must_use]
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(a) => a == audience,
            Audience::Many(list) => list.iter().any(|a| a == audience),
        }
    }

    /// The audiences as a slice-like iterator.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            Audience::One(a) => std::slice::from_ref(a),
            Audience::Many(list) => list,
        };
        slice.iter().map(String::as_str)
    }
}

/// Claims of a verified token.
///
/// Registered claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`) and Better Auth's user claims
/// are typed; every other claim stays in [`TokenClaims::extra`].
///
/// # Example
///
/// ```
/// use ssoguard::TokenClaims;
///
/// let claims = TokenClaims::from_json(&serde_json::json!({
///     "iss": "http://localhost:3001/api/auth", "sub": "u1", "aud": "web", "exp": 2000000000,
///     "role": "user,admin", "permissions": ["tasks:read"], "tenant": "acme"
/// }))?;
/// assert!(claims.has_role("admin"));
/// assert!(claims.has_permission("tasks:read"));
/// assert_eq!(claims.extra["tenant"], "acme");
/// # Ok::<(), ssoguard::VerifyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user id (or the client id for client-credentials tokens).
    pub sub: String,
    /// Audience(s).
    pub aud: Audience,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Not-before, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Issued-at, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `email_verified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// `role` as sent (an array is joined with commas); read it with [`TokenClaims::role`].
    /// Private, like the roles split from it, so the two cannot disagree.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    /// `organization_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// `permissions` (an array, or a space/comma separated string).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// `scope`, space-separated (client-credentials and access tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    #[serde(skip)]
    roles: Vec<String>,
}

impl TokenClaims {
    /// Builds claims from a JSON payload, checking types but no values (no time or issuer check).
    ///
    /// # Errors
    ///
    /// [`VerifyError::MissingClaim`] for a missing `iss`, `sub`, `aud` or `exp`;
    /// [`VerifyError::InvalidClaim`] for a claim of the wrong type.
    pub fn from_json(value: &Value) -> Result<Self, VerifyError> {
        match value {
            Value::Object(map) => Self::from_map(map.clone()),
            _ => Err(VerifyError::Malformed("claims are not a JSON object")),
        }
    }

    pub(crate) fn from_map(mut map: Map<String, Value>) -> Result<Self, VerifyError> {
        let raw = RawClaims {
            exp: map.remove("exp"),
            nbf: map.remove("nbf"),
            iat: map.remove("iat"),
            iss: map.remove("iss"),
            sub: map.remove("sub"),
            aud: map.remove("aud"),
            email: map.remove("email"),
            name: map.remove("name"),
            email_verified: map.remove("email_verified"),
            role: map.remove("role"),
            organization_id: map.remove("organization_id"),
            permissions: map.remove("permissions"),
            scope: map.remove("scope"),
            extra: Map::new(),
        };
        Self::from_raw(RawClaims { extra: map, ..raw })
    }

    /// Parses a JSON payload in one pass: registered and user claims go straight to their
    /// fields (no intermediate map for them), the rest into `extra`.
    pub(crate) fn from_json_slice(bytes: &[u8]) -> Result<Self, VerifyError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let raw = serde::Deserializer::deserialize_map(&mut de, RawClaimsVisitor)
            .map_err(|_| VerifyError::Malformed("claims are not a JSON object"))?;
        de.end()
            .map_err(|_| VerifyError::Malformed("claims are not a JSON object"))?;
        Self::from_raw(raw)
    }

    fn from_raw(mut raw: RawClaims) -> Result<Self, VerifyError> {
        let exp = numeric_date(raw.exp.take(), "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
        let nbf = numeric_date(raw.nbf.take(), "nbf")?;
        let iat = numeric_date(raw.iat.take(), "iat")?;
        let iss = string(raw.iss.take(), "iss")?.ok_or(VerifyError::MissingClaim("iss"))?;
        let sub = string(raw.sub.take(), "sub")?.ok_or(VerifyError::MissingClaim("sub"))?;
        if sub.is_empty() {
            return Err(VerifyError::MissingClaim("sub"));
        }
        let aud = match raw.aud.take() {
            None | Some(Value::Null) => return Err(VerifyError::MissingClaim("aud")),
            Some(Value::String(s)) => Audience::One(s),
            Some(Value::Array(items)) => Audience::Many(
                items
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s),
                        _ => Err(VerifyError::InvalidClaim("aud")),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err(VerifyError::InvalidClaim("aud")),
        };
        let email = string(raw.email.take(), "email")?;
        let name = string(raw.name.take(), "name")?;
        let email_verified = match raw.email_verified.take() {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            // Some providers send "true"/"false" strings.
            Some(Value::String(s)) if s == "true" || s == "false" => Some(s == "true"),
            Some(_) => return Err(VerifyError::InvalidClaim("email_verified")),
        };
        let (role, roles) = match raw.role.take() {
            None | Some(Value::Null) => (None, Vec::new()),
            Some(Value::String(s)) => {
                let roles = split_list(&s, &[',']);
                (Some(s), roles)
            }
            Some(Value::Array(items)) => {
                let roles = string_array(items, "role")?;
                (Some(roles.join(",")), roles)
            }
            Some(_) => return Err(VerifyError::InvalidClaim("role")),
        };
        let organization_id = match raw.organization_id.take() {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => return Err(VerifyError::InvalidClaim("organization_id")),
        };
        let permissions = match raw.permissions.take() {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => split_list(&s, &[',', ' ']),
            Some(Value::Array(items)) => string_array(items, "permissions")?,
            Some(_) => return Err(VerifyError::InvalidClaim("permissions")),
        };
        let scope = string(raw.scope.take(), "scope")?;
        Ok(TokenClaims {
            iss,
            sub,
            aud,
            exp,
            nbf,
            iat,
            email,
            name,
            email_verified,
            role,
            organization_id,
            permissions,
            scope,
            extra: raw.extra,
            roles,
        })
    }

    /// `role` as sent (an array is joined with commas).
    #[must_use]
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// The user's roles: `role` split on commas, or its array items.
    #[must_use]
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// True when the user has `role` (exact, case-sensitive match).
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// True when the user has at least one of `roles`.
    #[must_use]
    pub fn has_any_role(&self, roles: &[&str]) -> bool {
        roles.iter().any(|r| self.has_role(r))
    }

    /// True when `permissions` contains `permission`.
    #[must_use]
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    /// The space-separated `scope` claim as items.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_ascii_whitespace()
    }

    /// True when `scope` contains `scope`.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// True for a machine-to-machine token from the `client_credentials` grant: its subject is
    /// the client itself (`sub` equals `azp` or `client_id`), not a user.
    #[must_use]
    pub fn is_client_credentials(&self) -> bool {
        ["azp", "client_id"]
            .iter()
            .any(|k| self.extra.get(*k).and_then(Value::as_str) == Some(self.sub.as_str()))
    }

    /// Deserializes the whole claim set into an application's own type.
    ///
    /// # Errors
    ///
    /// [`VerifyError::InvalidClaim`] when the claims do not fit `T`.
    pub fn deserialize_into<T: DeserializeOwned>(&self) -> Result<T, VerifyError> {
        let value = serde_json::to_value(self).map_err(|_| VerifyError::InvalidClaim("claims"))?;
        serde_json::from_value(value).map_err(|_| VerifyError::InvalidClaim("claims"))
    }
}

/// Claims split into the ones ssoguard types and the rest, before type checks.
#[derive(Default)]
struct RawClaims {
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
    iss: Option<Value>,
    sub: Option<Value>,
    aud: Option<Value>,
    email: Option<Value>,
    name: Option<Value>,
    email_verified: Option<Value>,
    role: Option<Value>,
    organization_id: Option<Value>,
    permissions: Option<Value>,
    scope: Option<Value>,
    extra: Map<String, Value>,
}

struct RawClaimsVisitor;

impl<'de> serde::de::Visitor<'de> for RawClaimsVisitor {
    type Value = RawClaims;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawClaims, A::Error> {
        let mut raw = RawClaims::default();
        while let Some(key) = map.next_key::<ClaimKey>()? {
            let value: Value = map.next_value()?;
            let slot = match key {
                ClaimKey::Known("exp") => &mut raw.exp,
                ClaimKey::Known("nbf") => &mut raw.nbf,
                ClaimKey::Known("iat") => &mut raw.iat,
                ClaimKey::Known("iss") => &mut raw.iss,
                ClaimKey::Known("sub") => &mut raw.sub,
                ClaimKey::Known("aud") => &mut raw.aud,
                ClaimKey::Known("email") => &mut raw.email,
                ClaimKey::Known("name") => &mut raw.name,
                ClaimKey::Known("email_verified") => &mut raw.email_verified,
                ClaimKey::Known("role") => &mut raw.role,
                ClaimKey::Known("organization_id") => &mut raw.organization_id,
                ClaimKey::Known("permissions") => &mut raw.permissions,
                ClaimKey::Known("scope") => &mut raw.scope,
                ClaimKey::Known(other) => {
                    raw.extra.insert(other.to_string(), value);
                    continue;
                }
                ClaimKey::Other(name) => {
                    raw.extra.insert(name, value);
                    continue;
                }
            };
            *slot = Some(value);
        }
        Ok(raw)
    }
}

/// A claim name: one of the typed ones (matched without allocating) or another.
enum ClaimKey {
    Known(&'static str),
    Other(String),
}

const TYPED_CLAIMS: [&str; 13] = [
    "exp",
    "nbf",
    "iat",
    "iss",
    "sub",
    "aud",
    "email",
    "name",
    "email_verified",
    "role",
    "organization_id",
    "permissions",
    "scope",
];

impl<'de> Deserialize<'de> for ClaimKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = ClaimKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ClaimKey, E> {
                Ok(match TYPED_CLAIMS.iter().find(|k| **k == v) {
                    Some(k) => ClaimKey::Known(k),
                    None => ClaimKey::Other(v.to_owned()),
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

fn numeric_date(value: Option<Value>, name: &'static str) -> Result<Option<i64>, VerifyError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15) {
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(f.floor() as i64))
            } else {
                Err(VerifyError::InvalidClaim(name))
            }
        }
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

fn string(value: Option<Value>, name: &'static str) -> Result<Option<String>, VerifyError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

fn string_array(items: Vec<Value>, name: &'static str) -> Result<Vec<String>, VerifyError> {
    items
        .into_iter()
        .map(|v| match v {
            Value::String(s) => Ok(s),
            _ => Err(VerifyError::InvalidClaim(name)),
        })
        .collect()
}

fn split_list(s: &str, separators: &[char]) -> Vec<String> {
    s.split(separators)
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"iss": "i", "sub": "s", "aud": "a", "exp": 10})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = base();
        v[key] = value;
        v
    }

    fn without(key: &str) -> Value {
        let mut v = base();
        v.as_object_mut().map(|m| m.remove(key));
        v
    }

    #[test]
    fn required_and_typed() {
        for key in ["iss", "sub", "aud", "exp"] {
            assert_eq!(
                TokenClaims::from_json(&without(key)).unwrap_err(),
                VerifyError::MissingClaim(key)
            );
        }
        assert_eq!(
            TokenClaims::from_json(&with("sub", json!(""))).unwrap_err(),
            VerifyError::MissingClaim("sub")
        );
        for (key, bad) in [
            ("exp", json!("10")),
            ("nbf", json!("10")),
            ("iat", json!(true)),
            ("exp", json!(null)),
            ("aud", json!(5)),
            ("aud", json!(["a", 5])),
            ("sub", json!(5)),
            ("iss", json!(["i"])),
            ("role", json!(5)),
            ("email_verified", json!("yes")),
        ] {
            assert_eq!(
                TokenClaims::from_json(&with(key, bad.clone())).unwrap_err(),
                VerifyError::InvalidClaim(key),
                "{key} = {bad}"
            );
        }
        let c = TokenClaims::from_json(&with("exp", json!(10.9))).expect("float exp");
        assert_eq!(c.exp, 10);
    }

    #[test]
    fn one_pass_parser_agrees_with_the_map_path() {
        let mut cases = vec![
            base(),
            with("aud", json!(["x", "a"])),
            with("role", json!("user,admin")),
        ];
        for key in ["iss", "sub", "aud", "exp"] {
            cases.push(without(key));
        }
        for (key, bad) in [
            ("exp", json!("10")),
            ("aud", json!(5)),
            ("role", json!(5)),
            ("permissions", json!("a b")),
        ] {
            cases.push(with(key, bad));
        }
        let mut extra = base();
        extra["tenant"] = json!({"id": 1});
        extra["exp"] = json!(10.5);
        cases.push(extra);
        for case in cases {
            let bytes = serde_json::to_vec(&case).expect("json");
            assert_eq!(
                TokenClaims::from_json_slice(&bytes),
                TokenClaims::from_json(&case),
                "{case}"
            );
        }
        for bad in [&b"[1]"[..], b"\"x\"", b"{", b"{} {}"] {
            assert_eq!(
                TokenClaims::from_json_slice(bad).unwrap_err(),
                VerifyError::Malformed("claims are not a JSON object")
            );
        }
    }

    #[test]
    fn roles_as_string_list_or_array() {
        let c = TokenClaims::from_json(&with("role", json!("user, admin"))).expect("ok");
        assert_eq!(c.roles(), ["user", "admin"]);
        assert!(c.has_role("admin") && c.has_any_role(&["x", "user"]) && !c.has_role("Admin"));
        let c = TokenClaims::from_json(&with("role", json!(["user", "admin"]))).expect("ok");
        assert_eq!(c.role(), Some("user,admin"));
        assert!(c.has_role("admin"));
        let c = TokenClaims::from_json(&base()).expect("ok");
        assert!(c.roles().is_empty() && !c.has_role("user"));
    }

    #[test]
    fn audience_forms_and_extra_claims() {
        let c = TokenClaims::from_json(&with("aud", json!(["x", "a"]))).expect("ok");
        assert!(c.aud.contains("a") && !c.aud.contains("b"));
        let mut v = base();
        v["tenant"] = json!("acme");
        v["scope"] = json!("api:read api:write");
        let c = TokenClaims::from_json(&v).expect("ok");
        assert_eq!(c.extra["tenant"], "acme");
        assert!(!c.is_client_credentials());
        let m2m = TokenClaims::from_json(
            &json!({"iss": "i", "sub": "svc", "aud": "a", "exp": 1, "azp": "svc"}),
        )
        .expect("ok");
        assert!(m2m.is_client_credentials());
        assert!(c.has_scope("api:write"));

        #[derive(Deserialize)]
        struct Mine {
            sub: String,
            tenant: String,
        }
        let mine: Mine = c.deserialize_into().expect("own type");
        assert_eq!((mine.sub.as_str(), mine.tenant.as_str()), ("s", "acme"));
    }
}
