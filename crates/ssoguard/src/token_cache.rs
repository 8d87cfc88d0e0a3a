//! The verified-token cache: a browser sends the same id_token for hours; check its signature once.
//!
//! Keyed by the SHA-256 of the whole token, so only byte-identical tokens hit. An entry lives
//! until min(token `exp`, [`TokenCacheConfig::ttl`]); `exp`/`nbf` are rechecked on every hit by
//! the verifier; an entry whose key is no longer in the current key set is dropped on its next
//! hit and all such entries are purged when a new key set is installed. Only successful
//! verifications are stored. Bounded in entries ([`TokenCacheConfig::max_entries`]) and in
//! memory ([`TokenCacheConfig::max_bytes`], an estimate per entry from the size of its claims);
//! sixteen shards keep lock hold times to a hash-map operation, each holding a sixteenth of
//! either bound.

use crate::claims::TokenClaims;
use crate::jwk::VerifyingKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Settings of the verified-token cache.
///
/// # Example
///
/// ```
/// use ssoguard::{TokenCacheConfig, Verifier};
/// use std::time::Duration;
///
/// let verifier = Verifier::builder()
///     .authority("http://localhost:3001")
///     .audience("rust-backend")
///     .token_cache(TokenCacheConfig::default().max_entries(1000).ttl(Duration::from_secs(60)))
///     .build()?;
/// # let _ = verifier;
/// # Ok::<(), ssoguard::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenCacheConfig {
    /// Cache successful verifications. Default: `true`.
    pub enabled: bool,
    /// Most entries kept. Default: 10,000 (the memory per typical entry is in
    /// docs/benchmarks-log.md, `examples/scale.rs`).
    pub max_entries: usize,
    /// Most memory kept, estimated per entry as [`Self::ENTRY_OVERHEAD_BYTES`] plus twice the decoded
    /// payload (the claim strings and their map); an entry larger than a sixteenth of this is not
    /// cached. Default: 32 MiB, so typical tokens meet `max_entries` first and only large claim
    /// sets (e.g. 8 KiB tokens, ~17 KB each) are held to the byte bound.
    pub max_bytes: usize,
    /// Longest an entry lives, whatever the token's `exp`. Default: 5 min. A token revoked at the
    /// SSO stays accepted by signature alone anyway; this bounds memory, not revocation.
    pub ttl: Duration,
}

impl TokenCacheConfig {
    /// The part of an entry's memory estimate that does not depend on its claims: the map slot,
    /// the `TokenClaims` struct, reference counts and allocator rounding (calibrated against the
    /// memory `examples/scale.rs` measures per entry of a typical token; it errs high).
    pub const ENTRY_OVERHEAD_BYTES: usize = 1024;

    /// Sets [`TokenCacheConfig::enabled`] (default `true`): `false` checks every token's
    /// signature.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sets [`TokenCacheConfig::max_entries`] (default 10,000).
    #[must_use]
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// Sets [`TokenCacheConfig::max_bytes`] (default 32 MiB, estimated).
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets [`TokenCacheConfig::ttl`] (default 5 min).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
}

impl Default for TokenCacheConfig {
    fn default() -> Self {
        TokenCacheConfig {
            enabled: true,
            max_entries: 10_000,
            max_bytes: 32 << 20,
            ttl: Duration::from_secs(300),
        }
    }
}

const SHARDS: usize = 16;

/// A successful verification, as the verifier hands it to the cache.
pub(crate) struct Verified {
    pub(crate) claims: Arc<TokenClaims>,
    pub(crate) kid: Option<String>,
    pub(crate) key: Arc<VerifyingKey>,
    pub(crate) generation: u64,
    pub(crate) seconds_to_exp: i64,
    /// Length of the decoded payload (the claims' JSON).
    pub(crate) payload_bytes: usize,
}

pub(crate) type TokenHash = [u8; 32];

#[derive(Debug)]
struct CachedToken {
    claims: Arc<TokenClaims>,
    kid: Option<String>,
    key: Arc<VerifyingKey>,
    generation: u64,
    expires_at: Instant,
    /// Estimated memory, counted in the shard's `bytes`.
    bytes: usize,
}

