//! Memberships from claims, and from a SQLite file holding the organization plugin's tables as
//! Better Auth 1.7.5 creates them: cache, single flight, refusals, eviction, dynamic roles.
//! The same lookups against Postgres and against a real Better Auth server are in
//! `tasks-api/tests/organizations.rs` and `tasks-api/tests/organizations_better_auth.rs`.

use super::*;
use serde_json::json;

fn claims(extra: Value) -> Arc<TokenClaims> {
    let mut payload =
        json!({"iss": "https://sso", "sub": "u1", "aud": "api", "exp": 4_000_000_000_i64});
    if let (Value::Object(base), Value::Object(extra)) = (&mut payload, extra) {
        base.extend(extra);
    }
    Arc::new(TokenClaims::from_json(&payload).expect("claims"))
}

fn from_claims(source: OrganizationSource) -> Organizations {
    Organizations::builder()
        .source(source)
        .access_control(AccessControl::default().grant(
            "member",
            Statements::new().allow("task", ["create", "read"]),
        ))
        .build()
        .expect("organizations")
}

#[tokio::test]
async fn claims_name_the_organization_and_the_roles() {
    let orgs = from_claims(OrganizationSource::Claims);
    let member = orgs
        .member(
            &claims(json!({"org_id": "o1", "org_role": "member,auditor", "team_id": "t1"})),
            Some("ignored"),
        )
        .await
        .expect("member");
    assert_eq!(member.organization_id, "o1");
    assert_eq!(member.roles, ["member", "auditor"]);
    assert_eq!(member.team_id.as_deref(), Some("t1"));
    assert!(member.has_permission("task:create") && member.has_permission("ac:read"));
    assert!(!member.has_permission("task:delete") && !member.has_permission("nonsense"));
    assert_eq!(member.permissions, ["ac:read", "task:create", "task:read"]);
    assert_eq!(
        member.require(&"task:delete".parse().expect("p")),
        Err(MembershipRefusal::MissingPermission(
            "task:delete".parse().expect("p")
        ))
    );
    // A role list is accepted too; no organization claim is no organization.
    let listed = orgs
        .member(
            &claims(json!({"org_id": "o1", "org_role": ["owner"]})),
            None,
        )
        .await
        .expect("member");
    assert!(listed.has_permission("organization:delete"));
    assert_eq!(
        orgs.member(&claims(json!({"org_role": "owner"})), None)
            .await
            .map(|m| m.organization_id),
        Err(MembershipRefusal::NoOrganization)
    );
    // An organization without a role is no membership.
    assert_eq!(
        orgs.member(&claims(json!({"org_id": "o1"})), None)
            .await
            .map(|m| m.organization_id),
        Err(MembershipRefusal::NotMember { hidden: false })
    );
    assert_eq!(orgs.lookups(), 0);
}

#[tokio::test]
async fn a_path_organization_must_be_the_one_the_token_names() {
    let orgs = from_claims(OrganizationSource::PathSegment("org_id".into()));
    let token = claims(json!({"org_id": "o1", "org_role": "member"}));
    assert!(orgs.member(&token, Some("o1")).await.is_ok());
    for other in [Some("o2"), Some(""), None] {
        let refused = orgs.member(&token, other).await.map(|m| m.organization_id);
        assert!(
            matches!(
                refused,
                Err(MembershipRefusal::NotMember { hidden: true }
                    | MembershipRefusal::NoOrganization)
            ),
            "{other:?}: {refused:?}"
        );
    }
    assert_eq!(
        MembershipRefusal::NotMember { hidden: true }.status_code(),
        404
    );
    assert_eq!(
        MembershipRefusal::NotMember { hidden: true }.to_string(),
        "Organization not found"
    );
    assert_eq!(
        MembershipRefusal::NotMember { hidden: false }.status_code(),
        403
    );
    assert_eq!(MembershipRefusal::Unavailable.status_code(), 503);
}

