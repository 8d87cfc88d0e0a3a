//! Parsing a JSON Web Key Set into ready-to-use verifying keys.
//!
//! Each key is parsed **once**, when the set is fetched, into an `aws-lc-rs` `ParsedPublicKey`,
//! so the request path only runs the signature check. A key that cannot be used (encryption key,
//! unsupported type or curve, malformed member, RSA modulus under 2048 bits) is skipped with a
//! reason; it never makes the rest of the set unusable.

use crate::algorithm::{Algorithm, KeyFamily};
use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// One usable verifying key from a JWKS.
pub struct VerifyingKey {
    kid: Option<String>,
    declared_alg: Option<Algorithm>,
    family: KeyFamily,
    /// One parsed key per algorithm this key may verify (one, except RSA keys without `alg`).
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
    /// The same Ed25519 key for the batch check (`None` for other types; small-order Ed25519
    /// keys are refused when the set is parsed).
    batch_key: Option<ed25519_dalek::VerifyingKey>,
    description: String,
}

impl VerifyingKey {
    /// The key id (`kid`), if the JWKS gave one.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the key declared with `alg`, if any.
    #[must_use]
    pub fn declared_alg(&self) -> Option<Algorithm> {
        self.declared_alg
    }

    /// The algorithms this key verifies: its `alg`, or every allowed one its type supports.
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.parsed.iter().map(|(alg, _)| *alg)
    }

    /// A short description such as `OKP Ed25519` or `RSA 2048 bits`.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// True when a token signed with `alg` may be checked against this key.
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        alg.family() == self.family && self.parsed.iter().any(|(a, _)| *a == alg)
    }

    /// Checks a signature; `None` when the key does not fit the algorithm.
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> Option<bool> {
        self.parsed
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, key)| key.verify_sig(message, sig).is_ok())
    }

    /// The key for the Ed25519 batch check (`None` for other key types).
    pub(crate) fn ed25519_batch_key(&self) -> Option<ed25519_dalek::VerifyingKey> {
        self.batch_key
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.declared_alg)
            .field("key", &self.description)
            .finish()
    }
}

/// A key that was left out of the set, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedKey {
    /// The key's `kid`, if it had one.
    pub kid: Option<String>,
    /// Why it was skipped (safe to log: public key material is never included).
    pub reason: String,
}

/// The outcome of parsing a JWKS document.
#[derive(Debug)]
#[non_exhaustive]
pub struct ParsedKeySet {
    /// Usable keys, in document order.
    pub keys: Vec<Arc<VerifyingKey>>,
    /// Keys left out, with reasons.
    pub skipped: Vec<SkippedKey>,
}

impl ParsedKeySet {
    /// Parses a JWKS document, keeping keys usable with one of `allowed` algorithms.
    ///
    /// # Errors
    ///
    /// [`JwksParseError`] when the document is not a key set, has more than `max_keys` keys, or has
    /// no usable key. Individual bad keys are reported in [`ParsedKeySet::skipped`] instead.
    ///
    /// # Example
    ///
    /// ```
    /// use ssoguard::{Algorithm, ParsedKeySet};
    ///
    /// let doc = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","alg":"EdDSA",
    ///   "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
    ///   {"kty":"EC","crv":"secp256k1","kid":"k2","x":"AA","y":"AA"}]}"#;
    /// let set = ParsedKeySet::parse(doc, &Algorithm::ALL, 100)?;
    /// assert_eq!(set.keys.len(), 1);
    /// assert_eq!(set.skipped.len(), 1);
    /// # Ok::<(), ssoguard::JwksParseError>(())
    /// ```
    pub fn parse(
        bytes: &[u8],
        allowed: &[Algorithm],
        max_keys: usize,
    ) -> Result<ParsedKeySet, JwksParseError> {
        parse_jwks(bytes, allowed, max_keys)
    }

    /// The keys indexed by `kid` (keys without a kid are only in [`ParsedKeySet::keys`]).
    pub(crate) fn by_kid(&self) -> HashMap<String, Arc<VerifyingKey>> {
        let mut map = HashMap::with_capacity(self.keys.len());
        for key in &self.keys {
            if let Some(kid) = &key.kid {
                map.entry(kid.clone()).or_insert_with(|| key.clone());
            }
        }
        map
    }
}