#[derive(Debug)]
struct Shard {
    map: HashMap<TokenHash, CachedToken>,
    /// Sum of the entries' `bytes`.
    bytes: usize,
    /// Expired entries are swept at most once per second per shard, so an insert into a full
    /// shard is O(1) in the common case (a sweep on every insert made a distinct-token flood
    /// pay a full shard scan per request).
    last_sweep: Instant,
}

#[derive(Debug)]
pub(crate) struct TokenCache {
    cfg: TokenCacheConfig,
    shards: Vec<Mutex<Shard>>,
}

impl TokenCache {
    pub(crate) fn new(cfg: TokenCacheConfig) -> Self {
        TokenCache {
            cfg,
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::new(),
                        bytes: 0,
                        last_sweep: Instant::now(),
                    })
                })
                .collect(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.cfg.enabled && self.cfg.max_entries > 0 && self.cfg.max_bytes > 0
    }

    pub(crate) fn hash(token: &str) -> TokenHash {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }

    fn shard(&self, hash: &TokenHash) -> &Mutex<Shard> {
        &self.shards[usize::from(hash[0]) % SHARDS]
    }

    /// The cached claims for `hash`, while the entry is live at
    /// `now` and `still_held(generation, kid, key)` accepts the key it was verified with; a dead
    /// or orphaned entry is removed. Nothing but the claims' reference count is cloned on a hit.
    pub(crate) fn get(
        &self,
        hash: &TokenHash,
        now: Instant,
        still_held: impl FnOnce(u64, Option<&str>, &Arc<VerifyingKey>) -> bool,
    ) -> Option<Arc<TokenClaims>> {
        let mut shard = self.shard(hash).lock().ok()?;
        let entry = shard.map.get(hash)?;
        if now < entry.expires_at && still_held(entry.generation, entry.kid.as_deref(), &entry.key)
        {
            return Some(entry.claims.clone());
        }
        shard.remove(hash);
        None
    }

    /// Stores a successful verification until min(`exp`, the TTL), unless the cache is off, the
    /// token about to expire or the entry too large.
    pub(crate) fn insert(&self, hash: TokenHash, verified: Verified) {
        if !self.enabled() || verified.seconds_to_exp <= 0 {
            return;
        }
        let bytes = TokenCacheConfig::ENTRY_OVERHEAD_BYTES
            .saturating_add(verified.payload_bytes.saturating_mul(2));
        let per_shard = self.cfg.max_entries.div_ceil(SHARDS).max(1);
        let per_shard_bytes = self.cfg.max_bytes / SHARDS;
        if bytes > per_shard_bytes {
            return;
        }
        let now = Instant::now();
        let to_exp = Duration::from_secs(u64::try_from(verified.seconds_to_exp).unwrap_or(0));
        let expires_at = now + self.cfg.ttl.min(to_exp);
        let Ok(mut shard) = self.shard(&hash).lock() else {
            return;
        };
        shard.remove(&hash);
        let full = |s: &Shard| s.map.len() >= per_shard || s.bytes + bytes > per_shard_bytes;
        if full(&shard) && now.duration_since(shard.last_sweep) >= Duration::from_secs(1) {
            shard.retain(|e| e.expires_at > now);
            shard.last_sweep = now;
        }
        // Still full of live entries: evict arbitrary entries until this one fits (one, for
        // equal-sized entries; terminates since `bytes` fits an empty shard).
        while full(&shard) {
            let Some(victim) = shard.map.keys().next().copied() else {
                break;
            };
            shard.remove(&victim);
        }
        shard.bytes += bytes;
        shard.map.insert(
            hash,
            CachedToken {
                claims: verified.claims,
                kid: verified.kid,
                key: verified.key,
                generation: verified.generation,
                expires_at,
                bytes,
            },
        );
    }

    /// Drops entries whose key is not in the new set.
    pub(crate) fn retain_keys(&self, keep: impl Fn(Option<&str>, &Arc<VerifyingKey>) -> bool) {
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                shard.retain(|e| keep(e.kid.as_deref(), &e.key));
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.sum(|s| s.map.len())
    }

    /// Estimated memory held (the sum [`TokenCacheConfig::max_bytes`] bounds).
    pub(crate) fn bytes(&self) -> usize {
        self.sum(|s| s.bytes)
    }

    fn sum(&self, of: impl Fn(&Shard) -> usize) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| of(&s)).unwrap_or(0))
            .sum()
    }
}

