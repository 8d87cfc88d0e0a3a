//! Ed25519 batch checking (`VerifierBuilder::signature_batching`) gives exactly the answers of the
//! single check, for valid tokens, forged tokens and the whole attack catalogue verified
//! concurrently, on both runtime flavours.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ssoguard::testing::{TestIssuer, attacks};
use ssoguard::{Algorithm, TokenCacheConfig, Verifier, VerifyError};
use std::sync::Arc;

fn verifier(issuer: &TestIssuer, batching: bool) -> Verifier {
    Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        // Every verification checks its signature.
        .token_cache(TokenCacheConfig::default().enabled(false))
        .signature_batching(batching)
        .build()
        .expect("valid config")
}

/// Valid EdDSA tokens interleaved with forged ones (flipped signature bit, swapped payload) and
/// the attack catalogue; each with the answer it must get.
fn workload(issuer: &TestIssuer) -> Vec<(String, Result<String, VerifyError>)> {
    let mut out = Vec::new();
    for i in 0..300 {
        let sub = format!("user-{i}");
        let token = issuer
            .token()
            .sub(&sub)
            .alg(Algorithm::EdDSA)
            .aud("test-client")
            .sign();
        if i % 97 == 7 {
            let (input, sig) = token.rsplit_once('.').expect("three parts");
            let mut sig = URL_SAFE_NO_PAD.decode(sig).expect("b64");
            sig[i % 64] ^= 0x10;
            let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
            out.push((forged, Err(VerifyError::InvalidSignature)));
        }
        out.push((token, Ok(sub)));
    }
    for case in attacks::attack_cases(issuer, "test-client").expect("catalogue") {
        out.push((case.token, Err(case.expected)));
    }
    for (_, token) in attacks::valid_cases(issuer, "test-client") {
        out.push((token, Ok("alice".into())));
    }
    out
}

async fn verify_all_concurrently(v: &Verifier, work: &[(String, Result<String, VerifyError>)]) {
    // Every task waits at the barrier until all are spawned, so the checks start together even
    // when the spawning task is preempted (otherwise the workers could drain the first tasks one
    // by one and never see a batch's worth in flight).
    let start = Arc::new(tokio::sync::Barrier::new(work.len() + 1));
    let tasks: Vec<_> = work
        .iter()
        .map(|(token, _)| {
            let v = v.clone();
            let token = token.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                v.verify(&token).await.map(|c| c.sub.clone())
            })
        })
        .collect();
    start.wait().await;
    for ((_, expected), task) in work.iter().zip(tasks) {
        let got = task.await.expect("task");
        match expected {
            Ok(_) => assert!(got.is_ok(), "valid token refused: {got:?}"),
            Err(e) => assert_eq!(got.as_ref().err(), Some(e)),
        }
        if let (Ok(want), Ok(got)) = (expected, &got) {
            if want != "alice" {
                assert_eq!(want, got);
            }
        }
    }
}

/// `min_batched`: how many of 300 concurrent valid EdDSA checks must have been confirmed by a
/// batch check. Measured on valid tokens only and before the mixed workload: a failed batch
/// (forged token) pauses batching on its thread for 100 ms, which would make the count depend on
/// where the scheduler put the forged tokens.
async fn same_answers_batched_or_not(min_batched: u64) {
    let issuer = TestIssuer::start_all_algorithms().await.expect("issuer");
    let work = workload(&issuer);

    let valid_eddsa: Vec<_> = work
        .iter()
        .filter(|(_, expected)| expected.as_ref().is_ok_and(|sub| sub.starts_with("user-")))
        .cloned()
        .collect();
    let batched = verifier(&issuer, true);
    batched.warm_up().await.expect("keys");
    verify_all_concurrently(&batched, &valid_eddsa).await;
    let m = batched.metrics();
    assert!(
        m.ed25519_batched >= min_batched,
        "concurrent EdDSA checks should mostly be batched: {m:?}"
    );

    let single = verifier(&issuer, false);
    single.warm_up().await.expect("keys");
    verify_all_concurrently(&single, &work).await;
    assert_eq!(single.metrics().ed25519_batched, 0);

    let batched = verifier(&issuer, true);
    batched.warm_up().await.expect("keys");
    verify_all_concurrently(&batched, &work).await;
    let m = batched.metrics();
    assert_eq!(m.verified, single.metrics().verified);
    assert_eq!(m.failures, single.metrics().failures);
}

#[tokio::test(flavor = "current_thread")]
async fn batched_answers_equal_single_answers_current_thread() {
    // All 300 tasks queue before any check: 9 batches of 32 and one of 12.
    same_answers_batched_or_not(290).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_answers_equal_single_answers_multi_thread() {
    // Two workers take turns; batches are smaller but must still happen.
    same_answers_batched_or_not(32).await;
}

#[tokio::test]
async fn sequential_verifications_are_never_batched() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = verifier(&issuer, true);
    for i in 0..20 {
        let token = issuer
            .token()
            .sub(&format!("u{i}"))
            .aud("test-client")
            .sign();
        assert!(v.verify(&token).await.is_ok());
    }
    assert_eq!(v.metrics().ed25519_batched, 0);
}
