//! [`Revocations`]: sessions and subjects signed out at the SSO (back-channel logout), whose
//! tokens are refused until they would have expired.
//!
//! Two kinds of entry, from a validated logout token ([`crate::logout`]):
//! - a **session** (`sid`): every token carrying that `sid` is refused;
//! - a **subject** (`sub`, when the logout token has no `sid`): that subject's tokens issued
//!   (`iat`) before the logout token's `iat` are refused; a token without `iat` counts as issued
//!   before.
//!
//! An entry is kept until the longest-lived token it could cover has expired: the logout's
//! `iat` plus the configured maximum token lifetime (plus the verifier's leeway). The verifier
//! asks on every request, cached verifications included, after the signature. With nothing
//! revoked that is one atomic load; otherwise a read lock and a hash lookup or two.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// One revocation, from a validated logout token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Revocation {
    /// The signed-out session (`sid`), if the logout token named one.
    pub sid: Option<String>,
    /// The subject (`sub`), if the logout token named one.
    pub sub: Option<String>,
    /// The logout token's `iat`: a subject's tokens issued before it are refused.
    pub issued_at: i64,
}

impl Revocation {
    /// A revocation of session `sid` and/or subject `sub`, at `issued_at` (Unix seconds). At
    /// least one of the two must be given for it to revoke anything.
    #[must_use]
    pub fn new(sid: Option<String>, sub: Option<String>, issued_at: i64) -> Self {
        Revocation {
            sid,
            sub,
            issued_at,
        }
    }
}

/// Called with each new revocation: how caches that do not go through the verifier (session
/// lookups, API keys) drop what they hold for a revoked session or subject.
pub type RevocationHook = Arc<dyn Fn(&Revocation) + Send + Sync>;

/// The revocation store had no room left (503 for the logout request: nothing was revoked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the revocation store is full")]
pub struct RevocationsFull;

/// Where revocations live. [`MemoryRevocations`] keeps them in this process; a shared store
/// (pushed to every instance) implements the same trait, keeping a local copy so that
/// [`Revocations::is_revoked`] never waits on the network.
pub trait Revocations: Send + Sync + fmt::Debug + 'static {
    /// Records `revocation` (at time `now`) and calls the hooks.
    ///
    /// # Errors
    ///
    /// [`RevocationsFull`] when it cannot be kept; nothing is then revoked.
    fn revoke(&self, revocation: &Revocation, now: i64) -> Result<(), RevocationsFull>;

    /// True when a token with this `sid`, `sub` and `iat` is revoked at `now`. Runs on every
    /// request: must be cheap and must not block on I/O.
    fn is_revoked(&self, sid: Option<&str>, sub: &str, iat: Option<i64>, now: i64) -> bool;

    /// Registers a hook called with each later revocation.
    fn on_revoke(&self, hook: RevocationHook);

    /// True when nothing is revoked, so callers can skip reading the token's claims (the hot
    /// path when no one signed out). Default: `false` (always ask).
    fn is_empty(&self) -> bool {
        false
    }
}

/// The in-process [`Revocations`]: bounded, lock-free when empty.
///
/// Defaults: 100 000 entries, tokens live at most 24 h. A full store first drops expired
/// entries; if still full the new revocation is refused ([`RevocationsFull`]) rather than an
/// older one forgotten, since forgetting would let a signed-out session back in.
pub struct MemoryRevocations {
    live: AtomicUsize,
    state: RwLock<State>,
    hooks: Mutex<Vec<RevocationHook>>,
    capacity: usize,
    keep_for: i64,
}

#[derive(Default)]
struct State {
    /// sid -> kept until.
    sessions: HashMap<String, i64>,
    /// sub -> (tokens issued before this are revoked, kept until).
    subjects: HashMap<String, (i64, i64)>,
}

impl MemoryRevocations {
    /// Default capacity (sessions and subjects together).
    pub const DEFAULT_CAPACITY: usize = 100_000;
    /// Default longest token lifetime covered.
    pub const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

    /// A store of at most `capacity` entries, each kept for `max_token_lifetime` (the longest
    /// lifetime of a token the SSO issues: ID tokens, access tokens, session cookies) after the
    /// logout, plus a minute of clock leeway.
    #[must_use]
    pub fn new(capacity: usize, max_token_lifetime: Duration) -> Self {
        MemoryRevocations {
            live: AtomicUsize::new(0),
            state: RwLock::new(State::default()),
            hooks: Mutex::new(Vec::new()),
            capacity,
            keep_for: i64::try_from(max_token_lifetime.as_secs())
                .unwrap_or(i64::MAX / 2)
                .saturating_add(60),
        }
    }

