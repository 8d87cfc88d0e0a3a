//! Splitting and decoding a compact JWS, strictly.
//!
//! Three base64url segments without padding; a header that is a JSON object with no duplicate
//! members; `alg` parsed into an allowed [`Algorithm`]. The payload is *not* decoded here: it is
//! parsed only after the signature has been checked, so unauthenticated JSON never reaches the
//! claims code.

use crate::algorithm::Algorithm;
use crate::error::VerifyError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// The protected header members ssoguard looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwsHeader {
    /// `alg` as written in the token (`Ed25519` stays `Ed25519`).
    pub alg: String,
    /// `kid`, used only as a lookup key in the issuer's key set.
    pub kid: Option<String>,
    /// `typ` (Better Auth sends none for id_tokens and `at+jwt` for JWT access tokens).
    pub typ: Option<String>,
    /// `crit` entries; any entry makes verification fail, since none is implemented.
    pub crit: Option<Vec<String>>,
    /// Names of key-carrying members present (`jku`, `jwk`, `x5u`, `x5c`): reported, never used.
    pub embedded_key_members: Vec<&'static str>,
}

/// A token split into its parts, signature decoded, payload still encoded.
#[derive(Debug)]
pub(crate) struct CompactJws<'a> {
    pub(crate) header: JwsHeader,
    pub(crate) alg: Option<Algorithm>,
    pub(crate) signing_input: &'a [u8],
    pub(crate) payload_b64: &'a str,
    pub(crate) signature: Vec<u8>,
}

/// Splits and decodes a compact JWS.
pub(crate) fn split(token: &str, max_len: usize) -> Result<CompactJws<'_>, VerifyError> {
    if token.len() > max_len {
        return Err(VerifyError::TokenTooLarge);
    }
    if token.is_empty() {
        return Err(VerifyError::MissingToken);
    }
    let mut dots = token.match_indices('.').map(|(i, _)| i);
    let (first, second) = match (dots.next(), dots.next()) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(VerifyError::Malformed(
                "a JWS has three dot-separated parts",
            ));
        }
    };
    let rest = dots.count();
    if rest == 2 {
        return Err(VerifyError::Encrypted);
    }
    if rest != 0 {
        return Err(VerifyError::Malformed(
            "a JWS has three dot-separated parts",
        ));
    }
    let header_b64 = &token[..first];
    let payload_b64 = &token[first + 1..second];
    let sig_b64 = &token[second + 1..];
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(VerifyError::Malformed("empty header or payload"));
    }
    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| VerifyError::Malformed("header is not base64url"))?;
    let header = parse_header(&header_json)?;
    let signature = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| VerifyError::Malformed("signature is not base64url"))?;
    let alg = Algorithm::from_jws_name(&header.alg);
    Ok(CompactJws {
        header,
        alg,
        signing_input: &token.as_bytes()[..second],
        payload_b64,
        signature,
    })
}

/// Decodes the payload segment (after the signature has been verified).
pub(crate) fn decode_payload(payload_b64: &str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| VerifyError::Malformed("payload is not base64url"))
}

/// The `iss` member of a payload, **unverified**: only to decide which keys to try or whether
/// a key fetch is worth it, never to trust. A duplicate `iss` is malformed (derived struct).
pub(crate) fn unverified_issuer(payload_b64: &str) -> Result<String, VerifyError> {
    #[derive(serde::Deserialize)]
    struct Peek {
        iss: Option<String>,
    }
    let json = decode_payload(payload_b64)?;
    let peek: Peek = serde_json::from_slice(&json)
        .map_err(|_| VerifyError::Malformed("payload is not a JSON object"))?;
    peek.iss.ok_or(VerifyError::MissingClaim("iss"))
}

impl JwsHeader {
    /// Parses a protected header (its JSON, decoded from base64url) without verifying anything,
    /// with the rules verification applies: for diagnostics such as `ssoguard inspect`.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Malformed`] when the header is not a JSON object, repeats a member, or
    /// lacks a string `alg`.
    ///
    /// # Example
    ///
    /// ```
    /// let header = ssoguard::JwsHeader::parse(br#"{"alg":"EdDSA","kid":"k1"}"#)?;
    /// assert_eq!((header.alg.as_str(), header.kid.as_deref()), ("EdDSA", Some("k1")));
    /// assert!(ssoguard::JwsHeader::parse(br#"{"alg":"EdDSA","alg":"none"}"#).is_err());
    /// # Ok::<(), ssoguard::VerifyError>(())
    /// ```
    pub fn parse(json: &[u8]) -> Result<JwsHeader, VerifyError> {
        parse_header(json)
    }
}

