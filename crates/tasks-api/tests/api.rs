//! Whole-app tests: the real service on port 0 with its own database and a dev issuer minting
//! real tokens. Each test runs on SQLite, and on Postgres when `TEST_DATABASE_URL` is set.

mod common;

use common::{Backend, OneConnection, TestApp};
use serde_json::{Value, json};

async fn health_ready_and_docs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"status": "ok"})
    );
    // Keys load in the background; the first authenticated call also waits for them.
    assert_eq!(
        app.get("/api/me", &app.token("alice", "user"))
            .await
            .status(),
        200
    );
    let resp = app.http.get(app.url("/ready")).send().await.expect("ready");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "ready");

    let spec: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("spec")
        .json()
        .await
        .expect("json");
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(spec["paths"]["/api/tasks/{id}"]["patch"].is_object());
    let docs = app.http.get(app.url("/docs/")).send().await.expect("docs");
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.expect("html").contains("swagger"));
}
on_both_databases!(health_ready_and_docs);

async fn me_and_auth_failures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.get("/api/me", &app.token("alice", "user")).await;
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.expect("json");
    assert_eq!(
        (me["id"].as_str(), me["email"].as_str(), me["role"].as_str()),
        (Some("alice"), Some("alice@example.com"), Some("user"))
    );

    let resp = app
        .http
        .get(app.url("/api/me"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"tasks-api\""
    );
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"detail": "Not authenticated"})
    );

    let wrong_aud = app.issuer().token().aud("someone-else").sign();
    let resp = app.get("/api/me", &wrong_aud).await;
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        challenge.contains("error=\"invalid_token\"") && challenge.contains("audience mismatch"),
        "{challenge}"
    );
    let body = resp.text().await.expect("body");
    assert!(!body.contains(&wrong_aud[10..40]));
}
on_both_databases!(me_and_auth_failures);

/// One keep-alive connection can carry several users' tokens: each request is answered for its
/// own token, repeats from the verified-token cache, whatever the connection sent before.
async fn keep_alive_connection_answers_each_request_for_its_own_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let counts = || {
        let m = app.state.auth.verifier().metrics();
        (m.verified, m.cache_hits)
    };
    let id = |(status, body): (u16, String)| {
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).expect("json")["id"].clone()
    };
    let (alice, bob) = (app.token("alice", "user"), app.token("bob", "user"));
    let mut conn = OneConnection::open(&app).await;
    let (_, alice_json) = conn.get("/api/me", &alice).await;
    assert_eq!(id((200, alice_json.clone())), "alice");
    for _ in 0..2 {
        assert_eq!(conn.get("/api/me", &alice).await, (200, alice_json.clone()));
    }
    assert_eq!(counts(), (3, 2));
    assert_eq!(id(conn.get("/api/me", &bob).await), "bob");
    assert_eq!(conn.get("/api/me", &alice).await, (200, alice_json.clone()));
    assert_eq!(counts(), (5, 3), "bob verified, alice from the cache");
    let mut other = OneConnection::open(&app).await;
    assert_eq!(id(other.get("/api/me", &alice).await), "alice");
    assert_eq!(counts(), (6, 4), "the cache is shared by connections");
    // A refused token on the connection does not change what the next request gets.
    let (status, _) = conn.get("/api/me", &format!("{alice}x")).await;
    assert_eq!(status, 401);
    assert_eq!(id(conn.get("/api/me", &alice).await), "alice");
    assert_eq!(counts(), (7, 5));
}
on_both_databases!(keep_alive_connection_answers_each_request_for_its_own_token);