impl Shard {
    fn remove(&mut self, hash: &TokenHash) {
        if let Some(old) = self.map.remove(hash) {
            self.bytes -= old.bytes;
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&CachedToken) -> bool) {
        let mut dropped = 0;
        self.map.retain(|_, e| {
            let kept = keep(e);
            if !kept {
                dropped += e.bytes;
            }
            kept
        });
        self.bytes -= dropped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithm::Algorithm;
    use crate::jwk::parse_jwks;

    fn key() -> Arc<VerifyingKey> {
        let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        let set = parse_jwks(jwks.as_bytes(), &[Algorithm::EdDSA], 10).unwrap();
        set.keys.into_iter().next().unwrap()
    }

    /// A verification whose decoded payload is `payload_bytes` long.
    fn verified(key: &Arc<VerifyingKey>, payload_bytes: usize) -> Verified {
        let claims = TokenClaims::from_json_slice(
            br#"{"iss":"https://sso","sub":"u","aud":"a","exp":4102444800}"#,
        )
        .unwrap();
        Verified {
            claims: Arc::new(claims),
            kid: Some("k".into()),
            key: Arc::clone(key),
            generation: 1,
            seconds_to_exp: 3600,
            payload_bytes,
        }
    }

    fn hash(i: usize) -> TokenHash {
        TokenCache::hash(&format!("token-{i}"))
    }

    fn cache(max_entries: usize, max_bytes: usize) -> TokenCache {
        TokenCache::new(TokenCacheConfig {
            max_entries,
            max_bytes,
            ..TokenCacheConfig::default()
        })
    }

    #[test]
    fn the_byte_bound_holds_when_entries_are_large() {
        let key = key();
        // 16 shards × 64 KiB; each entry is 1 KiB + 2 × 8 KiB = 17 KiB: 3 fit per shard.
        let cache = cache(10_000, 1 << 20);
        for i in 0..1000 {
            cache.insert(hash(i), verified(&key, 8 * 1024));
            assert!(
                cache.bytes() <= 1 << 20,
                "{} bytes after {i}",
                cache.bytes()
            );
        }
        assert!(cache.len() <= 16 * 3, "{}", cache.len());
        assert!(cache.len() >= 16, "every shard keeps some: {}", cache.len());
        assert_eq!(cache.bytes(), cache.len() * (1024 + 16 * 1024));
    }

    #[test]
    fn the_entry_bound_holds_when_entries_are_small() {
        let key = key();
        let cache = cache(160, 32 << 20);
        for i in 0..5000 {
            cache.insert(hash(i), verified(&key, 250));
        }
        assert!(cache.len() <= 160, "{}", cache.len());
        assert_eq!(cache.bytes(), cache.len() * (1024 + 500));
    }

    #[test]
    fn an_entry_larger_than_a_shard_budget_is_not_cached() {
        let key = key();
        let cache = cache(10_000, 16 * 4096);
        cache.insert(hash(1), verified(&key, 4096));
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
        cache.insert(hash(2), verified(&key, 1000));
        assert_eq!((cache.len(), cache.bytes()), (1, 1024 + 2000));
    }

    #[test]
    fn reinserting_removing_and_purging_keep_the_count_exact() {
        let key = key();
        let cache = cache(10_000, 32 << 20);
        cache.insert(hash(1), verified(&key, 100));
        cache.insert(hash(1), verified(&key, 300));
        assert_eq!((cache.len(), cache.bytes()), (1, 1024 + 600));
        cache.insert(hash(2), verified(&key, 100));
        // An entry whose key is no longer held is removed on its next hit.
        assert!(
            cache
                .get(&hash(2), Instant::now(), |_, _, _| false)
                .is_none()
        );
        assert_eq!((cache.len(), cache.bytes()), (1, 1024 + 600));
        assert!(
            cache
                .get(&hash(1), Instant::now(), |_, _, _| true)
                .is_some()
        );
        cache.retain_keys(|_, _| false);
        assert_eq!((cache.len(), cache.bytes()), (0, 0));
    }
}
