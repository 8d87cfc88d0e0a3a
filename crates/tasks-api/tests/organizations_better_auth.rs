//! Organizations against a real Better Auth (`BA_ORGANIZATIONS=1`: the organization plugin with
//! teams and dynamic access control, the jwt plugin's `definePayload` adding `org_id`,
//! `org_role`, `team_id`): an owner creates an organization, invites an admin and a member who
//! accept, everyone sets it active and takes a jwt-plugin token; an outsider has an
//! organization of their own. Then tasks-api answers each of them exactly as the rules say,
//! with memberships from the tokens' claims and from Better Auth's database (SQLite, and
//! Postgres when `TEST_DATABASE_URL` is set), by token and by session cookie; a role change, a
//! dynamic role and a removal made through Better Auth's API take effect within the cache TTL.
//!
//! Without Node.js the tests are skipped (a loud `SKIPPED` line), except under `CI`.
//!
//! ```sh
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo test -p tasks-api --test organizations_better_auth -- --nocapture
//! ```

mod interop_support;

use interop_support::{
    BetterAuth, Session, Setup, TasksApi, jwt_claims, prerequisites_met, skip, test_database_url,
};
use serde_json::{Value, json};
use ssoguard::organization::{OrganizationDatabase, OrganizationSource, Organizations};
use ssoguard::session::{DatabaseLookup, SessionSchema, SessionSecret, SessionVerifier};
use std::time::{Duration, Instant};

/// server.mjs's default `BA_SECRET`.
const SECRET: &str = "ssoguard-dev-secret-0123456789abcdef0123456789";

/// `POST <base><path>` as `who` (bearer session token), expecting 200.
async fn call(sso: &BetterAuth, who: &Session, path: &str, body: &Value) -> Value {
    let resp = sso
        .http
        .post(format!("{}{path}", sso.base()))
        .bearer_auth(&who.bearer)
        .json(body)
        .send()
        .await
        .expect(path);
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{path}: {answer}");
    answer
}

/// `who` joins `org` as `role` through an invitation; the new member's id.
async fn join(sso: &BetterAuth, owner: &Session, who: &Session, org: &str, role: &str) -> String {
    let invitation = call(
        sso,
        owner,
        "/organization/invite-member",
        &json!({"email": who.email, "role": role, "organizationId": org}),
    )
    .await;
    let id = invitation["id"].as_str().expect("invitation id");
    let accepted = call(
        sso,
        who,
        "/organization/accept-invitation",
        &json!({"invitationId": id}),
    )
    .await;
    assert_eq!(accepted["member"]["role"], role, "{accepted}");
    accepted["member"]["id"]
        .as_str()
        .expect("member id")
        .to_owned()
}

/// A jwt-plugin token of `who` after setting `org` active.
async fn token_in(sso: &BetterAuth, who: &Session, org: &str) -> String {
    call(
        sso,
        who,
        "/organization/set-active",
        &json!({"organizationId": org}),
    )
    .await;
    sso.jwt_plugin_token(who).await
}

/// tasks-api trusting the jwt plugin's tokens (default `iss` = `aud` = the origin), plus `vars`.
async fn tasks_api(sso: &BetterAuth, vars: &[(&str, &str)]) -> TasksApi {
    let jwks = format!("{}/jwks", sso.base());
    let mut all = vec![
        ("SSO_ISSUER", sso.origin.as_str()),
        ("SSO_CLIENT_ID", sso.origin.as_str()),
        ("JWKS_URL", jwks.as_str()),
    ];
    all.extend_from_slice(vars);
    TasksApi::for_server(sso, &all).await
}

