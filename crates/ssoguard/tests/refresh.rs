//! Key-cache refresh rules, asserted with the test issuer's fetch counter.

use ssoguard::testing::{Fault, SigningKey, TestIssuer};
use ssoguard::{Algorithm, JwksConfig, TokenCacheConfig, Verifier, VerifyError};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn no_token_cache() -> TokenCacheConfig {
    TokenCacheConfig::default().enabled(false)
}

fn quick(issuer: &TestIssuer, jwks: JwksConfig) -> Verifier {
    Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .jwks_config(jwks)
        .token_cache(no_token_cache())
        .build()
        .expect("config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_cache_stampede_causes_exactly_one_fetch() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = quick(&issuer, JwksConfig::default());
    let token = Arc::new(issuer.token().sign());
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let v = v.clone();
            let token = token.clone();
            tokio::spawn(async move { v.verify(&token).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task"), Ok(()));
    }
    assert_eq!(issuer.jwks_fetches(), 1);
    assert_eq!(issuer.discovery_fetches(), 1);
    assert_eq!(v.metrics().jwks_fetches, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_unknown_kids_cause_at_most_one_refetch_per_cooldown() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = quick(&issuer, JwksConfig::default());
    v.warm_up().await.expect("warm");
    assert_eq!(issuer.jwks_fetches(), 1);
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let v = v.clone();
            let token = issuer.token().kid(&format!("forged-{i}")).sign();
            tokio::spawn(async move { v.verify(&token).await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task"), Err(VerifyError::UnknownKey));
    }
    assert!(
        issuer.jwks_fetches() <= 2,
        "fetches: {}",
        issuer.jwks_fetches()
    );
    // Repeating a remembered unknown kid does not fetch either.
    let again = issuer.token().kid("forged-1").sign();
    assert_eq!(v.verify(&again).await.unwrap_err(), VerifyError::UnknownKey);
    assert!(issuer.jwks_fetches() <= 2);
}

#[tokio::test]
async fn rotated_in_key_is_accepted_on_first_use_and_removed_key_after_refresh() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        // Short, so the removal below is seen soon; long enough that no background refresh
        // (at 0.9 × TTL) slips in before the fetch counts are checked.
        .jwks_ttl(Duration::from_secs(3))
        .build()
        .expect("config");
    let old_kid = issuer.key(Algorithm::EdDSA).expect("key").kid().to_string();
    let old_token = issuer.token().sign();
    assert!(v.verify(&old_token).await.is_ok());

    let new_kid = issuer.rotate(Algorithm::EdDSA).expect("rotate");
    let new_token = issuer.token().sign();
    assert!(new_token.len() > 10 && new_kid != old_kid);
    assert!(v.verify(&new_token).await.is_ok(), "new key on first use");
    assert_eq!(issuer.jwks_fetches(), 2);

    // The old token is cached as verified; removing its key must stop it after the refresh.
    assert!(v.verify(&old_token).await.is_ok());
    assert!(v.verify(&old_token).await.is_ok());
    assert!(v.metrics().cache_hits > 0, "the cache answered the repeat");
    issuer.remove_key(&old_kid);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if v.verify(&old_token).await.is_err() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "removed key still accepted: fetches {} status {:?}",
            issuer.jwks_fetches(),
            v.key_status()
        );
    }
    assert_eq!(
        v.verify(&old_token).await.expect_err("key removed"),
        VerifyError::UnknownKey
    );
    assert!(v.verify(&new_token).await.is_ok());
}

#[tokio::test]
async fn down_after_good_load_serves_stale_within_bound_then_fails_closed() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = quick(
        &issuer,
        JwksConfig::default()
            .ttl(Duration::from_secs(1))
            .max_stale(Duration::from_secs(2))
            .refetch_cooldown(Duration::from_millis(200)),
    );
    let token = issuer.token().sign();
    assert!(v.verify(&token).await.is_ok());
    issuer.set_fault(Some(Fault::Down));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Past the TTL, within the staleness bound: still valid.
    assert!(v.verify(&token).await.is_ok());
    assert!(v.key_status().ready);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let err = v.verify(&token).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(err.status_code(), 503);
    assert!(!v.key_status().ready);
    // Back up: recovers without a restart.
    issuer.set_fault(None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(v.verify(&token).await.is_ok());
}

#[tokio::test]
async fn down_at_start_is_503_then_recovers_after_cooldown() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_fault(Some(Fault::Down));
    let v = quick(
        &issuer,
        JwksConfig::default().refetch_cooldown(Duration::from_millis(300)),
    );
    let token = issuer.token().sign();
    let err = v.verify(&token).await.unwrap_err();
    assert!(
        matches!(err, VerifyError::KeysUnavailable { .. }),
        "{err:?}"
    );
    // Within the cooldown no new fetch is attempted.
    assert!(v.verify(&token).await.unwrap_err().is_unavailable());
    issuer.set_fault(None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(v.verify(&token).await.is_ok());
}

#[tokio::test]
async fn faulty_refreshes_keep_the_last_good_set() {
    for fault in [
        Fault::Status(500),
        Fault::Html,
        Fault::Garbage,
        Fault::EmptySet,
        Fault::Huge,
    ] {
        let issuer = TestIssuer::start().await.expect("issuer");
        let v = quick(
            &issuer,
            JwksConfig::default()
                .ttl(Duration::from_secs(1))
                .refetch_cooldown(Duration::from_millis(100)),
        );
        let token = issuer.token().sign();
        assert!(v.verify(&token).await.is_ok());
        issuer.set_fault(Some(fault.clone()));
        // The background refresh is due at 0.9 s; wait for it to have failed (polling: a
        // loaded machine may run it late).
        let deadline = Instant::now() + Duration::from_secs(10);
        while issuer.jwks_fetches() < 2 || v.key_status().last_error.is_none() {
            assert!(
                Instant::now() < deadline,
                "{fault:?}: no failed refresh: fetches {}",
                issuer.jwks_fetches()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(v.verify(&token).await.is_ok(), "{fault:?}");
        assert!(v.key_status().last_error.is_some(), "{fault:?}");
    }
}

#[tokio::test]
async fn known_kids_never_wait_on_a_slow_fetch() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = quick(
        &issuer,
        JwksConfig::default()
            .ttl(Duration::from_secs(1))
            .fetch_timeout(Duration::from_secs(8)),
    );
    let token = issuer.token().sign();
    assert!(v.verify(&token).await.is_ok());
    issuer.set_fault(Some(Fault::Slow(Duration::from_secs(20))));
    let deadline = Instant::now() + Duration::from_secs(10);
    while issuer.jwks_fetches() < 2 {
        assert!(Instant::now() < deadline, "the refresh never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A refresh is now stalled in flight (for up to the 8 s fetch timeout); known-kid
    // verification must not wait on it. Bounded at 2 s each: a verification that waited would
    // take seconds, and a loaded machine's pauses are far shorter than that.
    for _ in 0..20 {
        let verified = tokio::time::timeout(Duration::from_secs(2), v.verify(&token)).await;
        assert!(
            matches!(verified, Ok(Ok(_))),
            "waited on the stalled refresh"
        );
    }
}

#[tokio::test]
async fn one_unparseable_key_does_not_break_the_set() {
    let issuer = TestIssuer::start().await.expect("issuer");
    // An ES512 key next to EdDSA keys, but the verifier does not allow ES512: skipped.
    issuer.add_key(SigningKey::generate(Algorithm::ES512, "es512").expect("key"));
    let v = Verifier::builder()
        .authority(issuer.origin())
        .audience("test-client")
        .algorithms([Algorithm::EdDSA])
        .build()
        .expect("config");
    assert!(
        v.verify(&issuer.token().alg(Algorithm::EdDSA).sign())
            .await
            .is_ok()
    );
    let status = v.key_status();
    assert_eq!((status.keys, status.skipped), (1, 1));
}

#[tokio::test]
async fn cache_control_max_age_is_clamped() {
    let issuer = TestIssuer::start().await.expect("issuer");
    issuer.set_cache_control(Some("public, max-age=1"));
    let v = quick(&issuer, JwksConfig::default());
    v.warm_up().await.expect("warm");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // max-age=1 is clamped up to 30 s: no refresh yet.
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_token_of_another_issuer_never_makes_a_fetch() {
    let issuer = TestIssuer::start().await.expect("issuer");
    let v = quick(
        &issuer,
        JwksConfig::default().refetch_cooldown(Duration::ZERO),
    );
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    let loaded = issuer.jwks_fetches();
    // Our issuer with a kid we do not hold: refetched (a key may have been rotated in).
    let rotated = issuer.token().kid("not-published-yet").sign();
    assert_eq!(
        v.verify(&rotated).await.unwrap_err(),
        VerifyError::UnknownKey
    );
    assert_eq!(issuer.jwks_fetches(), loaded + 1);
    // Another issuer with a kid we do not hold: refused without a fetch.
    let stranger = issuer
        .token()
        .iss("https://stranger.example/api/auth")
        .kid("theirs")
        .sign();
    assert_eq!(
        v.verify(&stranger).await.unwrap_err(),
        VerifyError::IssuerMismatch
    );
    assert_eq!(issuer.jwks_fetches(), loaded + 1);
}
