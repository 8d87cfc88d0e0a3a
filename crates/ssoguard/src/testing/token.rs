//! [`TokenBuilder`]: one token of the test issuer, any claim or header member set or removed,
//! signed with a real key.

use super::{SigningKey, TestIssuer};
use crate::algorithm::Algorithm;
use crate::time::unix_now;
use serde_json::{Map, Value, json};
use std::time::Duration;

pub(super) enum KidChoice {
    FromKey,
    None,
    Explicit(String),
}

/// Mints one token; see [`TestIssuer::token`].
#[must_use = "call .sign() to get the token"]
pub struct TokenBuilder<'a> {
    pub(super) issuer: &'a TestIssuer,
    pub(super) claims: Map<String, Value>,
    pub(super) header: Map<String, Value>,
    pub(super) alg: Algorithm,
    pub(super) kid: KidChoice,
}

impl TokenBuilder<'_> {
    /// Sets `sub`.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, sub: &str) -> Self {
        self.claim("sub", json!(sub))
    }
    /// Sets `email`.
    pub fn email(self, email: &str) -> Self {
        self.claim("email", json!(email))
    }
    /// Sets `name`.
    pub fn name(self, name: &str) -> Self {
        self.claim("name", json!(name))
    }
    /// Sets `role` (Better Auth style: comma-separated for several).
    pub fn role(self, role: &str) -> Self {
        self.claim("role", json!(role))
    }
    /// Sets `aud` to one audience.
    pub fn aud(self, aud: &str) -> Self {
        self.claim("aud", json!(aud))
    }
    /// Sets `iss`.
    pub fn iss(self, iss: &str) -> Self {
        self.claim("iss", json!(iss))
    }
    /// Sets `exp` to now + `ttl`.
    pub fn ttl(self, ttl: Duration) -> Self {
        let exp = unix_now() + i64::try_from(ttl.as_secs()).unwrap_or(0);
        self.claim("exp", json!(exp))
    }
    /// Sets `exp` relative to now (negative: already expired).
    pub fn exp_in(self, seconds: i64) -> Self {
        self.claim("exp", json!(unix_now() + seconds))
    }
    /// Sets `nbf` relative to now.
    pub fn nbf_in(self, seconds: i64) -> Self {
        self.claim("nbf", json!(unix_now() + seconds))
    }
    /// Sets `iat` relative to now.
    pub fn iat_in(self, seconds: i64) -> Self {
        self.claim("iat", json!(unix_now() + seconds))
    }
    /// Binds the token to a DPoP key: `cnf: {"jkt": jkt}` (see
    /// [`DpopClient::jkt`](super::DpopClient::jkt)).
    pub fn cnf_jkt(self, jkt: &str) -> Self {
        self.claim("cnf", json!({ "jkt": jkt }))
    }
    /// Sets `sid` (the SSO session the token belongs to).
    pub fn sid(self, sid: &str) -> Self {
        self.claim("sid", json!(sid))
    }
    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.to_owned(), value);
        self
    }
    /// Removes a claim (e.g. `exp`, to test that it is required).
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }
    /// Signs with the issuer's current key for `alg`.
    pub fn alg(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }
    /// Puts this `kid` in the header (the key still comes from `alg`).
    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = KidChoice::Explicit(kid.to_owned());
        self
    }
    /// Leaves `kid` out of the header.
    pub fn no_kid(mut self) -> Self {
        self.kid = KidChoice::None;
        self
    }
    /// Adds a header member (`typ`, `crit`, `jku`, …).
    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.to_owned(), value);
        self
    }

    /// The claims as they will be signed.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Signs with the issuer's key for the chosen algorithm.
    ///
    /// # Panics
    ///
    /// If the issuer has no key for that algorithm (a test set-up error).
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn sign(self) -> String {
        let key = self
            .issuer
            .key(self.alg)
            .expect("the test issuer has no key for this algorithm");
        self.sign_with(&key)
    }

    /// Signs with any key (an attacker's, a removed one).
    #[must_use]
    pub fn sign_with(self, key: &SigningKey) -> String {
        let mut header = Map::new();
        header.insert("alg".into(), json!(key.alg.as_str()));
        match &self.kid {
            KidChoice::FromKey => {
                header.insert("kid".into(), json!(key.kid));
            }
            KidChoice::Explicit(kid) => {
                header.insert("kid".into(), json!(kid));
            }
            KidChoice::None => {}
        }
        header.extend(self.header);
        key.sign_compact(&Value::Object(header), &Value::Object(self.claims))
    }
}
