//! DPoP and revocation cost, side by side with bearer verification in one run.
//!
//! `dpop/…` (EdDSA access tokens, as Better Auth signs them; ES256 proofs, as its clients sign
//! them), warm key cache, verified-token cache **disabled** so every call does the token's full
//! work:
//!
//! - `bearer_distinct`: [`Verifier::verify`], cycling through 1,000 distinct tokens;
//! - `dpop_distinct`: [`Verifier::verify_dpop`] on 1,000 distinct bound tokens, each with a
//!   fresh proof (proofs are single-use; minting them is outside the measurement): the token's
//!   checks plus the proof's (one ES256 signature, JSON, `htu` normalisation, thumbprint,
//!   `ath`, replay store insert).
//!
//! The ratio `bearer_distinct / dpop_distinct` time is the DPoP throughput as a fraction of
//! bearer throughput (the goal is at least 0.45).
//!
//! `revocation/…` (verified-token cache **enabled**, one repeated token, the hot path):
//! `cached_none_revoked` with an empty revocation store against `cached_10k_revoked` with
//! 10,000 other sessions revoked — the paired A/B for "no measurable cost when the token's
//! `sid` is not revoked".
//!
//! With feature `shared-redis`, `dpop_distinct_redis`: the replay store in Redis
//! (`BENCH_REDIS_URL`, default `redis://127.0.0.1:6379`), the cost of sharing it.
//!
//! Run: `cargo bench -p ssoguard --features testing,shared-redis --bench dpop -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, black_box, criterion_group, criterion_main};
use http::Method;
use serde_json::json;
use ssoguard::dpop::{DpopConfig, DpopRequest, MemoryReplayStore};
use ssoguard::revocation::{MemoryRevocations, Revocation, Revocations};
use ssoguard::testing::{DpopClient, TestIssuer};
use ssoguard::{Algorithm, TokenCacheConfig, Verifier};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const TOKENS: usize = 1_000;
const URL: &str = "https://api.example.com/api/me";

fn dpop_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let issuer = rt.block_on(TestIssuer::start()).expect("test issuer");
    let verifier = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .token_cache(TokenCacheConfig::default().enabled(false))
        // Room for every proof of a long measurement (each is remembered for 2 × 60 s).
        .dpop(DpopConfig::default().replay_store(Arc::new(MemoryReplayStore::new(8_000_000))))
        .build()
        .expect("verifier");
    rt.block_on(verifier.warm_up()).expect("keys load");
    let client = DpopClient::generate(Algorithm::ES256).expect("client key");
    let jkt = client.jkt();
    let request = DpopRequest::new(Method::GET, URL).expect("request");
    let bearer: Vec<String> = (0..TOKENS)
        .map(|i| issuer.token().sub(&format!("user-{i:05}")).sign())
        .collect();
    let bound: Vec<String> = (0..TOKENS)
        .map(|i| {
            issuer
                .token()
                .header("typ", json!("at+jwt"))
                .sub(&format!("user-{i:05}"))
                .cnf_jkt(&jkt)
                .sign()
        })
        .collect();
    for (b, d) in bearer.iter().zip(&bound) {
        rt.block_on(verifier.verify(b)).expect("bearer verifies");
        let proof = client.proof("GET", URL, d).sign();
        rt.block_on(verifier.verify_dpop(d, Some(&proof), &request))
            .expect("dpop verifies");
    }

    let mut group = c.benchmark_group("dpop");
    group.throughput(Throughput::Elements(1));
    let next = AtomicUsize::new(0);
    group.bench_function("bearer_distinct", |b| {
        b.iter(|| {
            let i = next.fetch_add(1, Ordering::Relaxed) % TOKENS;
            black_box(rt.block_on(verifier.verify(&bearer[i])).expect("verifies"));
        });
    });
    group.bench_function("dpop_distinct", |b| {
        b.iter_batched(
            || {
                let i = next.fetch_add(1, Ordering::Relaxed) % TOKENS;
                (i, client.proof("GET", URL, &bound[i]).sign())
            },
            |(i, proof)| {
                black_box(
                    rt.block_on(verifier.verify_dpop(&bound[i], Some(&proof), &request))
                        .expect("verifies"),
                );
            },
            BatchSize::SmallInput,
        );
    });
    #[cfg(feature = "shared-redis")]
    dpop_with_redis(&mut group, &rt, &issuer, &client, &bound, &request);
    group.finish();
}

/// `dpop_distinct_redis`: the same as `dpop_distinct` with the replay store in Redis
/// (`BENCH_REDIS_URL`, default the local `redis://127.0.0.1:6379`): one `SET NX` round trip
/// more per request. Skipped with a message when that Redis does not answer.
#[cfg(feature = "shared-redis")]
fn dpop_with_redis(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    issuer: &TestIssuer,
    client: &DpopClient,
    bound: &[String],
    request: &DpopRequest,
) {
    let url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let shared = ssoguard::shared::SharedRedis::new(&url)
        .expect("a redis URL")
        .key_prefix(format!("ssoguard-bench-{}:", std::process::id()));
    let verifier = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .token_cache(TokenCacheConfig::default().enabled(false))
        .dpop(DpopConfig::default().replay_store(shared.replay_store()))
        .build()
        .expect("verifier");
    rt.block_on(verifier.warm_up()).expect("keys load");
    let probe = client.proof("GET", URL, &bound[0]).sign();
    if rt
        .block_on(verifier.verify_dpop(&bound[0], Some(&probe), request))
        .is_err()
    {
        eprintln!("dpop_distinct_redis skipped: no Redis answering at BENCH_REDIS_URL");
        return;
    }
    let next = AtomicUsize::new(0);
    group.bench_function("dpop_distinct_redis", |b| {
        b.iter_batched(
            || {
                let i = next.fetch_add(1, Ordering::Relaxed) % TOKENS;
                (i, client.proof("GET", URL, &bound[i]).sign())
            },
            |(i, proof)| {
                black_box(
                    rt.block_on(verifier.verify_dpop(&bound[i], Some(&proof), request))
                        .expect("verifies"),
                );
            },
            BatchSize::SmallInput,
        );
    });
}

fn revocation_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let issuer = rt.block_on(TestIssuer::start()).expect("test issuer");
    let build = |store: Arc<MemoryRevocations>| {
        let v = Verifier::builder()
            .authority(issuer.origin())
            .audience("test-client")
            .revocations(store)
            .build()
            .expect("verifier");
        rt.block_on(v.warm_up()).expect("keys load");
        v
    };
    let empty = build(Arc::new(MemoryRevocations::default()));
    let full_store = Arc::new(MemoryRevocations::default());
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("seconds");
    for i in 0..10_000 {
        full_store
            .revoke(
                &Revocation::new(Some(format!("other-session-{i}")), None, now),
                now,
            )
            .expect("room");
    }
    let busy = build(full_store);
    let token = issuer.token().sid("live-session").sign();
    rt.block_on(empty.verify(&token)).expect("verifies");
    rt.block_on(busy.verify(&token)).expect("verifies");

    let mut group = c.benchmark_group("revocation");
    group.throughput(Throughput::Elements(1));
    group.bench_function("cached_none_revoked", |b| {
        b.iter(|| black_box(rt.block_on(empty.verify(&token)).expect("verifies")));
    });
    group.bench_function("cached_10k_revoked", |b| {
        b.iter(|| black_box(rt.block_on(busy.verify(&token)).expect("verifies")));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = dpop_benches, revocation_benches
}
criterion_main!(benches);
