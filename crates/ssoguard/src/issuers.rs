//! [`IssuerRouter`]: several issuers (tenants, staging + production SSO, Better Auth + another
//! OIDC provider), one verifier each, and the routing of a token to the right one.
//!
//! Guarantees:
//! - a JWT goes to the verifier whose configured issuer **equals** its `iss`, byte for byte (no
//!   prefix, no trailing-slash or case folding); that verifier then checks everything again,
//!   `iss` included, so the peek below decides only *which* keys are tried;
//! - a JWT whose `iss` names no configured issuer is refused with
//!   [`VerifyError::IssuerMismatch`] (a 401) **before any fetch**: a stranger cannot make the
//!   router download anything;
//! - the unverified payload is read only for its `iss` (bounded by the largest token size, a
//!   duplicate `iss` member is malformed); nothing else in it is trusted or kept;
//! - an opaque token (no dots) goes to the one issuer marked as accepting opaque tokens
//!   (introspection), or is refused as malformed when there is none;
//! - with a single issuer, every token goes to it unpeeked, so the single-issuer case behaves
//!   exactly like a plain [`Verifier`] — which itself refuses a token naming another issuer
//!   before its unknown `kid` could make it refetch keys.

use crate::claims::TokenClaims;
use crate::error::{ConfigError, VerifyError};
use crate::verify::Verifier;
use std::sync::Arc;

/// The largest token the router peeks into (the verifier's own cap applies afterwards).
const MAX_PEEK_BYTES: usize = 64 * 1024;

/// One configured issuer.
#[derive(Debug, Clone)]
struct Entry {
    issuer: Option<String>,
    verifier: Verifier,
    accepts_opaque: bool,
}

/// Routes each token to the verifier of its issuer. Cheap to clone.
///
/// # Example
///
/// ```no_run
/// use ssoguard::{IssuerRouter, Verifier};
///
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let prod = Verifier::builder().issuer("https://sso.example.com/api/auth").audience("api").build()?;
/// let staging =
///     Verifier::builder().issuer("https://sso.staging.example.com/api/auth").audience("api").build()?;
/// let router = IssuerRouter::builder()
///     .issuer("https://sso.example.com/api/auth", prod)
///     .issuer("https://sso.staging.example.com/api/auth", staging)
///     .build()?;
/// let (index, claims) = router.verify(token).await?; // index 0 = prod, 1 = staging
/// # let _ = (index, claims);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct IssuerRouter {
    entries: Arc<[Entry]>,
}

/// Builds an [`IssuerRouter`]; entries keep the order they are added in (their index).
#[derive(Debug, Default)]
#[must_use]
pub struct IssuerRouterBuilder {
    entries: Vec<Entry>,
}

impl IssuerRouterBuilder {
    /// Adds a verifier for tokens whose `iss` equals `issuer` exactly.
    pub fn issuer(mut self, issuer: impl Into<String>, verifier: Verifier) -> Self {
        self.entries.push(Entry {
            issuer: Some(issuer.into()),
            verifier,
            accepts_opaque: false,
        });
        self
    }

    /// Adds a verifier whose issuer is not known up front (found by discovery). Allowed only as
    /// the router's sole entry: several issuers must each name theirs, or routing is ambiguous.
    pub fn discovered(mut self, verifier: Verifier) -> Self {
        self.entries.push(Entry {
            issuer: None,
            verifier,
            accepts_opaque: false,
        });
        self
    }

    /// Marks the entry added last as the one that receives opaque (non-JWT) tokens; its
    /// verifier must have introspection configured. Default: opaque tokens are malformed.
    pub fn accepts_opaque(mut self) -> Self {
        if let Some(last) = self.entries.last_mut() {
            last.accepts_opaque = true;
        }
        self
    }

    /// Checks the entries and builds the router. Does no I/O.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSetting`] (setting `issuers`) when there is no entry, an issuer is
    /// configured twice, an entry without an issuer is not alone, or more than one entry
    /// accepts opaque tokens.
    pub fn build(self) -> Result<IssuerRouter, ConfigError> {
        let invalid = |reason: String| ConfigError::InvalidSetting {
            setting: "issuers",
            reason,
        };
        if self.entries.is_empty() {
            return Err(invalid("no issuer configured".into()));
        }
        if self.entries.len() > 1 {
            for (i, entry) in self.entries.iter().enumerate() {
                let Some(issuer) = &entry.issuer else {
                    return Err(invalid(
                        "with several issuers, each must name its exact issuer".into(),
                    ));
                };
                if self.entries[..i]
                    .iter()
                    .any(|e| e.issuer.as_deref() == Some(issuer))
                {
                    return Err(invalid(format!("issuer {issuer} is configured twice")));
                }
            }
        }
        if self.entries.iter().filter(|e| e.accepts_opaque).count() > 1 {
            return Err(invalid(
                "more than one issuer accepts opaque tokens: which one to ask is ambiguous".into(),
            ));
        }
        Ok(IssuerRouter {
            entries: self.entries.into(),
        })
    }
}

