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

/// The checks every front (nginx, Caddy, Traefik, the gateway's own proxy) must pass.
async fn same_checks(front: &str, stack: &Stack, what: &str) {
    let http = client();
    let url = |p: &str| format!("http://{front}{p}");
    let user = stack.sso.user_token("alice").await;
    let admin = stack.sso.admin_token().await;
    let user_claims = claims(&user);
    let issuer = format!("{}/api/auth", stack.sso.origin);

    // A valid Better Auth token: FastAPI sees the user.
    let (status, me) = json(
        http.get(url("/api/me"))
            .bearer_auth(&user)
            .send()
            .await
            .expect("me"),
    )
    .await;
    assert_eq!(status, 200, "{what}: {me}");
    assert_eq!(me["id"], user_claims["sub"], "{what}: {me}");
    assert_eq!(me["email"], user_claims["email"], "{what}: {me}");
    assert_eq!(me["roles"], serde_json::json!(["user"]), "{what}: {me}");
    assert_eq!(me["issuer"], issuer.as_str(), "{what}: {me}");
    assert!(
        me["headers"].get("authorization").is_none(),
        "{what}: token forwarded: {me}"
    );

    // A client-sent identity never reaches FastAPI, under any name the gateway sets: with a
    // token, FastAPI sees the gateway's values (or none)...
    let names = identity_header_names();
    let spoofed = |mut req: reqwest::RequestBuilder| {
        for name in &names {
            req = req.header(name.as_str(), "spoofed");
        }
        req
    };
    let (status, me) = json(
        spoofed(http.get(url("/api/me")).bearer_auth(&user))
            .send()
            .await
            .expect("spoof"),
    )
    .await;
    assert_eq!(status, 200, "{what}: {me}");
    assert_eq!(
        me["id"], user_claims["sub"],
        "{what}: spoofed user reached FastAPI: {me}"
    );
    assert_eq!(me["roles"], serde_json::json!(["user"]), "{what}: {me}");
    for name in &names {
        assert_ne!(
            me["headers"][name.as_str()],
            "spoofed",
            "{what}: spoofed {name} reached FastAPI: {me}"
        );
    }
    // A `[headers]` mapping arrives with the gateway's value.
    assert_eq!(
        me["headers"]["x-auth-request-name"], user_claims["name"],
        "{what}: {me}"
    );
    // ...and on a public route without one.
    let (status, ping) = json(
        spoofed(http.get(url("/api/public/ping")))
            .send()
            .await
            .expect("public"),
    )
    .await;
    assert_eq!(status, 200, "{what}: {ping}");
    for name in &names {
        let seen = ping["headers"][name.as_str()].as_str().unwrap_or("");
        assert!(
            seen.is_empty(),
            "{what}: spoofed {name} reached FastAPI: {ping}"
        );
    }

    // The request's method reaches the rules (X-Original-Method / X-Forwarded-Method): `/ws/*`
    // allows GET only, so a POST matches no rule.
    let resp = http
        .post(url("/ws/echo"))
        .bearer_auth(&user)
        .send()
        .await
        .expect("post ws");
    assert_eq!(resp.status(), 403, "{what}: method rule");

    // Forged, missing, stranger: 401.
    let resp = http
        .get(url("/api/me"))
        .bearer_auth(forged(&user))
        .send()
        .await
        .expect("forged");
    assert_eq!(resp.status(), 401, "{what}: forged");
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{what}: {challenge}"
    );
    assert!(
        challenge.contains("resource_metadata=\"http://")
            && challenge.contains("/.well-known/oauth-protected-resource\""),
        "{what}: {challenge}"
    );
    let resp = http.get(url("/api/me")).send().await.expect("no token");
    assert_eq!(resp.status(), 401, "{what}: no token");
    let stranger = stack
        .staging
        .token()
        .aud("rust-backend")
        .iss("http://127.0.0.1:1/api/auth")
        .sign();
    let resp = http
        .get(url("/api/me"))
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("stranger");
    assert_eq!(resp.status(), 401, "{what}: unknown issuer");
    assert_eq!(
        stack.staging.jwks_fetches(),
        0,
        "{what}: an unknown issuer caused a fetch"
    );

    // The role rule: a user is refused (403), the admin gets through.
    let resp = http
        .delete(url("/api/admin/users/u1"))
        .bearer_auth(&user)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 403, "{what}: role rule");
    let (status, deleted) = json(
        http.delete(url("/api/admin/users/u1"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("delete"),
    )
    .await;
    assert_eq!(
        (status, &deleted["deleted"]),
        (200, &Value::from("u1")),
        "{what}: {deleted}"
    );

    // No rule matches: refused even with a valid token (default deny).
    let resp = http
        .get(url("/openapi.json"))
        .bearer_auth(&user)
        .send()
        .await
        .expect("docs");
    assert_eq!(resp.status(), 403, "{what}: default deny");

    // Tasks round trip (the reference API, user-scoped by the header).
    let (status, task) = json(
        http.post(url("/api/tasks"))
            .bearer_auth(&user)
            .json(&serde_json::json!({"title": "through the gateway"}))
            .send()
            .await
            .expect("create"),
    )
    .await;
    assert_eq!(status, 201, "{what}: {task}");
    assert_eq!(task["owner"], user_claims["sub"]);

    // The staging SSO is down: 503 with Retry-After, never "let in".
    let staging_token = stack.staging.token().aud("rust-backend").sign();
    let resp = http
        .get(url("/api/me"))
        .bearer_auth(&staging_token)
        .send()
        .await
        .expect("down");
    assert_eq!(resp.status(), 503, "{what}: SSO down");
    assert!(
        resp.headers().contains_key("retry-after"),
        "{what}: Retry-After"
    );

    // RFC 9728 metadata, through the front.
    let (status, meta) = json(
        http.get(url("/.well-known/oauth-protected-resource"))
            .send()
            .await
            .expect("meta"),
    )
    .await;
    assert_eq!(status, 200, "{what}: {meta}");
    assert_eq!(
        meta["resource"],
        format!("http://{front}").as_str(),
        "{what}: {meta}"
    );
    assert!(
        meta["authorization_servers"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s == issuer.as_str())),
        "{what}: {meta}"
    );
}