/// Why a JWKS document as a whole was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksParseError {
    /// Not JSON, or no `keys` array.
    #[error("the JWKS is not a JSON object with a \"keys\" array")]
    NotAKeySet,
    /// More keys than the configured cap.
    #[error("the JWKS has {count} keys, more than the limit of {max}")]
    TooManyKeys {
        /// Keys in the document.
        count: usize,
        /// The configured cap.
        max: usize,
    },
    /// Every key was skipped (or the set was empty).
    #[error("the JWKS has no usable signing key ({skipped} skipped)")]
    NoUsableKeys {
        /// How many keys were skipped.
        skipped: usize,
    },
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// [`ParsedKeySet::parse`].
pub(crate) fn parse_jwks(
    bytes: &[u8],
    allowed: &[Algorithm],
    max_keys: usize,
) -> Result<ParsedKeySet, JwksParseError> {
    let raw: RawSet = serde_json::from_slice(bytes).map_err(|_| JwksParseError::NotAKeySet)?;
    if raw.keys.len() > max_keys {
        return Err(JwksParseError::TooManyKeys {
            count: raw.keys.len(),
            max: max_keys,
        });
    }
    let mut keys: Vec<Arc<VerifyingKey>> = Vec::with_capacity(raw.keys.len());
    let mut skipped = Vec::new();
    for value in raw.keys {
        let kid_hint = value
            .get("kid")
            .and_then(|k| k.as_str())
            .map(|k| k.chars().take(128).collect::<String>());
        let parsed = serde_json::from_value::<RawKey>(value)
            .map_err(|_| "malformed key object".to_string())
            .and_then(|raw| parse_key(raw, allowed));
        match parsed {
            Ok(key) => {
                if key.kid.is_some() && keys.iter().any(|k| k.kid == key.kid) {
                    skipped.push(SkippedKey {
                        kid: kid_hint,
                        reason: "duplicate kid (the first key with this kid is used)".into(),
                    });
                } else {
                    keys.push(Arc::new(key));
                }
            }
            Err(reason) => skipped.push(SkippedKey {
                kid: kid_hint,
                reason,
            }),
        }
    }
    if keys.is_empty() {
        return Err(JwksParseError::NoUsableKeys {
            skipped: skipped.len(),
        });
    }
    Ok(ParsedKeySet { keys, skipped })
}

/// One JWK (a DPoP proof's `jwk`), parsed for exactly `alg`, with the same rules as a key set's
/// keys (type, curve, size, `use`, `key_ops`, small-order Ed25519 keys refused).
pub(crate) fn parse_one(value: &serde_json::Value, alg: Algorithm) -> Result<VerifyingKey, String> {
    let raw = RawKey::deserialize(value).map_err(|_| "malformed key object".to_string())?;
    parse_key(raw, &[alg])
}

fn b64(field: &'static str, value: Option<&String>) -> Result<Vec<u8>, String> {
    let value = value.ok_or_else(|| format!("missing member \"{field}\""))?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| format!("member \"{field}\" is not base64url"))
}

