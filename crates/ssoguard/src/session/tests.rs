//! The verifier's order of checks and its lookup cache, against a `get-session` endpoint on
//! `127.0.0.1:0` that answers as Better Auth 1.7.5 does (the real server is exercised by
//! `tasks-api/tests/session_cookies.rs`).

use super::*;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};

const SECRET: &str = "ssoguard-dev-secret-0123456789abcdef0123456789";

fn secret() -> SessionSecret {
    SessionSecret::new(SECRET).expect("secret")
}

#[derive(Clone, Default)]
struct Sessions {
    calls: Arc<AtomicUsize>,
    /// token → get-session answer (`null` when absent).
    answers: Arc<std::sync::Mutex<std::collections::HashMap<String, Value>>>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

async fn get_session(
    State(s): State<Sessions>,
    headers: HeaderMap,
) -> Result<axum::Json<Value>, axum::http::StatusCode> {
    s.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    if s.down.load(Ordering::SeqCst) {
        return Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    }
    let cookie = headers
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let raw = cookie
        .strip_prefix("better-auth.session_token=")
        .unwrap_or("");
    let token = cookie::percent_decode(raw)
        .and_then(|v| v.rsplit_once('.').map(|(t, _)| t.to_owned()))
        .unwrap_or_default();
    let answers = s.answers.lock().expect("lock");
    Ok(axum::Json(
        answers.get(&token).cloned().unwrap_or(Value::Null),
    ))
}

fn answer(token: &str, user: &str, expires_in_ms: i64) -> Value {
    let expires = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(now_ms() + expires_in_ms) * 1_000_000,
    )
    .expect("time")
    .format(&time::format_description::well_known::Rfc3339)
    .expect("format");
    json!({
        "session": {"id": format!("sid-{token}"), "token": token, "userId": user, "expiresAt": expires, "impersonatedBy": null},
        "user": {"id": user, "email": format!("{user}@example.com"), "name": user, "emailVerified": true, "role": "user", "banned": false, "banExpires": null}
    })
}

async fn server() -> (Sessions, String) {
    let sessions = Sessions::default();
    let router = axum::Router::new()
        .route("/api/auth/get-session", get(get_session))
        .with_state(sessions.clone());
    let origin = crate::testing::serve(router).await;
    (sessions, format!("{origin}/api/auth"))
}

fn verifier(base: &str, ttl: Duration) -> SessionVerifier {
    SessionVerifier::builder()
        .secret(secret())
        .remote(base)
        .cache_ttl(ttl)
        .build()
        .expect("verifier")
}

fn cookie_header(token: &str) -> String {
    format!(
        "theme=dark; better-auth.session_token={}",
        sign_session_token(token, &secret())
    )
}