/// One request written by hand (any method spelling, target or header name), `Connection:
/// close`: the status and the body (de-chunked).
async fn raw(addr: &str, method: &str, target: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut bytes)).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_string()
    };
    (status, body)
}

/// Whether the FastAPI echo route was reached, and the value of `header` it saw (folded name).
fn echoed(body: &str, header: &str) -> (bool, Option<String>) {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let reached = value["reached"] == true;
    let seen = value["headers"].as_array().and_then(|all| {
        all.iter().find_map(|pair| {
            let name = pair[0].as_str()?.to_ascii_lowercase().replace('_', "-");
            (name == header).then(|| pair[1].as_str().unwrap_or("").to_string())
        })
    });
    (reached, seen)
}

/// The walk-around classes of the gateway's threat model, through `front`: whatever a client
/// sends, nothing reaches FastAPI that the rules refuse, and no client copy of a header that
/// decides the backend's route, method or identity arrives. Run through every shipped front and
/// the gateway's own reverse proxy.
async fn no_walk_around(front: &str, stack: &Stack, what: &str) {
    let user = stack.sso.user_token("mallory").await;
    let user = format!("Bearer {user}");
    let admin_only = "/api/admin/secret";

    // One source of truth for the original request: a client header naming another target or
    // method (either front's set, any spelling, rewrites, overrides) changes nothing.
    let targets = [
        "X-Original-URI",
        "X-Forwarded-Uri",
        "X_Original_URI",
        "X-Original-URL",
        "X-Rewrite-URL",
        "X-Forwarded-Path",
        "X-Envoy-Original-Path",
    ];
    for name in targets {
        for (token, claimed) in [(None, "/api/public/x"), (Some(user.as_str()), "/api/x")] {
            let mut headers = vec![(name, claimed)];
            if let Some(token) = token {
                headers.push(("Authorization", token));
            }
            let (status, body) = raw(front, "GET", admin_only, &headers).await;
            assert!(
                status == 401 || status == 403,
                "{what}: {name}: {claimed} let {admin_only} through: {status} {body}"
            );
            assert!(
                !echoed(&body, "").0,
                "{what}: {name}: reached FastAPI: {body}"
            );
        }
    }
    for name in [
        "X-Original-Method",
        "X-Forwarded-Method",
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
    ] {
        let (status, body) = raw(
            front,
            "DELETE",
            "/api/admin/users/u1",
            &[(name, "GET"), ("Authorization", &user)],
        )
        .await;
        assert_eq!(
            status, 403,
            "{what}: {name}: GET let a DELETE through: {body}"
        );
    }
    // On a public route, no rewrite or override header reaches FastAPI.
    for name in targets.iter().chain(&[
        "X-HTTP-Method-Override",
        "X-Method-Override",
        "X-Forwarded-Prefix",
    ]) {
        let (status, body) = raw(front, "GET", "/api/public/x", &[(name, "/api/admin/x")]).await;
        let folded = name.to_ascii_lowercase().replace('_', "-");
        let (reached, seen) = echoed(&body, &folded);
        assert!(
            !reached || seen.is_none(),
            "{what}: {name} reached FastAPI ({status}): {body}"
        );
    }

    // Identity headers under another spelling (CGI/WSGI/Rack fold `_` into `-`): never reach
    // FastAPI, anonymous on a public route or as a user.
    let sub = claims(user.trim_start_matches("Bearer "))["sub"]
        .as_str()
        .expect("sub")
        .to_string();
    let forged = [
        ("X_Auth_Request_User", "FORGED-admin"),
        ("X_Auth_Request_Roles", "admin"),
        ("X_Auth_Request_Email", "FORGED@example.com"),
        ("X_Auth_Request_Org", "FORGED-org"),
        ("x-auth-request_user", "FORGED-admin"),
    ];
    for (path, token) in [("/api/public/x", None), ("/api/x", Some(user.as_str()))] {
        for (name, value) in forged {
            let mut headers = vec![(name, value)];
            if let Some(token) = token {
                headers.push(("Authorization", token));
            }
            let (status, body) = raw(front, "GET", path, &headers).await;
            assert!(
                !body.contains("FORGED") && !body.contains("\"admin\""),
                "{what}: {name} on {path} reached FastAPI ({status}): {body}"
            );
        }
    }

    // `Connection` naming identity headers: refused (400; 401 when the front drops the named
    // `Authorization` before asking), or the user's own identity arrives.
    for named in [
        "close, X-Auth-Request-User, X-Auth-Request-Roles, X-Auth-Request-Issuer",
        "X_Auth_Request_User",
        "keep-alive, Authorization",
    ] {
        let (status, body) = raw(
            front,
            "GET",
            "/api/x",
            &[("Authorization", &user), ("Connection", named)],
        )
        .await;
        let (reached, seen) = echoed(&body, "x-auth-request-user");
        assert!(
            status == 400
                || (status == 401 && !reached)
                || (reached && seen.as_deref() == Some(sub.as_str())),
            "{what}: Connection: {named}: {status} {body}"
        );
    }
    let (status, body) = raw(
        front,
        "GET",
        "/api/x",
        &[
            ("Authorization", &user),
            ("Connection", "close, X-Auth-Request-User"),
            ("X_Auth_Request_User", "FORGED-admin"),
        ],
    )
    .await;
    assert!(!body.contains("FORGED"), "{what}: {status} {body}");

    // h2c: never switched, and the upgrade never reaches FastAPI.
    let (status, body) = raw(
        front,
        "GET",
        "/api/public/h2c",
        &[
            ("Connection", "Upgrade, HTTP2-Settings"),
            ("Upgrade", "h2c"),
            ("HTTP2-Settings", "AAMAAABkAAQAAP__"),
        ],
    )
    .await;
    assert_ne!(status, 101, "{what}: h2c switched: {body}");
    let (_, upgrade) = echoed(&body, "upgrade");
    let (_, settings) = echoed(&body, "http2-settings");
    assert!(
        upgrade.is_none() && settings.is_none(),
        "{what}: h2c reached FastAPI: {body}"
    );

    // Forwarded and X-Real-IP from the client never arrive as sent.
    let (status, body) = raw(
        front,
        "GET",
        "/api/public/x",
        &[
            ("Forwarded", "for=6.6.6.6;host=evil.example;proto=https"),
            ("X-Real-IP", "6.6.6.6"),
        ],
    )
    .await;
    assert!(
        !body.contains("6.6.6.6") && !body.contains("evil.example"),
        "{what}: {status} {body}"
    );

    // A WebSocket handshake with a cookie credential needs an allowed Origin, like an unsafe
    // method (cross-site WebSocket hijacking): from evil.example, or without Origin, no 101.
    let cookie = format!("sso_token={}", user.trim_start_matches("Bearer "));
    for origin in [Some("http://evil.example"), None] {
        let mut headers = vec![
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
            ("Cookie", cookie.as_str()),
        ];
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        let (status, body) = raw(front, "GET", "/ws/echo", &headers).await;
        assert_ne!(status, 101, "{what}: WebSocket from {origin:?}: {body}");
        if what == "reverse proxy" {
            assert_eq!(status, 403, "{what}: WebSocket from {origin:?}: {body}");
        }
    }
    // Path forms another backend reads as a protected path: `;` parameters (Tomcat, Jetty,
    // Spring), case (IIS, case-insensitive routers), trailing dots and spaces (IIS, Windows),
    // raw or encoded; `#` in the target. Refused (400 from the reverse proxy), never served.
    let forms = [
        (None, "/api/public/..;/admin/secret"),
        (None, "/api/public/..%3b/admin/secret"),
        (None, "/api/public/x#/../../admin/secret"),
        (Some(user.as_str()), "/api/admin;jsessionid=1/secret"),
        (Some(user.as_str()), "/api/admin%3Bx=1/secret"),
        (Some(user.as_str()), "/api/ADMIN/secret"),
        (Some(user.as_str()), "/api/Admin/secret"),
        (Some(user.as_str()), "/API/admin/secret"),
        (Some(user.as_str()), "/api/admin%20/secret"),
        (Some(user.as_str()), "/api/admin./secret"),
        (Some(user.as_str()), "/api/admin%2e/secret"),
        (Some(user.as_str()), "/api/admin.%20./secret"),
        (None, "/api/PUBLIC/x"),
    ];
    for (token, target) in forms {
        let headers: Vec<(&str, &str)> = token.map(|t| ("Authorization", t)).into_iter().collect();
        let (status, body) = raw(front, "GET", target, &headers).await;
        let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let served = value["reached"] == true;
        let path = value["raw_path"].as_str().unwrap_or("");
        assert!(
            !served || !path.to_ascii_lowercase().contains("admin"),
            "{what}: {target} served ({status}): {body}"
        );
        // (The reverse proxy's HTTP parser drops a raw `#...` and forwards the path it decided on.)
        if what == "reverse proxy" && !target.contains('#') {
            assert_eq!(status, 400, "{what}: {target}: {body}");
        }
    }
    // A method's lower-case spelling: refused, never matched past the `DELETE` rule.
    for method in ["delete", "Delete"] {
        let (status, body) = raw(
            front,
            method,
            "/api/admin/users/u1",
            &[("Authorization", user.as_str())],
        )
        .await;
        assert!(
            !body.contains("\"deleted\"") && !echoed(&body, "").0,
            "{what}: {method}: {status} {body}"
        );
        if what == "reverse proxy" {
            assert_eq!(status, 400, "{what}: {method}: {body}");
        }
    }

    // No client-controlled URL in answers: a client's X-Forwarded-Host/-Proto (and, to the
    // reverse proxy, its Host) never become the RFC 9728 `resource` or `resource_metadata`.
    let mut spoof = vec![
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "https"),
    ];
    let (_, meta) = raw(
        front,
        "GET",
        "/.well-known/oauth-protected-resource",
        &spoof,
    )
    .await;
    assert!(meta.contains("\"resource\""), "{what}: {meta}");
    assert!(!meta.contains("evil.example"), "{what}: {meta}");
    if what == "reverse proxy" {
        spoof.push(("Host", "evil.example"));
    }
    for target in ["/api/me", "/.well-known/oauth-protected-resource"] {
        let mut stream = tokio::net::TcpStream::connect(front)
            .await
            .expect("connect");
        let host = spoof
            .iter()
            .find(|(k, _)| *k == "Host")
            .map_or(front, |(_, v)| *v);
        let mut request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        for (k, v) in spoof.iter().filter(|(k, _)| *k != "Host") {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            !answer.contains("evil.example") && !answer.contains("https://"),
            "{what}: {target}: {answer}"
        );
    }

    if what == "reverse proxy" {
        // The credential cookie stays at the gateway; other cookies pass.
        let both = format!("{cookie}; theme=dark");
        let (status, body) = raw(front, "GET", "/api/x", &[("Cookie", both.as_str())]).await;
        let (reached, seen) = echoed(&body, "cookie");
        assert!(
            status == 200 && reached && seen.as_deref() == Some("theme=dark"),
            "{what}: {status} {body}"
        );
    }
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
