//! Signing keys of the test and dev issuers: generated for every algorithm, stored as PKCS#8,
//! signing compact JWS (private keys never leave the process except through a keys file the
//! caller asked for).

use super::TestIssuerError;
use crate::algorithm::Algorithm;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;

/// A private signing key (for tests and the dev issuer only).
pub struct SigningKey {
    pub(super) kid: String,
    pub(super) alg: Algorithm,
    pkcs8: Vec<u8>,
    pair: Pair,
}

enum Pair {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A key as stored in a keys file: kid, alg and the PKCS#8 private key (base64url).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    /// Key id.
    pub kid: String,
    /// JWS algorithm name.
    pub alg: String,
    /// PKCS#8 DER, base64url without padding.
    pub pkcs8: String,
}

fn ec_signing(alg: Algorithm) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    Some(match alg {
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        _ => return None,
    })
}

fn rsa_padding(alg: Algorithm) -> Option<&'static dyn signature::RsaEncoding> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_SHA512,
        _ => return None,
    })
}

fn key_err(what: &str) -> TestIssuerError {
    TestIssuerError::Key(what.to_string())
}

impl SigningKey {
    /// Generates a fresh key for `alg` (RSA keys are 2048 bits).
    ///
    /// # Errors
    ///
    /// [`TestIssuerError::Key`] if the crypto library fails.
    pub fn generate(alg: Algorithm, kid: impl Into<String>) -> Result<Self, TestIssuerError> {
        let rng = SystemRandom::new();
        let pkcs8 = match alg {
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| key_err("Ed25519 generation failed"))?
                .as_ref()
                .to_vec(),
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
                let signing = ec_signing(alg).ok_or_else(|| key_err("not an EC algorithm"))?;
                EcdsaKeyPair::generate_pkcs8(signing, &rng)
                    .map_err(|_| key_err("EC generation failed"))?
                    .as_ref()
                    .to_vec()
            }
            _ => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| key_err("RSA generation failed"))?;
                pair.as_der()
                    .map_err(|_| key_err("RSA export failed"))?
                    .as_ref()
                    .to_vec()
            }
        };
        Self::from_pkcs8(alg, kid, pkcs8)
    }

    /// Loads a key from PKCS#8 DER.
    ///
    /// # Errors
    ///
    /// [`TestIssuerError::Key`] if the bytes are not a key of `alg`'s type.
    pub fn from_pkcs8(
        alg: Algorithm,
        kid: impl Into<String>,
        pkcs8: Vec<u8>,
    ) -> Result<Self, TestIssuerError> {
        let pair = match alg {
            Algorithm::EdDSA => Pair::Ed(
                Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| key_err("bad Ed25519 PKCS#8"))?,
            ),
            Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512 => {
                let signing = ec_signing(alg).ok_or_else(|| key_err("not an EC algorithm"))?;
                Pair::Ec(
                    EcdsaKeyPair::from_pkcs8(signing, &pkcs8)
                        .map_err(|_| key_err("bad EC PKCS#8"))?,
                )
            }
            _ => Pair::Rsa(RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| key_err("bad RSA PKCS#8"))?),
        };
        Ok(SigningKey {
            kid: kid.into(),
            alg,
            pkcs8,
            pair,
        })
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    #[must_use]
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key in keys-file form.
    #[must_use]
    pub fn to_stored(&self) -> StoredKey {
        StoredKey {
            kid: self.kid.clone(),
            alg: self.alg.as_str().to_string(),
            pkcs8: URL_SAFE_NO_PAD.encode(&self.pkcs8),
        }
    }

    /// Loads a key from keys-file form.
    ///
    /// # Errors
    ///
    /// [`TestIssuerError::Key`] for an unknown alg or bad key bytes.
    pub fn from_stored(stored: &StoredKey) -> Result<Self, TestIssuerError> {
        let alg = Algorithm::from_jws_name(&stored.alg).ok_or_else(|| key_err("unknown alg"))?;
        let pkcs8 = URL_SAFE_NO_PAD
            .decode(&stored.pkcs8)
            .map_err(|_| key_err("pkcs8 is not base64url"))?;
        Self::from_pkcs8(alg, stored.kid.clone(), pkcs8)
    }

    /// The public JWK, shaped like Better Auth's (`kid`, `alg`, no `use`).
    #[must_use]
    pub fn public_jwk(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match &self.pair {
            Pair::Ed(pair) => json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref()),
                "kid": self.kid, "alg": "EdDSA",
            }),
            Pair::Ec(pair) => {
                let point = pair.public_key().as_ref();
                let len = (point.len() - 1) / 2;
                let crv = match self.alg {
                    Algorithm::ES256 => "P-256",
                    Algorithm::ES384 => "P-384",
                    _ => "P-521",
                };
                json!({
                    "kty": "EC", "crv": crv, "x": b64(&point[1..=len]), "y": b64(&point[1 + len..]),
                    "kid": self.kid, "alg": self.alg.as_str(),
                })
            }
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                    "kid": self.kid, "alg": self.alg.as_str(),
                })
            }
        }
    }

    /// The raw public key bytes (Ed25519: 32 bytes; EC: SEC1 point; RSA: PKCS#1 DER).
    #[must_use]
    pub fn public_key_bytes(&self) -> Vec<u8> {
        match &self.pair {
            Pair::Ed(p) => p.public_key().as_ref().to_vec(),
            Pair::Ec(p) => p.public_key().as_ref().to_vec(),
            Pair::Rsa(p) => p.public_key().as_ref().to_vec(),
        }
    }

    pub(super) fn random_bytes() -> [u8; 24] {
        let mut out = [0u8; 24];
        let _ = aws_lc_rs::rand::SecureRandom::fill(&SystemRandom::new(), &mut out);
        out
    }

    /// Signs `message` with this key's algorithm (JWS encoding: ECDSA `r || s`).
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.sign_as(self.alg, message).unwrap_or_default()
    }

    /// Signs with another algorithm of the same key type (RS256 key signing PS256, for tests).
    #[must_use]
    pub fn sign_as(&self, alg: Algorithm, message: &[u8]) -> Option<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ed(p) => Some(p.sign(message).as_ref().to_vec()),
            Pair::Ec(p) => p.sign(&rng, message).ok().map(|s| s.as_ref().to_vec()),
            Pair::Rsa(p) => {
                let padding = rsa_padding(alg)?;
                let mut sig = vec![0u8; p.public_modulus_len()];
                p.sign(padding, &rng, message, &mut sig).ok()?;
                Some(sig)
            }
        }
    }

    /// Builds a compact JWS from JSON header and payload values, signed by this key.
    #[must_use]
    pub fn sign_compact(&self, header: &Value, payload: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let sig = self.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}