    /// Entries held (expired ones until swept).
    #[must_use]
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// True when nothing is revoked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        MemoryRevocations::new(Self::DEFAULT_CAPACITY, Self::DEFAULT_MAX_TOKEN_LIFETIME)
    }
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRevocations")
            .field("entries", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Revocations for MemoryRevocations {
    fn revoke(&self, revocation: &Revocation, now: i64) -> Result<(), RevocationsFull> {
        let until = revocation.issued_at.max(now).saturating_add(self.keep_for);
        {
            let mut state = self.state.write().map_err(|_| RevocationsFull)?;
            let needed = usize::from(revocation.sid.is_some())
                + usize::from(revocation.sub.is_some() && revocation.sid.is_none());
            if state.sessions.len() + state.subjects.len() + needed > self.capacity {
                state.sessions.retain(|_, kept| *kept > now);
                state.subjects.retain(|_, (_, kept)| *kept > now);
                if state.sessions.len() + state.subjects.len() + needed > self.capacity {
                    self.live.store(
                        state.sessions.len() + state.subjects.len(),
                        Ordering::Release,
                    );
                    return Err(RevocationsFull);
                }
            }
            if let Some(sid) = &revocation.sid {
                let kept = state.sessions.entry(sid.clone()).or_insert(until);
                *kept = (*kept).max(until);
            } else if let Some(sub) = &revocation.sub {
                let entry = state
                    .subjects
                    .entry(sub.clone())
                    .or_insert((revocation.issued_at, until));
                entry.0 = entry.0.max(revocation.issued_at);
                entry.1 = entry.1.max(until);
            }
            self.live.store(
                state.sessions.len() + state.subjects.len(),
                Ordering::Release,
            );
        }
        let hooks = self.hooks.lock().map(|h| h.clone()).unwrap_or_default();
        for hook in hooks {
            hook(revocation);
        }
        Ok(())
    }

    fn is_revoked(&self, sid: Option<&str>, sub: &str, iat: Option<i64>, now: i64) -> bool {
        if self.live.load(Ordering::Acquire) == 0 {
            return false;
        }
        let Ok(state) = self.state.read() else {
            // A poisoned lock: refuse rather than let a possibly revoked token in.
            return true;
        };
        if let Some(sid) = sid {
            if state.sessions.get(sid).is_some_and(|kept| *kept > now) {
                return true;
            }
        }
        state
            .subjects
            .get(sub)
            .is_some_and(|(before, kept)| *kept > now && iat.is_none_or(|iat| iat < *before))
    }

    fn on_revoke(&self, hook: RevocationHook) {
        if let Ok(mut hooks) = self.hooks.lock() {
            hooks.push(hook);
        }
    }

    fn is_empty(&self) -> bool {
        self.live.load(Ordering::Acquire) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn nothing_revoked_answers_no() {
        let store = MemoryRevocations::default();
        assert!(store.is_empty());
        assert!(!store.is_revoked(Some("s1"), "u1", Some(NOW), NOW));
    }

    #[test]
    fn a_session_revokes_every_token_with_its_sid_until_tokens_expire() {
        let store = MemoryRevocations::new(10, Duration::from_secs(3600));
        store
            .revoke(
                &Revocation::new(Some("s1".into()), Some("u1".into()), NOW),
                NOW,
            )
            .expect("room");
        assert!(store.is_revoked(Some("s1"), "u1", Some(NOW - 10), NOW));
        assert!(store.is_revoked(Some("s1"), "someone", Some(NOW + 5), NOW + 5));
        // Another session of the same user is untouched: a sid revocation is not a sub one.
        assert!(!store.is_revoked(Some("s2"), "u1", Some(NOW - 10), NOW));
        assert!(!store.is_revoked(None, "u1", Some(NOW - 10), NOW));
        // Kept for the lifetime plus a minute, then it no longer counts.
        assert!(store.is_revoked(Some("s1"), "u1", None, NOW + 3600 + 59));
        assert!(!store.is_revoked(Some("s1"), "u1", None, NOW + 3600 + 60));
    }

    #[test]
    fn a_subject_revokes_its_tokens_issued_before_the_logout() {
        let store = MemoryRevocations::new(10, Duration::from_secs(3600));
        store
            .revoke(&Revocation::new(None, Some("u1".into()), NOW), NOW)
            .expect("room");
        assert!(store.is_revoked(Some("s9"), "u1", Some(NOW - 1), NOW));
        assert!(store.is_revoked(None, "u1", None, NOW));
        assert!(!store.is_revoked(None, "u1", Some(NOW), NOW));
        assert!(!store.is_revoked(None, "u2", Some(NOW - 1), NOW));
    }

    #[test]
    fn a_full_store_refuses_new_revocations_and_forgets_none() {
        let store = MemoryRevocations::new(1, Duration::from_secs(60));
        store
            .revoke(&Revocation::new(Some("s1".into()), None, NOW), NOW)
            .expect("room");
        assert_eq!(
            store.revoke(&Revocation::new(Some("s2".into()), None, NOW), NOW),
            Err(RevocationsFull)
        );
        assert!(store.is_revoked(Some("s1"), "u", None, NOW));
        // Once the first expired, there is room again.
        let later = NOW + 121;
        store
            .revoke(&Revocation::new(Some("s2".into()), None, later), later)
            .expect("room after expiry");
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn hooks_hear_each_revocation() {
        let store = MemoryRevocations::default();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let sink = heard.clone();
        store.on_revoke(Arc::new(move |r: &Revocation| {
            sink.lock().expect("lock").push(r.sid.clone());
        }));
        store
            .revoke(&Revocation::new(Some("s1".into()), None, NOW), NOW)
            .expect("room");
        assert_eq!(*heard.lock().expect("lock"), vec![Some("s1".to_string())]);
    }
}
