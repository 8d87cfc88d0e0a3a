//! [`KeySet`]: one fetched and parsed key set, the lookup of a token's key in it, and the kids
//! it is known not to hold.

use crate::algorithm::Algorithm;
use crate::jwk::{SkippedKey, VerifyingKey};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Cap on remembered unknown kids per key set, so forged kids cannot grow memory without bound.
const MAX_UNKNOWN_KIDS: usize = 4096;

/// One fetched, parsed key set.
#[derive(Debug)]
pub(crate) struct KeySet {
    pub(crate) generation: u64,
    pub(super) by_kid: HashMap<String, Arc<VerifyingKey>>,
    pub(super) keys: Vec<Arc<VerifyingKey>>,
    pub(super) skipped: Vec<SkippedKey>,
    pub(super) fetched_at: Instant,
    pub(super) expires_at: Instant,
    pub(super) unknown_kids: Mutex<HashSet<String>>,
}

pub(super) enum Lookup {
    Found(Arc<VerifyingKey>),
    Mismatch,
    Ambiguous,
    NotFound,
}

impl KeySet {
    pub(super) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        match kid {
            Some(kid) => match self.by_kid.get(kid) {
                Some(key) if key.fits(alg) => Lookup::Found(key.clone()),
                Some(_) => Lookup::Mismatch,
                None => Lookup::NotFound,
            },
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Lookup::Found(key.clone()),
                    (Some(_), Some(_)) => Lookup::Ambiguous,
                    (None, _) => Lookup::NotFound,
                }
            }
        }
    }

    /// The kids of the usable keys, sorted, and the skipped keys (for [`crate::Explanation`]).
    pub(crate) fn describe(&self) -> (Vec<String>, Vec<SkippedKey>) {
        let mut kids: Vec<String> = self.by_kid.keys().cloned().collect();
        kids.sort();
        (kids, self.skipped.clone())
    }

    /// True when this set still holds this exact key under `kid` (used by the token cache).
    pub(crate) fn holds(&self, kid: Option<&str>, key: &Arc<VerifyingKey>) -> bool {
        match kid {
            Some(kid) => self.by_kid.get(kid).is_some_and(|k| Arc::ptr_eq(k, key)),
            None => self.keys.iter().any(|k| Arc::ptr_eq(k, key)),
        }
    }

    pub(super) fn remember_unknown(&self, kid: Option<&str>) {
        if let Some(kid) = kid {
            if let Ok(mut unknown) = self.unknown_kids.lock() {
                if unknown.len() < MAX_UNKNOWN_KIDS {
                    unknown.insert(kid.to_owned());
                }
            }
        }
    }

    pub(super) fn is_known_unknown(&self, kid: Option<&str>) -> bool {
        kid.is_some_and(|kid| {
            self.unknown_kids
                .lock()
                .map(|u| u.contains(kid))
                .unwrap_or(false)
        })
    }
}
