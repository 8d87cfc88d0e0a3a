//! Login with a real Better Auth (authorization code + PKCE), `/api/me`, tasks, the admin route,
//! the SSO profile over M2M and refresh, on every signing algorithm Better Auth offers.

use crate::done;
use crate::interop_support::{
    ADMIN_EMAIL, ADMIN_PASSWORD, ALGORITHMS, BetterAuth, CLIENT_ID, TasksApi, jwt_claims,
    jwt_header, prerequisites_met,
};
use serde_json::{Value, json};
use std::time::Instant;

/// Claims 1, 2, 5 and 8: sign-up and login (code + PKCE), `/api/me`, tasks, the admin route for
/// an admin and a `user,admin`, 403 for a plain user, the SSO profile over M2M, refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_me_tasks_admin_m2m_and_refresh() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    let sso = BetterAuth::start("EdDSA", &[]).await;
    // M2M key: the seeded admin's session token (bearer plugin), from a plain sign-in.
    let admin_session = sso.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let api = TasksApi::for_server(&sso, &[("SSO_API_KEY", &admin_session.bearer)]).await;

    // 1. Sign up, then log in through the front end's authorization-code + PKCE flow.
    let password = "user-password-123";
    let signed_up = sso.new_user("Interop User").await;
    let (user, tokens) = sso.login(&signed_up.email, password, None).await;
    assert_eq!(user.user_id, signed_up.user_id);
    let header = jwt_header(&tokens.id_token);
    let claims = jwt_claims(&tokens.id_token);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(claims["iss"], sso.issuer());
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["sub"], user.user_id);
    assert_eq!(
        tokens.access_token.split('.').count(),
        1,
        "without `resource` the access token is opaque"
    );

    // tasks-api discovered the issuer from AUTH_SERVER_URL=<origin> alone.
    let me = api.me(&tokens.id_token).await;
    assert_eq!(me["id"], user.user_id);
    assert_eq!(me["email"], user.email);
    assert_eq!(me["name"], "Interop User");
    assert_eq!(me["role"], "user");
    assert_eq!(me["roles"], json!(["user"]));
    assert_eq!(me["email_verified"], false);

    for title in ["Write the interop tests", "Ship the release"] {
        let reply = api
            .post_json("/api/tasks", &tokens.id_token, &json!({"title": title}))
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        assert_eq!(reply.body["user_id"], user.user_id);
    }
    let list = api.get("/api/tasks", &tokens.id_token).await;
    assert_eq!(list.status, 200);
    let titles: Vec<&str> = list
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t["title"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(titles, ["Ship the release", "Write the interop tests"]);

    // 2. The plain user is not an admin.
    let admin_path = format!("/api/admin/users/{}", user.user_id);
    assert_eq!(api.get(&admin_path, &tokens.id_token).await.status, 403);

    // The seeded admin logs in the same way and reaches the admin route; 8. the SSO profile
    // comes from Better Auth's GET /api/auth/admin/get-user with SSO_API_KEY.
    let (_, admin_tokens) = sso.login(ADMIN_EMAIL, ADMIN_PASSWORD, None).await;
    let admin_me = api.me(&admin_tokens.id_token).await;
    assert_eq!(admin_me["role"], "admin");
    let reply = api.get(&admin_path, &admin_tokens.id_token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["user_id"], user.user_id);
    assert_eq!(reply.body["task_count"], 2);
    let profile = &reply.body["sso_profile"];
    assert_eq!(profile["id"], user.user_id, "{profile}");
    assert_eq!(profile["email"], user.email);
    assert_eq!(profile["name"], "Interop User");
    assert_eq!(profile["role"], "user");
    assert_eq!(profile["banned"], false);

    // A key Better Auth refuses yields no profile (and no error for the admin).
    let api_bad_key = TasksApi::for_server(&sso, &[("SSO_API_KEY", "not-a-session-token")]).await;
    let reply = api_bad_key.get(&admin_path, &admin_tokens.id_token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["sso_profile"], Value::Null);

    // 2. Roles "user,admin" (set through the admin plugin) make the user an admin. Tokens keep
    // the claims they were issued with, so the user gets a fresh one with their session.
    sso.set_role(&admin_session, &user.user_id, &["user", "admin"])
        .await;
    sso.update_user(
        &admin_session,
        &user.user_id,
        json!({"organizationId": "org_123", "permissions": "tasks:read,tasks:write"}),
    )
    .await;
    assert_eq!(
        api.get(&admin_path, &tokens.id_token).await.status,
        403,
        "the old token still says role user"
    );
    let promoted = sso.authorize(&user, None).await;
    let me = api.me(&promoted.id_token).await;
    assert_eq!(me["role"], "user,admin");
    assert_eq!(me["roles"], json!(["user", "admin"]));
    assert_eq!(me["organization_id"], "org_123");
    assert_eq!(me["permissions"], json!(["tasks:read", "tasks:write"]));
    let reply = api.get(&admin_path, &promoted.id_token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // tasks-api caches SSO profiles briefly, so a second instance shows the new profile.
    let fresh_api = TasksApi::for_server(&sso, &[("SSO_API_KEY", &admin_session.bearer)]).await;
    let reply = fresh_api.get(&admin_path, &promoted.id_token).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["sso_profile"]["role"], "user,admin");
    assert_eq!(reply.body["sso_profile"]["organizationId"], "org_123");
    assert_eq!(
        reply.body["sso_profile"]["permissions"],
        "tasks:read,tasks:write"
    );

    // 5. Refresh: the refresh-token grant yields a new id_token that works.
    let refresh_token = promoted.refresh_token.as_deref().expect("refresh_token");
    let refreshed = sso.refresh(refresh_token).await;
    assert_ne!(refreshed.id_token, promoted.id_token);
    assert_ne!(
        refreshed.refresh_token.as_deref(),
        Some(refresh_token),
        "rotates"
    );
    let claims = jwt_claims(&refreshed.id_token);
    assert_eq!(claims["sub"], user.user_id);
    assert!(
        claims.get("nonce").is_none(),
        "a refreshed id_token has no nonce"
    );
    let me = api.me(&refreshed.id_token).await;
    assert_eq!(
        (me["id"].clone(), me["role"].clone()),
        (json!(user.user_id), json!("user,admin"))
    );
    assert_eq!(
        api.get("/api/tasks", &refreshed.id_token)
            .await
            .body
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    done("login_me_tasks_admin_m2m_and_refresh", started);
}

/// Claim 3: login, `/api/me`, 403 and 200 on the admin route, for every algorithm Better Auth
/// offers, one server each, all in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_better_auth_signing_algorithm() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    let [a, b, c, d, e] = ALGORITHMS;
    tokio::join!(
        algorithm_round_trip(a),
        algorithm_round_trip(b),
        algorithm_round_trip(c),
        algorithm_round_trip(d),
        algorithm_round_trip(e),
    );
    done("every_better_auth_signing_algorithm", started);
}

