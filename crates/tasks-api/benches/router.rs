//! In-process cost of one `tasks-api` request on the token-cache hit path, against a minimal
//! axum app: user space only (no sockets, no kernel), so the figures are stable enough to compare
//! middleware and extractor changes that the load harness (`bench/run.sh`) cannot resolve.
//!
//! - `router/floor_noauth`: a one-route axum `Router` returning the same shape of JSON as
//!   `bench/peer-jwt-authorizer`'s `/noauth` (the in-process analogue of the HTTP floor);
//! - `router/tasks_api_me_cached`: the service as `tasks-api` serves it (`build_router` wrapped
//!   once by `with_middleware`: sensitive headers, tracing, CORS; body limit; every route)
//!   answering `GET /api/me` with a bearer token already in the verified-token cache (hash,
//!   lookup, `exp`/`nbf` check, `CurrentUser`, JSON);
//! - `router/per_route_middleware`: the same middleware applied the way it was before
//!   (`Router::layer`, which wraps and boxes every route's stack), for comparison in one run;
//! - `router-parts/*`: what each part adds: `floor_with_bearer` (the floor sent the same
//!   `Authorization` header, i.e. the bench's own request building), `me_no_middleware` (the
//!   `/api/me` route alone), that route wrapped in one middleware each (`trace`, `cors` with its
//!   `Vary` header, `sensitive_headers`; `cors_origin` is the same CORS sent a front-end
//!   `Origin`, the only requests tower-http's CORS runs for), and `all_routes` (`build_router`: every route and the body limit,
//!   no middleware). The parts do not add up exactly: each layer also wraps the futures inside.
//!
//! Every request is made as `axum::serve` makes it: a clone of the service, called once, the
//! whole body read. Run: `cargo bench -p tasks-api --bench router -- --warm-up-time 1
//! --measurement-time 3` (results in `docs/benchmarks-log.md`).
//!
//! On a noisy host, count instructions instead (repeatable to a fraction of a percent):
//! `ROUTER_BENCH_COUNT=<bench name>:<n>` skips criterion and makes n requests of that one bench
//! (e.g. `tasks_api_me_cached:20000`) inside `counted_requests`, which callgrind can count alone:
//! `bench/router-instructions.sh` runs every bench that way and prints instructions per request.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use serde::Serialize;
use ssoguard::Algorithm;
use ssoguard::dev::{DevIssuer, DevIssuerConfig};
use ssoguard::testing::SigningKey;
use std::collections::HashMap;
use std::convert::Infallible;
use tasks_api::config::Config;
use tasks_api::cors::cors_layer;
use tasks_api::routes;
use tasks_api::startup::{
    SENSITIVE_REQUEST_HEADERS, SENSITIVE_RESPONSE_HEADERS, build_router, build_state,
    with_middleware,
};
use tokio::runtime::Runtime;
use tower::{Service, ServiceBuilder, ServiceExt as _};
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::trace::TraceLayer;

/// The default front-end origin (`CORS_ORIGINS` unset), sent by `me_cors_origin`.
const FRONT_END: &str = "http://localhost:3000";

/// The allocator the `tasks-api` binary uses (`src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Serialize)]
struct User {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    email: String,
    name: String,
    role: String,
}

async fn noauth() -> Json<User> {
    Json(User {
        iss: "http://127.0.0.1:18000/api/auth".into(),
        sub: "user-000001".into(),
        aud: "test-client".into(),
        exp: 2_000_000_000,
        iat: 1_999_996_400,
        email: "user1@example.com".into(),
        name: "Bench User 1".into(),
        role: "user".into(),
    })
}

/// One request as `axum::serve` makes it: a clone of the service, called once.
async fn call<S>(service: &S, request: Request<Body>) -> usize
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    let response = service.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    body.len()
}

fn bench<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    service: &S,
    request: impl Fn() -> Request<Body>,
) where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    // `ROUTER_BENCH_COUNT=<bench name>:<n>`: no criterion, just n requests of that one bench, for
    // an instruction count (see the module docs).
    let count = std::env::var("ROUTER_BENCH_COUNT").ok().map(|v| {
        let (only, n) = v.rsplit_once(':').expect("ROUTER_BENCH_COUNT=<name>:<n>");
        (only.to_owned(), n.parse::<usize>().expect("a count"))
    });
    if count.as_ref().is_some_and(|(only, _)| only != name) {
        return;
    }
    // The first call verifies the signature and fills the cache; every measured call is a hit.
    assert!(rt.block_on(call(service, request())) > 0);
    if let Some((_, n)) = count {
        counted_requests(rt, service, &request, n);
        return;
    }
    group.bench_function(name, |b| {
        b.to_async(rt).iter(|| call(service, request()));
    });
}