impl IssuerRouter {
    /// Starts a builder.
    pub fn builder() -> IssuerRouterBuilder {
        IssuerRouterBuilder::default()
    }

    /// The verifiers, in the order they were added.
    pub fn verifiers(&self) -> impl Iterator<Item = &Verifier> {
        self.entries.iter().map(|e| &e.verifier)
    }

    /// The number of issuers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: a router has at least one issuer.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The index of the entry that should verify `token`, without verifying it.
    ///
    /// # Errors
    ///
    /// [`VerifyError::IssuerMismatch`] for a JWT whose `iss` is not configured;
    /// [`VerifyError::Malformed`] / [`VerifyError::MissingClaim`] when `iss` cannot be read;
    /// [`VerifyError::TokenTooLarge`] past 64 KiB.
    pub fn route(&self, token: &str) -> Result<usize, VerifyError> {
        if self.entries.len() == 1 {
            return Ok(0);
        }
        if token.is_empty() {
            return Err(VerifyError::MissingToken);
        }
        if !token.contains('.') {
            return self.entries.iter().position(|e| e.accepts_opaque).ok_or(
                VerifyError::Malformed("a JWS has three dot-separated parts"),
            );
        }
        let iss = unverified_issuer(token)?;
        self.entries
            .iter()
            .position(|e| e.issuer.as_deref() == Some(iss.as_str()))
            .ok_or(VerifyError::IssuerMismatch)
    }

    /// Routes `token` ([`IssuerRouter::route`]) and verifies it with that issuer's verifier.
    /// Returns the entry's index with the claims.
    ///
    /// # Errors
    ///
    /// As [`IssuerRouter::route`], then as [`Verifier::verify`].
    pub async fn verify(&self, token: &str) -> Result<(usize, Arc<TokenClaims>), VerifyError> {
        let index = self.route(token)?;
        let claims = self.entries[index].verifier.verify(token).await?;
        Ok((index, claims))
    }

    /// [`verify`](Self::verify) for a token as presented, `Bearer` or DPoP
    /// ([`Verifier::verify_presented`]): routed by the token's issuer.
    ///
    /// # Errors
    ///
    /// As [`IssuerRouter::route`], then as [`Verifier::verify_presented`].
    pub async fn verify_presented(
        &self,
        presented: crate::dpop::Presented<'_>,
        request: &crate::dpop::DpopRequest,
    ) -> Result<(usize, Arc<TokenClaims>), VerifyError> {
        let token = match presented {
            crate::dpop::Presented::Bearer(token) | crate::dpop::Presented::Dpop { token, .. } => {
                token
            }
        };
        let index = self.route(token)?;
        let claims = self.entries[index]
            .verifier
            .verify_presented(presented, request)
            .await?;
        Ok((index, claims))
    }

    /// A back-channel logout token, routed by its (unverified, then verified) issuer to that
    /// issuer's [`Verifier::back_channel_logout`].
    ///
    /// # Errors
    ///
    /// [`LogoutError`](crate::logout::LogoutError): an unroutable token is a 400.
    pub async fn back_channel_logout(
        &self,
        token: &str,
    ) -> Result<(usize, crate::logout::LogoutToken), crate::logout::LogoutError> {
        let index = self
            .route(token.trim())
            .map_err(crate::logout::LogoutError::from)?;
        let logout = self.entries[index]
            .verifier
            .back_channel_logout(token)
            .await?;
        Ok((index, logout))
    }
}