#[tokio::test]
async fn ten_thousand_requests_cost_one_lookup_per_ttl() {
    let (sessions, base) = server().await;
    sessions
        .answers
        .lock()
        .expect("lock")
        .insert("tok-a".into(), answer("tok-a", "alice", 3_600_000));
    let verifier = verifier(&base, Duration::from_secs(2));
    let header = cookie_header("tok-a");
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let verifier = verifier.clone();
        let header = header.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..100 {
                let claims = verifier
                    .verify_cookie_header([header.as_str()])
                    .await
                    .expect("verified");
                assert_eq!(claims.sub, "alice");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(
        sessions.calls.load(Ordering::SeqCst),
        1,
        "one lookup, shared"
    );
    let m = verifier.metrics();
    assert_eq!((m.session_lookups, m.verified), (1, 10_000));
    // The others found the answer cached, or joined the one lookup while it ran.
    assert!(m.session_cache_hits >= 9_900, "{m:?}");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    verifier
        .verify_cookie_header([header.as_str()])
        .await
        .expect("verified");
    assert_eq!(
        verifier.metrics().session_lookups,
        2,
        "one more after the TTL"
    );
}

#[tokio::test]
async fn forged_cookies_never_cause_a_lookup() {
    let (sessions, base) = server().await;
    let verifier = verifier(&base, Duration::from_secs(30));
    let other = SessionSecret::new("another-secret-0123456789abcdef0123456789").expect("s");
    let forged = format!(
        "better-auth.session_token={}",
        sign_session_token("tok-a", &other)
    );
    let cases: [(&str, VerifyError); 4] = [
        (&forged, VerifyError::InvalidSignature),
        (
            "better-auth.session_token=tok-a",
            VerifyError::Malformed("session cookie is not token.signature"),
        ),
        ("other=1", VerifyError::MissingToken),
        (
            "better-auth.session_token=a.b; better-auth.session_token=c.d",
            VerifyError::Malformed("ambiguous credentials: more than one session cookie"),
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(
            verifier.verify_cookie_header([header]).await.unwrap_err(),
            expected
        );
    }
    assert_eq!(sessions.calls.load(Ordering::SeqCst), 0);
    assert_eq!(verifier.metrics().session_lookups, 0);
}

#[tokio::test]
async fn unknown_expired_and_banned_sessions_are_refused_and_briefly_remembered() {
    let (sessions, base) = server().await;
    {
        let mut answers = sessions.answers.lock().expect("lock");
        answers.insert("old".into(), answer("old", "bob", -1_000));
        let mut banned = answer("ban", "carol", 3_600_000);
        banned["user"]["banned"] = json!(true);
        answers.insert("ban".into(), banned);
    }
    let verifier = verifier(&base, Duration::from_secs(30));
    for (token, expected) in [
        ("unknown", VerifyError::SessionNotFound),
        ("old", VerifyError::Expired),
        ("ban", VerifyError::UserBanned),
    ] {
        for _ in 0..3 {
            assert_eq!(
                verifier
                    .verify_cookie_header([cookie_header(token).as_str()])
                    .await
                    .unwrap_err(),
                expected
            );
        }
    }
    assert_eq!(
        sessions.calls.load(Ordering::SeqCst),
        3,
        "negative answers cached"
    );
}

#[tokio::test]
async fn a_store_that_is_down_is_503_and_not_cached() {
    let (store, base) = server().await;
    store
        .answers
        .lock()
        .expect("lock")
        .insert("tok".into(), answer("tok", "dave", 3_600_000));
    store.down.store(true, Ordering::SeqCst);
    let sessions = verifier(&base, Duration::from_secs(30));
    let header = cookie_header("tok");
    let err = sessions
        .verify_cookie_header([header.as_str()])
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 503);
    store.down.store(false, Ordering::SeqCst);
    let claims = sessions
        .verify_cookie_header([header.as_str()])
        .await
        .expect("recovered");
    assert_eq!(claims.sub, "dave");
    // Nothing listens here: 503 too.
    let nowhere = verifier("http://127.0.0.1:9/api/auth", Duration::from_secs(30));
    let err = nowhere
        .verify_cookie_header([header.as_str()])
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn a_valid_cookie_cache_answers_without_a_lookup() {
    let (sessions, base) = server().await;
    let checker = verifier(&base, Duration::from_secs(30));
    let a = answer("tok-c", "erin", 3_600_000);
    let data = write_compact_cookie_cache(&a["session"], &a["user"], now_ms() + 300_000, &secret());
    let header = format!(
        "{}; better-auth.session_data={data}",
        cookie_header("tok-c")
    );
    let claims = checker
        .verify_cookie_header([header.as_str()])
        .await
        .expect("from the cache cookie");
    assert_eq!(claims.sub, "erin");
    assert_eq!(claims.extra["sid"], "sid-tok-c");
    assert_eq!(sessions.calls.load(Ordering::SeqCst), 0);
    assert_eq!(checker.metrics().session_cookie_cache_hits, 1);
    // Another session's cache cookie is not used: looked up (and unknown there).
    let header = format!(
        "{}; better-auth.session_data={data}",
        cookie_header("tok-d")
    );
    assert_eq!(
        checker
            .verify_cookie_header([header.as_str()])
            .await
            .unwrap_err(),
        VerifyError::SessionNotFound
    );
    assert_eq!(sessions.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn the_builder_refuses_incomplete_or_unsafe_settings() {
    let base = || SessionVerifier::builder().secret(secret());
    assert!(
        SessionVerifier::builder()
            .remote("http://localhost:3001/api/auth")
            .build()
            .is_err()
    );
    assert!(base().build().is_err(), "no lookup");
    assert!(matches!(
        base().remote("http://sso.example.invalid/api/auth").build(),
        Err(ConfigError::PlainHttp { .. })
    ));
    assert!(
        base()
            .remote("http://sso.example.invalid/api/auth")
            .insecure_allow_http()
            .build()
            .is_ok()
    );
    assert!(base().remote("ftp://x").build().is_err());
    assert!(
        base()
            .remote("http://localhost:3001/api/auth")
            .cache_ttl(Duration::ZERO)
            .build()
            .is_err()
    );
    assert!(
        base()
            .remote("http://localhost:3001/api/auth")
            .cookie_prefix("a;b")
            .build()
            .is_err()
    );
    let v = base()
        .remote("http://localhost:3001/api/auth")
        .build()
        .expect("ok");
    let debug = format!("{v:?}");
    assert!(
        !debug.contains("0123456789") && debug.contains("[redacted]"),
        "{debug}"
    );
}

#[tokio::test]
async fn a_back_channel_logout_refuses_the_cached_session() {
    use crate::revocation::{MemoryRevocations, Revocation, Revocations};
    let (sessions, base) = server().await;
    {
        let mut answers = sessions.answers.lock().expect("lock");
        answers.insert("tok-a".into(), answer("tok-a", "alice", 3_600_000));
        answers.insert("tok-b".into(), answer("tok-b", "alice", 3_600_000));
    }
    let revocations = Arc::new(MemoryRevocations::default());
    let verifier = SessionVerifier::builder()
        .secret(secret())
        .remote(&base)
        .cache_ttl(Duration::from_secs(30))
        .revocations(revocations.clone())
        .build()
        .expect("verifier");
    let (a, b) = (cookie_header("tok-a"), cookie_header("tok-b"));
    assert!(verifier.verify_cookie_header([a.as_str()]).await.is_ok());
    assert!(verifier.verify_cookie_header([b.as_str()]).await.is_ok());
    let now = crate::time::unix_now();
    revocations
        .revoke(&Revocation::new(Some("sid-tok-a".into()), None, now), now)
        .expect("room");
    // The lookup cache still holds tok-a's answer; it must not be used.
    assert_eq!(
        verifier
            .verify_cookie_header([a.as_str()])
            .await
            .map(|_| ()),
        Err(VerifyError::Revoked)
    );
    assert!(
        verifier.verify_cookie_header([b.as_str()]).await.is_ok(),
        "the user's other session still works"
    );
    assert_eq!(sessions.calls.load(Ordering::SeqCst), 2, "no new lookups");
}

/// Two instances sharing one real Redis: a session looked up by one is not looked up by the
/// other; unknown sessions are not shared; Redis killed: each looks up for itself.
#[cfg(feature = "shared-redis")]
#[tokio::test]
async fn instances_sharing_redis_look_a_session_up_once() {
    let Ok(mut redis) = crate::testing::RedisServer::start() else {
        assert!(std::env::var_os("CI").is_none(), "redis-server cannot run");
        eprintln!("SKIPPED: redis-server cannot run");
        return;
    };
    let (sessions, base) = server().await;
    sessions
        .answers
        .lock()
        .expect("lock")
        .insert("tok-s".into(), answer("tok-s", "alice", 3_600_000));
    let shared = crate::shared::SharedRedis::new(&redis.url()).expect("url");
    let instance = || {
        SessionVerifier::builder()
            .secret(secret())
            .remote(&base)
            .shared(&shared)
            .build()
            .expect("verifier")
    };
    let (a, b) = (instance(), instance());
    let header = cookie_header("tok-s");
    let from_a = a.verify_cookie_header([header.as_str()]).await.expect("a");
    let from_b = b.verify_cookie_header([header.as_str()]).await.expect("b");
    assert_eq!(from_a, from_b, "the same claims, from Redis");
    assert_eq!(sessions.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        (a.metrics().session_lookups, b.metrics().session_lookups),
        (1, 0)
    );
    // Not shared: unknown sessions (each instance asks).
    let unknown = cookie_header("tok-unknown");
    for v in [&a, &b] {
        let err = v
            .verify_cookie_header([unknown.as_str()])
            .await
            .unwrap_err();
        assert_eq!(err, VerifyError::SessionNotFound);
    }
    assert_eq!(sessions.calls.load(Ordering::SeqCst), 3);
    // Redis killed: a new session is looked up by each instance, promptly.
    redis.kill();
    sessions
        .answers
        .lock()
        .expect("lock")
        .insert("tok-t".into(), answer("tok-t", "bob", 3_600_000));
    let header = cookie_header("tok-t");
    let started = std::time::Instant::now();
    for v in [&a, &b] {
        assert!(v.verify_cookie_header([header.as_str()]).await.is_ok());
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(sessions.calls.load(Ordering::SeqCst), 5);
}
