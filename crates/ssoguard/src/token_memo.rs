//! The per-connection token memo: the verified-token cache's front for a keep-alive connection.
//!
//! A browser (or any client holding one session) sends the same token on every request of a
//! keep-alive connection. The verified-token cache finds it by the SHA-256 of the whole token,
//! which for a typical 800-byte RS256 id_token is 0.3–0.6 µs of a ~10 µs request
//! (docs/BENCHMARKS.md §9). A [`TokenMemo`] remembers, for one connection, the last token that
//! verified and its claims; a request carrying the byte-identical token is answered from it
//! without hashing.
//!
//! Rules, the same as the cache's:
//!
//! - Only a successful verification (or cache hit) is remembered, and only while the token cache
//!   is on ([`crate::TokenCacheConfig::enabled`]).
//! - A hit needs the **whole token, byte for byte** (compared in constant time: behind a proxy
//!   that reuses one upstream connection for several users, the memo may hold another user's
//!   token), the same [`Verifier`](crate::Verifier), and the **same key set** the entry was
//!   checked against: any JWKS refresh or rotation makes the next request take the cache path,
//!   which re-checks that the key is still held.
//! - An entry lives no longer than its cache entry: until min(token `exp`, the cache TTL);
//!   `exp`/`nbf` are rechecked by the verifier on every hit.
//! - One entry per connection (at most [`VerifierBuilder::max_token_bytes`](crate::VerifierBuilder::max_token_bytes)
//!   of token plus a reference to the claims), dropped with the connection.
//!
//! The memo is found through a tokio task-local set by [`TokenMemo::scope`]; a verification
//! outside any scope (or in a task spawned from the request) simply does not use it. With axum,
//! [`crate::axum::TokenMemoPerConnection`] gives every connection its own memo.

use crate::claims::TokenClaims;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    static CURRENT: TokenMemo;
}

/// One connection's memo of its last verified token (see the [module docs](self)).
///
/// Cloning shares the memo. `Debug` shows whether it holds an entry, never the token.
///
/// ```
/// use ssoguard::token_memo::TokenMemo;
///
/// # async fn handle_request() {}
/// # async fn example() {
/// let memo = TokenMemo::new(); // one per connection
/// // every request of that connection:
/// memo.scope(handle_request()).await;
/// # }
/// ```
#[derive(Clone, Default)]
pub struct TokenMemo {
    slot: Arc<Mutex<Option<Entry>>>,
}

struct Entry {
    verifier: u64,
    token: Vec<u8>,
    claims: Arc<TokenClaims>,
    generation: u64,
    expires_at: Instant,
}

impl fmt::Debug for TokenMemo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.slot.lock().map(|slot| slot.is_some()).unwrap_or(false);
        f.debug_struct("TokenMemo")
            .field("holds_entry", &held)
            .finish()
    }
}

impl TokenMemo {
    /// An empty memo.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `fut` with this memo as the current one: verifications inside it look here first
    /// and remember what verified.
    pub fn scope<F: Future>(&self, fut: F) -> TaskLocalFuture<TokenMemo, F> {
        CURRENT.scope(self.clone(), fut)
    }
}

/// The remembered claims if the current memo holds `token` for `verifier`, checked against key
/// set `generation`, and its entry is still live at `now`.
pub(crate) fn lookup(
    verifier: u64,
    token: &str,
    generation: u64,
    now: Instant,
) -> Option<Arc<TokenClaims>> {
    CURRENT
        .try_with(|memo| {
            let slot = memo.slot.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = slot.as_ref()?;
            (entry.verifier == verifier
                && entry.generation == generation
                && now < entry.expires_at
                && same_bytes(&entry.token, token.as_bytes()))
            .then(|| entry.claims.clone())
        })
        .ok()
        .flatten()
}

