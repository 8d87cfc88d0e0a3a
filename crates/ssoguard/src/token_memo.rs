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
//! - Only what the cache stored (an entry too large for the cache is not remembered either).
//! - One entry per connection: the token (at most
//!   [`VerifierBuilder::max_token_bytes`](crate::VerifierBuilder::max_token_bytes), 8 KiB by
//!   default) and a reference to its claims, which it keeps alive after the cache drops them
//!   (~1 KiB plus twice the decoded payload). This is outside
//!   [`TokenCacheConfig::max_bytes`](crate::TokenCacheConfig::max_bytes) and grows with the number
//!   of open connections; it is freed with the connection, and an entry found expired or of a
//!   replaced key set is dropped at the next lookup.
//!
//! With the `axum` feature an entry also keeps the JSON that
//! [`CurrentUser`](crate::axum::CurrentUser)'s `IntoResponse` made from its claims, so a repeat
//! request of the connection answers `/api/me`-style routes without serializing again (the
//! rendering is reused only for a user whose fields are exactly what the claims give, and only
//! for the very claims it was made from). It is typically ~200 bytes; since `role` appears both
//! as sent and split into `roles`, it can reach about 2.5 × the token's size for a token made of
//! little but a long role list. It is dropped with the entry.
//!
//! The memo is found through a tokio task-local set by [`TokenMemo::scope`]; a verification
//! outside any scope (or in a task spawned from the request) simply does not use it. Over HTTP/2
//! the streams of one connection share its memo (behind a mutex). With axum,
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
    /// The `CurrentUser` JSON made from `claims` (see [`user_json`]).
    #[cfg(feature = "axum")]
    user_json: Option<axum::body::Bytes>,
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

/// The remembered claims if the current memo holds `token` for `verifier`, checked against the
/// key set of generation `installed` (the one installed now), and its entry is still live at
/// `now`. An entry of this verifier that has expired or whose key set was replaced is dropped.
pub(crate) fn lookup(
    verifier: u64,
    token: &str,
    installed: u64,
    now: Instant,
) -> Option<Arc<TokenClaims>> {
    CURRENT
        .try_with(|memo| {
            let mut slot = memo.slot.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = slot.as_ref()?;
            if entry.verifier != verifier {
                return None;
            }
            if entry.generation != installed || now >= entry.expires_at {
                *slot = None;
                return None;
            }
            same_bytes(&entry.token, token.as_bytes()).then(|| entry.claims.clone())
        })
        .ok()
        .flatten()
}

/// Remembers a successful verification in the current memo, if there is one. The entry is
/// replaced as a whole, rendering included (reusing the old token's buffer: a connection's
/// tokens are usually the same size).
pub(crate) fn store(
    verifier: u64,
    token: &str,
    claims: &Arc<TokenClaims>,
    generation: u64,
    expires_at: Instant,
) {
    let _ = CURRENT.try_with(|memo| {
        let mut slot = memo.slot.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buffer = slot.take().map(|old| old.token).unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(token.as_bytes());
        *slot = Some(Entry {
            verifier,
            token: buffer,
            claims: claims.clone(),
            generation,
            expires_at,
            #[cfg(feature = "axum")]
            user_json: None,
        });
    });
}

/// The `CurrentUser` JSON the current memo's entry holds for `claims`: only when the entry's
/// claims are this very allocation (`Arc::ptr_eq`; the entry keeps them alive, so they cannot
/// have been changed since) and a rendering was stored with [`store_user_json`].
#[cfg(feature = "axum")]
pub(crate) fn user_json(claims: &Arc<TokenClaims>) -> Option<axum::body::Bytes> {
    CURRENT
        .try_with(|memo| {
            let slot = memo.slot.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = slot.as_ref()?;
            if Arc::ptr_eq(&entry.claims, claims) {
                entry.user_json.clone()
            } else {
                None
            }
        })
        .ok()
        .flatten()
}

/// Keeps `json`, the `CurrentUser` JSON made from `claims`, in the current memo's entry if that
/// entry holds these very claims (otherwise nothing is kept).
#[cfg(feature = "axum")]
pub(crate) fn store_user_json(claims: &Arc<TokenClaims>, json: &axum::body::Bytes) {
    let _ = CURRENT.try_with(|memo| {
        let mut slot = memo.slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = slot.as_mut().filter(|e| Arc::ptr_eq(&e.claims, claims)) {
            entry.user_json = Some(json.clone());
        }
    });
}

/// Equality of two byte strings in time that depends only on their lengths (a length mismatch
/// returns at once; lengths are not secret here): every word is compared and the differences
/// OR-ed together, with no branch on their value (the compiler vectorises the reduction: tens of
/// cycles for 800 bytes, against 0.3–0.6 µs for the SHA-256 it replaces; `CRYPTO_memcmp` goes
/// byte by byte, ~800 cycles). `black_box` keeps the result from being folded into an early
/// exit.
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
            assert!(
                lookup(1, "tok-a", 7, now).is_some(),
                "misses keep the entry"
            );
            assert!(lookup(1, "tok-a", 8, now).is_none(), "key set changed");
            assert!(
                lookup(1, "tok-a", 7, now).is_none(),
                "and the entry is gone"
            );
            store(1, "tok-a", &claims("alice"), 7, later);
            assert!(lookup(1, "tok-a", 7, later).is_none(), "entry expired");
            assert!(
                lookup(1, "tok-a", 7, now).is_none(),
                "and the entry is gone"
            );
            // A new token replaces the old one.
            store(1, "tok-a", &claims("alice"), 7, later);
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

    #[cfg(feature = "axum")]
    #[tokio::test]
    async fn user_json_belongs_to_the_very_claims_of_the_entry() {
        let memo = TokenMemo::new();
        let later = Instant::now() + Duration::from_secs(60);
        let json = axum::body::Bytes::from_static(b"{\"id\":\"alice\"}");
        let alice = claims("alice");
        let alice_again = claims("alice"); // equal, but another allocation
        memo.scope(async {
            store_user_json(&alice, &json);
            assert!(user_json(&alice).is_none(), "no entry: nothing kept");
            store(1, "tok-a", &alice, 7, later);
            assert!(user_json(&alice).is_none(), "none stored yet");
            store_user_json(&alice_again, &json);
            assert!(user_json(&alice).is_none(), "other claims: not kept");
            store_user_json(&alice, &json);
            assert_eq!(user_json(&alice).as_deref(), Some(&json[..]));
            assert!(
                user_json(&alice_again).is_none(),
                "only for the same claims"
            );
            // A new entry starts without one.
            store(1, "tok-a", &alice, 7, later);
            assert!(user_json(&alice).is_none());
        })
        .await;
        assert!(user_json(&alice).is_none(), "no scope: no memo");
    }
}
