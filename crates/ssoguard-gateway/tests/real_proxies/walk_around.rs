//! The walk-around classes of the gateway's threat model, through every front: requests written
//! by hand (any method spelling, target or header name) and what of them reaches FastAPI.

use super::*;

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
pub(super) async fn no_walk_around(front: &str, stack: &Stack, what: &str) {
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
