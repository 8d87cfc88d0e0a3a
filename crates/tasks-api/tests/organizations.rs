//! Organization tasks (`/api/orgs/{org_id}/tasks`) through the whole app: real tokens from a
//! dev issuer, the service's own database on SQLite and Postgres, and memberships from token
//! claims or from Better Auth's tables (`organization`, `member`, `organizationRole`, created
//! here with Better Auth 1.7.5's DDL) on SQLite and on Postgres. The same rules against a real
//! Better Auth server are in `organizations_better_auth.rs`.
//!
//! ```sh
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo test -p tasks-api --test organizations
//! ```

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Backend, TestApp, fresh_database};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tower::ServiceExt as _;

/// A user token; `org` = (organization, roles) claims when given.
fn token(app: &TestApp, sub: &str, org: Option<(&str, &str)>) -> String {
    let mut builder = app
        .issuer()
        .token()
        .sub(sub)
        .email(&format!("{sub}@example.com"));
    if let Some((org, roles)) = org {
        builder = builder
            .claim("org_id", json!(org))
            .claim("org_role", json!(roles));
    }
    builder.sign()
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = app
        .http
        .request(method.parse().expect("method"), app.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.json().await.unwrap_or(Value::Null), headers)
}

/// The rules every membership source must give: what each caller may do with o1's tasks.
/// `owner`, `admin`, `alice` and `bob` (members) are members of o1, `eve` of o2 only.
async fn check_rules(app: &TestApp, t: &dyn Fn(&str) -> String) {
    let (owner, admin, alice, bob, eve) = (t("owner"), t("admin"), t("alice"), t("bob"), t("eve"));
    // Every member creates and reads.
    let (status, created, _) = send(
        app,
        "POST",
        "/api/orgs/o1/tasks",
        &alice,
        Some(json!({"title": "alice's"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (&created["organization_id"], &created["user_id"]),
        (&json!("o1"), &json!("alice"))
    );
    let id = created["id"].as_str().expect("id").to_owned();
    let (status, bobs, _) = send(
        app,
        "POST",
        "/api/orgs/o1/tasks",
        &bob,
        Some(json!({"title": "bob's"})),
    )
    .await;
    assert_eq!(status, 201, "{bobs}");
    let bobs = bobs["id"].as_str().expect("id").to_owned();
    for reader in [&owner, &admin, &alice, &bob] {
        let (status, list, _) = send(app, "GET", "/api/orgs/o1/tasks", reader, None).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    }
    // Org tasks are not personal tasks.
    let (_, personal, _) = send(app, "GET", "/api/tasks", &alice, None).await;
    assert_eq!(personal, json!([]));

    // Outsiders, and organizations that do not exist: the same 404.
    for (path, method) in [
        ("/api/orgs/o1/tasks", "GET"),
        ("/api/orgs/o1/tasks", "POST"),
        ("/api/orgs/nope/tasks", "GET"),
    ] {
        let body = (method == "POST").then(|| json!({"title": "x"}));
        let (status, answer, _) = send(app, method, path, &eve, body).await;
        assert_eq!(
            (status, answer),
            (404, json!({"detail": "Organization not found"})),
            "{method} {path}"
        );
    }
    let (status, _, _) = send(
        app,
        "DELETE",
        &format!("/api/orgs/o1/tasks/{id}"),
        &eve,
        None,
    )
    .await;
    assert_eq!(status, 404);
    // eve's own organization does not reach o1's task.
    let (status, answer, _) = send(
        app,
        "PATCH",
        &format!("/api/orgs/o2/tasks/{id}"),
        &eve,
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!((status, answer), (404, json!({"detail": "Task not found"})));

    // A member changes their own; another member's needs task:update / task:delete.
    let (status, answer, headers) = send(
        app,
        "PATCH",
        &format!("/api/orgs/o1/tasks/{id}"),
        &bob,
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!(
        (status, answer),
        (
            403,
            json!({"detail": "Permission 'task:update' required in this organization"})
        )
    );
    assert!(
        headers[header::WWW_AUTHENTICATE.as_str()]
            .to_str()
            .unwrap_or_default()
            .contains("insufficient_scope")
    );
    let (status, _, _) = send(
        app,
        "DELETE",
        &format!("/api/orgs/o1/tasks/{id}"),
        &bob,
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, updated, _) = send(
        app,
        "PATCH",
        &format!("/api/orgs/o1/tasks/{id}"),
        &alice,
        Some(json!({"title": "alice's, renamed"})),
    )
    .await;
    assert_eq!(
        (status, &updated["title"]),
        (200, &json!("alice's, renamed"))
    );
    let (status, updated, _) = send(
        app,
        "PATCH",
        &format!("/api/orgs/o1/tasks/{id}"),
        &admin,
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!((status, &updated["done"]), (200, &json!(true)));
    let (status, _, _) = send(
        app,
        "DELETE",
        &format!("/api/orgs/o1/tasks/{bobs}"),
        &bob,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = send(
        app,
        "DELETE",
        &format!("/api/orgs/o1/tasks/{id}"),
        &owner,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = send(
        app,
        "DELETE",
        &format!("/api/orgs/o1/tasks/{id}"),
        &owner,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // No credential, a service token: refused before any membership question.
    let resp = app
        .http
        .get(app.url("/api/orgs/o1/tasks"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    let service = app
        .issuer()
        .token()
        .sub("client-1")
        .claim("client_id", json!("client-1"))
        .claim("org_id", json!("o1"))
        .claim("org_role", json!("owner"))
        .claim("scope", json!("api:read"))
        .claim("token_use", json!("client_credentials"))
        .sign();
    let (status, _, _) = send(app, "GET", "/api/orgs/o1/tasks", &service, None).await;
    assert_eq!(status, 403, "a service token is no member");
}

/// Memberships from the token's `org_id` / `org_role` claims (the default).
async fn claims_membership(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let t = |sub: &str| {
        let org = match sub {
            "owner" => Some(("o1", "owner")),
            "admin" => Some(("o1", "admin")),
            "alice" | "bob" => Some(("o1", "member")),
            "eve" => Some(("o2", "member")),
            _ => None,
        };
        token(&app, sub, org)
    };
    check_rules(&app, &t).await;
    // A token without organization claims is a member of nothing; a role it does not know
    // grants nothing (but membership).
    let (status, _, _) = send(
        &app,
        "GET",
        "/api/orgs/o1/tasks",
        &token(&app, "x", None),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let ghost = token(&app, "ghost", Some(("o1", "ghost")));
    let (status, _, _) = send(&app, "GET", "/api/orgs/o1/tasks", &ghost, None).await;
    assert_eq!(status, 200);
}
on_both_databases!(claims_membership);

/// Better Auth's organization tables, as its 1.7.5 migrations create them.
const BETTER_AUTH_DDL: [&str; 3] = [
    r#"CREATE TABLE "organization" ("id" text not null primary key, "name" text not null, "slug" text not null unique, "logo" text, "createdAt" date not null, "metadata" text)"#,
    r#"CREATE TABLE "member" ("id" text not null primary key, "organizationId" text not null references "organization" ("id") on delete cascade, "userId" text not null, "role" text not null, "createdAt" date not null)"#,
    r#"CREATE TABLE "organizationRole" ("id" text not null primary key, "organizationId" text not null references "organization" ("id") on delete cascade, "role" text not null, "permission" text not null, "createdAt" date not null, "updatedAt" date)"#,
];

/// A Better Auth database of its own, written through an `Any` pool.
struct BetterAuthDb {
    url: String,
    pool: sqlx::AnyPool,
}

impl BetterAuthDb {
    async fn new(backend: Backend) -> BetterAuthDb {
        sqlx::any::install_default_drivers();
        let mut url = fresh_database(backend).await;
        if backend == Backend::Sqlite {
            url.push_str("?mode=rwc");
        }
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("Better Auth database");
        let db = BetterAuthDb {
            url: url.trim_end_matches("?mode=rwc").to_owned(),
            pool,
        };
        for ddl in BETTER_AUTH_DDL {
            db.run(ddl).await;
        }
        for org in ["o1", "o2"] {
            db.run(&format!(
                r#"INSERT INTO "organization" VALUES ('{org}', '{org}', '{org}', NULL, '2026-12-01', NULL)"#
            ))
            .await;
        }
        for (id, org, user, role) in [
            ("m-owner", "o1", "owner", "owner"),
            ("m-admin", "o1", "admin", "admin"),
            ("m-alice", "o1", "alice", "member"),
            ("m-bob", "o1", "bob", "member"),
            ("m-eve", "o2", "eve", "member"),
        ] {
            db.member(id, org, user, role).await;
        }
        db
    }

    async fn run(&self, sql: &str) {
        sqlx::query(sql).execute(&self.pool).await.expect(sql);
    }

    async fn member(&self, id: &str, org: &str, user: &str, role: &str) {
        self.run(&format!(
            r#"INSERT INTO "member" VALUES ('{id}', '{org}', '{user}', '{role}', '2026-12-01')"#
        ))
        .await;
    }
}

async fn spawn_with_better_auth(backend: Backend, db: &BetterAuthDb) -> TestApp {
    TestApp::spawn_with(
        backend,
        &[
            ("BETTER_AUTH_ORGANIZATIONS", "database"),
            ("BETTER_AUTH_DATABASE_URL", &db.url),
            ("BETTER_AUTH_DYNAMIC_ROLES", "1"),
            ("BETTER_AUTH_ORGANIZATION_CACHE_TTL", "1s"),
        ],
    )
    .await
}

/// Polls `GET path` with `token` until it answers `want` (at most 3 s: the 1 s TTL and the
/// 1 s negative TTL, with room); the time it took.
async fn answers_within(app: &TestApp, path: &str, token: &str, want: u16) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body, _) = send(app, "GET", path, token, None).await;
        if status == want {
            return started.elapsed();
        }
        assert!(status < 500, "never a 5xx: {status} {body}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{path} still {status}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Memberships from Better Auth's tables, on both databases: the same rules, claims ignored,
/// changes within the cache TTL, dynamic roles, and a broken lookup answering 503.
async fn database_membership(backend: Backend) {
    let db = BetterAuthDb::new(backend).await;
    let app = spawn_with_better_auth(backend, &db).await;
    let t = |sub: &str| token(&app, sub, None);
    check_rules(&app, &t).await;

    // Claims do not make an outsider a member when memberships are looked up.
    let forged = token(&app, "eve", Some(("o1", "owner")));
    let (status, _, _) = send(&app, "GET", "/api/orgs/o1/tasks", &forged, None).await;
    assert_eq!(status, 404);

    // A new member gets in, a role change and a removal take effect, within the TTLs.
    let carol = t("carol");
    let (status, _, _) = send(&app, "GET", "/api/orgs/o1/tasks", &carol, None).await;
    assert_eq!(status, 404);
    db.member("m-carol", "o1", "carol", "member").await;
    let waited = answers_within(&app, "/api/orgs/o1/tasks", &carol, 200).await;
    eprintln!("a new member got in after {waited:?}");
    let (_, task, _) = send(
        &app,
        "POST",
        "/api/orgs/o1/tasks",
        &t("alice"),
        Some(json!({"title": "to be deleted"})),
    )
    .await;
    let path = format!("/api/orgs/o1/tasks/{}", task["id"].as_str().expect("id"));
    let (status, _, _) = send(&app, "DELETE", &path, &carol, None).await;
    assert_eq!(status, 403, "a member may not delete another's task");
    db.run(r#"UPDATE "member" SET "role" = 'member,admin' WHERE "id" = 'm-carol'"#)
        .await;
    let started = Instant::now();
    loop {
        let (status, _, _) = send(&app, "DELETE", &path, &carol, None).await;
        if status == 204 {
            break;
        }
        assert_eq!(status, 403);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "role change not seen"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    db.run(r#"DELETE FROM "member" WHERE "id" = 'm-carol'"#)
        .await;
    answers_within(&app, "/api/orgs/o1/tasks", &carol, 404).await;

    // A dynamic role (Better Auth's organizationRole) grants what it lists, in its
    // organization only.
    db.run(r#"INSERT INTO "organizationRole" VALUES ('r1', 'o1', 'editor', '{"task":["update"]}', '2026-12-01', NULL)"#)
        .await;
    db.member("m-dave", "o1", "dave", "editor").await;
    let (_, task, _) = send(
        &app,
        "POST",
        "/api/orgs/o1/tasks",
        &t("alice"),
        Some(json!({"title": "edited by an editor"})),
    )
    .await;
    let path = format!("/api/orgs/o1/tasks/{}", task["id"].as_str().expect("id"));
    let (status, _, _) = send(
        &app,
        "PATCH",
        &path,
        &t("dave"),
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = send(&app, "DELETE", &path, &t("dave"), None).await;
    assert_eq!(status, 403);

    // Better Auth's database unreadable: 503 with Retry-After, never let in.
    db.run(r#"DROP TABLE "member""#).await;
    let frank = t("frank");
    let (status, body, headers) = send(&app, "GET", "/api/orgs/o1/tasks", &frank, None).await;
    assert_eq!(status, 503, "{body}");
    assert!(headers.contains_key(header::RETRY_AFTER.as_str()));
}
on_both_databases!(database_membership);

/// The router as the service serves it, called with `oneshot` (no socket).
#[tokio::test]
async fn the_router_checks_memberships_in_process() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let router = tasks_api::startup::build_router(app.state.clone());
    let call = |token: String, uri: &str| {
        let router = router.clone();
        let request = Request::builder()
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        async move {
            let response = router.oneshot(request).await.expect("infallible");
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let member = token(&app, "alice", Some(("o1", "member")));
    assert_eq!(
        call(member.clone(), "/api/orgs/o1/tasks").await,
        (StatusCode::OK, "[]".to_owned())
    );
    assert_eq!(
        call(member, "/api/orgs/o2/tasks").await,
        (
            StatusCode::NOT_FOUND,
            r#"{"detail":"Organization not found"}"#.to_owned()
        )
    );
    // The documented rules are in the OpenAPI document.
    let (status, doc) = call(String::new(), "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&doc).expect("json");
    let delete = &doc["paths"]["/api/orgs/{org_id}/tasks/{id}"]["delete"];
    let documented = format!(
        "{} {}",
        delete["summary"].as_str().unwrap_or_default(),
        delete["description"].as_str().unwrap_or_default()
    );
    assert!(documented.contains("task:delete"), "{delete}");
    assert!(delete["responses"]["404"].is_object() && delete["responses"]["403"].is_object());
}
