//! One fetch at a time per key, shared by every caller that needs its result.
//!
//! Used by the JWKS cache, token introspection and the client-credentials source.
//!
//! Guarantees:
//! - At most one flight per key. The first caller starts it in its own task (so a caller that
//!   gives up or is cancelled does not cancel the fetch for the others); later callers join it.
//! - The cache check a caller passes runs under the flight lock, which a flight leaves only after
//!   its body finished (and so after it stored its result): a result that arrived since the
//!   caller's lock-free look is found there instead of starting a second fetch.
//! - A flight always frees its slot: when its body returns, panics, or its task is dropped
//!   (aborted, or its runtime shut down). Waiters then get [`FlightError::Failed`] and the next
//!   call starts a new flight; a failed flight is never kept as the answer.
//! - Waiting is bounded ([`SingleFlight::new`]'s `wait`); a waiter that times out leaves the
//!   flight running for the others.
//! - No lock is held across an `await`; the task is spawned after the lock is released.

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// Why a waiter got no value from a flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlightError {
    /// The flight's task panicked or was dropped (aborted, runtime shut down) before answering.
    Failed,
    /// The flight did not answer within the wait bound (it keeps running).
    TimedOut,
}

type SharedFlight<T> = Shared<BoxFuture<'static, Result<T, FlightError>>>;

struct Slot<T> {
    id: u64,
    flight: SharedFlight<T>,
}

type Slots<K, T> = Mutex<HashMap<K, Slot<T>>>;

/// Keyed single-flight with a bounded wait.
pub(crate) struct SingleFlight<K, T> {
    slots: Arc<Slots<K, T>>,
    next_id: AtomicU64,
    wait: Duration,
    /// The last flight's task, so tests can abort it.
    #[cfg(test)]
    last_task: Mutex<Option<tokio::task::AbortHandle>>,
}

/// What [`SingleFlight::join_or_start`] found.
pub(crate) enum Joined<T> {
    /// The caller's check answered under the lock: no flight needed.
    Ready(T),
    /// A flight to wait on (joined or just started).
    Flight(Flight<T>),
}

/// A handle on a flight. Dropping it does not cancel the flight.
pub(crate) struct Flight<T> {
    shared: SharedFlight<T>,
    wait: Duration,
}

impl<T: Clone> Flight<T> {
    /// The flight's result, waiting at most the configured bound.
    pub(crate) async fn wait(self) -> Result<T, FlightError> {
        match tokio::time::timeout(self.wait, self.shared).await {
            Ok(result) => result,
            Err(_) => Err(FlightError::TimedOut),
        }
    }
}

/// Frees its flight's slot when dropped: after the body returns, or while unwinding from its
/// panic, or when the task is dropped unfinished.
struct SlotGuard<K: Eq + Hash, T> {
    slots: Arc<Slots<K, T>>,
    key: Option<K>,
    id: u64,
}

impl<K: Eq + Hash, T> Drop for SlotGuard<K, T> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut slots = lock(&self.slots);
        // Only this guard removes this flight's slot; the id check makes sure it can never
        // remove another flight's.
        if slots.get(&key).is_some_and(|slot| slot.id == self.id) {
            slots.remove(&key);
        }
    }
}

/// The lock, also after a panic elsewhere poisoned it: the map stays consistent (every change
/// is a single insert or remove), and refusing it would leave a slot held for ever.
fn lock<K, T>(slots: &Slots<K, T>) -> MutexGuard<'_, HashMap<K, Slot<T>>> {
    slots.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K, T> SingleFlight<K, T>