/// [`JwsHeader::parse`].
pub(crate) fn parse_header(json: &[u8]) -> Result<JwsHeader, VerifyError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let header = de
        .deserialize_map(HeaderVisitor)
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data if e.to_string().starts_with("duplicate") => {
                VerifyError::Malformed("duplicate header member")
            }
            _ => VerifyError::Malformed("header is not a JSON object with a string alg"),
        })?;
    de.end()
        .map_err(|_| VerifyError::Malformed("trailing data after the header"))?;
    Ok(header)
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = JwsHeader;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JwsHeader, A::Error> {
        let mut header = JwsHeader::default();
        let mut has_alg = false;
        let mut seen: Vec<String> = Vec::with_capacity(4);
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom("duplicate member"));
            }
            match key.as_str() {
                "alg" => {
                    header.alg = map.next_value()?;
                    has_alg = true;
                }
                "kid" => header.kid = Some(map.next_value()?),
                "typ" => header.typ = Some(map.next_value()?),
                "crit" => header.crit = Some(map.next_value()?),
                "jku" | "jwk" | "x5u" | "x5c" => {
                    let name = match key.as_str() {
                        "jku" => "jku",
                        "jwk" => "jwk",
                        "x5u" => "x5u",
                        _ => "x5c",
                    };
                    header.embedded_key_members.push(name);
                    map.next_value::<IgnoredAny>()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            seen.push(key);
        }
        if !has_alg {
            return Err(de::Error::custom("missing alg"));
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn segment_rules() {
        let h = enc(r#"{"alg":"EdDSA","kid":"k"}"#);
        let p = enc(r#"{"sub":"1"}"#);
        let ok = format!("{h}.{p}.c2ln");
        let jws = split(&ok, 8192).expect("splits");
        assert_eq!(jws.alg, Some(Algorithm::EdDSA));
        assert_eq!(jws.header.kid.as_deref(), Some("k"));
        assert_eq!(jws.signing_input, format!("{h}.{p}").as_bytes());

        assert_eq!(split("a.b", 8192).unwrap_err().kind(), "malformed");
        assert_eq!(
            split("a.b.c.d.e", 8192).unwrap_err(),
            VerifyError::Encrypted
        );
        assert_eq!(split("a.b.c.d", 8192).unwrap_err().kind(), "malformed");
        assert!(
            split(&format!("{h}.{p}."), 8192)
                .expect("empty signature splits")
                .signature
                .is_empty()
        );
        assert_eq!(split(&ok, 10).unwrap_err(), VerifyError::TokenTooLarge);
        assert_eq!(
            split(&format!("{h}=.{p}.c2ln"), 8192).unwrap_err().kind(),
            "malformed"
        );
        assert_eq!(
            split(&format!("{h}.{p}.c2ln="), 8192).unwrap_err().kind(),
            "malformed"
        );
    }

    #[test]
    fn header_rules() {
        assert!(parse_header(br#"{"alg":"ES256","typ":"JWT"}"#).is_ok());
        for bad in [
            &br#"{"alg":"ES256","alg":"none"}"#[..],
            br#"{"alg":"ES256","kid":"a","kid":"b"}"#,
            br#"["alg","ES256"]"#,
            br#"{"kid":"k"}"#,
            br#"{"alg":1}"#,
            br#"{"alg":"ES256"} x"#,
            b"not json",
        ] {
            assert_eq!(
                parse_header(bad).unwrap_err().kind(),
                "malformed",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let dup = parse_header(br#"{"alg":"ES256","alg":"none"}"#).unwrap_err();
        assert_eq!(dup, VerifyError::Malformed("duplicate header member"));
        let embedded = parse_header(br#"{"alg":"RS256","jku":"http://evil","jwk":{},"x5c":[]}"#)
            .expect("parses");
        assert_eq!(embedded.embedded_key_members, vec!["jku", "jwk", "x5c"]);
    }
}
