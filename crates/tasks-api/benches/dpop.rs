//! `GET /api/me` with DPoP beside Bearer in one run, every request with a token never seen
//! before (distinct tokens: the verified-token cache never answers), through the service as
//! `tasks-api` serves it (`build_router` wrapped by `with_middleware`, in process, no sockets):
//!
//! - `dpop-http/bearer_distinct`: an EdDSA token as `Bearer`;
//! - `dpop-http/dpop_distinct`: an EdDSA token bound to an ES256 key (`cnf.jkt`), sent as `DPoP`
//!   with a fresh proof from that key (`htu` = `PUBLIC_URL` + `/api/me`, `ath`, a new `jti`).
//!
//! Tokens and proofs are minted outside the measured time (`iter_batched`): what is measured is
//! the server's work, one extra signature check (the proof's) plus its claim checks and the
//! replay store. Run: `cargo bench -p tasks-api --bench dpop -- --warm-up-time 1
//! --measurement-time 3` (results in `docs/BENCHMARKS.md`).

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::{call, serve};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ssoguard::Algorithm;
use ssoguard::testing::DpopClient;
use std::sync::atomic::{AtomicU64, Ordering};

/// The allocator the `tasks-api` binary uses (`src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PUBLIC_URL: &str = "https://api.example.test";

fn dpop_bench(c: &mut Criterion) {
    let served = serve("dpop", PUBLIC_URL);
    let (rt, service, dev) = (&served.rt, &served.service, &served.dev);
    let client = DpopClient::generate(Algorithm::ES256).expect("proof key");
    let jkt = client.jkt();
    let me_url = format!("{PUBLIC_URL}/api/me");
    let n = AtomicU64::new(0);
    // A token never seen before: its `jti` differs (the subject too, as distinct users would).
    let mint = |bound: bool| {
        let i = n.fetch_add(1, Ordering::Relaxed);
        let builder = dev
            .issuer()
            .token()
            .sub(&format!("user-{i}"))
            .role("user")
            .claim("jti", serde_json::json!(format!("t-{i}")));
        if bound {
            builder.cnf_jkt(&jkt).sign()
        } else {
            builder.sign()
        }
    };
    let bearer = || {
        Request::get("/api/me")
            .header(header::AUTHORIZATION, format!("Bearer {}", mint(false)))
            .body(Body::empty())
            .expect("request")
    };
    let dpop = || {
        let token = mint(true);
        let proof = client.proof("GET", &me_url, &token).sign();
        Request::get("/api/me")
            .header(header::AUTHORIZATION, format!("DPoP {token}"))
            .header("dpop", proof)
            .body(Body::empty())
            .expect("request")
    };
    assert!(rt.block_on(call(service, bearer())) > 0);
    assert!(rt.block_on(call(service, dpop())) > 0);

    let mut group = c.benchmark_group("dpop-http");
    group.bench_function("bearer_distinct", |b| {
        b.to_async(rt)
            .iter_batched(bearer, |req| call(service, req), BatchSize::SmallInput);
    });
    group.bench_function("dpop_distinct", |b| {
        b.to_async(rt)
            .iter_batched(dpop, |req| call(service, req), BatchSize::SmallInput);
    });
    group.finish();
}

criterion_group!(benches, dpop_bench);
criterion_main!(benches);
