//! Interop with a real Better Auth (issue 4): each test starts `interop/better-auth/start.sh`
//! (Node.js; the first start runs `npm ci`, about a minute), gets real tokens over HTTP the way a
//! Next.js front end does (sign-up, sign-in, authorization code + PKCE S256, token exchange with
//! `client_secret_basic`) and sends them to the real tasks-api, configured with the seed's
//! variables. Nothing is mocked.
//!
//! Without Node.js the tests print `SKIPPED: …` and pass, except under `CI`, where they fail.
//!
//! ```sh
//! cargo test -p tasks-api --test interop -- --nocapture
//! ```

mod interop_support;

use interop_support::{
    ADMIN_EMAIL, ADMIN_PASSWORD, ALGORITHMS, BetterAuth, CLIENT_ID, CLIENT_SECRET, RESOURCE,
    TasksApi, clock_skew_env, jwt_claims, jwt_header, kid, now, prerequisites_met, tamper,
};
use serde_json::{Value, json};
use ssoguard::m2m::ClientCredentials;
use std::time::{Duration, Instant};

fn done(test: &str, started: Instant) {
    eprintln!("{test}: {:.1}s", started.elapsed().as_secs_f64());
}

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

    for title in ["Write the interop tests", "Ship issue 4"] {
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
    assert_eq!(titles, ["Ship issue 4", "Write the interop tests"]);

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

/// Claim 4: JWT access tokens (`resource`) pass only when the resource is a configured audience;
/// jwt-plugin tokens pass or fail exactly as the configured issuer and audience say, and the
/// 401 names the failed check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_and_jwt_plugin_tokens_follow_issuer_and_audience() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    // A second server whose jwt plugin is configured for tasks-api; it needs its own origin in
    // its environment, so it starts on a reserved port. Both start at once.
    let (sso, configured_sso) = tokio::join!(
        BetterAuth::start("EdDSA", &[]),
        BetterAuth::start_with_origin("EdDSA", &[], |origin| vec![
            ("BA_JWT_ISSUER".into(), format!("{origin}/api/auth")),
            ("BA_JWT_AUDIENCE".into(), CLIENT_ID.into()),
        ]),
    );
    let api = TasksApi::for_server(&sso, &[]).await;
    let audiences = format!("{CLIENT_ID},{RESOURCE}");
    let api_with_resource = TasksApi::for_server(&sso, &[("SSO_CLIENT_ID", &audiences)]).await;

    let user = sso.new_user("Resource User").await;
    let (user, tokens) = sso
        .login(&user.email, "user-password-123", Some(RESOURCE))
        .await;
    let access = &tokens.access_token;
    assert_eq!(jwt_header(access)["typ"], "at+jwt");
    let claims = jwt_claims(access);
    assert_eq!(claims["iss"], sso.issuer());
    assert_eq!(
        claims["aud"],
        json!([RESOURCE, format!("{}/oauth2/userinfo", sso.base())])
    );
    // Resource not configured as an audience: refused, and the reason says so.
    api.assert_refused(
        access,
        "audience mismatch",
        "JWT access token, SSO_CLIENT_ID=rust-backend",
    )
    .await;
    // Configured (SSO_CLIENT_ID=rust-backend,<resource>): accepted, and the id_token too.
    let me = api_with_resource.me(access).await;
    assert_eq!(
        (me["id"].clone(), me["email"].clone()),
        (json!(user.user_id), json!(user.email))
    );
    assert_eq!(
        api_with_resource.me(&tokens.id_token).await["id"],
        user.user_id
    );
    // The same holds for a resource added at refresh time.
    let refreshed = sso
        .token_endpoint(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens.refresh_token.as_deref().expect("refresh_token"),
            ),
            ("resource", RESOURCE),
        ])
        .await;
    let refreshed_access = refreshed["access_token"].as_str().expect("access_token");
    api.assert_refused(
        refreshed_access,
        "audience mismatch",
        "refreshed access token",
    )
    .await;
    assert_eq!(
        api_with_resource.me(refreshed_access).await["id"],
        user.user_id
    );
    // An opaque access token (no resource) is not a JWT at all.
    let opaque = sso.authorize(&user, None).await.access_token;
    let reason = api_with_resource.refused(&opaque).await;
    assert!(reason.starts_with("malformed token"), "{reason}");
    // client_credentials with the resource: an M2M JWT whose subject is the client.
    let m2m = sso
        .token_endpoint(&[("grant_type", "client_credentials"), ("resource", RESOURCE)])
        .await;
    let m2m = m2m["access_token"].as_str().expect("access_token");
    assert_eq!(jwt_claims(m2m)["aud"], RESOURCE);
    api.assert_refused(m2m, "audience mismatch", "client_credentials JWT")
        .await;

    // jwt plugin `GET /api/auth/token`, default options: iss = aud = the bare origin.
    let plugin_token = sso.jwt_plugin_token(&user).await;
    let claims = jwt_claims(&plugin_token);
    assert_eq!(
        (claims["iss"].clone(), claims["aud"].clone()),
        (json!(sso.origin), json!(sso.origin))
    );
    api.assert_refused(
        &plugin_token,
        "issuer mismatch",
        "jwt plugin token vs discovered issuer",
    )
    .await;
    api_with_resource
        .assert_refused(
            &plugin_token,
            "issuer mismatch",
            "jwt plugin token vs discovered issuer",
        )
        .await;
    // Issuer configured as the bare origin (discovery names <origin>/api/auth, so the JWKS URL is
    // given explicitly): the issuer passes, the audience is the next check to fail.
    let jwks_url = format!("{}/jwks", sso.base());
    let api_bare_issuer = TasksApi::for_server(
        &sso,
        &[("SSO_ISSUER", &sso.origin), ("JWKS_URL", &jwks_url)],
    )
    .await;
    api_bare_issuer
        .assert_refused(
            &plugin_token,
            "audience mismatch",
            "jwt plugin token, issuer = origin",
        )
        .await;
    let api_bare_both = TasksApi::for_server(
        &sso,
        &[
            ("SSO_ISSUER", &sso.origin),
            ("JWKS_URL", &jwks_url),
            ("SSO_CLIENT_ID", &sso.origin),
        ],
    )
    .await;
    let me = api_bare_both.me(&plugin_token).await;
    assert_eq!(
        (me["id"].clone(), me["email"].clone()),
        (json!(user.user_id), json!(user.email))
    );
    // ... and that configuration refuses the OAuth id_token, whose issuer is <origin>/api/auth.
    api_bare_both
        .assert_refused(
            &tokens.id_token,
            "issuer mismatch",
            "id_token vs issuer = origin",
        )
        .await;

    // A Better Auth started with BA_JWT_ISSUER=<origin>/api/auth, BA_JWT_AUDIENCE=rust-backend:
    // its jwt-plugin token passes tasks-api's default configuration (discovery + rust-backend).
    let configured_api = TasksApi::for_server(&configured_sso, &[]).await;
    let other = configured_sso.new_user("Plugin User").await;
    let plugin_token = configured_sso.jwt_plugin_token(&other).await;
    let claims = jwt_claims(&plugin_token);
    assert_eq!(claims["iss"], configured_sso.issuer());
    assert_eq!(claims["aud"], CLIENT_ID);
    let me = configured_api.me(&plugin_token).await;
    assert_eq!(
        (me["id"].clone(), me["email"].clone()),
        (json!(other.user_id), json!(other.email))
    );
    // Its OAuth tokens still work (jwt.issuer is also the OAuth issuer; here the same value).
    let (_, tokens) = configured_sso
        .login(&other.email, "user-password-123", None)
        .await;
    assert_eq!(
        configured_api.me(&tokens.id_token).await["id"],
        other.user_id
    );
    // An audience tasks-api is not configured for is still refused by name.
    let strict_api =
        TasksApi::for_server(&configured_sso, &[("SSO_CLIENT_ID", "another-client")]).await;
    strict_api
        .assert_refused(
            &plugin_token,
            "audience mismatch",
            "jwt plugin token, other audience",
        )
        .await;
    done(
        "access_tokens_and_jwt_plugin_tokens_follow_issuer_and_audience",
        started,
    );
}

