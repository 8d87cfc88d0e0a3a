//! Back-channel logout (OIDC Back-Channel Logout 1.0 §2.6) against the in-process test issuer:
//! real logout tokens signed with the SSO's keys, one test per rule (accept and refuse), and the
//! revocation's effect on later requests, cached verifications included.

use serde_json::json;
use ssoguard::logout::{BACKCHANNEL_LOGOUT_EVENT, LogoutError};
use ssoguard::revocation::{MemoryRevocations, Revocations};
use ssoguard::testing::{SigningKey, TestIssuer, attacks};
use ssoguard::{Algorithm, Check, Outcome, Verifier, VerifyError};
use std::sync::Arc;
use std::time::Duration;

async fn setup() -> (TestIssuer, Verifier) {
    let issuer = TestIssuer::start().await.expect("issuer");
    let verifier = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .build()
        .expect("config");
    (issuer, verifier)
}

fn claim(e: &'static str) -> Result<(), LogoutError> {
    Err(LogoutError::Claim(e))
}

async fn check(v: &Verifier, token: &str) -> Result<(), LogoutError> {
    v.verify_logout_token(token).await.map(|_| ())
}

#[tokio::test]
async fn a_better_auth_shaped_logout_token_is_accepted() {
    let (issuer, v) = setup().await;
    let logout = v
        .verify_logout_token(&issuer.logout_token().sign())
        .await
        .expect("valid");
    assert_eq!(logout.sid.as_deref(), Some("session-1"));
    assert_eq!(logout.sub.as_deref(), Some("user-1"));
}

#[tokio::test]
async fn rule_typ_logout_jwt_or_plain_jwt() {
    let (issuer, v) = setup().await;
    for typ in [json!("JWT"), json!("application/logout+jwt")] {
        let token = issuer.logout_token().header("typ", typ.clone()).sign();
        assert_eq!(check(&v, &token).await, Ok(()), "{typ}");
    }
    let token = issuer.logout_token().header("typ", json!("at+jwt")).sign();
    assert_eq!(
        check(&v, &token).await,
        Err(LogoutError::Token(VerifyError::UnexpectedTokenType))
    );
}

#[tokio::test]
async fn rule_signature_with_the_ssos_keys() {
    let (issuer, v) = setup().await;
    let attacker = SigningKey::generate(Algorithm::EdDSA, "key-eddsa-1").expect("key");
    let forged = issuer.logout_token().sign_with(&attacker);
    assert_eq!(
        check(&v, &forged).await,
        Err(LogoutError::Token(VerifyError::InvalidSignature))
    );
    let unknown = SigningKey::generate(Algorithm::EdDSA, "stranger").expect("key");
    let forged = issuer.logout_token().sign_with(&unknown);
    assert!(matches!(
        check(&v, &forged).await,
        Err(LogoutError::Token(VerifyError::UnknownKey))
    ));
}

#[tokio::test]
async fn rule_iss_and_aud() {
    let (issuer, v) = setup().await;
    let token = issuer.logout_token().iss("https://evil.example").sign();
    assert_eq!(
        check(&v, &token).await,
        Err(LogoutError::Token(VerifyError::IssuerMismatch))
    );
    // Meant for another client: replayed here, refused.
    let token = issuer.logout_token().aud("other-client").sign();
    assert_eq!(
        check(&v, &token).await,
        Err(LogoutError::Token(VerifyError::AudienceMismatch))
    );
    let token = issuer
        .logout_token()
        .claim("aud", json!(["other-client", "test-client"]))
        .sign();
    assert_eq!(check(&v, &token).await, Ok(()));
}