#[test]
fn settings_that_cannot_work_are_refused() {
    let refused = |b: OrganizationsBuilder| b.build().expect_err("refused");
    refused(Organizations::builder().source(OrganizationSource::ActiveOrganization));
    refused(Organizations::builder().source(OrganizationSource::PathSegment(String::new())));
    refused(Organizations::builder().cache_ttl(Duration::ZERO));
    refused(Organizations::builder().claim_names("", "r", "t"));
}

#[cfg(feature = "organization-database")]
mod database {
    use super::*;
    use crate::revocation::MemoryRevocations;
    use sqlx::ConnectOptions as _;

    /// The organization plugin's tables as Better Auth 1.7.5's migrations create them on SQLite.
    const DDL: [&str; 3] = [
        r#"CREATE TABLE "organization" ("id" text not null primary key, "name" text not null, "slug" text not null unique, "logo" text, "createdAt" date not null, "metadata" text)"#,
        r#"CREATE TABLE "member" ("id" text not null primary key, "organizationId" text not null references "organization" ("id") on delete cascade, "userId" text not null, "role" text not null, "createdAt" date not null)"#,
        r#"CREATE TABLE "organizationRole" ("id" text not null primary key, "organizationId" text not null references "organization" ("id") on delete cascade, "role" text not null, "permission" text not null, "createdAt" date not null, "updatedAt" date)"#,
    ];

    struct Db {
        path: std::path::PathBuf,
        conn: sqlx::SqliteConnection,
    }

    impl Drop for Db {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    impl Db {
        async fn new(tables: bool) -> Db {
            let path = std::env::temp_dir().join(format!(
                "ssoguard-orgs-{}-{}.db",
                std::process::id(),
                uuid_ish()
            ));
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .connect()
                .await
                .expect("create the database");
            if tables {
                for ddl in DDL {
                    sqlx::query(ddl).execute(&mut conn).await.expect("ddl");
                }
                for org in ["o1", "o2"] {
                    sqlx::query(r#"INSERT INTO "organization" VALUES ($1, $1, $1, NULL, '2026-12-01T00:00:00.000Z', NULL)"#)
                        .bind(org)
                        .execute(&mut conn)
                        .await
                        .expect("org");
                }
            }
            Db { path, conn }
        }

        fn url(&self) -> String {
            format!("sqlite://{}", self.path.display())
        }

        async fn run(&mut self, sql: &str, binds: &[&str]) {
            let mut query = sqlx::query(sql);
            for b in binds {
                query = query.bind(*b);
            }
            query.execute(&mut self.conn).await.expect(sql);
        }

        async fn add_member(&mut self, id: &str, org: &str, user: &str, role: &str) {
            self.run(
                r#"INSERT INTO "member" VALUES ($1, $2, $3, $4, '2026-12-01T00:00:00.000Z')"#,
                &[id, org, user, role],
            )
            .await;
        }
    }

    fn uuid_ish() -> u64 {
        use std::sync::atomic::AtomicU64;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
            + u64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() % 1_000_000_000),
            )
            .unwrap_or(0)
    }

    fn looked_up(db: &Db, dynamic: bool, ttl: Duration) -> OrganizationsBuilder {
        Organizations::builder()
            .source(OrganizationSource::PathSegment("org_id".into()))
            .database(OrganizationDatabase::new(db.url()).dynamic_roles(dynamic))
            .access_control(
                AccessControl::default()
                    .grant(
                        "owner",
                        Statements::new().allow("task", ["update", "delete"]),
                    )
                    .grant("member", Statements::new().allow("task", ["create"])),
            )
            .cache_ttl(ttl)
            .negative_cache_ttl(ttl)
    }

