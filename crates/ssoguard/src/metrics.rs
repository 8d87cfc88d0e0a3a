//! Counters a service can export: JWKS fetches, session lookups and verifications by outcome.
//!
//! Plain atomics, updated with relaxed ordering: reading them never slows the hot path.

use crate::error::VerifyError;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one verifier (shared by its clones).
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) discovery_fetches: AtomicU64,
    pub(crate) jwks_fetches: AtomicU64,
    pub(crate) jwks_fetch_failures: AtomicU64,
    pub(crate) verified: AtomicU64,
    pub(crate) cache_hits: AtomicU64,
    pub(crate) ed25519_batched: AtomicU64,
    pub(crate) session_lookups: AtomicU64,
    pub(crate) session_cache_hits: AtomicU64,
    pub(crate) session_cookie_cache_hits: AtomicU64,
    pub(crate) failures: [AtomicU64; VerifyError::KINDS.len()],
}

/// A point-in-time copy of [`Metrics`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Discovery documents fetched (successfully or not).
    pub discovery_fetches: u64,
    /// JWKS fetches started.
    pub jwks_fetches: u64,
    /// JWKS fetches (or the discovery before them) that failed.
    pub jwks_fetch_failures: u64,
    /// Tokens verified successfully (including token-cache hits).
    pub verified: u64,
    /// Successful verifications answered from the verified-token cache.
    pub cache_hits: u64,
    /// EdDSA signatures confirmed by a batch check (see
    /// [`VerifierBuilder::signature_batching`](crate::VerifierBuilder::signature_batching)).
    pub ed25519_batched: u64,
    /// Session lookups made (Better Auth's `get-session`, its database or its secondary
    /// storage): one per token per cache TTL, whatever the number of requests.
    pub session_lookups: u64,
    /// Session cookies answered from the session cache, without a lookup.
    pub session_cache_hits: u64,
    /// Session cookies answered from Better Auth's signed `session_data` cookie (the cookie
    /// cache), without a lookup.
    pub session_cookie_cache_hits: u64,
    /// Failed verifications by [`VerifyError::kind`], only kinds seen at least once.
    pub failures: Vec<(&'static str, u64)>,
}

impl Metrics {
    pub(crate) fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_failure(&self, err: &VerifyError) {
        Self::incr(&self.failures[err.kind_index()]);
    }

    /// Copies the counters.
    #[must_use]
    pub fn snapshot(&self) -> MetricsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            discovery_fetches: load(&self.discovery_fetches),
            jwks_fetches: load(&self.jwks_fetches),
            jwks_fetch_failures: load(&self.jwks_fetch_failures),
            verified: load(&self.verified),
            cache_hits: load(&self.cache_hits),
            ed25519_batched: load(&self.ed25519_batched),
            session_lookups: load(&self.session_lookups),
            session_cache_hits: load(&self.session_cache_hits),
            session_cookie_cache_hits: load(&self.session_cookie_cache_hits),
            failures: VerifyError::KINDS
                .iter()
                .zip(self.failures.iter())
                .map(|(k, c)| (*k, load(c)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }
}
