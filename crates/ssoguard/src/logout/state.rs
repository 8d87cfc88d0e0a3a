//! What a verifier keeps for back-channel logout tokens: the `jti`s seen and the maximum age.
//! Below the verifier, which holds it, and the logout checks, which read it.

use crate::dpop::MemoryReplayStore;
use std::time::Duration;

/// The state a verifier keeps for logout tokens: seen `jti`s and the maximum age.
#[derive(Debug)]
pub(crate) struct LogoutState {
    pub(crate) jtis: MemoryReplayStore,
    pub(crate) max_age: i64,
}

impl LogoutState {
    pub(crate) fn new(max_age: Duration) -> Self {
        LogoutState {
            jtis: MemoryReplayStore::new(16_384),
            max_age: i64::try_from(max_age.as_secs()).unwrap_or(120),
        }
    }
}
