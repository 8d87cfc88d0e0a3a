//! Ed25519 signatures of requests in flight together are checked together, in one batch check.
//!
//! A busy server has many requests ready at once. [`verify`] queues an EdDSA signature on a
//! per-thread queue, yields once to the runtime so the other requests that are ready on this
//! thread can queue theirs, and then checks what is queued, at most [`MAX_BATCH`] signatures
//! per poll, and answers them. Ed25519 (Better Auth's default) has a batch check: `n` signatures
//! verified with one multiscalar multiplication (ed25519-dalek), about half the CPU per
//! signature under load (docs/BENCHMARKS.md). Other algorithms have no batch check and are not
//! queued: the verifier checks them inline.
//!
//! Rules that keep it as strict as the single check:
//!
//! - Fewer than [`MIN_BATCH`] queued signatures are checked one by one with `aws-lc-rs`, exactly
//!   as without batching. The idle case (one request at a time) is a queue of one.
//! - One poll does the work of at most one batch ([`MAX_BATCH`] signatures); what is left stays
//!   queued for the next poll (of this task or of the task that queued it), so no request holds
//!   its thread for a whole burst.
//! - An Ed25519 batch **passes only if every signature in it is valid**; if the batch check
//!   fails, each of its signatures is re-checked on its own with `aws-lc-rs`, so an invalid
//!   signature only ever fails its own request. After a failed batch this thread makes no batch
//!   check for [`PAUSE_AFTER_FAILURE`], so a stream of forged signatures costs at most one wasted
//!   batch per pause.
//! - Only keys not of small order (`!is_weak()`) and 64-byte signatures are batch-checked; the
//!   batch check refuses a non-canonical `S` like the single check. Its weights are derived from
//!   a transcript of every signature in the batch (ed25519-dalek 2), so no attacker-chosen
//!   signature can cancel out against another.
//! - Cancellation safe: the queue is only touched by synchronous code; a request dropped while
//!   it waits leaves an entry whose reply channel is closed, which the next check skips.

use crate::algorithm::Algorithm;
use crate::jwk::VerifyingKey;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Fewer queued Ed25519 signatures than this are checked one by one (2 or 3 are no faster).
pub(crate) const MIN_BATCH: usize = 4;
/// The largest batch handed to one multiscalar multiplication, and the most signatures checked
/// in one poll.
pub(crate) const MAX_BATCH: usize = 32;
/// How long a thread makes no batch check after one of its batches failed.
pub(crate) const PAUSE_AFTER_FAILURE: Duration = Duration::from_millis(100);

/// What [`verify`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The signature is valid.
    pub(crate) valid: bool,
    /// It was confirmed by an Ed25519 batch check (otherwise by the single `aws-lc-rs` check).
    pub(crate) batched: bool,
}

struct Pending {
    key: Arc<VerifyingKey>,
    alg: Algorithm,
    message: Vec<u8>,
    signature: Vec<u8>,
    reply: oneshot::Sender<Outcome>,
}

/// An entry the Ed25519 batch check may take, with its inputs in ed25519-dalek's types.
struct Batchable {
    entry: Pending,
    key: ed25519_dalek::VerifyingKey,
    signature: ed25519_dalek::Signature,
}

impl Pending {
    /// Splits off the entries the Ed25519 batch check may take: EdDSA, a key that is not of
    /// small order, a 64-byte signature.
    fn batchable(self) -> Result<Batchable, Pending> {
        let inputs = (self.alg == Algorithm::EdDSA)
            .then(|| self.key.ed25519_batch_key())
            .flatten()
            .zip(<[u8; 64]>::try_from(self.signature.as_slice()).ok());
        match inputs {
            Some((key, sig)) => Ok(Batchable {
                key,
                signature: ed25519_dalek::Signature::from_bytes(&sig),
                entry: self,
            }),
            None => Err(self),
        }
    }

    fn check_alone(&self) -> Outcome {
        check_alone(&self.key, self.alg, &self.message, &self.signature)
    }
}

#[derive(Default)]
struct Queue {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    pending: Vec<Pending>,
    paused_until: Option<Instant>,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Only synchronous code without panics runs under the lock; recover anyway.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True while batch checks are paused after a failed one.
    fn paused(&self) -> bool {
        let mut state = self.lock();
        match state.paused_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                state.paused_until = None;
                false
            }
            None => false,
        }
    }
}