/// Remembers a successful verification in the current memo, if there is one.
pub(crate) fn store(
    verifier: u64,
    token: &str,
    claims: &Arc<TokenClaims>,
    generation: u64,
    expires_at: Instant,
) {
    let _ = CURRENT.try_with(|memo| {
        let mut slot = memo.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_mut() {
            // Reuse the buffer: a connection's tokens are usually the same size.
            Some(entry) => {
                entry.token.clear();
                entry.token.extend_from_slice(token.as_bytes());
                entry.verifier = verifier;
                entry.claims = claims.clone();
                entry.generation = generation;
                entry.expires_at = expires_at;
            }
            None => {
                *slot = Some(Entry {
                    verifier,
                    token: token.as_bytes().to_vec(),
                    claims: claims.clone(),
                    generation,
                    expires_at,
                });
            }
        }
    });
}

/// Equality of two byte strings in time that depends only on their lengths: every word is
/// compared, the differences OR-ed together (the compiler vectorises it; ~40 cycles for 800
/// bytes, against ~0.6 µs for the SHA-256 it replaces).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = a_words
        .remainder()
        .iter()
        .zip(b_words.remainder())
        .fold(0u64, |acc, (x, y)| acc | u64::from(x ^ y));
    let diff = a_words
        .zip(b_words)
        .fold(tail, |acc, (x, y)| acc | (word(x) ^ word(y)));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn claims(sub: &str) -> Arc<TokenClaims> {
        let json = format!(r#"{{"iss":"i","sub":"{sub}","aud":"a","exp":4000000000}}"#);
        Arc::new(TokenClaims::from_json_slice(json.as_bytes()).expect("claims"))
    }

    #[test]
    fn same_bytes_compares_every_byte() {
        let a: Vec<u8> = (0..=255u8).cycle().take(803).collect();
        assert!(same_bytes(&a, &a.clone()));
        for i in [0, 7, 8, 400, 799, 800, 802] {
            let mut b = a.clone();
            b[i] ^= 0x20;
            assert!(!same_bytes(&a, &b), "difference at byte {i} missed");
        }
        assert!(!same_bytes(&a, &a[..802]));
        assert!(same_bytes(b"", b""));
        assert!(!same_bytes(b"abc", b"abd"));
    }

    #[tokio::test]
    async fn no_scope_means_no_memo() {
        let later = Instant::now() + Duration::from_secs(60);
        store(1, "tok", &claims("u"), 1, later);
        assert!(lookup(1, "tok", 1, Instant::now()).is_none());
    }

    #[tokio::test]
    async fn hit_needs_same_token_verifier_key_set_and_a_live_entry() {
        let memo = TokenMemo::new();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        memo.scope(async {
            assert!(lookup(1, "tok-a", 7, now).is_none(), "empty memo");
            store(1, "tok-a", &claims("alice"), 7, later);
            let hit = lookup(1, "tok-a", 7, now).expect("same token, verifier, key set");
            assert_eq!(hit.sub, "alice");
            assert!(lookup(1, "tok-b", 7, now).is_none(), "other token");
            assert!(lookup(1, "tok-", 7, now).is_none(), "prefix");
            assert!(lookup(2, "tok-a", 7, now).is_none(), "other verifier");
            assert!(lookup(1, "tok-a", 8, now).is_none(), "key set changed");
            assert!(lookup(1, "tok-a", 7, later).is_none(), "entry expired");
            // A new token replaces the old one.
            store(1, "tok-b", &claims("bob"), 7, later);
            assert!(lookup(1, "tok-a", 7, now).is_none());
            assert_eq!(lookup(1, "tok-b", 7, now).expect("bob").sub, "bob");
        })
        .await;
        assert!(format!("{memo:?}").contains("holds_entry: true"));
        assert!(!format!("{memo:?}").contains("tok-b"));
        // Another connection's memo is its own.
        TokenMemo::new()
            .scope(async { assert!(lookup(1, "tok-b", 7, now).is_none()) })
            .await;
    }
}