where
    K: Clone + Eq + Hash + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    /// A single-flight whose waiters wait at most `wait`.
    pub(crate) fn new(wait: Duration) -> Self {
        SingleFlight {
            slots: Arc::new(Mutex::new(HashMap::new())),
            next_id: AtomicU64::new(1),
            wait,
            #[cfg(test)]
            last_task: Mutex::new(None),
        }
    }

    /// The flight in progress for `key`, if any (never starts one).
    pub(crate) fn join(&self, key: &K) -> Option<Flight<T>> {
        lock(&self.slots).get(key).map(|slot| Flight {
            shared: slot.flight.clone(),
            wait: self.wait,
        })
    }

    /// Joins the flight for `key`; with none in progress, asks `check` (under the lock) and
    /// starts `body` in a new task only if `check` answers `None`.
    ///
    /// Must be called inside a tokio runtime (the flight is spawned on it).
    pub(crate) fn join_or_start<F>(
        &self,
        key: K,
        check: impl FnOnce() -> Option<T>,
        body: impl FnOnce() -> F,
    ) -> Joined<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let (guard, sender, body) = {
            let mut slots = lock(&self.slots);
            if let Some(slot) = slots.get(&key) {
                return Joined::Flight(Flight {
                    shared: slot.flight.clone(),
                    wait: self.wait,
                });
            }
            if let Some(ready) = check() {
                return Joined::Ready(ready);
            }
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (sender, receiver) = oneshot::channel::<T>();
            // The sender is dropped unsent when the task panics or is dropped: `Failed`.
            let flight = async move { receiver.await.map_err(|_| FlightError::Failed) }
                .boxed()
                .shared();
            slots.insert(
                key.clone(),
                Slot {
                    id,
                    flight: flight.clone(),
                },
            );
            let guard = SlotGuard {
                slots: self.slots.clone(),
                key: Some(key),
                id,
            };
            let joined = Flight {
                shared: flight,
                wait: self.wait,
            };
            ((guard, joined), sender, body())
        };
        let (guard, joined) = guard;
        // Spawned outside the lock: a runtime that is shutting down drops the task inside
        // `spawn`, and the guard's drop takes the lock.
        let task = tokio::spawn(async move {
            let guard = guard;
            let result = body.await;
            // Answer first, then free the slot: a caller that finds the slot empty finds the
            // result in its cache (the body stored it before returning).
            let _ = sender.send(result);
            drop(guard);
        });
        #[cfg(test)]
        {
            *self
                .last_task
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(task.abort_handle());
        }
        drop(task);
        Joined::Flight(joined)
    }

    /// Flights in progress.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        lock(&self.slots).len()
    }

    /// Aborts the last flight's task (as a `JoinHandle::abort` would).
    #[cfg(test)]
    pub(crate) fn abort_last(&self) {
        if let Some(task) = self
            .last_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }

    /// Waits (up to 1 s) until no flight is in progress; panics if one stays.
    #[cfg(test)]
    pub(crate) async fn until_idle(&self) {
        for _ in 0..200 {
            if self.in_flight() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("a single-flight slot was never freed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn started(sf: &SingleFlight<u8, u32>, runs: &Arc<AtomicUsize>, body: u32) -> Flight<u32> {
        let runs = runs.clone();
        match sf.join_or_start(
            1,
            || None,
            move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                assert!(body != 0, "injected panic");
                body
            },
        ) {
            Joined::Flight(flight) => flight,
            Joined::Ready(_) => panic!("no check answer was offered"),
        }
    }

    #[tokio::test]
    async fn callers_share_one_flight_and_the_check_answers_under_the_lock() {
        let sf = SingleFlight::<u8, u32>::new(Duration::from_secs(5));
        let runs = Arc::new(AtomicUsize::new(0));
        let a = started(&sf, &runs, 7);
        let b = started(&sf, &runs, 8);
        assert_eq!((a.wait().await, b.wait().await), (Ok(7), Ok(7)));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        sf.until_idle().await;
        let ready = sf.join_or_start(1, || Some(9), || async { unreachable!() });
        assert!(matches!(ready, Joined::Ready(9)));
        assert!(sf.join(&1).is_none());
    }

    #[tokio::test]
    async fn a_panicking_flight_frees_its_slot() {
        let sf = SingleFlight::<u8, u32>::new(Duration::from_secs(5));
        let runs = Arc::new(AtomicUsize::new(0));
        let failed = started(&sf, &runs, 0);
        assert_eq!(failed.wait().await, Err(FlightError::Failed));
        sf.until_idle().await;
        assert_eq!(started(&sf, &runs, 3).wait().await, Ok(3));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_neither_cancels_nor_holds_the_flight() {
        let sf = SingleFlight::<u8, u32>::new(Duration::from_millis(10));
        let runs = Arc::new(AtomicUsize::new(0));
        assert_eq!(
            started(&sf, &runs, 5).wait().await,
            Err(FlightError::TimedOut)
        );
        // The flight still runs; a caller dropped mid-wait does not stop it either.
        let dropped = started(&sf, &runs, 6);
        drop(dropped);
        sf.until_idle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_flight_dropped_with_its_runtime_frees_its_slot() {
        let sf = Arc::new(SingleFlight::<u8, u32>::new(Duration::from_secs(5)));
        let runs = Arc::new(AtomicUsize::new(0));
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let flight = first.block_on(async {
            let flight = started(&sf, &runs, 1);
            tokio::task::yield_now().await;
            flight
        });
        drop(first);
        assert_eq!(
            sf.in_flight(),
            0,
            "slot freed when the runtime dropped the task"
        );
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        second.block_on(async {
            assert_eq!(flight.wait().await, Err(FlightError::Failed));
            assert_eq!(started(&sf, &runs, 2).wait().await, Ok(2));
        });
    }

    #[tokio::test]
    async fn an_aborted_flight_frees_its_slot() {
        let sf = SingleFlight::<u8, u32>::new(Duration::from_secs(5));
        let runs = Arc::new(AtomicUsize::new(0));
        let aborted = started(&sf, &runs, 4);
        sf.abort_last();
        assert_eq!(aborted.wait().await, Err(FlightError::Failed));
        sf.until_idle().await;
        assert_eq!(started(&sf, &runs, 5).wait().await, Ok(5));
    }
}
