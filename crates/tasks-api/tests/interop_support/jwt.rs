//! JWT inspection and tampering (no verification: that is tasks-api's job).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

fn segment(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("JWT segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// The decoded JOSE header.
pub fn jwt_header(token: &str) -> Value {
    segment(token, 0)
}

/// The decoded claims.
pub fn jwt_claims(token: &str) -> Value {
    segment(token, 1)
}

/// The header's `kid`.
pub fn kid(token: &str) -> String {
    jwt_header(token)["kid"].as_str().expect("kid").to_string()
}

/// The token with segment `i` (0 header, 1 claims) re-encoded after `edit`; the signature is
/// kept, so it no longer matches.
pub fn tamper(token: &str, i: usize, edit: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut value = segment(token, i);
    edit(&mut value);
    parts[i] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).expect("json"));
    parts.join(".")
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("time")
}
