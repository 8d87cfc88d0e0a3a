//! The JWS signature algorithms ssoguard verifies, and how each maps to a key type.
//!
//! Only asymmetric algorithms exist here: `none` and every HMAC algorithm (`HS256` …) are not
//! representable, so no configuration can turn them on.

use aws_lc_rs::signature::{self, VerificationAlgorithm};
use std::fmt;

/// A JWS signature algorithm (RFC 7518 §3, RFC 8037, RFC 9864).
///
/// Better Auth signs with [`Algorithm::EdDSA`] by default and can be configured for `ES256`,
/// `ES512`, `RS256` and `PS256`; the rest are accepted for other OIDC providers.
///
/// # Example
///
/// ```
/// use ssoguard::Algorithm;
///
/// assert_eq!(Algorithm::from_jws_name("Ed25519"), Some(Algorithm::EdDSA));
/// assert_eq!(Algorithm::from_jws_name("HS256"), None);
/// assert_eq!(Algorithm::ES512.as_str(), "ES512");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// Ed25519 signatures, named `EdDSA` (RFC 8037) or `Ed25519` (RFC 9864).
    EdDSA,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512 (signed by Better Auth; missing from the `jsonwebtoken` crate).
    ES512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
}

/// The key family an algorithm needs: a token's `alg` must fit the key it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Ed25519,
    P256,
    P384,
    P521,
    Rsa,
}

impl Algorithm {
    /// Every supported algorithm, the default allowlist.
    pub const ALL: [Algorithm; 10] = [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ];

    /// Parses a JWS `alg` value. `Ed25519` (RFC 9864) is an alias of `EdDSA`.
    ///
    /// Returns `None` for `none`, HMAC and every unknown name. Matching is case-sensitive, as
    /// RFC 7515 requires, so `"none"`, `"None"` and `"NONE"` are all refused.
    #[must_use]
    pub fn from_jws_name(name: &str) -> Option<Self> {
        Some(match name {
            "EdDSA" | "Ed25519" => Algorithm::EdDSA,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "ES512" => Algorithm::ES512,
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            _ => return None,
        })
    }

    /// The canonical JWS name (`EdDSA` for Ed25519).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
        }
    }

    /// True for the RSA algorithms (`RS*` and `PS*`).
    #[must_use]
    pub const fn is_rsa(self) -> bool {
        matches!(self.family(), KeyFamily::Rsa)
    }

    pub(crate) const fn family(self) -> KeyFamily {
        match self {
            Algorithm::EdDSA => KeyFamily::Ed25519,
            Algorithm::ES256 => KeyFamily::P256,
            Algorithm::ES384 => KeyFamily::P384,
            Algorithm::ES512 => KeyFamily::P521,
            _ => KeyFamily::Rsa,
        }
    }

    /// The `aws-lc-rs` verification algorithm. JWS ECDSA signatures are fixed-width `r || s`.
    pub(crate) fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Algorithm::EdDSA => &signature::ED25519,
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        }
    }
}

impl Algorithm {
    /// RSA parameters, for building a parsed RSA key from `n` and `e`.
    pub(crate) fn rsa_parameters(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::from_jws_name(s).ok_or(UnknownAlgorithm)
    }
}

/// The error of parsing an [`Algorithm`] from a name that is not a supported one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported algorithm (expected one of EdDSA, ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512)"
)]
pub struct UnknownAlgorithm;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_dangerous_names_are_refused() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_jws_name(alg.as_str()), Some(alg));
        }
        for bad in [
            "none", "None", "NONE", "nOnE", "HS256", "HS384", "HS512", "", "eddsa", "rs256",
        ] {
            assert_eq!(Algorithm::from_jws_name(bad), None, "{bad}");
        }
        assert_eq!(Algorithm::from_jws_name("Ed25519"), Some(Algorithm::EdDSA));
    }
}
