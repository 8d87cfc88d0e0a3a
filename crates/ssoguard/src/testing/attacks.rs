//! A catalogue of forged and malformed tokens, each with the error the verifier must answer.
//!
//! Shared by the library's tests and the service's whole-app attack suite, so both check the
//! same list. Tokens are built against a [`TestIssuer`] started with
//! [`TestIssuer::start_all_algorithms`] and a verifier expecting audience `audience`.

use super::{SigningKey, TestIssuer};
use crate::algorithm::Algorithm;
use crate::error::VerifyError;
use crate::time::unix_now;
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

mod sender;

pub use sender::{DpopAttackCase, LogoutAttackCase, dpop_attack_cases, logout_attack_cases};

/// One forged token and the error it must produce.
#[derive(Debug, Clone)]
pub struct AttackCase {
    /// What the attack is.
    pub name: &'static str,
    /// The token.
    pub token: String,
    /// The error the verifier must answer with.
    pub expected: VerifyError,
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn signed_raw(key: &SigningKey, header: &Value, payload: &str) -> String {
    let input = format!("{}.{}", b64(&header.to_string()), b64(payload));
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()))
    )
}

/// The Ed25519 group order L, little-endian.
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The Ed25519 identity point, encoded (y = 1): a key of small order.
const ED25519_IDENTITY: [u8; 32] = {
    let mut point = [0u8; 32];
    point[0] = 1;
    point
};

/// The kid under which [`attack_cases`] publishes the small-order key.
pub const SMALL_ORDER_KID: &str = "small-order-identity";