async fn algorithm_round_trip(alg: &str) {
    let started = Instant::now();
    let sso = BetterAuth::start(alg, &[]).await;
    let discovery = sso.discovery().await;
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!([alg])
    );
    let api = TasksApi::for_server(&sso, &[]).await;

    let user = sso.new_user(&format!("{alg} User")).await;
    let (_, tokens) = sso.login(&user.email, "user-password-123", None).await;
    assert_eq!(jwt_header(&tokens.id_token)["alg"], alg);
    let me = api.me(&tokens.id_token).await;
    assert_eq!(
        (me["id"].as_str(), me["email"].as_str(), me["role"].as_str()),
        (
            Some(user.user_id.as_str()),
            Some(user.email.as_str()),
            Some("user")
        ),
        "{alg}"
    );
    let admin_path = format!("/api/admin/users/{}", user.user_id);
    assert_eq!(
        api.get(&admin_path, &tokens.id_token).await.status,
        403,
        "{alg}"
    );

    let (admin, admin_tokens) = sso.login(ADMIN_EMAIL, ADMIN_PASSWORD, None).await;
    assert_eq!(
        api.me(&admin_tokens.id_token).await["role"],
        "admin",
        "{alg}"
    );
    let reply = api.get(&admin_path, &admin_tokens.id_token).await;
    assert_eq!(reply.status, 200, "{alg}: {reply:?}");
    assert_eq!(reply.body["user_id"], user.user_id);

    sso.set_role(&admin, &user.user_id, &["user", "admin"])
        .await;
    let promoted = sso.authorize(&user, None).await;
    assert_eq!(
        api.get(&admin_path, &promoted.id_token).await.status,
        200,
        "{alg}"
    );
    eprintln!("  {alg}: {:.1}s", started.elapsed().as_secs_f64());
}