#[tokio::test]
async fn rule_iat_present_recent_and_not_in_the_future() {
    let (issuer, v) = setup().await;
    assert_eq!(
        check(&v, &issuer.logout_token().without("iat").sign()).await,
        claim("iat missing")
    );
    // Max age 2 min plus the 60 s leeway.
    assert_eq!(
        check(&v, &issuer.logout_token().iat_in(-170).sign()).await,
        Ok(())
    );
    assert_eq!(
        check(&v, &issuer.logout_token().iat_in(-200).sign()).await,
        claim("iat is too old")
    );
    assert_eq!(
        check(&v, &issuer.logout_token().iat_in(300).sign()).await,
        claim("iat is in the future")
    );
    assert_eq!(
        check(&v, &issuer.logout_token().exp_in(-120).sign()).await,
        claim("expired")
    );
    // exp is optional.
    assert_eq!(
        check(&v, &issuer.logout_token().without("exp").sign()).await,
        Ok(())
    );
}

#[tokio::test]
async fn rule_jti_present_and_single_use() {
    let (issuer, v) = setup().await;
    assert_eq!(
        check(&v, &issuer.logout_token().without("jti").sign()).await,
        claim("jti missing")
    );
    let token = issuer.logout_token().sign();
    assert_eq!(check(&v, &token).await, Ok(()));
    assert_eq!(check(&v, &token).await, Err(LogoutError::Replayed));
}

#[tokio::test]
async fn rule_events_carries_the_backchannel_logout_member() {
    let (issuer, v) = setup().await;
    for events in [
        json!(null),
        json!({}),
        json!({ BACKCHANNEL_LOGOUT_EVENT: "yes" }),
        json!({ "http://schemas.openid.net/event/other": {} }),
        json!([BACKCHANNEL_LOGOUT_EVENT]),
    ] {
        let token = issuer.logout_token().claim("events", events.clone()).sign();
        assert_eq!(
            check(&v, &token).await,
            claim("events lacks the back-channel logout event"),
            "{events}"
        );
    }
    let token = issuer.logout_token().without("events").sign();
    assert_eq!(
        check(&v, &token).await,
        claim("events lacks the back-channel logout event")
    );
}

#[tokio::test]
async fn rule_sid_and_or_sub() {
    let (issuer, v) = setup().await;
    assert_eq!(
        check(&v, &issuer.logout_token().without("sub").sign()).await,
        Ok(())
    );
    assert_eq!(
        check(&v, &issuer.logout_token().without("sid").sign()).await,
        Ok(())
    );
    assert_eq!(
        check(
            &v,
            &issuer.logout_token().without("sid").without("sub").sign()
        )
        .await,
        claim("neither sid nor sub")
    );
    assert_eq!(
        check(&v, &issuer.logout_token().claim("sid", json!(42)).sign()).await,
        claim("sid and sub must be non-empty strings")
    );
}

#[tokio::test]
async fn rule_no_nonce_so_an_id_token_cannot_pass() {
    let (issuer, v) = setup().await;
    let token = issuer
        .logout_token()
        .claim("nonce", json!("n-0S6_WzA2Mj"))
        .sign();
    assert_eq!(
        check(&v, &token).await,
        claim("a logout token must not contain nonce")
    );
    // An ordinary ID token (no events) is no logout token either.
    let id_token = issuer.token().claim("jti", json!("j1")).sign();
    assert_eq!(
        check(&v, &id_token).await,
        claim("events lacks the back-channel logout event")
    );
}