/// The `iss` member of a compact JWS's payload, **unverified**.
fn unverified_issuer(token: &str) -> Result<String, VerifyError> {
    if token.len() > MAX_PEEK_BYTES {
        return Err(VerifyError::TokenTooLarge);
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(payload), Some(_), None) => crate::jws::unverified_issuer(payload),
        (_, _, _, Some(_)) => Err(VerifyError::Encrypted),
        _ => Err(VerifyError::Malformed(
            "a JWS has three dot-separated parts",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn token_with(payload: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA"}"#),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(b"sig")
        )
    }

    fn verifier(issuer: &str) -> Verifier {
        Verifier::builder()
            .issuer(issuer)
            .audience("api")
            .build()
            .expect("verifier")
    }

    fn two() -> IssuerRouter {
        IssuerRouter::builder()
            .issuer(
                "https://a.example/api/auth",
                verifier("https://a.example/api/auth"),
            )
            .issuer(
                "https://b.example/api/auth",
                verifier("https://b.example/api/auth"),
            )
            .accepts_opaque()
            .build()
            .expect("router")
    }

    #[test]
    fn routes_by_exact_issuer() {
        let router = two();
        let t = |iss: &str| token_with(&format!(r#"{{"iss":"{iss}","sub":"u"}}"#));
        assert_eq!(router.route(&t("https://a.example/api/auth")), Ok(0));
        assert_eq!(router.route(&t("https://b.example/api/auth")), Ok(1));
        for near in [
            "https://a.example/api/auth/",
            "https://A.example/api/auth",
            "https://a.example/api",
            "https://a.example/api/auth ",
            "",
        ] {
            assert_eq!(
                router.route(&t(near)),
                Err(VerifyError::IssuerMismatch),
                "{near:?}"
            );
        }
    }

    #[test]
    fn unreadable_issuer_is_refused() {
        let router = two();
        assert_eq!(
            router.route(&token_with(r#"{"sub":"u"}"#)),
            Err(VerifyError::MissingClaim("iss"))
        );
        assert!(matches!(
            router.route(&token_with(
                r#"{"iss":"https://a.example/api/auth","iss":"https://b.example/api/auth"}"#
            )),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            router.route(&token_with(r#"{"iss":5}"#)),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            router.route("a.%%%.c"),
            Err(VerifyError::Malformed(_))
        ));
        assert_eq!(router.route("a.b.c.d.e"), Err(VerifyError::Encrypted));
        assert_eq!(router.route(""), Err(VerifyError::MissingToken));
        assert_eq!(
            router.route(&"a.".repeat(40_000)),
            Err(VerifyError::TokenTooLarge)
        );
    }

    #[test]
    fn opaque_tokens_go_to_the_marked_issuer() {
        assert_eq!(two().route("opaqueTokenValue"), Ok(1));
        let none = IssuerRouter::builder()
            .issuer("https://a.example", verifier("https://a.example"))
            .issuer("https://b.example", verifier("https://b.example"))
            .build()
            .expect("router");
        assert!(matches!(
            none.route("opaqueTokenValue"),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn single_issuer_is_not_peeked() {
        let router = IssuerRouter::builder()
            .discovered(verifier("https://a.example"))
            .build()
            .expect("router");
        assert_eq!(router.route("anything"), Ok(0));
        assert_eq!(router.len(), 1);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let err = |b: IssuerRouterBuilder| b.build().expect_err("refused").to_string();
        assert!(err(IssuerRouter::builder()).contains("no issuer"));
        assert!(
            err(IssuerRouter::builder()
                .issuer("https://a.example", verifier("https://a.example"))
                .issuer("https://a.example", verifier("https://a.example")))
            .contains("https://a.example is configured twice")
        );
        assert!(
            err(IssuerRouter::builder()
                .discovered(verifier("https://a.example"))
                .issuer("https://b.example", verifier("https://b.example")))
            .contains("each must name")
        );
        assert!(
            err(IssuerRouter::builder()
                .issuer("https://a.example", verifier("https://a.example"))
                .accepts_opaque()
                .issuer("https://b.example", verifier("https://b.example"))
                .accepts_opaque())
            .contains("opaque")
        );
    }

    #[tokio::test]
    async fn unknown_issuer_fetches_nothing() {
        let issuer = crate::testing::TestIssuer::start().await.expect("issuer");
        let known = Verifier::builder()
            .issuer(issuer.issuer())
            .jwks_url(issuer.jwks_url())
            .audience("api")
            .build()
            .expect("verifier");
        let router = IssuerRouter::builder()
            .issuer(issuer.issuer(), known)
            .issuer("https://other.example", verifier("https://other.example"))
            .build()
            .expect("router");
        let stranger = issuer
            .token()
            .aud("api")
            .iss("https://stranger.example")
            .sign();
        assert_eq!(
            router.verify(&stranger).await.map(|(i, _)| i),
            Err(VerifyError::IssuerMismatch)
        );
        assert_eq!(issuer.jwks_fetches(), 0);
        assert_eq!(issuer.discovery_fetches(), 0);
        let good = issuer.token().aud("api").sign();
        let (index, claims) = router.verify(&good).await.expect("verified");
        assert_eq!((index, claims.iss.as_str()), (0, issuer.issuer()));
        assert_eq!(issuer.jwks_fetches(), 1);
    }
}
