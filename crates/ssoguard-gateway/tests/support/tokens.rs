//! JWTs read without verification (to know what to expect) and forged.

use serde_json::Value;

/// The claims of a JWT (unverified; to know what to expect).
pub fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The token with its signature's last characters changed (a forgery).
pub fn forged(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').expect("JWS");
    let mut sig: Vec<char> = sig.chars().collect();
    let n = sig.len();
    sig[n / 2] = if sig[n / 2] == 'A' { 'B' } else { 'A' };
    format!("{head}.{}", sig.into_iter().collect::<String>())
}
