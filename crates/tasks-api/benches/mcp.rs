//! MCP against REST in one run: the same 20 tasks listed by `tools/call list_tasks` on `/mcp`
//! and by `GET /api/tasks`, each with a token already in the verified-token cache, through the
//! service as `tasks-api` serves it (`build_router` wrapped by `with_middleware`, in process, no
//! sockets). The difference is the protocol's own cost (JSON-RPC framing, the guard reading the
//! body for the tool's scopes, rmcp's dispatch and per-request server), not verification's.
//!
//! - `mcp/rest_list_tasks`: `GET /api/tasks` (the REST API's audience);
//! - `mcp/mcp_list_tasks`: `POST /mcp` `tools/call` `list_tasks` (a token for `<PUBLIC_URL>/mcp`
//!   with `tasks:read`);
//! - `mcp/mcp_tools_list`: `POST /mcp` `tools/list`, the protocol with no database work.
//!
//! Run: `cargo bench -p tasks-api --bench mcp -- --warm-up-time 1 --measurement-time 3`
//! (results in `docs/BENCHMARKS.md`).

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::{call, serve};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

/// The allocator the `tasks-api` binary uses (`src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PUBLIC_URL: &str = "http://127.0.0.1:8000";

fn mcp_bench(c: &mut Criterion) {
    let served = serve("mcp", PUBLIC_URL);
    let (rt, service, dev) = (&served.rt, &served.service, &served.dev);
    let rest_token = dev.token_for("alice").expect("token");
    let mcp_token = dev
        .issuer()
        .token()
        .sub("alice")
        .aud(&format!("{PUBLIC_URL}/mcp"))
        .claim("scope", json!("tasks:read"))
        .sign();
    rt.block_on(async {
        for i in 0..20 {
            let body = format!(r#"{{"title":"task {i}"}}"#);
            let new = tasks_api::input::TaskCreate::from_body(body.as_bytes()).expect("task");
            served.state.db.create("alice", new).await.expect("create");
        }
    });
    let rest = || {
        Request::get("/api/tasks")
            .header(header::HOST, "127.0.0.1:8000")
            .header(header::AUTHORIZATION, format!("Bearer {rest_token}"))
            .body(Body::empty())
            .expect("request")
    };
    let mcp = |message: &serde_json::Value| {
        Request::post("/mcp")
            .header(header::HOST, "127.0.0.1:8000")
            .header(header::AUTHORIZATION, format!("Bearer {mcp_token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .body(Body::from(message.to_string()))
            .expect("request")
    };
    let list_tasks = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "list_tasks", "arguments": {}}});
    let tools_list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    // Fills the verified-token caches; every measured call is a hit. Same 20 tasks both ways.
    let rest_bytes = rt.block_on(call(service, rest()));
    let mcp_bytes = rt.block_on(call(service, mcp(&list_tasks)));
    assert!(
        rest_bytes > 0 && mcp_bytes > rest_bytes,
        "{rest_bytes} {mcp_bytes}"
    );

    let mut group = c.benchmark_group("mcp");
    group.bench_function("rest_list_tasks", |b| {
        b.to_async(rt).iter(|| call(service, rest()));
    });
    group.bench_function("mcp_list_tasks", |b| {
        b.to_async(rt).iter(|| call(service, mcp(&list_tasks)));
    });
    group.bench_function("mcp_tools_list", |b| {
        b.to_async(rt).iter(|| call(service, mcp(&tools_list)));
    });
    group.finish();
}

criterion_group!(benches, mcp_bench);
criterion_main!(benches);
