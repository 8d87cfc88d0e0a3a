//! State shared by every instance of a service through Redis (feature `shared-redis`).
//!
//! Several copies of one API behind a load balancer must agree on two things:
//!
//! - **DPoP replay** ([`RedisReplayStore`]): a proof seen by one instance is a replay at every
//!   other. One `SET key 1 NX PX <ms>` per proof; when Redis cannot answer (down, slow, an
//!   unexpected reply) the proof cannot be checked and the request is refused with 503, never
//!   let in.
//! - **Revocations** ([`RedisRevocations`]): a back-channel logout received by any instance is
//!   written to Redis (one key per session or subject, expiring when the longest token it covers
//!   expires) and published on a channel. Every instance subscribes and applies what it hears to
//!   its **local** in-memory set, which is all the request path reads: no Redis round trip per
//!   request. On start and after every reconnect an instance loads the current set (`SCAN`).
//!   A revocation an instance knows is never forgotten when Redis fails; one received while
//!   Redis is down is applied locally at once and written and published when Redis is back.
//!
//! - **Introspection** ([`RedisIntrospection`], through
//!   [`IntrospectionConfig::shared`](crate::IntrospectionConfig::shared)): an opaque token's
//!   active answer obtained by one instance is reused by the others until it expires, one call
//!   per token at a time across the cluster, and one introspection budget (calls per second,
//!   calls at once) for all instances. When Redis cannot answer, each instance falls back to
//!   its own cache and its own per-process budget.
//! - **Session lookups** (through
//!   [`SessionVerifierBuilder::shared`](crate::session::SessionVerifierBuilder::shared)): a
//!   live Better Auth session looked up by one instance is reused by the others until it
//!   expires (or the cache TTL ends).
//!
//! All come from one [`SharedRedis`] (the URL, the per-call timeout, the key prefix):
//!
//! ```no_run
//! # fn run() -> Result<(), ssoguard::ConfigError> {
//! use ssoguard::dpop::DpopConfig;
//! use ssoguard::shared::SharedRedis;
//!
//! // Inside a Tokio runtime (the revocation subscriber runs as a task).
//! let shared = SharedRedis::new("redis://127.0.0.1:6379")?;
//! let verifier = ssoguard::Verifier::builder()
//!     .authority("https://sso.example.com")
//!     .audience("api")
//!     .dpop(DpopConfig::default().replay_store(shared.replay_store()))
//!     .revocations(shared.revocations())
//!     .build()?;
//! # let _ = verifier; Ok(()) }
//! ```
//!
//! `redis://` and `rediss://` (TLS, the system's roots) URLs are accepted; the password in a
//! URL is never logged.

mod answers;
mod client;
mod introspection;
mod replay;
mod revocations;

pub(crate) use answers::SharedAnswers;
pub use client::SharedRedis;
pub use introspection::RedisIntrospection;
pub use replay::RedisReplayStore;
pub use revocations::{RedisRevocations, SharedHealth};