/// Claim 6: key rotation with a short `rotationInterval`, no tasks-api restart. A token signed
/// by a new key verifies on first use (unknown-kid refetch), tokens of the old key keep working
/// through the grace period, and once Better Auth drops the old key its tokens are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_without_restart() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    // Keys expire 3 s after creation and stay published 12 s longer. Rotation is lazy: a new
    // key is created by the first signature after the current one expired. The margins the
    // test relies on (A still published when B appears; B still published when C makes
    // tasks-api refetch) are the grace period and the time between A's and B's creation (the
    // 5 s wait below), several seconds each even when Better Auth answers slowly.
    let sso = BetterAuth::start(
        "ES256",
        &[("BA_ROTATION_SECONDS", "3"), ("BA_GRACE_SECONDS", "12")],
    )
    .await;
    let user = sso.new_user("Rotation User").await;
    let (_, first) = sso.login(&user.email, "user-password-123", None).await;
    let kid_a = kid(&first.id_token);
    let api = TasksApi::for_server(&sso, &[("JWKS_REFETCH_COOLDOWN", "1s")]).await;
    assert_eq!(api.me(&first.id_token).await["id"], user.user_id);

    // Wait for key A to expire, then mint with the refresh grant until a new kid appears.
    let mut refresh_token = first.refresh_token.clone().expect("refresh_token");
    let rotate = async |refresh_token: &mut String, old: &[&str]| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let tokens = sso.refresh(refresh_token).await;
            *refresh_token = tokens.refresh_token.clone().expect("refresh_token");
            if !old.contains(&kid(&tokens.id_token).as_str()) {
                return tokens;
            }
            assert!(
                Instant::now() < deadline,
                "Better Auth never rotated its key"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let second = rotate(&mut refresh_token, &[&kid_a]).await;
    let kid_b = kid(&second.id_token);
    let published = sso.jwks_kids().await;
    assert!(
        published.contains(&kid_a) && published.contains(&kid_b),
        "both keys published during the grace period: {published:?}"
    );
    // The new key's token verifies on its first use: tasks-api refetches on the unknown kid.
    assert_eq!(api.me(&second.id_token).await["id"], user.user_id);
    // The old key's token keeps working during the grace period.
    assert_eq!(api.me(&first.id_token).await["id"], user.user_id);
    eprintln!(
        "  rotation: A={kid_a} → B={kid_b} after {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // After A's expiry + grace Better Auth drops it from the JWKS. The next key C makes
    // tasks-api refetch, and A's tokens, still unexpired, stop verifying.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sso.jwks_kids().await.contains(&kid_a) {
        assert!(Instant::now() < deadline, "key A never left the JWKS");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let third = rotate(&mut refresh_token, &[&kid_a, &kid_b]).await;
    let kid_c = kid(&third.id_token);
    assert_eq!(api.me(&third.id_token).await["id"], user.user_id);
    assert_eq!(
        api.me(&second.id_token).await["id"],
        user.user_id,
        "B is still in its grace period"
    );
    assert!(jwt_claims(&first.id_token)["exp"].as_i64().expect("exp") > now());
    api.assert_refused(
        &first.id_token,
        "signing key not found",
        "token of the dropped key A",
    )
    .await;
    eprintln!(
        "  rotation: C={kid_c} after {:.1}s; A's token refused",
        started.elapsed().as_secs_f64()
    );
    done("key_rotation_without_restart", started);
}

/// Claim 7: a tampered token, tokens of another Better Auth instance, an expired token and one
/// issued in the future are all refused with 401 `invalid_token` and the failed check named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_foreign_expired_and_future_tokens_are_refused() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    // A: the trusted SSO. B: another Better Auth (its own keys, same algorithm). C and D: Better
    // Auths whose clocks run 11 h behind / 1 h ahead, so their real tokens are already expired
    // (id_tokens live 10 h) or issued in the future.
    let behind = clock_skew_env(-11 * 3600);
    let ahead = clock_skew_env(3600);
    let (sso, foreign, behind_sso, ahead_sso) = tokio::join!(
        BetterAuth::start("EdDSA", &[]),
        BetterAuth::start("EdDSA", &[]),
        BetterAuth::start_env("EdDSA", &behind),
        BetterAuth::start_env("EdDSA", &ahead),
    );
    let api = TasksApi::for_server(&sso, &[]).await;
    let user = sso.new_user("Target User").await;
    let (user, tokens) = sso.login(&user.email, "user-password-123", None).await;
    assert_eq!(api.me(&tokens.id_token).await["role"], "user");

    // Tampered: the claims say admin, the signature is Better Auth's for role user.
    let escalated = tamper(&tokens.id_token, 1, |c| c["role"] = json!("admin"));
    api.assert_refused(&escalated, "invalid signature", "role changed to admin")
        .await;
    let reply = api
        .get(&format!("/api/admin/users/{}", user.user_id), &escalated)
        .await;
    assert_eq!(reply.status, 401);
    // One character in the middle of the signature changed.
    let mut bad_signature: Vec<char> = tokens.id_token.chars().collect();
    let i = bad_signature.len() - 20;
    bad_signature[i] = if bad_signature[i] == 'A' { 'B' } else { 'A' };
    let bad_signature: String = bad_signature.into_iter().collect();
    api.assert_refused(&bad_signature, "invalid signature", "signature changed")
        .await;
    let hs256 = tamper(&tokens.id_token, 0, |h| h["alg"] = json!("HS256"));
    api.assert_refused(
        &hs256,
        "unsupported or disallowed signing algorithm",
        "alg HS256",
    )
    .await;

    // Another Better Auth instance: its real token names a key A never published...
    let stranger = foreign.new_user("Foreign User").await;
    let (_, foreign_tokens) = foreign
        .login(&stranger.email, "user-password-123", None)
        .await;
    assert_ne!(kid(&foreign_tokens.id_token), kid(&tokens.id_token));
    api.assert_refused(
        &foreign_tokens.id_token,
        "signing key not found",
        "other instance's token",
    )
    .await;
    // ... relabelled with A's kid (and A's issuer), its signature does not verify with A's key.
    let relabelled = tamper(&foreign_tokens.id_token, 0, |h| {
        h["kid"] = json!(kid(&tokens.id_token))
    });
    let relabelled = tamper(&relabelled, 1, |c| c["iss"] = json!(sso.issuer()));
    api.assert_refused(
        &relabelled,
        "invalid signature",
        "other instance's token, A's kid",
    )
    .await;
    // ... and a tasks-api that trusts the other instance refuses A's tokens the same way.
    let foreign_api = TasksApi::for_server(&foreign, &[]).await;
    assert_eq!(
        foreign_api.me(&foreign_tokens.id_token).await["id"],
        stranger.user_id
    );
    foreign_api
        .assert_refused(&tokens.id_token, "signing key not found", "A's token at B")
        .await;
    // Pointing the other instance's tasks-api at A's keys but B's issuer still refuses A's
    // token by its issuer, and B's by its unknown key.
    let mixed_api = TasksApi::for_server(
        &foreign,
        &[
            ("SSO_ISSUER", &foreign.issuer()),
            ("JWKS_URL", &format!("{}/jwks", sso.base())),
        ],
    )
    .await;
    mixed_api
        .assert_refused(&tokens.id_token, "issuer mismatch", "A's token, B's issuer")
        .await;
    mixed_api
        .assert_refused(
            &foreign_tokens.id_token,
            "signing key not found",
            "B's token, A's keys",
        )
        .await;

    // Expired: a real id_token from the Better Auth whose clock is 11 h behind.
    let behind_api = TasksApi::for_server(&behind_sso, &[]).await;
    let late = behind_sso.new_user("Late User").await;
    let (_, late_tokens) = behind_sso
        .login(&late.email, "user-password-123", None)
        .await;
    let exp = jwt_claims(&late_tokens.id_token)["exp"]
        .as_i64()
        .expect("exp");
    assert!(exp < now() - 3000, "exp {exp} should be about an hour ago");
    behind_api
        .assert_refused(
            &late_tokens.id_token,
            "token expired",
            "id_token from a clock 11 h behind",
        )
        .await;
    let late_plugin = behind_sso.jwt_plugin_token(&late).await;
    // Its jwt-plugin token (15 min) too: expiry is checked before the (bare-origin) issuer.
    behind_api
        .assert_refused(
            &late_plugin,
            "token expired",
            "jwt plugin token from a clock 11 h behind",
        )
        .await;

    // Issued in the future: a real id_token from the Better Auth whose clock is 1 h ahead.
    let ahead_api = TasksApi::for_server(&ahead_sso, &[]).await;
    let early = ahead_sso.new_user("Early User").await;
    let (_, early_tokens) = ahead_sso
        .login(&early.email, "user-password-123", None)
        .await;
    assert!(
        jwt_claims(&early_tokens.id_token)["iat"]
            .as_i64()
            .expect("iat")
            > now() + 3000
    );
    ahead_api
        .assert_refused(
            &early_tokens.id_token,
            "token issued in the future",
            "id_token from a clock 1 h ahead",
        )
        .await;
    done(
        "forged_foreign_expired_and_future_tokens_are_refused",
        started,
    );
}

