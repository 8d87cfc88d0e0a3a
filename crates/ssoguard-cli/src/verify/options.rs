//! What `ssoguard verify` is asked to do (the command line, parsed).

use ssoguard::Algorithm;

/// What `verify` was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct VerifyOptions {
    /// The token argument (`None` or `-`: stdin).
    pub(crate) token: Option<String>,
    /// Origin or issuer.
    pub(crate) issuer: String,
    /// Accepted audiences; empty: not checked.
    pub(crate) audiences: Vec<String>,
    /// Explicit JWKS URL.
    pub(crate) jwks_url: Option<String>,
    /// Allowed algorithms; empty: all.
    pub(crate) algorithms: Vec<Algorithm>,
    /// A DPoP request (`--dpop`, `--method`, `--url`): the token is explained as sent with the
    /// DPoP scheme and this proof.
    pub(crate) dpop: Option<DpopOptions>,
}

/// `--dpop <proof> --method <M> --url <URL>`.
#[derive(Debug, Clone)]
pub(crate) struct DpopOptions {
    /// The `DPoP` header's proof.
    pub(crate) proof: String,
    /// The request method.
    pub(crate) method: String,
    /// The request URL as the client called it.
    pub(crate) url: String,
}