    #[tokio::test]
    async fn members_are_looked_up_cached_and_refused_outsiders_hidden() {
        let mut db = Db::new(true).await;
        db.add_member("m1", "o1", "u1", "member").await;
        db.add_member("m2", "o2", "u1", "owner,admin").await;
        let orgs = looked_up(&db, false, Duration::from_secs(60))
            .build()
            .expect("orgs");
        let u1 = claims(json!({}));
        let m = orgs.member(&u1, Some("o1")).await.expect("member of o1");
        assert_eq!(
            (m.member_id.as_deref(), m.roles.as_slice()),
            (Some("m1"), ["member".to_string()].as_slice())
        );
        assert!(m.has_permission("task:create") && !m.has_permission("task:delete"));
        let m = orgs.member(&u1, Some("o2")).await.expect("member of o2");
        assert!(m.has_permission("task:delete") && m.has_permission("organization:delete"));
        assert_eq!(orgs.lookups(), 2);
        orgs.member(&u1, Some("o1")).await.expect("cached");
        assert_eq!((orgs.lookups(), orgs.cache_hits()), (2, 1));
        // Another user, an unknown organization: the same hidden refusal, cached briefly.
        let u2 = claims(json!({"sub": "u2"}));
        for org in ["o1", "nope", "o1"] {
            assert_eq!(
                orgs.member(&u2, Some(org)).await.map(|m| m.organization_id),
                Err(MembershipRefusal::NotMember { hidden: true }),
                "{org}"
            );
        }
        assert_eq!(
            orgs.lookups(),
            4,
            "the second refusal for o1 came from the cache"
        );
        // Claims cannot make anyone a member when memberships are looked up.
        let forged = claims(json!({"sub": "u2", "org_id": "o1", "org_role": "owner"}));
        assert!(orgs.member(&forged, Some("o1")).await.is_err());
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_lookup() {
        let mut db = Db::new(true).await;
        db.add_member("m1", "o1", "u1", "member").await;
        let orgs = looked_up(&db, false, Duration::from_secs(60))
            .build()
            .expect("orgs");
        let u1 = claims(json!({}));
        let all =
            futures_util::future::join_all((0..16).map(|_| orgs.member(&u1, Some("o1")))).await;
        assert!(all.iter().all(Result::is_ok));
        assert_eq!(orgs.lookups(), 1);
    }

    #[tokio::test]
    async fn changes_take_effect_within_the_ttl_and_logouts_evict() {
        let mut db = Db::new(true).await;
        db.add_member("m1", "o1", "u1", "member").await;
        let revocations = Arc::new(MemoryRevocations::default());
        let orgs = looked_up(&db, false, Duration::from_millis(300))
            .revocations(revocations.clone())
            .build()
            .expect("orgs");
        let u1 = claims(json!({}));
        assert!(
            !orgs
                .member(&u1, Some("o1"))
                .await
                .expect("member")
                .has_permission("task:delete")
        );
        db.run(
            r#"UPDATE "member" SET "role" = 'owner' WHERE "id" = 'm1'"#,
            &[],
        )
        .await;
        // Still the cached role, then the new one once the TTL has passed.
        let cached = orgs.member(&u1, Some("o1")).await.expect("member");
        assert!(!cached.has_role("owner") && !cached.has_permission("task:delete"));
        tokio::time::sleep(Duration::from_millis(350)).await;
        let fresh = orgs.member(&u1, Some("o1")).await.expect("member");
        assert!(fresh.has_role("owner") && fresh.has_permission("task:delete"));
        db.run(r#"DELETE FROM "member" WHERE "id" = 'm1'"#, &[])
            .await;
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(
            orgs.member(&u1, Some("o1"))
                .await
                .map(|m| m.organization_id),
            Err(MembershipRefusal::NotMember { hidden: true })
        );
        // A back-channel logout of u1 drops u1's cached answers at once.
        db.add_member("m1", "o1", "u1", "member").await;
        revocations
            .revoke(&Revocation::new(None, Some("u1".into()), 1), 1)
            .expect("room");
        assert!(orgs.member(&u1, Some("o1")).await.is_ok());
    }

    #[tokio::test]
    async fn dynamic_roles_add_to_static_ones_and_define_new_ones() {
        let mut db = Db::new(true).await;
        db.add_member("m1", "o1", "u1", "member,editor").await;
        db.add_member("m2", "o2", "u1", "editor").await;
        db.run(
            r#"INSERT INTO "organizationRole" VALUES ('r1', 'o1', 'editor', '{"task":["update"]}', '2026-12-01T00:00:00.000Z', NULL)"#,
            &[],
        )
        .await;
        db.run(
            r#"INSERT INTO "organizationRole" VALUES ('r2', 'o1', 'member', '{"report":["read"]}', '2026-12-01T00:00:00.000Z', NULL)"#,
            &[],
        )
        .await;
        db.run(
            r#"INSERT INTO "organizationRole" VALUES ('r3', 'o1', 'broken', 'not json', '2026-12-01T00:00:00.000Z', NULL)"#,
            &[],
        )
        .await;
        let orgs = looked_up(&db, true, Duration::from_secs(60))
            .build()
            .expect("orgs");
        let u1 = claims(json!({}));
        let m = orgs.member(&u1, Some("o1")).await.expect("member");
        for granted in ["task:update", "task:create", "report:read", "ac:read"] {
            assert!(m.has_permission(granted), "{granted}");
        }
        // o1's editor role means nothing in o2.
        let m = orgs.member(&u1, Some("o2")).await.expect("member");
        assert!(m.permissions.is_empty(), "{:?}", m.permissions);
        // Without dynamic access control the table is not read.
        let static_only = looked_up(&db, false, Duration::from_secs(60))
            .build()
            .expect("orgs");
        let m = static_only.member(&u1, Some("o1")).await.expect("member");
        assert!(!m.has_permission("task:update"));
    }

    #[tokio::test]
    async fn a_failing_lookup_is_503_and_never_cached() {
        // No tables at all: every query fails.
        let mut db = Db::new(false).await;
        let orgs = looked_up(&db, false, Duration::from_secs(60))
            .build()
            .expect("orgs");
        let u1 = claims(json!({}));
        for _ in 0..2 {
            assert_eq!(
                orgs.member(&u1, Some("o1"))
                    .await
                    .map(|m| m.organization_id),
                Err(MembershipRefusal::Unavailable)
            );
        }
        assert_eq!(orgs.lookups(), 2, "a failure is not cached");
        for ddl in DDL {
            db.run(ddl, &[]).await;
        }
        db.run(r#"INSERT INTO "organization" VALUES ('o1', 'o1', 'o1', NULL, '2026-12-01T00:00:00.000Z', NULL)"#, &[]).await;
        db.add_member("m1", "o1", "u1", "member").await;
        assert!(orgs.member(&u1, Some("o1")).await.is_ok());
    }

    #[tokio::test]
    async fn the_active_organization_of_a_session_is_looked_up() {
        let mut db = Db::new(true).await;
        db.add_member("m1", "o1", "u1", "admin").await;
        let orgs = Organizations::builder()
            .source(OrganizationSource::ActiveOrganization)
            .database(OrganizationDatabase::new(db.url()))
            .build()
            .expect("orgs");
        let session = claims(json!({"active_organization_id": "o1", "active_team_id": "t9"}));
        let m = orgs.member(&session, Some("o2")).await.expect("member");
        assert_eq!(
            (m.organization_id.as_str(), m.team_id.as_deref()),
            ("o1", Some("t9"))
        );
        assert!(m.has_permission("member:create"));
        assert_eq!(
            orgs.member(&claims(json!({})), None)
                .await
                .map(|m| m.organization_id),
            Err(MembershipRefusal::NoOrganization)
        );
        let outsider = claims(json!({"sub": "u2", "active_organization_id": "o1"}));
        assert_eq!(
            orgs.member(&outsider, None)
                .await
                .map(|m| m.organization_id),
            Err(MembershipRefusal::NotMember { hidden: false })
        );
    }
}

/// The axum side with claims memberships: the extractor, the permission extractor and the
/// layer, and every refusal's shape, through `oneshot` with real tokens.
#[cfg(feature = "testing")]
#[allow(unreachable_pub)] // the permission marker `permission!` declares
mod axum_routes {
    use super::*;
    use crate::Verifier;
    use crate::axum::{Auth, RequireLayer, RequirePermission};
    use crate::testing::TestIssuer;
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    crate::permission!(DeleteTask, "task", "delete");

    #[derive(Clone, axum::extract::FromRef)]
    struct State {
        auth: Auth,
        organizations: Organizations,
    }

    fn app(issuer: &TestIssuer) -> Router {
        let verifier = Verifier::builder()
            .authority(issuer.origin())
            .audience("test-client")
            .build()
            .expect("verifier");
        let state = State {
            auth: Auth::new(verifier).with_realm("orgs"),
            organizations: Organizations::builder()
                .source(OrganizationSource::PathSegment("org".into()))
                .access_control(
                    AccessControl::default()
                        .grant("owner", Statements::new().allow("task", ["delete"])),
                )
                .build()
                .expect("organizations"),
        };
        let invite: Permission = "invitation:create".parse().expect("permission");
        Router::new()
            .route(
                "/orgs/{org}/me",
                get(|m: Member| async move { format!("{}:{}", m.organization_id, m.roles.join(",")) }),
            )
            .route(
                "/orgs/{org}/delete",
                get(|RequirePermission(m, ..): RequirePermission<DeleteTask>| async move { m.user_id }),
            )
            .route(
                "/orgs/{org}/invite",
                get(|m: Member| async move { m.user_id })
                    .route_layer(RequireLayer::organization_permission(&state, invite)),
            )
            .with_state(state)
    }

    async fn get_as(app: &Router, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
        let mut req = Request::builder().uri(path);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let resp = app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            challenge,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    #[tokio::test]
    async fn members_permissions_and_refusals() {
        let issuer = TestIssuer::start().await.expect("issuer");
        let app = app(&issuer);
        let as_role = |sub: &str, org: &str, role: &str| {
            issuer
                .token()
                .sub(sub)
                .claim("org_id", json!(org))
                .claim("org_role", json!(role))
                .sign()
        };
        let owner = as_role("olga", "o1", "owner");
        let member = as_role("mia", "o1", "member");
        let outsider = as_role("otto", "o2", "owner");

        let (status, _, body) = get_as(&app, "/orgs/o1/me", Some(&member)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "o1:member"));
        for path in ["/orgs/o1/delete", "/orgs/o1/invite"] {
            let (status, _, body) = get_as(&app, path, Some(&owner)).await;
            assert_eq!((status, body.as_str()), (StatusCode::OK, "olga"), "{path}");
        }
        // A member without the permission: 403 insufficient_scope, naming it.
        let (status, challenge, body) = get_as(&app, "/orgs/o1/delete", Some(&member)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body,
            r#"{"detail":"Permission 'task:delete' required in this organization"}"#
        );
        assert!(challenge.contains("insufficient_scope"), "{challenge}");
        let (status, _, _) = get_as(&app, "/orgs/o1/invite", Some(&member)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Not a member of the organization the path names: 404, as for none at all.
        for path in [
            "/orgs/o1/me",
            "/orgs/o1/delete",
            "/orgs/o1/invite",
            "/orgs/nope/me",
        ] {
            let (status, challenge, body) = get_as(&app, path, Some(&outsider)).await;
            assert_eq!(
                (status, body.as_str()),
                (
                    StatusCode::NOT_FOUND,
                    r#"{"detail":"Organization not found"}"#
                ),
                "{path}"
            );
            assert!(challenge.is_empty());
        }
        // No credential: 401 before any membership question; a service token: 403.
        let (status, _, _) = get_as(&app, "/orgs/o1/invite", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let service = issuer
            .token()
            .sub("svc")
            .claim("client_id", json!("svc"))
            .claim("org_id", json!("o1"))
            .claim("org_role", json!("owner"))
            .sign();
        for path in ["/orgs/o1/me", "/orgs/o1/invite"] {
            let (status, _, _) = get_as(&app, path, Some(&service)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        }
    }
}