/// Beyond the id_tokens: `ssoguard::m2m::ClientCredentials` gets service tokens from Better
/// Auth's token endpoint; they reach the scope-guarded service route and not the user routes.
/// Opaque access tokens pass through Better Auth's introspection (`SSO_CLIENT_SECRET`), and a
/// revoked one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tokens_and_introspected_opaque_tokens() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    let sso = BetterAuth::start("EdDSA", &[]).await;
    let audiences = format!("{CLIENT_ID},{RESOURCE}");
    let api = TasksApi::for_server(
        &sso,
        &[
            ("SSO_CLIENT_ID", &audiences),
            ("SSO_CLIENT_SECRET", CLIENT_SECRET),
            // Long enough that "still cached" below holds even when the revoke call to Better
            // Auth is slow (other interop tests start Node servers at the same time).
            ("INTROSPECTION_CACHE_TTL", "5s"),
        ],
    )
    .await;
    let user = sso.new_user("Service Peer").await;
    let (user, tokens) = sso.login(&user.email, "user-password-123", None).await;
    let reply = api
        .post_json("/api/tasks", &tokens.id_token, &json!({"title": "counted"}))
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");

    // A JWT service token (client_credentials + resource), fetched and cached by ssoguard.
    let source = ClientCredentials::builder(CLIENT_ID, CLIENT_SECRET)
        .authority(&sso.origin)
        .resource(RESOURCE)
        .build();
    let service = source.token().await.expect("client_credentials token");
    assert_eq!(jwt_header(&service)["typ"], "at+jwt");
    let claims = jwt_claims(&service);
    assert_eq!(
        (claims["sub"].clone(), claims["aud"].clone()),
        (json!(CLIENT_ID), json!(RESOURCE))
    );
    assert_eq!(source.token().await.expect("cached"), service);
    assert_eq!(source.fetches(), 1, "the token is cached");
    let reply = api.get("/api/service/stats", &service).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body,
        json!({"client_id": CLIENT_ID, "total_tasks": 1})
    );
    let reply = api.get("/api/tasks", &service).await;
    assert_eq!(
        reply.status, 403,
        "a service token is not a user: {reply:?}"
    );
    assert_eq!(api.get("/api/me", &service).await.status, 403);
    assert_eq!(
        api.get("/api/service/stats", &tokens.id_token).await.status,
        403,
        "a user token is not a service"
    );

    // An opaque service token (no resource) is introspected at Better Auth.
    let opaque_service = ClientCredentials::builder(CLIENT_ID, CLIENT_SECRET)
        .authority(&sso.origin)
        .scope("api:read")
        .build()
        .token()
        .await
        .expect("opaque client_credentials token");
    assert_eq!(opaque_service.split('.').count(), 1, "opaque");
    let reply = api.get("/api/service/stats", &opaque_service).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["client_id"], CLIENT_ID);

    // The user's opaque access token, introspected: it is the user.
    let me = api.me(&tokens.access_token).await;
    assert_eq!(
        (me["id"].clone(), me["email"].clone()),
        (json!(user.user_id), json!(user.email))
    );
    assert_eq!(me["role"], "user");
    // Revoked at Better Auth before tasks-api ever saw it: refused.
    let revoked = sso.authorize(&user, None).await.access_token;
    sso.revoke_access_token(&revoked).await;
    api.assert_refused(
        &revoked,
        "token is not active",
        "revoked opaque access token",
    )
    .await;
    // Used (and cached), then revoked at Better Auth: refused once the cache entry ends.
    let used = sso.authorize(&user, None).await.access_token;
    assert_eq!(api.me(&used).await["id"], json!(user.user_id));
    sso.revoke_access_token(&used).await;
    assert_eq!(
        api.me(&used).await["id"],
        json!(user.user_id),
        "still cached"
    );
    tokio::time::sleep(std::time::Duration::from_millis(5300)).await;
    api.assert_refused(
        &used,
        "token is not active",
        "revoked after its cache entry ended",
    )
    .await;
    // Without SSO_CLIENT_SECRET an opaque token is not a JWT at all.
    let jwt_only = TasksApi::for_server(&sso, &[]).await;
    let reason = jwt_only.refused(&tokens.access_token).await;
    assert!(reason.starts_with("malformed token"), "{reason}");
    done("service_tokens_and_introspected_opaque_tokens", started);
}
