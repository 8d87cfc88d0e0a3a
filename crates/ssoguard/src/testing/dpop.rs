//! [`DpopClient`]: a client key pair that signs real DPoP proofs (RFC 9449), for tests of
//! DPoP-bound tokens (mint them with [`TokenBuilder::cnf_jkt`](super::TokenBuilder::cnf_jkt)).

use super::{SigningKey, TestIssuerError};
use crate::algorithm::Algorithm;
use crate::time::unix_now;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// A DPoP client: its key and the proofs it signs.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ssoguard::Algorithm;
/// use ssoguard::testing::DpopClient;
///
/// let client = DpopClient::generate(Algorithm::ES256)?;
/// let proof = client.proof("GET", "https://api.example.com/me", "the-token").sign();
/// assert_eq!(proof.split('.').count(), 3);
/// assert_eq!(client.jkt().len(), 43);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DpopClient {
    key: SigningKey,
}

impl DpopClient {
    /// A client with a fresh key for `alg`.
    ///
    /// # Errors
    ///
    /// When the key cannot be generated.
    pub fn generate(alg: Algorithm) -> Result<Self, TestIssuerError> {
        Ok(DpopClient {
            key: SigningKey::generate(alg, "dpop-client")?,
        })
    }

    /// The client's key.
    #[must_use]
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The public JWK a proof carries (no `kid`: DPoP keys are named by their thumbprint).
    #[must_use]
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.key.public_jwk();
        if let Value::Object(map) = &mut jwk {
            map.remove("kid");
        }
        jwk
    }

    /// The RFC 7638 thumbprint of the key: what a bound token's `cnf.jkt` holds.
    #[must_use]
    pub fn jkt(&self) -> String {
        match self.public_jwk() {
            Value::Object(map) => crate::dpop::thumbprint(&map).unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Starts a proof for `method` `url` carrying `access_token`'s hash (`ath`), with `iat` now
    /// and a random `jti`.
    pub fn proof(&self, method: &str, url: &str, access_token: &str) -> ProofBuilder<'_> {
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert("alg".into(), json!(self.key.alg().as_str()));
        header.insert("jwk".into(), self.public_jwk());
        let mut claims = Map::new();
        claims.insert("htm".into(), json!(method));
        claims.insert("htu".into(), json!(url));
        claims.insert("iat".into(), json!(unix_now()));
        claims.insert(
            "jti".into(),
            json!(URL_SAFE_NO_PAD.encode(SigningKey::random_bytes())),
        );
        claims.insert("ath".into(), json!(crate::dpop::token_hash(access_token)));
        ProofBuilder {
            client: self,
            header,
            claims,
        }
    }
}

/// One DPoP proof; see [`DpopClient::proof`].
#[must_use = "call .sign() to get the proof"]
#[derive(Debug)]
pub struct ProofBuilder<'a> {
    client: &'a DpopClient,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl ProofBuilder<'_> {
    /// Sets any claim (`htm`, `htu`, `jti`, `ath`, `nonce`, …).
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.to_owned(), value);
        self
    }

    /// Removes a claim.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets `iat` relative to now.
    pub fn iat_in(self, seconds: i64) -> Self {
        self.claim("iat", json!(unix_now() + seconds))
    }

    /// Sets a header member (`typ`, `alg`, `jwk`, `crit`, …).
    pub fn header(mut self, name: &str, value: Value) -> Self {
        self.header.insert(name.to_owned(), value);
        self
    }

    /// Removes a header member.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Signs with the client's key.
    #[must_use]
    pub fn sign(self) -> String {
        let key = &self.client.key;
        key.sign_compact(&Value::Object(self.header), &Value::Object(self.claims))
    }

    /// Signs with another key (the header still names the client's `jwk` unless changed).
    #[must_use]
    pub fn sign_with(self, key: &SigningKey) -> String {
        key.sign_compact(&Value::Object(self.header), &Value::Object(self.claims))
    }
}
