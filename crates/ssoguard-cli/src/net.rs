//! HTTP for `ssoguard jwks`: bounded GETs, and the JWKS fetched and parsed two ways.

use serde_json::Value;
use ssoguard::Algorithm;
use ssoguard::dev::SigningKey;
use ssoguard::{JwksParseError, ParsedKeySet, SkippedKey};
use std::time::Duration;

/// Largest discovery or JWKS response read (the library's default cap).
const MAX_BYTES: usize = 1024 * 1024;
/// Most keys accepted in one JWKS (the library's default cap).
pub(crate) const MAX_KEYS: usize = 100;

/// Why a GET failed. Messages name the URL only.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// No answer: connection refused or reset, DNS, timeout.
    Unreachable(String),
    /// An HTTP error status.
    Status(u16),
    /// A body over the cap.
    TooLarge,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Unreachable(why) => write!(f, "unreachable ({why})"),
            FetchError::Status(code) => write!(f, "answered HTTP {code}"),
            FetchError::TooLarge => write!(f, "sent more than 1 MiB"),
        }
    }
}

/// GETs `url` with the library's timeouts (connect 2 s, total 5 s) and size cap.
pub(crate) async fn get(url: &str) -> Result<Vec<u8>, FetchError> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("ssoguard-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| FetchError::Unreachable("could not build an HTTP client".into()))?;
    let mut response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| FetchError::Unreachable(describe(&e)))?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| FetchError::Unreachable(describe(&e)))?
    {
        if bytes.len() + chunk.len() > MAX_BYTES {
            return Err(FetchError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

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
