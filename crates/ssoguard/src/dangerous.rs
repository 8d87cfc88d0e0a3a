//! Switches that turn a check off. Each one is named so it stands out in review.
//!
//! # Security Warning
//!
//! Every method here makes the verifier accept tokens it would otherwise refuse. None is needed
//! to talk to Better Auth; they exist for migrations and unusual providers.

use crate::builder::VerifierBuilder;

impl VerifierBuilder {
    /// Accepts tokens whatever their `iss`.
    ///
    /// # Security Warning
    ///
    /// Any issuer whose keys you trust (e.g. a shared JWKS across tenants or environments) can
    /// then mint tokens for this service. Default: the issuer is checked.
    pub fn insecure_disable_issuer_check(mut self) -> Self {
        self.check_issuer = false;
        self
    }

    /// Accepts tokens whatever their `aud`.
    ///
    /// # Security Warning
    ///
    /// A token issued by the same SSO for *another* application (another client id) is then
    /// accepted here: the classic confused-deputy hole. Default: the audience is required.
    pub fn insecure_disable_audience_check(mut self) -> Self {
        self.check_audience = false;
        self
    }

    /// Accepts sender-constrained tokens (with a `cnf` claim) as plain bearer tokens.
    ///
    /// # Security Warning
    ///
    /// A DPoP- or mTLS-bound token is bound to a key the caller must prove; accepting it as a
    /// bearer token drops that proof. Default: such tokens are refused.
    pub fn insecure_accept_sender_constrained(mut self) -> Self {
        self.allow_sender_constrained = true;
        self
    }

    /// Allows plain `http` URLs to hosts other than loopback ones (`localhost`, `127.0.0.0/8`,
    /// `::1`) for the SSO: discovery, keys and introspection.
    ///
    /// # Security Warning
    ///
    /// Over plain http anyone on the path can swap the key set (and so mint tokens this service
    /// accepts) and read the introspection client secret and the tokens sent for introspection.
    /// Only for a private network you trust end to end. Default: refused at `build()`, and a
    /// discovered URL of that kind is refused at fetch time; loopback http is always allowed and
    /// no redirect from https to http is ever followed.
    pub fn insecure_allow_http(mut self) -> Self {
        self.allow_remote_http = true;
        self
    }
}
