//! The JWKS of `ssoguard jwks`, parsed two ways (fetched with the library's
//! [`ssoguard::fetch_document`], as the service fetches it).

use serde_json::Value;
use ssoguard::Algorithm;
use ssoguard::dev::SigningKey;
use ssoguard::{JwksParseError, ParsedKeySet, SkippedKey};

/// Most keys accepted in one JWKS (the library's default cap).
pub(crate) const MAX_KEYS: usize = 100;

/// A fetched JWKS: the raw keys, and the set parsed with every algorithm and with the allowed ones.
pub(crate) struct Jwks {
    /// The `keys` members as sent (empty when the document has none).
    pub(crate) raw: Vec<Value>,
    /// Parsed with [`Algorithm::ALL`]: what the SSO publishes.
    pub(crate) all: Result<ParsedKeySet, JwksParseError>,
    /// Keys unusable with the allowed algorithms, in document order, with reasons.
    pub(crate) skipped: Vec<SkippedKey>,
}

/// The kid of the probe key [`Jwks::parse`] adds to learn why every key of a set is skipped.
const PROBE_KID: &str = "ssoguard-cli-probe-key";

impl Jwks {
    /// Parses a JWKS document both ways.
    pub(crate) fn parse(bytes: &[u8], allowed: &[Algorithm]) -> Self {
        let raw = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| v.get("keys").and_then(Value::as_array).cloned())
            .unwrap_or_default();
        let allowed_set = ParsedKeySet::parse(bytes, allowed, MAX_KEYS);
        let skipped = match &allowed_set {
            Ok(set) => set.skipped.clone(),
            // parse_jwks reports no reasons when no key is usable: add one usable probe key.
            Err(JwksParseError::NoUsableKeys { .. }) => probe_skipped(&raw, allowed),
            Err(_) => Vec::new(),
        };
        Jwks {
            raw,
            all: ParsedKeySet::parse(bytes, &Algorithm::ALL, MAX_KEYS),
            skipped,
        }
    }
}

fn probe_skipped(raw: &[Value], allowed: &[Algorithm]) -> Vec<SkippedKey> {
    let Some(probe) = allowed
        .first()
        .and_then(|alg| SigningKey::generate(*alg, PROBE_KID).ok())
    else {
        return Vec::new();
    };
    let mut keys = raw.to_vec();
    keys.push(probe.public_jwk());
    let doc = serde_json::json!({ "keys": keys }).to_string();
    ParsedKeySet::parse(doc.as_bytes(), allowed, MAX_KEYS + 1)
        .map(|set| set.skipped)
        .unwrap_or_default()
}

/// `http(s)://host…` with a host and no whitespace (the library's rule for URL settings).
pub(crate) fn check_url(setting: &str, url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{setting} must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err(format!("{setting} has no host"));
    }
    Ok(())
}

/// Comma-separated algorithm names.
pub(crate) fn alg_list(algs: &[Algorithm]) -> String {
    algs.iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