async fn tasks_crud_and_pagination(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.token("alice", "user");
    let resp = app
        .post_json(
            "/api/tasks",
            &alice,
            &json!({"title": "Buy milk", "description": "2 litres", "done": false}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let task: Value = resp.json().await.expect("json");
    let id = task["id"].as_str().expect("id").to_string();
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["user_id"], "alice");

    let got: Value = app
        .get(&format!("/api/tasks/{id}"), &alice)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(got, task);

    let resp = app
        .http
        .patch(app.url(&format!("/api/tasks/{id}")))
        .bearer_auth(&alice)
        .json(&json!({"done": true, "description": null}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), 200);
    let patched: Value = resp.json().await.expect("json");
    assert_eq!(
        (
            patched["done"].as_bool(),
            patched["description"].is_null(),
            patched["title"].as_str()
        ),
        (Some(true), true, Some("Buy milk"))
    );

    for i in 0..5 {
        app.create_task(&alice, &format!("task {i}")).await;
    }
    let list: Vec<Value> = app
        .get("/api/tasks", &alice)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.len(), 6);
    assert_eq!(list[0]["title"], "task 4", "newest first");
    assert_eq!(list[5]["title"], "Buy milk");

    let resp = app.get("/api/tasks?limit=2&offset=1", &alice).await;
    assert!(resp.headers().get("x-next-cursor").is_some());
    let page: Vec<Value> = resp.json().await.expect("json");
    assert_eq!(
        page.iter()
            .map(|t| t["title"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["task 3", "task 2"]
    );

    // Cursor pagination walks every task exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/tasks?limit=4&cursor={c}"),
            None => "/api/tasks?limit=4".to_string(),
        };
        let resp = app.get(&path, &alice).await;
        cursor = resp
            .headers()
            .get("x-next-cursor")
            .map(|v| v.to_str().expect("ascii").to_string());
        let page: Vec<Value> = resp.json().await.expect("json");
        seen.extend(
            page.into_iter()
                .map(|t| t["id"].as_str().unwrap_or("").to_string()),
        );
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 6);

    let resp = app
        .http
        .delete(app.url(&format!("/api/tasks/{id}")))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 204);
    let resp = app.get(&format!("/api/tasks/{id}"), &alice).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"detail": "Task not found"})
    );
}
on_both_databases!(tasks_crud_and_pagination);

async fn cross_user_isolation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.token("alice", "user");
    let bob = app.token("bob", "user");
    let task = app.create_task(&alice, "alice's secret").await;
    let id = task["id"].as_str().expect("id");
    let path = format!("/api/tasks/{id}");

    let resp = app.get(&path, &bob).await;
    assert_eq!(resp.status(), 404);
    assert!(!resp.text().await.expect("body").contains("secret"));
    let resp = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&bob)
        .json(&json!({"title": "pwned"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), 404);
    let resp = app
        .http
        .delete(app.url(&path))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 404);
    let list: Vec<Value> = app
        .get("/api/tasks", &bob)
        .await
        .json()
        .await
        .expect("json");
    assert!(list.is_empty());
    // Alice's task is untouched.
    let still: Value = app.get(&path, &alice).await.json().await.expect("json");
    assert_eq!(still["title"], "alice's secret");
}
on_both_databases!(cross_user_isolation);

async fn validation_and_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.token("alice", "user");
    let resp = app
        .post_json("/api/tasks", &alice, &json!({"description": "no title"}))
        .await;
    assert_eq!(resp.status(), 422);
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"detail": [{"loc": ["body", "title"], "msg": "Field required", "type": "missing"}]})
    );
    let resp = app
        .http
        .post(app.url("/api/tasks"))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 422);
    assert_eq!(
        resp.json::<Value>().await.expect("json")["detail"][0]["type"],
        "json_invalid"
    );
    let resp = app
        .post_json("/api/tasks", &alice, &json!({"title": "x".repeat(70_000)}))
        .await;
    assert_eq!(resp.status(), 413);
    let resp = app
        .post_json("/api/tasks", &alice, &json!({"title": "x".repeat(201)}))
        .await;
    assert_eq!(resp.status(), 422);
    let resp = app.get("/api/tasks?limit=1000", &alice).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(
        resp.json::<Value>().await.expect("json")["detail"][0]["loc"],
        json!(["query", "limit"])
    );

    // SQL metacharacters and Unicode are stored and returned verbatim.
    let title = "Robert'); DROP TABLE tasks;-- ✓ 日本語 🎉";
    let task = app.create_task(&alice, title).await;
    let got: Value = app
        .get(
            &format!("/api/tasks/{}", task["id"].as_str().expect("id")),
            &alice,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(got["title"], title);
}
on_both_databases!(validation_and_limits);

