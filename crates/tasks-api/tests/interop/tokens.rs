//! The other token kinds: JWT access tokens, jwt-plugin tokens, client-credentials service
//! tokens and introspected opaque access tokens.

use crate::done;
use crate::interop_support::{
    BetterAuth, CLIENT_ID, CLIENT_SECRET, RESOURCE, TasksApi, jwt_claims, jwt_header,
    prerequisites_met,
};
use serde_json::json;
use ssoguard::m2m::ClientCredentials;
use std::time::Instant;

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
