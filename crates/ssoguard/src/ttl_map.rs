//! A small bounded map whose entries expire: the introspection cache, the SSO admin client's
//! profile cache and the organization membership cache share it.
//!
//! Lookups drop an expired entry. An insert into a full map sweeps expired entries at most once
//! a second, then evicts one arbitrary live entry if still full, so inserts stay O(1) in the
//! common case and memory stays bounded by `max_entries`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Inner<K, V> {
    map: HashMap<K, (V, Instant)>,
    last_sweep: Instant,
}

#[derive(Debug)]
pub(crate) struct TtlMap<K, V> {
    max_entries: usize,
    inner: Mutex<Inner<K, V>>,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlMap<K, V> {
    pub(crate) fn new(max_entries: usize) -> Self {
        TtlMap {
            max_entries,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// The live value for `key`, if any.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.inner.lock().ok()?;
        let (value, until) = inner.map.get(key)?;
        if Instant::now() < *until {
            return Some(value.clone());
        }
        inner.map.remove(key);
        None
    }

    /// Stores `value` for `ttl`, replacing what `key` held. A zero `ttl` stores nothing and
    /// drops what `key` held: the newest answer says "do not keep this", and an older one must
    /// not outlive it. A zero bound stores nothing.
    pub(crate) fn insert(&self, key: K, value: V, ttl: Duration) {
        if self.max_entries == 0 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if ttl.is_zero() {
            inner.map.remove(&key);
            return;
        }
        let now = Instant::now();
        if inner.map.len() >= self.max_entries && !inner.map.contains_key(&key) {
            if now.duration_since(inner.last_sweep) >= Duration::from_secs(1) {
                inner.map.retain(|_, (_, until)| *until > now);
                inner.last_sweep = now;
            }
            if inner.map.len() >= self.max_entries {
                if let Some(victim) = inner.map.keys().next().cloned() {
                    inner.map.remove(&victim);
                }
            }
        }
        inner.map.insert(key, (value, now + ttl));
    }

    /// Keeps only the entries for which `keep` answers true (dropping expired ones too).
    pub(crate) fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        if let Ok(mut inner) = self.inner.lock() {
            let now = Instant::now();
            inner
                .map
                .retain(|key, (value, until)| *until > now && keep(key, value));
        }
    }

    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().map(|i| i.map.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_expiring() {
        // Which older entry a full map evicts is arbitrary (HashMap order); the one just
        // inserted is always kept.
        let map = TtlMap::new(3);
        for i in 0..10 {
            map.insert(i, i * 10, Duration::from_secs(60));
            assert!(map.len() <= 3);
            assert_eq!(map.get(&i), Some(i * 10));
        }
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&9), Some(90));
        map.insert(100, 1, Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(map.get(&100), None);
        map.insert(200, 1, Duration::ZERO);
        assert_eq!(map.get(&200), None);
    }

    #[test]
    fn retain_drops_what_it_is_told_to() {
        let map = TtlMap::new(10);
        for i in 0..6 {
            map.insert(i, i, Duration::from_secs(60));
        }
        map.retain(|k, _| k % 2 == 0);
        assert_eq!(map.len(), 3);
        assert_eq!((map.get(&2), map.get(&3)), (Some(2), None));
    }

    #[test]
    fn a_zero_ttl_insert_drops_the_older_answer() {
        let map = TtlMap::new(3);
        map.insert(7, 70, Duration::from_secs(60));
        assert_eq!(map.get(&7), Some(70));
        map.insert(7, 1, Duration::ZERO);
        assert_eq!(map.get(&7), None);
        assert_eq!(map.len(), 0);
    }
}
