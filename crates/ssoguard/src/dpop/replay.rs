//! [`ReplayStore`]: where DPoP proof ids (`jti`) are remembered for as long as a proof could
//! still be accepted, so each proof is used once.

use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// The key a proof is remembered under: SHA-256 of its key thumbprint, method, normalised URL
/// and `jti`. Scoping the `jti` by key means a client cannot use up another client's ids.
pub type ReplayKey = [u8; 32];

/// Remembers DPoP proofs (by [`ReplayKey`]) until they expire.
///
/// [`MemoryReplayStore`] keeps them in this process (the default); a store shared by every
/// instance of a service (Redis `SET NX` with an expiry) implements the same trait.
pub trait ReplayStore: Send + Sync + fmt::Debug + 'static {
    /// Records `key` until `expires_at` (Unix seconds) when it is new: `Ok(true)`. `Ok(false)`
    /// when it was already recorded and has not expired (a replay). `Err` when the store
    /// cannot tell (full, unreachable): the request is then answered 503, never let in.
    fn check_and_insert(
        &self,
        key: ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> BoxFuture<'_, Result<bool, ReplayStoreUnavailable>>;
}

/// A [`ReplayStore`] could not record a proof: the request cannot be checked (503).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the DPoP replay store cannot record the proof")]
pub struct ReplayStoreUnavailable;

/// The in-process [`ReplayStore`]: sixteen mutex-guarded shards, bounded in total.
///
/// When a shard is full it first drops expired entries (at most once a second per shard); if it
/// is still full the proof is **refused with 503** rather than an old entry evicted: evicting a
/// live entry would let that proof be replayed. Size the capacity above the peak DPoP request
/// rate × twice the `iat` window. Default capacity: 262 144 proofs (about 20 MB at most).
pub struct MemoryReplayStore {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

#[derive(Default)]
struct Shard {
    map: HashMap<ReplayKey, i64>,
    last_sweep: i64,
}

const SHARDS: usize = 16;

impl MemoryReplayStore {
    /// The default capacity.
    pub const DEFAULT_CAPACITY: usize = 262_144;

    /// A store holding at most `capacity` live proofs (rounded up to a multiple of 16).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        MemoryReplayStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Proofs currently remembered (expired ones included until swept).
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.map.len()))
            .sum()
    }

    /// True when no proof is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(
        &self,
        key: ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, ReplayStoreUnavailable> {
        let shard = &self.shards[usize::from(key[0]) % SHARDS];
        let mut shard = shard.lock().map_err(|_| ReplayStoreUnavailable)?;
        if let Some(until) = shard.map.get(&key) {
            if *until > now {
                return Ok(false);
            }
        }
        if shard.map.len() >= self.per_shard && !shard.map.contains_key(&key) {
            if shard.last_sweep != now {
                shard.last_sweep = now;
                shard.map.retain(|_, until| *until > now);
            }
            if shard.map.len() >= self.per_shard {
                return Err(ReplayStoreUnavailable);
            }
        }
        shard.map.insert(key, expires_at);
        Ok(true)
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        MemoryReplayStore::new(Self::DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_insert(
        &self,
        key: ReplayKey,
        expires_at: i64,
        now: i64,
    ) -> BoxFuture<'_, Result<bool, ReplayStoreUnavailable>> {
        let result = self.insert(key, expires_at, now);
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u16) -> ReplayKey {
        let mut k = [0u8; 32];
        k[..2].copy_from_slice(&n.to_be_bytes());
        k
    }

    #[tokio::test]
    async fn a_key_is_new_once_until_it_expires() {
        let store = MemoryReplayStore::new(64);
        assert_eq!(store.check_and_insert(key(1), 160, 100).await, Ok(true));
        assert_eq!(store.check_and_insert(key(1), 160, 159).await, Ok(false));
        assert_eq!(store.check_and_insert(key(2), 160, 100).await, Ok(true));
        // Past its expiry the entry no longer counts (the proof's iat window refuses it anyway).
        assert_eq!(store.check_and_insert(key(1), 220, 160).await, Ok(true));
    }

    #[tokio::test]
    async fn a_full_store_refuses_rather_than_forgets() {
        // 16 shards of one entry; keys 0x0000 and 0x0001 land in shard 0.
        let store = MemoryReplayStore::new(16);
        assert_eq!(store.check_and_insert(key(0), 200, 100).await, Ok(true));
        assert_eq!(
            store.check_and_insert(key(1), 200, 100).await,
            Err(ReplayStoreUnavailable)
        );
        // The first is still remembered: nothing was evicted.
        assert_eq!(store.check_and_insert(key(0), 200, 101).await, Ok(false));
        // Once it expired, the sweep makes room.
        assert_eq!(store.check_and_insert(key(1), 300, 200).await, Ok(true));
        assert_eq!(store.len(), 1);
    }
}