thread_local! {
    static QUEUE: Arc<Queue> = Arc::default();
}

/// The single `aws-lc-rs` check, as without batching.
fn check_alone(key: &VerifyingKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> Outcome {
    Outcome {
        valid: key.verify(alg, message, signature) == Some(true),
        batched: false,
    }
}

/// Checks an EdDSA signature together with the others ready on this thread.
///
/// `key` must fit `alg` (the key cache pins it); a key that does not is an invalid signature.
/// Any other algorithm is simply checked alone (callers check those inline).
pub(crate) async fn verify(
    key: &Arc<VerifyingKey>,
    alg: Algorithm,
    message: &[u8],
    signature: &[u8],
) -> Outcome {
    let queue = QUEUE.with(Arc::clone);
    let (reply, answer) = oneshot::channel();
    queue.lock().pending.push(Pending {
        key: Arc::clone(key),
        alg,
        message: message.to_vec(),
        signature: signature.to_vec(),
        reply,
    });
    let mut answer = answer;
    // Let the other requests that are ready on this thread queue their signatures.
    tokio::task::yield_now().await;
    // Work on the queue we pushed to (not this thread's: the task may have moved), one batch per
    // poll, until our answer is there. An empty queue means another task took our entry and is
    // checking it (possibly on another thread): the answer is on its way.
    loop {
        if let Ok(outcome) = answer.try_recv() {
            return outcome;
        }
        let batch: Vec<Pending> = {
            let mut state = queue.lock();
            let n = state.pending.len().min(MAX_BATCH);
            state.pending.drain(..n).collect()
        };
        if batch.is_empty() {
            break;
        }
        check(&queue, batch);
        tokio::task::yield_now().await;
    }
    answer
        .await
        .unwrap_or_else(|_| check_alone(key, alg, message, signature))
}

/// Checks every live entry, then answers them all at once.
fn check(queue: &Queue, batch: Vec<Pending>) {
    let mut answers: Vec<(Pending, Outcome)> = Vec::with_capacity(batch.len());
    let mut eddsa: Vec<Batchable> = Vec::new();
    for entry in batch.into_iter().filter(|p| !p.reply.is_closed()) {
        match entry.batchable() {
            Ok(b) => eddsa.push(b),
            Err(entry) => {
                let outcome = entry.check_alone();
                answers.push((entry, outcome));
            }
        }
    }
    // A pause set by this call's own failed chunk applies to later calls, not to its other chunks.
    let batching = eddsa.len() >= MIN_BATCH && !queue.paused();
    while !eddsa.is_empty() {
        let chunk: Vec<Batchable> = eddsa.drain(..eddsa.len().min(MAX_BATCH)).collect();
        let batch_ok = batching && chunk.len() >= MIN_BATCH && {
            let ok = batch_valid(&chunk);
            if !ok {
                queue.lock().paused_until = Some(Instant::now() + PAUSE_AFTER_FAILURE);
            }
            ok
        };
        answers.extend(chunk.into_iter().map(|b| {
            let outcome = if batch_ok {
                Outcome {
                    valid: true,
                    batched: true,
                }
            } else {
                b.entry.check_alone()
            };
            (b.entry, outcome)
        }));
    }
    for (p, outcome) in answers {
        let _ = p.reply.send(outcome);
    }
}

fn batch_valid(chunk: &[Batchable]) -> bool {
    let messages: Vec<&[u8]> = chunk.iter().map(|b| b.entry.message.as_slice()).collect();
    let signatures: Vec<ed25519_dalek::Signature> = chunk.iter().map(|b| b.signature).collect();
    let keys: Vec<ed25519_dalek::VerifyingKey> = chunk.iter().map(|b| b.key).collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwk::parse_jwks;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn key_pair() -> (Ed25519KeyPair, Arc<VerifyingKey>) {
        let pair = Ed25519KeyPair::generate().unwrap();
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jwks = format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k","x":"{x}"}}]}}"#);
        let set = parse_jwks(jwks.as_bytes(), &[Algorithm::EdDSA], 100).unwrap();
        let key = set.keys.into_iter().next().unwrap();
        (pair, key)
    }

    /// `n` concurrent checks on a current-thread runtime; `bad` lists the forged ones.
    async fn run(n: usize, bad: &[usize]) -> Vec<Outcome> {
        let (pair, key) = key_pair();
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let key = Arc::clone(&key);
                let message = format!("header.payload-{i}").into_bytes();
                let mut sig = pair.sign(&message).as_ref().to_vec();
                if bad.contains(&i) {
                    sig[5] ^= 1;
                }
                tokio::spawn(async move { verify(&key, Algorithm::EdDSA, &message, &sig).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_valid_signatures_are_batched() {
        let out = run(20, &[]).await;
        assert!(out.iter().all(|o| o.valid && o.batched), "{out:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_forged_signature_fails_alone_and_pauses_batching() {
        let out = run(20, &[7]).await;
        for (i, o) in out.iter().enumerate() {
            assert_eq!(o.valid, i != 7, "signature {i}: {o:?}");
            // The failed batch was re-checked one by one.
            assert!(!o.batched, "signature {i}: {o:?}");
        }
        // Batching is paused on this thread right after the failure...
        let out = run(8, &[]).await;
        assert!(out.iter().all(|o| o.valid && !o.batched), "{out:?}");
        // ...and resumes after the pause.
        tokio::time::sleep(PAUSE_AFTER_FAILURE + Duration::from_millis(20)).await;
        let out = run(8, &[]).await;
        assert!(out.iter().all(|o| o.valid && o.batched), "{out:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_lone_or_small_batch_uses_the_single_check() {
        let out = run(1, &[]).await;
        assert_eq!(
            out,
            vec![Outcome {
                valid: true,
                batched: false
            }]
        );
        let out = run(MIN_BATCH - 1, &[1]).await;
        assert_eq!(out.iter().filter(|o| o.valid).count(), MIN_BATCH - 2);
        assert!(out.iter().all(|o| !o.batched));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn more_than_max_batch_are_split_and_all_answered() {
        let out = run(3 * MAX_BATCH + 1, &[]).await;
        assert_eq!(out.len(), 3 * MAX_BATCH + 1);
        assert!(out.iter().all(|o| o.valid));
        assert!(out.iter().filter(|o| o.batched).count() >= 3 * MAX_BATCH);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn multi_thread_runtime_answers_every_request() {
        let out = run(500, &[3, 250, 499]).await;
        for (i, o) in out.iter().enumerate() {
            assert_eq!(o.valid, ![3, 250, 499].contains(&i), "signature {i}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn cancelled_requests_do_not_block_the_others() {
        let (pair, key) = key_pair();
        let mut handles = Vec::new();
        for i in 0..10 {
            let key = Arc::clone(&key);
            let message = format!("m{i}").into_bytes();
            let sig = pair.sign(&message).as_ref().to_vec();
            handles.push(tokio::spawn(async move {
                verify(&key, Algorithm::EdDSA, &message, &sig).await
            }));
        }
        // Let them queue their signatures, then abort half of them while they wait.
        tokio::task::yield_now().await;
        for h in handles.iter().step_by(2) {
            h.abort();
        }
        let mut answered = 0;
        for h in handles {
            if let Ok(o) = h.await {
                assert!(o.valid);
                answered += 1;
            }
        }
        assert_eq!(answered, 5);
    }

    /// A request behind a long queue of abandoned ones is still answered: each poll takes at
    /// most one batch, and the task keeps taking batches until its own answer is there.
    #[tokio::test(flavor = "current_thread")]
    async fn a_request_behind_many_cancelled_ones_is_answered() {
        let (pair, key) = key_pair();
        let n = 4 * MAX_BATCH;
        let mut handles = Vec::new();
        for i in 0..n {
            let key = Arc::clone(&key);
            let message = format!("m{i}").into_bytes();
            let sig = pair.sign(&message).as_ref().to_vec();
            handles.push(tokio::spawn(async move {
                verify(&key, Algorithm::EdDSA, &message, &sig).await
            }));
        }
        tokio::task::yield_now().await;
        let last = handles.pop().expect("one");
        for h in &handles {
            h.abort();
        }
        let outcome = tokio::time::timeout(Duration::from_secs(5), last)
            .await
            .expect("answered")
            .expect("task");
        assert!(outcome.valid);
    }
}
