//! Key rotation without a restart, and the tokens that must be refused: tampered, foreign,
//! expired and issued in the future.

use crate::done;
use crate::interop_support::{
    BetterAuth, TasksApi, clock_skew_env, jwt_claims, kid, now, prerequisites_met, tamper,
};
use serde_json::json;
use std::time::{Duration, Instant};

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

    // Another Better Auth instance: its real token names another issuer and a key A never
    // published: refused by its issuer, before the unknown key could make A's keys refetch...
    let stranger = foreign.new_user("Foreign User").await;
    let (_, foreign_tokens) = foreign
        .login(&stranger.email, "user-password-123", None)
        .await;
    assert_ne!(kid(&foreign_tokens.id_token), kid(&tokens.id_token));
    api.assert_refused(
        &foreign_tokens.id_token,
        "issuer mismatch",
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
        .assert_refused(&tokens.id_token, "issuer mismatch", "A's token at B")
        .await;
    // Pointing the other instance's tasks-api at A's keys but B's issuer still refuses A's
    // token by its issuer, and B's (which claims the configured issuer) by its unknown key.
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