/// `method path` with a bearer token, or a session cookie (`cookie:` prefix).
async fn send(
    api: &TasksApi,
    method: &str,
    path: &str,
    credential: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = api.http.request(
        method.parse().expect("method"),
        format!("{}{path}", api.base),
    );
    req = match credential.strip_prefix("cookie:") {
        Some(cookie) => req
            .header("cookie", cookie)
            .header("origin", "http://localhost:3000"),
        None => req.bearer_auth(credential),
    };
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Polls until `method path` (with `body`) answers `want` (at most 4 s); never a 5xx meanwhile.
async fn answers_within(
    api: &TasksApi,
    (method, path, body): (&str, &str, Option<Value>),
    credential: &str,
    want: u16,
) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = send(api, method, path, credential, body.clone()).await;
        if status == want {
            return started.elapsed();
        }
        assert!(status < 500, "{method} {path}: {status} {body}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{method} {path} still {status}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct People {
    owner: Session,
    admin: Session,
    member: Session,
    outsider: Session,
    org: String,
    other_org: String,
    member_id: String,
}

async fn people(sso: &BetterAuth) -> People {
    let (owner, admin, member, outsider) = (
        sso.new_user("Owner").await,
        sso.new_user("Admin").await,
        sso.new_user("Member").await,
        sso.new_user("Outsider").await,
    );
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let org = call(
        sso,
        &owner,
        "/organization/create",
        &json!({"name": "Acme", "slug": format!("acme-{suffix}")}),
    )
    .await["id"]
        .as_str()
        .expect("org id")
        .to_owned();
    let other_org = call(
        sso,
        &outsider,
        "/organization/create",
        &json!({"name": "Other", "slug": format!("other-{suffix}")}),
    )
    .await["id"]
        .as_str()
        .expect("org id")
        .to_owned();
    join(sso, &owner, &admin, &org, "admin").await;
    let member_id = join(sso, &owner, &member, &org, "member").await;
    People {
        owner,
        admin,
        member,
        outsider,
        org,
        other_org,
        member_id,
    }
}

/// What the four get from tasks-api, each with `credential(person)`.
async fn check_rules(api: &TasksApi, p: &People, credentials: [&str; 4]) {
    let [owner, admin, member, outsider] = credentials;
    let tasks = format!("/api/orgs/{}/tasks", p.org);
    let create = |who: &'static str| json!({ "title": format!("{who}'s task") });
    let (status, owners) = send(api, "POST", &tasks, owner, Some(create("owner"))).await;
    assert_eq!(status, 201, "{owners}");
    let (status, members) = send(api, "POST", &tasks, member, Some(create("member"))).await;
    assert_eq!(status, 201, "{members}");
    assert_eq!(members["user_id"], json!(p.member.user_id));
    let (status, list) = send(api, "GET", &tasks, admin, None).await;
    assert_eq!(status, 200, "{list}");
    assert!(list.as_array().is_some_and(|l| l.len() >= 2), "{list}");
    // The outsider: 404 for the organization, whatever they try, and their own organization
    // does not reach this one's tasks.
    for (method, body) in [("GET", None), ("POST", Some(create("outsider")))] {
        let (status, answer) = send(api, method, &tasks, outsider, body).await;
        assert_eq!(
            (status, answer),
            (404, json!({"detail": "Organization not found"}))
        );
    }
    let owners_task = owners["id"].as_str().expect("id");
    let members_task = members["id"].as_str().expect("id");
    let (status, _) = send(
        api,
        "DELETE",
        &format!("/api/orgs/{}/tasks/{owners_task}", p.other_org),
        outsider,
        None,
    )
    .await;
    assert_eq!(status, 404);
    // The member: their own task, not the owner's.
    let path = |id: &str| format!("{tasks}/{id}");
    let done = Some(json!({"done": true}));
    let (status, answer) = send(api, "PATCH", &path(owners_task), member, done.clone()).await;
    assert_eq!(
        (status, answer),
        (
            403,
            json!({"detail": "Permission 'task:update' required in this organization"})
        )
    );
    let (status, _) = send(api, "DELETE", &path(owners_task), member, None).await;
    assert_eq!(status, 403);
    let (status, _) = send(api, "PATCH", &path(members_task), member, done.clone()).await;
    assert_eq!(status, 200);
    // The admin and the owner: anyone's.
    let (status, _) = send(api, "PATCH", &path(members_task), admin, done).await;
    assert_eq!(status, 200);
    let (status, _) = send(api, "DELETE", &path(members_task), owner, None).await;
    assert_eq!(status, 204);
    let (status, _) = send(api, "DELETE", &path(owners_task), admin, None).await;
    assert_eq!(status, 204);
}

async fn organizations_on(setup: Setup) {
    let sso =
        BetterAuth::start_in(setup, "EdDSA", &[("BA_ORGANIZATIONS".into(), "1".into())]).await;
    let p = people(&sso).await;
    let tokens = [
        token_in(&sso, &p.owner, &p.org).await,
        token_in(&sso, &p.admin, &p.org).await,
        token_in(&sso, &p.member, &p.org).await,
        token_in(&sso, &p.outsider, &p.other_org).await,
    ];
    // The custom claims, as definePayload put them.
    let claims = jwt_claims(&tokens[2]);
    assert_eq!(
        (&claims["org_id"], &claims["org_role"]),
        (&json!(p.org), &json!("member")),
        "{claims}"
    );
    assert_eq!(jwt_claims(&tokens[0])["org_role"], "owner");
    let [owner, admin, member, outsider] = tokens.each_ref().map(String::as_str);

    // The library alone: the session's active organization, from get-session and from Better
    // Auth's own session row, then that membership looked up.
    let active = Organizations::builder()
        .source(OrganizationSource::ActiveOrganization)
        .database(OrganizationDatabase::new(sso.database_url()).dynamic_roles(true))
        .access_control(tasks_api::organizations::default_roles())
        .build()
        .expect("organizations");
    let secret = || SessionSecret::new(SECRET).expect("secret");
    let remote = SessionVerifier::builder()
        .secret(secret())
        .remote(sso.base())
        .build()
        .expect("remote sessions");
    let database = SessionVerifier::builder()
        .secret(secret())
        .database(
            DatabaseLookup::new(sso.database_url())
                .schema(SessionSchema::default().organization_plugin(true, true)),
        )
        .build()
        .expect("database sessions");
    for sessions in [&remote, &database] {
        let claims = sessions
            .verify_cookie_header([p.member.cookie.as_str()])
            .await
            .expect("the member's session");
        assert_eq!(
            claims.extra["active_organization_id"],
            json!(p.org),
            "{}",
            sessions.lookup_kind()
        );
        let m = active.member(&claims, None).await.expect("member");
        assert_eq!(
            (m.organization_id.as_str(), m.roles.as_slice()),
            (p.org.as_str(), ["member".to_owned()].as_slice())
        );
        assert!(m.has_permission("task:create") && !m.has_permission("task:delete"));
    }

    // Memberships from the tokens' claims: no lookup at all.
    let by_claims = tasks_api(&sso, &[]).await;
    check_rules(&by_claims, &p, [owner, admin, member, outsider]).await;

    // Memberships from Better Auth's database: the same answers, by token and by cookie.
    let db_url = sso.database_url();
    let by_database = tasks_api(
        &sso,
        &[
            ("BETTER_AUTH_ORGANIZATIONS", "database"),
            ("BETTER_AUTH_DATABASE_URL", &db_url),
            ("BETTER_AUTH_DYNAMIC_ROLES", "1"),
            ("BETTER_AUTH_ORGANIZATION_CACHE_TTL", "1s"),
            ("BETTER_AUTH_SECRET", SECRET),
        ],
    )
    .await;
    check_rules(&by_database, &p, [owner, admin, member, outsider]).await;
    let cookie = format!("cookie:{}", p.member.cookie);
    check_rules(&by_database, &p, [owner, admin, cookie.as_str(), outsider]).await;

    // A role change through Better Auth: the database lookup sees it within the TTL; the old
    // token keeps its claims until it is replaced.
    let tasks = format!("/api/orgs/{}/tasks", p.org);
    let (_, owners) = send(
        &by_database,
        "POST",
        &tasks,
        owner,
        Some(json!({"title": "x"})),
    )
    .await;
    let owners_task = format!("{tasks}/{}", owners["id"].as_str().expect("id"));
    call(
        &sso,
        &p.owner,
        "/organization/update-member-role",
        &json!({"memberId": p.member_id, "role": "admin", "organizationId": p.org}),
    )
    .await;
    let waited = answers_within(
        &by_database,
        ("PATCH", owners_task.as_str(), Some(json!({"done": true}))),
        member,
        200,
    )
    .await;
    eprintln!("role change seen by the database lookup after {waited:?}");
    // Each tasks-api has its own task database: the owner's task in the claims one.
    let (_, claims_task) = send(
        &by_claims,
        "POST",
        &tasks,
        owner,
        Some(json!({"title": "y"})),
    )
    .await;
    let claims_task = format!("{tasks}/{}", claims_task["id"].as_str().expect("id"));
    let done = Some(json!({"done": true}));
    let (status, _) = send(&by_claims, "PATCH", &claims_task, member, done.clone()).await;
    assert_eq!(status, 403, "the old token still says member");
    let fresh = sso.jwt_plugin_token(&p.member).await;
    assert_eq!(jwt_claims(&fresh)["org_role"], "admin");
    let (status, _) = send(&by_claims, "PATCH", &claims_task, &fresh, done).await;
    assert_eq!(status, 200);

    // A dynamic role (organizationRole): may update anyone's task, not delete it.
    call(
        &sso,
        &p.owner,
        "/organization/create-role",
        &json!({"role": "editor", "permission": {"task": ["update"]}, "organizationId": p.org}),
    )
    .await;
    call(
        &sso,
        &p.owner,
        "/organization/update-member-role",
        &json!({"memberId": p.member_id, "role": "editor", "organizationId": p.org}),
    )
    .await;
    // (Polling the DELETE would delete the task while the admin role is still cached.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, _) = send(&by_database, "DELETE", &owners_task, member, None).await;
    assert_eq!(status, 403, "editor may not delete");
    let (status, _) = send(
        &by_database,
        "PATCH",
        &owners_task,
        member,
        Some(json!({"done": false})),
    )
    .await;
    assert_eq!(status, 200, "editor may update");

    // A removal: 404 within the TTL, by token and by cookie.
    call(
        &sso,
        &p.owner,
        "/organization/remove-member",
        &json!({"memberIdOrEmail": p.member_id, "organizationId": p.org}),
    )
    .await;
    let waited = answers_within(&by_database, ("GET", tasks.as_str(), None), member, 404).await;
    eprintln!("removal seen after {waited:?}");
    answers_within(&by_database, ("GET", tasks.as_str(), None), &cookie, 404).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_with_better_auth_on_sqlite() {
    if !prerequisites_met() {
        return;
    }
    let setup = if Setup::current() == Setup::Latest {
        Setup::Latest
    } else {
        Setup::Pinned
    };
    organizations_on(setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_with_better_auth_on_postgres() {
    if !prerequisites_met() {
        return;
    }
    if test_database_url().is_none() {
        skip("set TEST_DATABASE_URL to run Better Auth on Postgres");
        return;
    }
    organizations_on(Setup::Postgres).await;
}
