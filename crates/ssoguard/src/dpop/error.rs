//! Why a DPoP proof was refused: below the proof check and [`crate::error`], which carries it.

/// Why a DPoP proof was refused (401 with `error="invalid_dpop_proof"`). Messages never contain
/// the proof or the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// No `DPoP` header came with a `DPoP` authorization.
    #[error("DPoP proof header is required")]
    MissingProof,
    /// More than one `DPoP` header.
    #[error("more than one DPoP proof header")]
    MultipleProofs,
    /// Not a well-formed compact JWS with a strict header, or a claim of the wrong type.
    #[error("malformed DPoP proof: {0}")]
    Malformed(&'static str),
    /// The header's `typ` is not `dpop+jwt`.
    #[error("DPoP proof typ must be dpop+jwt")]
    WrongType,
    /// The header's `alg` is not an accepted algorithm.
    #[error("DPoP proof algorithm is not accepted")]
    Algorithm,
    /// The header's `jwk` is missing, private, or not a usable public key for `alg`.
    #[error("DPoP proof key: {0}")]
    Key(&'static str),
    /// The signature does not verify with the header's `jwk`.
    #[error("DPoP proof signature is invalid")]
    Signature,
    /// A required claim is missing (`htm`, `htu`, `iat`, `jti`, `ath`).
    #[error("DPoP proof lacks the {0} claim")]
    MissingClaim(&'static str),
    /// `htm` is not the request method.
    #[error("DPoP proof htm does not match the request method")]
    Method,
    /// `htu` is not the request URL.
    #[error("DPoP proof htu does not match the request URL")]
    Url,
    /// `iat` is outside the accepted window.
    #[error("DPoP proof iat is outside the accepted window")]
    IssuedAt,
    /// `ath` is not the hash of the access token sent with it.
    #[error("DPoP proof ath does not match the access token")]
    TokenHash,
    /// The proof's key is not the key the token is bound to (`cnf.jkt`).
    #[error("DPoP proof key does not match the bound token")]
    KeyMismatch,
    /// The proof was used before.
    #[error("DPoP proof has already been used")]
    Replayed,
}