#[tokio::test]
async fn a_refused_logout_revokes_nothing() {
    let (issuer, v) = setup().await;
    let token = issuer.token().sid("session-1").sign();
    let forged = issuer.logout_token().claim("nonce", json!("x")).sign();
    let err = v.back_channel_logout(&forged).await.unwrap_err();
    assert_eq!(err.status_code(), 400);
    assert_eq!(err.oauth_body()["error"], "invalid_request");
    assert!(v.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_session_logout_refuses_that_sessions_tokens_cached_or_not() {
    let (issuer, v) = setup().await;
    let signed_out = issuer.token().sid("session-1").sign();
    let other_session = issuer.token().sid("session-2").sign();
    // Both verified once: now answered from the verified-token cache.
    assert!(v.verify(&signed_out).await.is_ok());
    assert!(v.verify(&other_session).await.is_ok());
    assert_eq!(v.token_cache_len(), 2);
    v.back_channel_logout(&issuer.logout_token().sign())
        .await
        .expect("logout");
    assert_eq!(
        v.verify(&signed_out).await.map(|_| ()),
        Err(VerifyError::Revoked)
    );
    assert!(
        v.verify(&other_session).await.is_ok(),
        "another session still works"
    );
    let explanation = v.explain(&signed_out).await;
    assert_eq!(
        explanation.failure(),
        Some((Check::Revocation, &VerifyError::Revoked))
    );
    assert_eq!(
        explanation.outcome(Check::SenderConstraint),
        Some(&Outcome::Passed)
    );
}

#[tokio::test]
async fn a_subject_logout_refuses_tokens_issued_before_it() {
    let (issuer, v) = setup().await;
    let before = issuer.token().sub("alice").iat_in(-10).sign();
    let bob = issuer.token().sub("bob").iat_in(-10).sign();
    v.back_channel_logout(&issuer.logout_token().sub("alice").without("sid").sign())
        .await
        .expect("logout");
    assert_eq!(
        v.verify(&before).await.map(|_| ()),
        Err(VerifyError::Revoked)
    );
    assert!(v.verify(&bob).await.is_ok());
    let after = issuer.token().sub("alice").iat_in(5).sign();
    assert!(
        v.verify(&after).await.is_ok(),
        "a token issued after the logout"
    );
}

#[tokio::test]
async fn a_shared_store_and_its_hooks_see_the_logout() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let store = Arc::new(MemoryRevocations::new(1000, Duration::from_secs(3600)));
    let evicted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = evicted.clone();
    store.on_revoke(Arc::new(move |r| {
        sink.lock().expect("lock").push(r.sid.clone());
    }));
    let v = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .revocations(store.clone())
        .build()
        .expect("config");
    v.back_channel_logout(&issuer.logout_token().sign())
        .await
        .expect("logout");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let now = i64::try_from(now).expect("seconds");
    assert!(store.is_revoked(Some("session-1"), "user-1", None, now));
    assert_eq!(store.len(), 1);
    assert_eq!(
        *evicted.lock().expect("lock"),
        vec![Some("session-1".to_string())]
    );
}

#[tokio::test]
async fn the_logout_attack_catalogue_is_refused_and_revokes_nothing() {
    let (issuer, v) = setup().await;
    let session = issuer.token().sid("victim-session").sign();
    let cases =
        attacks::logout_attack_cases(&issuer, "test-client", "victim-session").expect("catalogue");
    assert!(cases.len() >= 10);
    for case in cases {
        if case.replay {
            v.back_channel_logout(&case.token)
                .await
                .unwrap_or_else(|e| panic!("{}: first post: {e}", case.name));
        }
        let answer = v.back_channel_logout(&case.token).await;
        assert_eq!(
            answer.map(|_| ()),
            Err(case.expected.clone()),
            "{}",
            case.name
        );
        assert_eq!(case.expected.status_code(), 400, "{}", case.name);
        if !case.replay {
            assert!(
                v.verify(&session).await.is_ok(),
                "{} revoked the session",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn an_issuer_router_sends_each_logout_to_its_issuers_verifier() {
    let (a, va) = setup().await;
    let (b, vb) = setup().await;
    let router = ssoguard::IssuerRouter::builder()
        .issuer(a.issuer(), va.clone())
        .issuer(b.issuer(), vb.clone())
        .build()
        .expect("router");
    let token_a = a.token().sid("session-1").sign();
    let token_b = b.token().sid("session-1").sign();
    let (index, _) = router
        .back_channel_logout(&b.logout_token().sign())
        .await
        .expect("logout at b");
    assert_eq!(index, 1);
    assert_eq!(
        router.verify(&token_b).await.map(|_| ()),
        Err(VerifyError::Revoked)
    );
    assert!(
        router.verify(&token_a).await.is_ok(),
        "a's session of the same id is another"
    );
    let stranger = TestIssuer::start().await.expect("issuer");
    assert_eq!(
        router
            .back_channel_logout(&stranger.logout_token().sign())
            .await
            .map(|_| ()),
        Err(LogoutError::Token(VerifyError::IssuerMismatch))
    );
}