/// The measured loop of the instruction count: `valgrind --tool=callgrind
/// --toggle-collect='*counted_requests*'` counts only what runs inside it.
#[inline(never)]
fn counted_requests<S>(rt: &Runtime, service: &S, request: &impl Fn() -> Request<Body>, n: usize)
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    rt.block_on(async {
        for _ in 0..n {
            std::hint::black_box(call(service, request()).await);
        }
    });
}

fn router_bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The service's own log set-up (RUST_LOG default `info`), so disabled spans cost what they do
    // in production.
    tasks_api::telemetry::init(tasks_api::config::LogFormat::Pretty);
    let (config, state, token, _dev) = rt.block_on(async {
        let key = SigningKey::generate(Algorithm::RS256, "bench-rs256").expect("key");
        let mut dev_config = DevIssuerConfig::with_keys(vec![key]);
        dev_config.addr = "127.0.0.1:0".into();
        let dev = DevIssuer::start(dev_config).await.expect("dev issuer");
        let vars: HashMap<&str, String> = [
            ("AUTH_SERVER_URL", dev.issuer().origin().to_string()),
            ("SSO_CLIENT_ID", dev.client_id().to_string()),
            ("DATABASE_URL", "sqlite::memory:".to_string()),
            ("PORT", "0".to_string()),
        ]
        .into_iter()
        .collect();
        let config = Config::from_lookup(false, |k| vars.get(k).cloned()).expect("config");
        let state = build_state(&config).await.expect("state");
        state.auth.verifier().warm_up().await.expect("keys");
        let token = dev.token_for("alice").expect("token");
        (config, state, token, dev)
    });
    let cors = || cors_layer(&config).expect("cors");
    let me = || {
        Request::get("/api/me")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    let floor = Router::new().route("/noauth", get(noauth));
    let noauth_request = || {
        Request::get("/noauth")
            .body(Body::empty())
            .expect("request")
    };

    let mut group = c.benchmark_group("router");
    bench(&mut group, &rt, "floor_noauth", &floor, noauth_request);
    let service = with_middleware(build_router(state.clone()), cors());
    bench(&mut group, &rt, "tasks_api_me_cached", &service, me);
    let per_route = build_router(state.clone())
        .layer(cors())
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveResponseHeadersLayer::new(
            SENSITIVE_RESPONSE_HEADERS,
        ))
        .layer(SetSensitiveRequestHeadersLayer::new(
            SENSITIVE_REQUEST_HEADERS,
        ));
    bench(&mut group, &rt, "per_route_middleware", &per_route, me);
    group.finish();

    let mut group = c.benchmark_group("router-parts");
    bench(&mut group, &rt, "floor_with_bearer", &floor, || {
        let mut request = noauth_request();
        let value = format!("Bearer {token}").parse().expect("header value");
        request.headers_mut().insert(header::AUTHORIZATION, value);
        request
    });
    let me_route = || {
        Router::new()
            .route("/api/me", get(routes::me::me))
            .with_state(state.clone())
    };
    bench(&mut group, &rt, "me_no_middleware", &me_route(), me);
    let traced = ServiceBuilder::new()
        .map_response(IntoResponse::into_response)
        .layer(TraceLayer::new_for_http())
        .service(me_route());
    bench(&mut group, &rt, "me_trace", &traced, me);
    let with_cors = ServiceBuilder::new().layer(cors()).service(me_route());
    bench(&mut group, &rt, "me_cors", &with_cors, me);
    let me_from_front_end = || {
        let mut request = me();
        request
            .headers_mut()
            .insert(header::ORIGIN, FRONT_END.parse().expect("origin"));
        request
    };
    bench(
        &mut group,
        &rt,
        "me_cors_origin",
        &with_cors,
        me_from_front_end,
    );
    let sensitive = ServiceBuilder::new()
        .layer(SetSensitiveRequestHeadersLayer::new(
            SENSITIVE_REQUEST_HEADERS,
        ))
        .layer(SetSensitiveResponseHeadersLayer::new(
            SENSITIVE_RESPONSE_HEADERS,
        ))
        .service(me_route());
    bench(&mut group, &rt, "me_sensitive_headers", &sensitive, me);
    bench(
        &mut group,
        &rt,
        "all_routes",
        &build_router(state.clone()),
        me,
    );
    group.finish();
}

criterion_group!(benches, router_bench);
criterion_main!(benches);