async fn admin_routes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.token("alice", "user");
    let admin = app.token("admin", "admin");
    let both = app.token("boss", "user,admin");
    app.create_task(&alice, "one").await;
    app.create_task(&alice, "two").await;

    let resp = app.get("/api/admin/users/alice", &alice).await;
    assert_eq!(resp.status(), 403);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("insufficient_scope")
    );
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"detail": "Role 'admin' required"})
    );

    for token in [&admin, &both] {
        let resp = app.get("/api/admin/users/alice", token).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["task_count"], 2);
        assert_eq!(
            body["sso_profile"]["email"], "alice@example.com",
            "M2M profile from the SSO"
        );
    }
    let body: Value = app
        .get("/api/admin/users/nobody", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert!(body["sso_profile"].is_null());
    assert_eq!(body["task_count"], 0);

    let resp = app
        .http
        .delete(app.url("/api/admin/users/alice"))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 403);
    let resp = app
        .http
        .delete(app.url("/api/admin/users/alice"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"deleted_tasks": 2})
    );
    let list: Vec<Value> = app
        .get("/api/tasks", &alice)
        .await
        .json()
        .await
        .expect("json");
    assert!(list.is_empty());
}
on_both_databases!(admin_routes);

async fn cookie_tokens_only_when_configured(backend: Backend) {
    let off = TestApp::spawn(backend).await;
    let token = off.token("alice", "user");
    let resp = off
        .http
        .get(off.url("/api/me"))
        .header("cookie", format!("id_token={token}"))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 401);

    let on = TestApp::spawn_with(backend, &[("AUTH_COOKIE_NAME", "id_token")]).await;
    let token = on.token("alice", "user");
    let resp = on
        .http
        .get(on.url("/api/me"))
        .header("cookie", format!("theme=dark; id_token={token}"))
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), 200);
}
on_both_databases!(cookie_tokens_only_when_configured);

async fn cors_preflight(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/tasks"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    // Every answer, preflight or not, with or without an Origin, carries the one Vary that tells
    // shared caches it depends on the origin.
    let one_vary = |resp: &reqwest::Response| {
        let vary: Vec<_> = resp.headers().get_all("vary").iter().collect();
        assert_eq!(
            vary,
            ["origin, access-control-request-method, access-control-request-headers"]
        );
    };
    let resp = preflight("http://localhost:3000").await.expect("preflight");
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    one_vary(&resp);
    let resp = preflight("http://evil.example").await.expect("preflight");
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    // Simple (non-preflight) requests: the allowed origin is echoed with credentials and the
    // exposed headers; a foreign one, or none (a server-side fetch, curl, a same-origin GET), is
    // not.
    for origin in [
        Some("http://localhost:3000"),
        Some("http://evil.example"),
        None,
    ] {
        let mut request = app.http.get(app.url("/health"));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let resp = request.send().await.expect("simple request");
        assert_eq!(resp.status(), 200);
        one_vary(&resp);
        let allowed = origin == Some("http://localhost:3000");
        assert_eq!(
            resp.headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().expect("ascii")),
            origin.filter(|_| allowed),
            "{origin:?}"
        );
        if allowed {
            assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
            assert_eq!(
                resp.headers()["access-control-expose-headers"],
                "x-next-cursor"
            );
        }
    }
}
on_both_databases!(cors_preflight);

/// A wildcard origin cannot be combined with credentialed CORS: refused at start with a clear
/// error (tower-http would panic on it).
#[tokio::test]
async fn cors_wildcard_origin_is_refused_at_start() {
    let vars = [
        ("AUTH_SERVER_URL", "http://127.0.0.1:9"),
        ("SSO_CLIENT_ID", "client"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("PORT", "0"),
        ("CORS_ORIGINS", "http://localhost:3000, *"),
    ];
    let config = tasks_api::config::Config::from_lookup(false, |k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_string())
    })
    .expect("config");
    let err = tasks_api::startup::App::build(config)
        .await
        .err()
        .expect("a wildcard origin is refused");
    assert!(
        matches!(err, tasks_api::startup::StartupError::Cors(_)),
        "{err}"
    );
    assert!(err.to_string().contains("wildcard"), "{err}");
}

async fn sso_down_at_start_then_recovers(backend: Backend) {
    let app = TestApp::spawn_with_sso_down(backend).await;
    let base = app.base.clone();
    let http = reqwest::Client::new();
    let token = app.token("alice", "user");
    let resp = http
        .get(format!("{base}/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().get("retry-after").is_some());
    let ready = http
        .get(format!("{base}/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["not_ready"], json!(["signing_keys"]));

    app.issuer().set_fault(None);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let resp = http
        .get(format!("{base}/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    assert_eq!(resp.status(), 200, "recovers without a restart");
    assert_eq!(
        http.get(format!("{base}/ready"))
            .send()
            .await
            .expect("ready")
            .status(),
        200
    );
}
on_both_databases!(sso_down_at_start_then_recovers);