/// The classic Ed25519 malleation: `S + L` verifies under a lax check that reduces `S`.
fn malleate_ed25519(token: &str) -> String {
    let mut parts = token.rsplitn(2, '.');
    let sig_b64 = parts.next().unwrap_or_default();
    let input = parts.next().unwrap_or_default();
    let mut sig = URL_SAFE_NO_PAD.decode(sig_b64).unwrap_or_default();
    if sig.len() == 64 {
        let mut carry = 0u16;
        for (byte, l) in sig[32..].iter_mut().zip(ED25519_L) {
            let sum = u16::from(*byte) + u16::from(l) + carry;
            *byte = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(&header.to_string()), b64(&claims.to_string()));
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn rsa_public_der_and_pem(key: &SigningKey) -> (Vec<u8>, Vec<u8>) {
    let der = key.public_key_bytes();
    let spki = aws_lc_rs::rsa::PublicEncryptingKey::from_der(&der)
        .ok()
        .and_then(|k| k.as_der().ok().map(|d| d.as_ref().to_vec()))
        .unwrap_or_else(|| der.clone());
    let body = STANDARD.encode(&spki);
    let lines: Vec<String> = body
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    );
    (spki, pem.into_bytes())
}

/// Every attack of the hardening suite. `None` if the issuer lacks an RSA, PS256, ES256 or
/// EdDSA key.
///
/// Also publishes a small-order Ed25519 key (kid [`SMALL_ORDER_KID`]) in `issuer`'s key set,
/// which a correct verifier skips when it parses the set.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn attack_cases(issuer: &TestIssuer, audience: &str) -> Option<Vec<AttackCase>> {
    let ed = issuer.key(Algorithm::EdDSA)?;
    let rs = issuer.key(Algorithm::RS256)?;
    let ps = issuer.key(Algorithm::PS256)?;
    let es = issuer.key(Algorithm::ES256)?;
    let iss = issuer.issuer().to_string();
    let now = unix_now();
    let claims =
        json!({"iss": iss, "sub": "mallory", "aud": audience, "exp": now + 600, "iat": now});
    let claims_b64 = b64(&claims.to_string());
    let valid = issuer.token().aud(audience).sign();
    let parts: Vec<&str> = valid.split('.').collect();
    let other = issuer.token().aud(audience).sub("someone-else").sign();
    let other_sig = other.split('.').nth(2)?.to_string();
    let attacker = SigningKey::generate(Algorithm::EdDSA, ed.kid()).ok()?;
    let attacker_own = SigningKey::generate(Algorithm::EdDSA, "attacker").ok()?;
    let (rsa_der, rsa_pem) = rsa_public_der_and_pem(&rs);
    let tok = || issuer.token().aud(audience);
    let with_header = |alg: &str, sig: &str| {
        format!(
            "{}.{claims_b64}.{sig}",
            b64(&json!({"alg": alg}).to_string())
        )
    };
    let sign_as = |key: &SigningKey, header: Value, alg: Algorithm| {
        let input = format!("{}.{claims_b64}", b64(&header.to_string()));
        let sig = key.sign_as(alg, input.as_bytes()).unwrap_or_default();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let deep = format!(
        r#"{{"iss":"{iss}","sub":"u","aud":"{audience}","exp":{},"deep":{}1{}}}"#,
        now + 600,
        "[".repeat(300),
        "]".repeat(300)
    );
    let malformed_header = VerifyError::Malformed("header is not a JSON object with a string alg");
    let not_object = VerifyError::Malformed("claims are not a JSON object");
    let mut cases = vec![
        (
            "alg none",
            with_header("none", ""),
            VerifyError::UnsupportedAlgorithm,
        ),
        (
            "alg None",
            with_header("None", &b64("sig")),
            VerifyError::UnsupportedAlgorithm,
        ),
        (
            "alg NONE",
            with_header("NONE", ""),
            VerifyError::UnsupportedAlgorithm,
        ),
        (
            "alg nOnE",
            with_header("nOnE", &b64("sig")),
            VerifyError::UnsupportedAlgorithm,
        ),
        (
            "HS256, RSA public key PEM as secret",
            hs256(&rsa_pem, &json!({"alg": "HS256", "kid": rs.kid()}), &claims),
            VerifyError::UnsupportedAlgorithm,
        ),
        (
            "HS256, RSA public key DER as secret",
            hs256(&rsa_der, &json!({"alg": "HS256", "kid": rs.kid()}), &claims),
            VerifyError::UnsupportedAlgorithm,
        ),
        (
            "HS256, Ed25519 public key as secret",
            hs256(
                &ed.public_key_bytes(),
                &json!({"alg": "HS256", "kid": ed.kid()}),
                &claims,
            ),
            VerifyError::UnsupportedAlgorithm,
        ),
        (
            "HS512 without kid",
            hs256(b"secret", &json!({"alg": "HS512"}), &claims),
            VerifyError::UnsupportedAlgorithm,
        ),
        (
            "signature stripped",
            format!("{}.{}.", parts[0], parts[1]),
            VerifyError::InvalidSignature,
        ),
        (
            "payload altered, signature kept",
            format!("{}.{claims_b64}.{}", parts[0], parts[2]),
            VerifyError::InvalidSignature,
        ),
        (
            "signature from another token",
            format!("{}.{}.{other_sig}", parts[0], parts[1]),
            VerifyError::InvalidSignature,
        ),
        (
            "Ed25519 signature malleated (S + L)",
            malleate_ed25519(&tok().alg(Algorithm::EdDSA).sign()),
            VerifyError::InvalidSignature,
        ),
        (
            "Ed25519 identity R with S = 0",
            {
                let input = tok().alg(Algorithm::EdDSA).sign();
                let input = input.rsplit_once('.').map_or("", |(i, _)| i).to_string();
                let mut sig = [0u8; 64];
                sig[0] = 1;
                format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
            },
            VerifyError::InvalidSignature,
        ),
        (
            "RS256 key, header says PS256",
            sign_as(
                &rs,
                json!({"alg": "PS256", "kid": rs.kid()}),
                Algorithm::PS256,
            ),
            VerifyError::AlgorithmMismatch,
        ),
        (
            "PS256 key, header says RS256",
            sign_as(
                &ps,
                json!({"alg": "RS256", "kid": ps.kid()}),
                Algorithm::RS256,
            ),
            VerifyError::AlgorithmMismatch,
        ),
        (
            "ES256 header on the Ed25519 key",
            {
                let input = format!(
                    "{}.{claims_b64}",
                    b64(&json!({"alg": "ES256", "kid": ed.kid()}).to_string())
                );
                format!(
                    "{input}.{}",
                    URL_SAFE_NO_PAD.encode(es.sign(input.as_bytes()))
                )
            },
            VerifyError::AlgorithmMismatch,
        ),
        (
            "right kid, attacker's key",
            tok().sign_with(&attacker),
            VerifyError::InvalidSignature,
        ),
        (
            "embedded jwk of the attacker",
            tok()
                .header("jwk", attacker_own.public_jwk())
                .sign_with(&attacker_own),
            VerifyError::UnknownKey,
        ),
        (
            "jku to the attacker",
            tok()
                .header("jku", json!("https://evil.example/jwks"))
                .sign_with(&attacker),
            VerifyError::InvalidSignature,
        ),
        (
            "x5u to the attacker",
            tok()
                .header("x5u", json!("https://evil.example/cert.pem"))
                .sign_with(&attacker),
            VerifyError::InvalidSignature,
        ),
        (
            "x5c of the attacker",
            tok()
                .header("x5c", json!(["MIIBszCCAVmgAwIBAgIU"]))
                .sign_with(&attacker),
            VerifyError::InvalidSignature,
        ),
        (
            "kid path traversal",
            tok().kid("../../../../etc/passwd").sign(),
            VerifyError::UnknownKey,
        ),
        (
            "kid SQL injection",
            tok().kid("x' UNION SELECT 'key' --").sign(),
            VerifyError::UnknownKey,
        ),
        (
            "kid of 10k characters",
            tok().kid(&"k".repeat(10_000)).sign(),
            VerifyError::TokenTooLarge,
        ),
        (
            "unknown kid",
            tok().kid("no-such-key").sign(),
            VerifyError::UnknownKey,
        ),
        ("expired", tok().exp_in(-3600).sign(), VerifyError::Expired),
        (
            "not yet valid",
            tok().nbf_in(3600).sign(),
            VerifyError::NotYetValid,
        ),
        (
            "issued in the future",
            tok().iat_in(3600).sign(),
            VerifyError::IssuedInFuture,
        ),
        (
            "exp missing",
            tok().without("exp").sign(),
            VerifyError::MissingClaim("exp"),
        ),
        (
            "exp a string",
            tok().claim("exp", json!((now + 600).to_string())).sign(),
            VerifyError::InvalidClaim("exp"),
        ),
        (
            "wrong audience",
            tok().aud("another-app").sign(),
            VerifyError::AudienceMismatch,
        ),
        (
            "audience missing",
            tok().without("aud").sign(),
            VerifyError::MissingClaim("aud"),
        ),
        (
            "audience array without ours",
            tok().claim("aud", json!(["a", "b"])).sign(),
            VerifyError::AudienceMismatch,
        ),
        (
            "wrong issuer",
            tok().iss("https://evil.example/api/auth").sign(),
            VerifyError::IssuerMismatch,
        ),
        (
            "issuer missing",
            tok().without("iss").sign(),
            VerifyError::MissingClaim("iss"),
        ),
        (
            "issuer with trailing slash",
            tok().iss(&format!("{iss}/")).sign(),
            VerifyError::IssuerMismatch,
        ),
        (
            "issuer as bare origin",
            tok().iss(issuer.origin()).sign(),
            VerifyError::IssuerMismatch,
        ),
        (
            "sub missing",
            tok().without("sub").sign(),
            VerifyError::MissingClaim("sub"),
        ),
        (
            "unknown crit",
            tok()
                .header("crit", json!(["x-ext"]))
                .header("x-ext", json!(true))
                .sign(),
            VerifyError::UnsupportedCritical,
        ),
        (
            "JWE-shaped",
            format!(
                "{}.{}.{}.{}.{}",
                b64(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#),
                "a",
                "b",
                "c",
                "d"
            ),
            VerifyError::Encrypted,
        ),
        (
            "two segments",
            format!("{}.{}", parts[0], parts[1]),
            VerifyError::Malformed("a JWS has three dot-separated parts"),
        ),
        (
            "non-base64 header",
            format!("%%%.{}.{}", parts[1], parts[2]),
            VerifyError::Malformed("header is not base64url"),
        ),
        (
            "non-JSON header",
            format!("{}.{}.{}", b64("hello"), parts[1], parts[2]),
            malformed_header.clone(),
        ),
        (
            "array header",
            format!("{}.{}.{}", b64(r#"[{"alg":"EdDSA"}]"#), parts[1], parts[2]),
            malformed_header,
        ),
        (
            "duplicate header members",
            format!(
                "{}.{}.{}",
                b64(&format!(
                    r#"{{"alg":"EdDSA","kid":"{}","kid":"other"}}"#,
                    ed.kid()
                )),
                parts[1],
                parts[2]
            ),
            VerifyError::Malformed("duplicate header member"),
        ),
        (
            "non-JSON claims",
            signed_raw(&ed, &json!({"alg": "EdDSA", "kid": ed.kid()}), "not json"),
            not_object.clone(),
        ),
        (
            "array claims",
            signed_raw(&ed, &json!({"alg": "EdDSA", "kid": ed.kid()}), "[1,2,3]"),
            not_object.clone(),
        ),
        (
            "deeply nested claims",
            signed_raw(&ed, &json!({"alg": "EdDSA", "kid": ed.kid()}), &deep),
            not_object,
        ),
        (
            "oversized token",
            format!("{}.{}.{}", parts[0], "A".repeat(9000), parts[2]),
            VerifyError::TokenTooLarge,
        ),
        (
            "logout token without typ sent as a bearer token",
            tok()
                .claim("jti", json!("logout-1"))
                .claim(
                    "events",
                    json!({ crate::logout::BACKCHANNEL_LOGOUT_EVENT: {} }),
                )
                .sign(),
            VerifyError::UnexpectedTokenType,
        ),
        (
            "DPoP-bound token",
            tok()
                .claim(
                    "cnf",
                    json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
                )
                .sign(),
            VerifyError::SenderConstrained,
        ),
    ];
    // A small-order Ed25519 key in the key set (the identity point): R = identity, S = 0 is a
    // valid signature of any message under it. The verifier must skip the key when it parses
    // the set, so its kid stays unknown.
    issuer.publish_raw_jwk(json!({
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": SMALL_ORDER_KID,
        "x": URL_SAFE_NO_PAD.encode(ED25519_IDENTITY),
    }));
    let forged_admin = json!({"iss": iss, "sub": "forged-admin", "role": "admin",
        "aud": audience, "exp": now + 600, "iat": now});
    cases.push((
        "small-order Ed25519 key in the JWKS, R = identity, S = 0",
        {
            let header = json!({"alg": "EdDSA", "kid": SMALL_ORDER_KID});
            let mut sig = ED25519_IDENTITY.to_vec();
            sig.extend_from_slice(&[0u8; 32]);
            format!(
                "{}.{}.{}",
                b64(&header.to_string()),
                b64(&forged_admin.to_string()),
                URL_SAFE_NO_PAD.encode(sig)
            )
        },
        VerifyError::UnknownKey,
    ));
    // Correctly signed JWTs of other kinds (RFC 8725 §3.11: explicit typing): not bearer tokens.
    for typ in [
        "logout+jwt",
        "token-introspection+jwt",
        "dpop+jwt",
        "secevent+jwt",
        "application/logout+jwt",
    ] {
        cases.push((
            match typ {
                "logout+jwt" => "typ logout+jwt (back-channel logout token)",
                "token-introspection+jwt" => "typ token-introspection+jwt",
                "dpop+jwt" => "typ dpop+jwt (DPoP proof)",
                "secevent+jwt" => "typ secevent+jwt (security event token)",
                _ => "typ application/logout+jwt",
            },
            tok().header("typ", json!(typ)).sign(),
            VerifyError::UnexpectedTokenType,
        ));
    }
    // OIDC Core 3.1.3.7: an ID token for several audiences whose authorized party is another
    // client was issued to that client, not to us.
    cases.push((
        "id_token for [other, ours] with azp other",
        tok()
            .claim("aud", json!(["other-client", audience]))
            .claim("azp", json!("other-client"))
            .sign(),
        VerifyError::AuthorizedPartyMismatch,
    ));
    // An unsigned copy of a valid header with `alg` swapped to none.
    cases.push((
        "valid header, alg none, no signature",
        {
            let header = json!({"alg": "none", "kid": ed.kid()});
            format!("{}.{}.", b64(&header.to_string()), parts[1])
        },
        VerifyError::UnsupportedAlgorithm,
    ));
    Some(
        cases
            .into_iter()
            .map(|(name, token, expected)| AttackCase {
                name,
                token,
                expected,
            })
            .collect(),
    )
}

/// Valid tokens that must pass: every algorithm, the `Ed25519` alg name, the bearer `typ`
/// values (`JWT`, `at+jwt`, `application/at+jwt`), an ID token for several audiences whose
/// `azp` is ours, an `at+jwt` access token whose `azp` is the calling client, an `aud` array
/// containing ours.
#[must_use]
pub fn valid_cases(issuer: &TestIssuer, audience: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Algorithm::ALL
        .iter()
        .filter(|alg| issuer.key(**alg).is_some())
        .map(|alg| {
            (
                format!("valid {alg}"),
                issuer.token().aud(audience).alg(*alg).sign(),
            )
        })
        .collect();
    if let Some(ed) = issuer.key(Algorithm::EdDSA) {
        let now = unix_now();
        let claims = json!({"iss": issuer.issuer(), "sub": "u", "aud": audience, "exp": now + 600});
        out.push((
            "alg named Ed25519".into(),
            ed.sign_compact(&json!({"alg": "Ed25519", "kid": ed.kid()}), &claims),
        ));
    }
    for typ in [
        "JWT",
        "jwt",
        "at+jwt",
        "application/at+jwt",
        "application/jwt",
    ] {
        out.push((
            format!("typ {typ}"),
            issuer
                .token()
                .aud(audience)
                .header("typ", json!(typ))
                .sign(),
        ));
    }
    out.push((
        "id_token for [other, ours] with azp ours".into(),
        issuer
            .token()
            .claim("aud", json!(["other-client", audience]))
            .claim("azp", json!(audience))
            .sign(),
    ));
    out.push((
        "at+jwt access token for [other, ours] with azp the calling client (RFC 9068)".into(),
        issuer
            .token()
            .header("typ", json!("at+jwt"))
            .claim("aud", json!(["other-client", audience]))
            .claim("azp", json!("calling-client"))
            .claim("client_id", json!("calling-client"))
            .sign(),
    ));
    out.push((
        "aud array containing ours".into(),
        issuer
            .token()
            .claim("aud", json!(["other", audience]))
            .sign(),
    ));
    out
}