fn parse_key(raw: RawKey, allowed: &[Algorithm]) -> Result<VerifyingKey, String> {
    match raw.use_.as_deref() {
        None | Some("sig") => {}
        Some("enc") => return Err("encryption key (use: enc)".into()),
        Some(_) => return Err("unknown \"use\"".into()),
    }
    if let Some(ops) = &raw.key_ops {
        if !ops.iter().any(|op| op == "verify") {
            return Err("key_ops does not include \"verify\"".into());
        }
    }
    let declared_alg = match raw.alg.as_deref() {
        None => None,
        Some(name) => Some(
            Algorithm::from_jws_name(name)
                .ok_or_else(|| format!("unsupported alg \"{}\"", truncate(name)))?,
        ),
    };
    let family = match (raw.kty.as_str(), raw.crv.as_deref()) {
        ("OKP", Some("Ed25519")) => KeyFamily::Ed25519,
        ("EC", Some("P-256")) => KeyFamily::P256,
        ("EC", Some("P-384")) => KeyFamily::P384,
        ("EC", Some("P-521")) => KeyFamily::P521,
        ("RSA", _) => KeyFamily::Rsa,
        ("OKP" | "EC", crv) => {
            return Err(format!(
                "unsupported curve \"{}\"",
                truncate(crv.unwrap_or("(none)"))
            ));
        }
        (kty, _) => return Err(format!("unsupported kty \"{}\"", truncate(kty))),
    };
    let algs: Vec<Algorithm> = match declared_alg {
        Some(alg) if alg.family() != family => {
            return Err(format!("alg {alg} does not fit a {} key", raw.kty));
        }
        Some(alg) if !allowed.contains(&alg) => {
            return Err(format!("alg {alg} is not in the allowed algorithms"));
        }
        Some(alg) => vec![alg],
        None => allowed
            .iter()
            .copied()
            .filter(|a| a.family() == family)
            .collect(),
    };
    if algs.is_empty() {
        return Err("no allowed algorithm fits this key".into());
    }
    let mut batch_key = None;
    let (parsed, description) = match family {
        KeyFamily::Rsa => {
            let n = strip_zeros(b64("n", raw.n.as_ref())?);
            let e = strip_zeros(b64("e", raw.e.as_ref())?);
            let bits = n.len() * 8;
            if !(2048..=8192).contains(&bits) {
                return Err(format!(
                    "RSA modulus of {bits} bits (2048 to 8192 accepted)"
                ));
            }
            let components = RsaPublicKeyComponents { n: &n, e: &e };
            let parsed = algs
                .iter()
                .map(|alg| {
                    alg.rsa_parameters()
                        .and_then(|params| components.to_parsed_public_key(params).ok())
                        .map(|k| (*alg, k))
                        .ok_or(())
                        .map_err(|_| "invalid RSA public key".to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            (parsed, format!("RSA {bits} bits"))
        }
        KeyFamily::Ed25519 => {
            let x = b64("x", raw.x.as_ref())?;
            if x.len() != 32 {
                return Err("Ed25519 key \"x\" is not 32 bytes".into());
            }
            let point = <[u8; 32]>::try_from(x.as_slice())
                .ok()
                .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
                .ok_or_else(|| "invalid Ed25519 public key".to_string())?;
            // A small-order key (the identity point, or one of the 7 other torsion points)
            // verifies signatures anyone can make, e.g. R = identity, S = 0 for any message.
            if point.is_weak() {
                return Err("Ed25519 key of small order (anyone could sign for it)".into());
            }
            let key = ParsedPublicKey::new(Algorithm::EdDSA.verification(), &x)
                .map_err(|_| "invalid Ed25519 public key".to_string())?;
            batch_key = Some(point);
            (vec![(Algorithm::EdDSA, key)], "OKP Ed25519".to_string())
        }
        KeyFamily::P256 | KeyFamily::P384 | KeyFamily::P521 => {
            let (alg, len, crv) = match family {
                KeyFamily::P256 => (Algorithm::ES256, 32, "P-256"),
                KeyFamily::P384 => (Algorithm::ES384, 48, "P-384"),
                _ => (Algorithm::ES512, 66, "P-521"),
            };
            let x = b64("x", raw.x.as_ref())?;
            let y = b64("y", raw.y.as_ref())?;
            if x.len() != len || y.len() != len {
                return Err(format!("{crv} coordinates are not {len} bytes"));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let key = ParsedPublicKey::new(alg.verification(), &point)
                .map_err(|_| format!("invalid {crv} public key (not on the curve)"))?;
            (vec![(alg, key)], format!("EC {crv}"))
        }
    };
    Ok(VerifyingKey {
        kid: raw.kid,
        declared_alg,
        family,
        parsed,
        batch_key,
        description,
    })
}

fn strip_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn doc(keys: &str) -> Vec<u8> {
        format!("{{\"keys\":[{keys}]}}").into_bytes()
    }

    #[test]
    fn skips_bad_keys_without_dropping_the_rest() {
        let good =
            format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"good","alg":"EdDSA","x":"{ED_X}"}}"#);
        let cases = [
            (
                r#"{"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"AA"}"#,
                "encryption",
            ),
            (
                r#"{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}"#,
                "unsupported kty",
            ),
            (
                r#"{"kty":"OKP","crv":"X25519","kid":"x","x":"AA"}"#,
                "unsupported curve",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","kid":"short","x":"AAAA"}"#,
                "32 bytes",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","kid":"b64","x":"!!!"}"#,
                "base64url",
            ),
            (
                r#"{"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"}"#,
                "RSA modulus",
            ),
            (
                r#"{"kty":"EC","crv":"P-256","kid":"nopoint","x":"AA"}"#,
                "missing member \"y\"",
            ),
            (
                r#"{"kty":"EC","crv":"P-256","kid":"short","x":"AA","y":"AA"}"#,
                "not 32 bytes",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","kid":"mismatch","alg":"RS256","x":"AA"}"#,
                "does not fit",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","kid":"hs","alg":"HS256","x":"AA"}"#,
                "unsupported alg",
            ),
            (r#"{"kid":"nokty"}"#, "malformed"),
            (
                // The identity point: every (R = identity, S = 0) signature verifies.
                r#"{"kty":"OKP","crv":"Ed25519","kid":"id","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
                "small order",
            ),
            (
                // y = 0: a point of order 4.
                r#"{"kty":"OKP","crv":"Ed25519","kid":"o4","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
                "small order",
            ),
            (
                r#"{"kty":"OKP","crv":"Ed25519","kid":"ops","key_ops":["encrypt"],"x":"AA"}"#,
                "key_ops",
            ),
        ];
        for (bad, reason) in cases {
            let set = parse_jwks(&doc(&format!("{bad},{good}")), &Algorithm::ALL, 10)
                .unwrap_or_else(|e| panic!("{bad}: {e}"));
            assert_eq!(set.keys.len(), 1, "{bad}");
            assert_eq!(set.keys[0].kid(), Some("good"));
            assert_eq!(set.skipped.len(), 1, "{bad}");
            assert!(
                set.skipped[0].reason.contains(reason),
                "{bad}: {}",
                set.skipped[0].reason
            );
        }
    }

    #[test]
    fn refuses_sets_that_are_not_sets_or_too_big_or_empty() {
        assert_eq!(
            parse_jwks(b"<html>", &Algorithm::ALL, 10).unwrap_err(),
            JwksParseError::NotAKeySet
        );
        assert_eq!(
            parse_jwks(b"{}", &Algorithm::ALL, 10).unwrap_err(),
            JwksParseError::NotAKeySet
        );
        assert_eq!(
            parse_jwks(b"{\"keys\":[]}", &Algorithm::ALL, 10).unwrap_err(),
            JwksParseError::NoUsableKeys { skipped: 0 }
        );
        let many = [r#"{"kty":"oct"}"#; 11].join(",");
        assert!(matches!(
            parse_jwks(&doc(&many), &Algorithm::ALL, 10).unwrap_err(),
            JwksParseError::TooManyKeys { count: 11, max: 10 }
        ));
    }

    #[test]
    fn allowlist_limits_what_a_key_may_verify() {
        let key = format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"k","x":"{ED_X}"}}"#);
        assert!(parse_jwks(&doc(&key), &[Algorithm::RS256], 10).is_err());
        let set = parse_jwks(&doc(&key), &Algorithm::ALL, 10).expect("parses");
        assert!(set.keys[0].fits(Algorithm::EdDSA));
        assert!(!set.keys[0].fits(Algorithm::ES256));
    }

    #[test]
    fn duplicate_kids_keep_the_first() {
        let key = format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"k","x":"{ED_X}"}}"#);
        let set = parse_jwks(&doc(&format!("{key},{key}")), &Algorithm::ALL, 10).expect("parses");
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.skipped.len(), 1);
    }
}
