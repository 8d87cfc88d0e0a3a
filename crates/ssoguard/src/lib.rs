//! # ssoguard
//!
//! Verify Better Auth (and any OIDC provider's) JWTs against the SSO's JWKS, safely and fast.
//!
//! - [`Verifier`] turns `Authorization: Bearer <jwt>` into [`TokenClaims`] or a [`VerifyError`]
//!   that knows its HTTP meaning (401 / 503).
//! - Every algorithm Better Auth signs with: **EdDSA** (its default), ES256, ES512, RS256,
//!   PS256, plus ES384, RS384/512, PS384/512. `none` and HMAC cannot be enabled.
//! - Discovery that checks the issuer, a lock-free JWKS cache with bounded refetching, and a
//!   verified-token cache.
//! - [`session::SessionVerifier`]: Better Auth **session cookies** (`better-auth.session_token`),
//!   signature checked in constant time, the session looked up in Better Auth (`get-session`),
//!   its database (feature `session-database`) or its Redis (feature `session-redis`), cached.
//! - Feature `axum`: extractors [`axum::CurrentUser`], [`axum::Claims`], [`axum::RequireRole`].
//! - Feature `testing`: [`testing::TestIssuer`], an in-process issuer minting real tokens.
//!
//! ```no_run
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = ssoguard::Verifier::builder()
//!     .authority("http://localhost:3001")
//!     .audience("rust-backend")
//!     .build()?;
//! let claims = verifier.verify(token).await?;
//! assert!(!claims.sub.is_empty());
//! # Ok(()) }
//! ```

mod algorithm;
mod batch;
mod builder;
pub mod claims;
mod dangerous;
pub mod discovery;
mod error;
mod explain;
mod fetch;
mod form;
mod introspection;
pub mod issuers;
pub mod jwk;
mod jwks;
pub mod jws;
pub mod m2m;
mod metrics;
pub mod session;
mod single_flight;
mod time;
mod token_cache;
mod ttl_map;
mod verify;

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "testing")]
pub mod testing;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use builder::VerifierBuilder;
pub use claims::{Audience, TokenClaims};
pub use error::{ConfigError, KeysUnavailable, VerifyError};
pub use explain::{Check, Explanation, KeyInfo, KeySetInfo, Outcome};
pub use introspection::IntrospectionConfig;
pub use issuers::{IssuerRouter, IssuerRouterBuilder};
pub use jwks::{JwksConfig, KeyStatus};
pub use metrics::{Metrics, MetricsSnapshot};
pub use token_cache::TokenCacheConfig;
pub use verify::Verifier;

/// The token of an `Authorization: Bearer` header (scheme case-insensitive), without axum.
#[cfg(feature = "testing")]
pub(crate) fn axum_free_bearer(headers: &::http::HeaderMap) -> Option<&str> {
    let value = headers.get(::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
