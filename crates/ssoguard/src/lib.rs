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
//! - Feature `testing`: `testing::TestIssuer`, an in-process issuer minting real tokens, with
//!   fault injection and the attack catalogue.
//! - Feature `dev-issuer`: `dev::DevIssuer`, the development SSO behind `tasks-api --dev` and
//!   `ssoguard dev-issuer` (without the rest of `testing`).
//! - Feature `shared-redis`: `shared::SharedRedis`, revocations (back-channel logouts) and the
//!   DPoP replay store shared by every instance of a service through Redis, the request path
//!   still reading a local set.
//! - [`organization::Organizations`]: Better Auth's organization plugin — the caller's
//!   membership of an organization (from token claims, the session's active organization or the
//!   request's path), its roles and permissions (`task:create`), looked up read-only in Better
//!   Auth's database with feature `organization-database`; axum extractors
//!   [`organization::Member`] and [`axum::RequirePermission`].
//! - [`mcp::McpResource`]: an MCP server as an OAuth resource (RFC 9728 metadata, `aud` = the
//!   resource, per-tool scopes with `insufficient_scope` step-up); the axum layer
//!   [`mcp::McpAuthLayer`] guards an `rmcp` server.
//! - [`api_key::ApiKeyVerifier`]: Better Auth API keys (`x-api-key`), checked over HTTP or, with
//!   feature `api-key-database`, in Better Auth's database.
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
pub mod api_key;
mod batch;
mod bearer;
#[cfg(any(
    feature = "session-database",
    feature = "api-key-database",
    feature = "organization-database"
))]
mod better_auth_db;
mod builder;
pub mod challenge;
pub mod claims;
pub mod credential;
mod dangerous;
mod discovery;
pub mod dpop;
mod error;
mod explain;
mod fetch;
mod form;
mod introspection;
pub mod issuers;
mod jwk;
mod jwks;
mod jws;
pub mod logout;
pub mod m2m;
pub mod mcp;
mod metrics;
pub mod organization;
pub mod revocation;
pub mod session;
#[cfg(feature = "shared-redis")]
pub mod shared;
mod single_flight;
mod time;
mod token_cache;
mod ttl_map;
pub mod urls;
mod verify;

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "dev-issuer")]
pub mod dev;
#[cfg(feature = "testing")]
pub mod testing;
// The dev issuer runs on the test issuer's server; without `testing` that server is not public,
// and the parts only tests use are unused.
#[cfg(all(feature = "dev-issuer", not(feature = "testing")))]
#[allow(dead_code, unreachable_pub)]
mod testing;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use builder::VerifierBuilder;
pub use claims::{Audience, TokenClaims};
pub use discovery::{DiscoveryError, ProviderMetadata};
pub use error::{ConfigError, KeysUnavailable, VerifyError};
pub use explain::{Check, Explanation, KeyInfo, KeySetInfo, Outcome};
pub use fetch::{FetchError, fetch_document};
pub use introspection::IntrospectionConfig;
pub use issuers::{IssuerRouter, IssuerRouterBuilder};
pub use jwk::{JwksParseError, ParsedKeySet, SkippedKey, VerifyingKey};
pub use jwks::{JwksConfig, KeyStatus};
pub use jws::JwsHeader;
pub use metrics::{Metrics, MetricsSnapshot};
pub use token_cache::TokenCacheConfig;
pub use verify::Verifier;
