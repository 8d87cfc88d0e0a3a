//! The verified-token cache: a browser sends the same id_token for hours; check its signature once.
//!
//! Keyed by the SHA-256 of the whole token, so only byte-identical tokens hit. An entry lives
//! until min(token `exp`, [`TokenCacheConfig::ttl`]); `exp`/`nbf` are rechecked on every hit by
//! the verifier; an entry whose key is no longer in the current key set is dropped on its next
//! hit and all such entries are purged when a new key set is installed. Only successful
//! verifications are stored. Bounded by [`TokenCacheConfig::max_entries`]; sixteen shards keep
//! lock hold times to a hash-map operation.

use crate::claims::TokenClaims;
use crate::jwk::VerifyingKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Settings of the verified-token cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheConfig {
    /// Cache successful verifications. Default: `true`.
    pub enabled: bool,
    /// Most entries kept. Default: 10,000 (about 10 MB for typical 1 KB claim sets).
    pub max_entries: usize,
    /// Longest an entry lives, whatever the token's `exp`. Default: 5 min. A token revoked at the
    /// SSO stays accepted by signature alone anyway; this bounds memory, not revocation.
    pub ttl: Duration,
}

impl Default for TokenCacheConfig {
    fn default() -> Self {
        TokenCacheConfig {
            enabled: true,
            max_entries: 10_000,
            ttl: Duration::from_secs(300),
        }
    }
}

const SHARDS: usize = 16;

pub(crate) type TokenHash = [u8; 32];

#[derive(Debug)]
struct CachedToken {
    claims: Arc<TokenClaims>,
    kid: Option<String>,
    key: Arc<VerifyingKey>,
    generation: u64,
    expires_at: Instant,
}

#[derive(Debug)]
struct Shard {
    map: HashMap<TokenHash, CachedToken>,
    /// Expired entries are swept at most once per second per shard, so an insert into a full
    /// shard is O(1) in the common case (measured: a sweep on every insert cost ~1.3 µs/request
    /// under a distinct-token flood).
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
                        last_sweep: Instant::now(),
                    })
                })
                .collect(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.cfg.enabled && self.cfg.max_entries > 0
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

    /// The cached claims for `hash` while the entry is live and `still_held(generation, kid,
    /// key)` accepts the key it was verified with; a dead or orphaned entry is removed. Nothing
    /// but the claims' reference count is cloned on a hit.
    pub(crate) fn get(
        &self,
        hash: &TokenHash,
        still_held: impl FnOnce(u64, Option<&str>, &Arc<VerifyingKey>) -> bool,
    ) -> Option<Arc<TokenClaims>> {
        let mut shard = self.shard(hash).lock().ok()?;
        let entry = shard.map.get(hash)?;
        if Instant::now() < entry.expires_at
            && still_held(entry.generation, entry.kid.as_deref(), &entry.key)
        {
            return Some(entry.claims.clone());
        }
        shard.map.remove(hash);
        None
    }

    pub(crate) fn insert(
        &self,
        hash: TokenHash,
        claims: Arc<TokenClaims>,
        kid: Option<String>,
        key: Arc<VerifyingKey>,
        generation: u64,
        seconds_to_exp: i64,
    ) {
        if !self.enabled() || seconds_to_exp <= 0 {
            return;
        }
        let lifetime = self.cfg.ttl.min(Duration::from_secs(
            u64::try_from(seconds_to_exp).unwrap_or(0),
        ));
        let now = Instant::now();
        let per_shard = self.cfg.max_entries.div_ceil(SHARDS).max(1);
        let Ok(mut shard) = self.shard(&hash).lock() else {
            return;
        };
        if shard.map.len() >= per_shard {
            if now.duration_since(shard.last_sweep) >= Duration::from_secs(1) {
                shard.map.retain(|_, e| e.expires_at > now);
                shard.last_sweep = now;
            }
            if shard.map.len() >= per_shard {
                // Still full of live entries: evict one arbitrary entry (cheap, bounded).
                if let Some(victim) = shard.map.keys().next().copied() {
                    shard.map.remove(&victim);
                }
            }
        }
        shard.map.insert(
            hash,
            CachedToken {
                claims,
                kid,
                key,
                generation,
                expires_at: now + lifetime,
            },
        );
    }

    /// Drops entries whose key is not in the new set.
    pub(crate) fn retain_keys(&self, keep: impl Fn(Option<&str>, &Arc<VerifyingKey>) -> bool) {
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                shard.map.retain(|_, e| keep(e.kid.as_deref(), &e.key));
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.map.len()).unwrap_or(0))
            .sum()
    }
}
