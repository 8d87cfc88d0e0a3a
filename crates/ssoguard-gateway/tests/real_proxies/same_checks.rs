//! The checks every front (nginx, Caddy, Traefik, the gateway's own reverse proxy) must pass:
//! what a valid, forged, expired or missing credential gets, and what FastAPI sees.

use super::*;

/// The checks every front (nginx, Caddy, Traefik, the gateway's own proxy) must pass.
pub(super) async fn same_checks(front: &str, stack: &Stack, what: &str) {
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
