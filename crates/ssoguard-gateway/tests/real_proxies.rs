//! The gateway in front of a real FastAPI app (uvicorn), behind real nginx (`auth_request`),
//! real Caddy (`forward_auth`), real Traefik (`ForwardAuth`), and alone as the reverse proxy; tokens from real Better Auth
//! servers (EdDSA and RS256) and ssoguard's test issuer. The configuration files are those of
//! `deploy/`, shown in README.

mod support;

use serde_json::Value;
use ssoguard::testing::{Fault, TestIssuer};
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "real_proxies/same_checks.rs"]
mod same_checks;
#[path = "real_proxies/walk_around.rs"]
mod walk_around;

use same_checks::same_checks;
use walk_around::no_walk_around;

/// Everything one scenario needs, started.
struct Stack {
    sso: BetterAuth,
    staging: TestIssuer,
    fastapi: FastApi,
    gateway: Gateway,
}

/// Better Auth (production), a test issuer that is down (staging), FastAPI, and the gateway on
/// `deploy/gateway.toml` (reverse proxy when `proxy`) with `GATEWAY_FRONT=front`.
async fn stack(python: &std::path::Path, alg: &str, proxy: bool, front: &str) -> Stack {
    let (sso, staging, fastapi) = tokio::join!(
        BetterAuth::start(alg),
        TestIssuer::start(),
        FastApi::start(python)
    );
    let staging = staging.expect("test issuer");
    staging.set_default_audience("rust-backend");
    staging.set_fault(Some(Fault::Down));
    let config = live(
        &deploy_file("gateway.toml"),
        &[
            (EXAMPLE_PRODUCTION, &sso.host()),
            (EXAMPLE_STAGING, staging.addr().to_string().as_str()),
        ],
    );
    let upstream = format!("http://{}", fastapi.addr);
    let mut env: Vec<(&str, &str)> = vec![("GATEWAY_FRONT", front)];
    if proxy {
        env.push(("UPSTREAM_URL", upstream.as_str()));
        env.push(("METRICS_LISTEN", "127.0.0.1:0"));
    }
    let gateway = Gateway::start(&config, &env).await;
    Stack {
        sso,
        staging,
        fastapi,
        gateway,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

async fn json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Every identity header `deploy/gateway.toml` makes the gateway set (lower case): the four
/// defaults and its `[headers]` table. A front config that misses one lets a client spoof it.
fn identity_header_names() -> Vec<String> {
    let config: toml::Value = toml::from_str(&deploy_file("gateway.toml")).expect("gateway.toml");
    let mut names: Vec<String> = ["user", "email", "roles", "issuer"]
        .iter()
        .map(|n| format!("x-auth-request-{n}"))
        .collect();
    if let Some(table) = config.get("headers").and_then(toml::Value::as_table) {
        names.extend(table.keys().map(|k| k.to_ascii_lowercase()));
    }
    names
}

/// A proxy that asks the gateway's forward-auth endpoint, running its `deploy/` file.
#[derive(Clone, Copy)]
enum Front {
    Nginx,
    Caddy,
    Traefik,
}

impl Front {
    fn name(self) -> &'static str {
        match self {
            Front::Nginx => "nginx",
            Front::Caddy => "caddy",
            Front::Traefik => "traefik",
        }
    }

    fn binary(self) -> Option<std::path::PathBuf> {
        match self {
            Front::Nginx => nginx_binary(),
            Front::Caddy => caddy_binary(),
            Front::Traefik => traefik_binary(),
        }
    }

    async fn start(self, binary: &std::path::Path, stack: &Stack) -> (Proc, String) {
        let (gateway, upstream) = (&stack.gateway.addr, &stack.fastapi.addr);
        match self {
            Front::Nginx => nginx(binary, gateway, upstream).await,
            Front::Caddy => caddy(binary, gateway, upstream).await,
            Front::Traefik => traefik(binary, gateway, upstream).await,
        }
    }
}

/// `front` in front of FastAPI, the gateway answering its forward-auth requests, tokens signed
/// with `alg` by Better Auth: the same checks as the reverse proxy.
async fn forward_auth_behind(front: Front, alg: &str) {
    let (Some(binary), Some(python)) = (front.binary(), python()) else {
        return;
    };
    if !node_ready() {
        return;
    }
    let stack = stack(&python, alg, false, front.name()).await;
    let (_front, addr) = front.start(&binary, &stack).await;
    same_checks(&addr, &stack, front.name()).await;
    no_walk_around(&addr, &stack, front.name()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_auth_request_in_front_of_fastapi() {
    forward_auth_behind(Front::Nginx, "EdDSA").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_forward_auth_in_front_of_fastapi() {
    forward_auth_behind(Front::Caddy, "RS256").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traefik_forward_auth_in_front_of_fastapi() {
    forward_auth_behind(Front::Traefik, "RS256").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_proxy_in_front_of_fastapi() {
    let Some(python) = python() else { return };
    if !node_ready() {
        return;
    }
    let mut stack = stack(&python, "EdDSA", true, "nginx").await;
    let front = stack.gateway.addr.clone();
    same_checks(&front, &stack, "reverse proxy").await;
    no_walk_around(&front, &stack, "reverse proxy").await;
    let http = client();
    let user = stack.sso.user_token("bob").await;
    let sub = claims(&user)["sub"].as_str().expect("sub").to_string();

    // X-Forwarded-* reach the upstream.
    let (_, me) = json(
        http.get(format!("http://{front}/api/me"))
            .bearer_auth(&user)
            .send()
            .await
            .expect("me"),
    )
    .await;
    assert_eq!(me["headers"]["x-forwarded-host"], front.as_str(), "{me}");
    assert_eq!(me["headers"]["x-forwarded-proto"], "http", "{me}");
    assert_eq!(me["headers"]["x-forwarded-for"], "127.0.0.1", "{me}");

    // 20 MiB up and down, streamed: the gateway's peak memory stays flat.
    let before = stack.gateway.proc.peak_rss_kib();
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 320; // 20 MiB
    let pattern: Vec<u8> = (0..=255u8).cycle().take(CHUNK).collect();
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for _ in 0..CHUNKS {
        digest.update(&pattern);
    }
    let expected_sha: String = digest
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let chunks = pattern.clone();
    let body = futures_util::stream::iter(
        (0..CHUNKS).map(move |_| Ok::<_, std::io::Error>(chunks.clone())),
    );
    let (status, uploaded) = json(
        http.post(format!("http://{front}/api/upload"))
            .bearer_auth(&user)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .expect("upload"),
    )
    .await;
    assert_eq!(status, 200, "{uploaded}");
    assert_eq!(uploaded["bytes"], CHUNK * CHUNKS, "{uploaded}");
    assert_eq!(uploaded["sha256"], expected_sha.as_str());
    let mut resp = http
        .get(format!("http://{front}/api/download?mb=20"))
        .bearer_auth(&user)
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), 200);
    let mut received = 0usize;
    while let Some(chunk) = resp.chunk().await.expect("chunk") {
        received += chunk.len();
    }
    assert_eq!(received, 20 * 1024 * 1024);
    let after = stack.gateway.proc.peak_rss_kib();
    assert!(
        after.saturating_sub(before) < 8 * 1024,
        "gateway peak RSS grew {before} → {after} KiB over 40 MiB streamed"
    );

    // WebSocket echo through the gateway; an upgrade without a token is refused.
    assert_eq!(
        ws_echo(&front, &user, "hello").await,
        format!("{sub}: hello")
    );
    let (_, head) = ws_handshake(&front, None).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");

    // The gateway's reserved prefix is never proxied, even with a valid token.
    let (status, body) = json(
        http.get(format!("http://{front}/_ssoguard/anything"))
            .bearer_auth(&user)
            .send()
            .await
            .expect("reserved"),
    )
    .await;
    assert_eq!(
        (status, &body["detail"]),
        (404, &Value::from("Not Found")),
        "{body}"
    );

    // A malformed chunked body is the client's fault: 400, not 502.
    let mut stream = tokio::net::TcpStream::connect(&front)
        .await
        .expect("connect");
    stream
        .write_all(
            format!(
                "POST /api/public/x HTTP/1.1\r\nHost: {front}\r\nTransfer-Encoding: chunked\r\n\
                 Connection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    // Metrics are not on the proxy's port; they are on METRICS_LISTEN, and saw the decisions
    // and the upstream.
    let resp = http
        .get(format!("http://{front}/_ssoguard/metrics"))
        .send()
        .await
        .expect("metrics on the proxy port");
    assert_eq!(resp.status(), 404);
    let line = stack.gateway.proc.wait_for_line("metrics listening").await;
    let metrics_addr = serde_json::from_str::<Value>(&line).expect("log line")["fields"]["addr"]
        .as_str()
        .expect("addr")
        .to_string();
    let metrics = http
        .get(format!("http://{metrics_addr}/_ssoguard/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("ssoguard_gateway_decisions_total{outcome=\"allowed\",reason=\"none\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("outcome=\"unauthenticated\",reason=\"invalid_signature\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("outcome=\"unavailable\",reason=\"keys_unavailable\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("ssoguard_gateway_upstream_duration_seconds_bucket{"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ssoguard_jwks_fetches_total{issuer=\"production\"} 1"),
        "{metrics}"
    );
    // Key staleness per issuer: the production keys' age is a number of seconds.
    assert!(
        metrics
            .lines()
            .filter_map(|l| l.strip_prefix("ssoguard_jwks_age_seconds{issuer=\"production\"} "))
            .any(|v| v.trim().parse::<f64>().is_ok_and(|age| age >= 0.0)),
        "{metrics}"
    );

    // Upstream down: 502 with a FastAPI-shaped body.
    let _ = stack.fastapi.proc.terminate().await;
    let (status, body) = json(
        http.get(format!("http://{front}/api/me"))
            .bearer_auth(&user)
            .send()
            .await
            .expect("down"),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["detail"], "Upstream unavailable");

    // Graceful shutdown on SIGTERM, exit code 0; the log lines are JSON.
    assert_eq!(stack.gateway.proc.terminate().await, Some(0));
    let log = stack.gateway.proc.log();
    assert!(
        log.lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{log}"
    );
    assert!(!log.contains(&user), "a token was logged");
}

/// Sends a WebSocket handshake for `/ws/echo` by hand (RFC 6455), with `token` as the bearer
/// token when given; returns the connection and the response head.
async fn ws_handshake(addr: &str, token: Option<&str>) -> (tokio::net::TcpStream, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let authorization = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "GET /ws/echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         {authorization}\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("handshake");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.expect("response head");
        head.push(byte[0]);
    }
    (stream, String::from_utf8_lossy(&head).into_owned())
}

/// Opens a WebSocket to `/ws/echo`, sends `text`, returns the reply.
async fn ws_echo(addr: &str, token: &str, text: &str) -> String {
    let (mut stream, head) = ws_handshake(addr, Some(token)).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let payload = text.as_bytes();
    assert!(payload.len() < 126);
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).await.expect("frame");
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await.expect("reply header");
    assert_eq!(header[0], 0x81, "a final text frame");
    let len = usize::from(header[1] & 0x7f);
    assert!(len < 126);
    let mut reply = vec![0u8; len];
    stream.read_exact(&mut reply).await.expect("reply");
    String::from_utf8(reply).expect("text")
}
