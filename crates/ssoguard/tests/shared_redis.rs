//! `ssoguard::shared` against a real `redis-server` each test starts on a free port (no
//! persistence), so a test can kill it and start it again empty: a DPoP proof recorded through
//! one store is a replay through another; a revocation made at one instance reaches another
//! within a second, and one that starts later loads it; with Redis killed the replay check fails
//! (503) within its timeout while every known revocation keeps being enforced; restarted empty,
//! the instances reconnect by themselves and publish what they received meanwhile; a server that
//! answers garbage or never answers is an error, not a wait.
//!
//! Without `redis-server` on the PATH the tests print `SKIPPED: …` and pass, except under `CI`.

#![cfg(feature = "shared-redis")]

use ssoguard::dpop::{ReplayStore, ReplayStoreUnavailable};
use ssoguard::revocation::{Revocation, Revocations};
use ssoguard::shared::{RedisRevocations, SharedHealth, SharedRedis};
use ssoguard::testing::RedisServer;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A `redis-server` of this test's own; `None` (skipped) when it is not installed.
fn redis_server() -> Option<RedisServer> {
    match RedisServer::start() {
        Ok(server) => Some(server),
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("redis-server cannot run ({e}); CI is set, so this is a failure");
            }
            eprintln!("SKIPPED: redis-server cannot run: {e}");
            None
        }
    }
}

/// A configuration of `redis` with `prefix` (one per test).
fn shared_at(redis: &RedisServer, prefix: &str) -> SharedRedis {
    SharedRedis::new(&redis.url())
        .expect("a redis URL")
        .key_prefix(prefix)
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("i64 seconds")
}

fn key(n: u8) -> [u8; 32] {
    let mut k = [7u8; 32];
    k[0] = n;
    k
}

fn session(sid: &str) -> Revocation {
    Revocation::new(Some(sid.into()), Some("alice".into()), now())
}

/// Polls `condition` every 10 ms for up to `limit`; true when it held.
async fn within(limit: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn connected(store: &RedisRevocations) {
    assert!(
        within(Duration::from_secs(10), || store.health()
            == SharedHealth::Connected)
        .await,
        "connected: {:?}",
        store.health()
    );
}

#[tokio::test]
async fn a_proof_recorded_by_one_instance_is_a_replay_at_another() {
    let Some(redis) = redis_server() else {
        return;
    };
    let a = shared_at(&redis, "replay:").replay_store();
    let b = shared_at(&redis, "replay:").replay_store();
    let now = now();
    assert_eq!(a.check_and_insert(key(1), now + 60, now).await, Ok(true));
    assert_eq!(b.check_and_insert(key(1), now + 60, now).await, Ok(false));
    assert_eq!(a.check_and_insert(key(1), now + 60, now).await, Ok(false));
    assert_eq!(b.check_and_insert(key(2), now + 60, now).await, Ok(true));
    // Another prefix is another service: its proofs are its own.
    let other = shared_at(&redis, "other:").replay_store();
    assert_eq!(
        other.check_and_insert(key(1), now + 60, now).await,
        Ok(true)
    );
}

#[tokio::test]
async fn a_replay_entry_expires_with_the_proof() {
    let Some(redis) = redis_server() else {
        return;
    };
    let store = shared_at(&redis, "expiry:").replay_store();
    let now = now();
    // Kept until one second past `expires_at`: here, one second.
    assert_eq!(store.check_and_insert(key(1), now, now).await, Ok(true));
    assert_eq!(store.check_and_insert(key(1), now, now).await, Ok(false));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        store.check_and_insert(key(1), now + 60, now).await,
        Ok(true)
    );
}

#[tokio::test]
async fn a_revocation_at_one_instance_reaches_the_others_and_later_ones_load_it() {
    let Some(redis) = redis_server() else {
        return;
    };
    let a = shared_at(&redis, "rev:").revocations();
    let b = shared_at(&redis, "rev:").revocations();
    connected(&a).await;
    connected(&b).await;
    assert!(b.is_empty());

    a.revoke(&session("sid-1"), now()).expect("room");
    assert!(
        a.is_revoked(Some("sid-1"), "alice", None, now()),
        "locally at once"
    );
    let start = Instant::now();
    assert!(
        within(Duration::from_secs(1), || b.is_revoked(
            Some("sid-1"),
            "alice",
            None,
            now()
        ))
        .await,
        "pushed to B within 1 s"
    );
    eprintln!("propagation lag: {:?}", start.elapsed());
    assert!(
        !b.is_revoked(Some("sid-2"), "alice", None, now()),
        "another session"
    );

    // A subject revocation (no sid) carries its iat.
    let logout_at = now();
    b.revoke(
        &Revocation::new(None, Some("bob".into()), logout_at),
        logout_at,
    )
    .expect("room");
    assert!(
        within(Duration::from_secs(1), || a.is_revoked(
            None,
            "bob",
            Some(logout_at - 1),
            now()
        ))
        .await
    );
    assert!(
        !a.is_revoked(None, "bob", Some(logout_at), now()),
        "issued after the logout"
    );

    // An instance started afterwards loads both.
    let c = shared_at(&redis, "rev:").revocations();
    connected(&c).await;
    assert!(c.is_revoked(Some("sid-1"), "anyone", None, now()));
    assert!(c.is_revoked(None, "bob", Some(logout_at - 1), now()));
    // Another prefix shares nothing.
    let d = shared_at(&redis, "elsewhere:").revocations();
    connected(&d).await;
    assert!(d.is_empty());
}

#[tokio::test]
async fn hooks_hear_revocations_made_elsewhere() {
    let Some(redis) = redis_server() else {
        return;
    };
    let a = shared_at(&redis, "hooks:").revocations();
    let b = shared_at(&redis, "hooks:").revocations();
    connected(&a).await;
    connected(&b).await;
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = heard.clone();
    b.on_revoke(Arc::new(move |r: &Revocation| {
        sink.lock().expect("lock").push(r.sid.clone());
    }));
    a.revoke(&session("sid-h"), now()).expect("room");
    assert!(
        within(Duration::from_secs(1), || !heard
            .lock()
            .expect("lock")
            .is_empty())
        .await,
        "B's caches are told (a revocation evicts everywhere)"
    );
    assert_eq!(heard.lock().expect("lock")[0].as_deref(), Some("sid-h"));
}

#[tokio::test]
async fn redis_killed_and_restarted_empty() {
    let Some(mut redis) = redis_server() else {
        return;
    };
    let shared = shared_at(&redis, "fault:").timeout(Duration::from_millis(200));
    let replay = shared.replay_store();
    let a = shared.revocations();
    let b = shared_at(&redis, "fault:").revocations();
    connected(&a).await;
    connected(&b).await;
    a.revoke(&session("known"), now()).expect("room");
    assert!(
        within(Duration::from_secs(1), || b.is_revoked(
            Some("known"),
            "x",
            None,
            now()
        ))
        .await
    );
    let now0 = now();
    assert_eq!(
        replay.check_and_insert(key(1), now0 + 60, now0).await,
        Ok(true)
    );

    redis.kill();
    // The replay check fails (503 for the request), within its timeout: never a wait, never "new".
    let started = Instant::now();
    assert_eq!(
        replay.check_and_insert(key(2), now0 + 60, now()).await,
        Err(ReplayStoreUnavailable)
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // Both notice, and keep every revocation they know.
    assert!(
        within(Duration::from_secs(5), || a.health()
            == SharedHealth::Degraded)
        .await
    );
    assert!(
        within(Duration::from_secs(5), || b.health()
            == SharedHealth::Degraded)
        .await
    );
    assert!(a.is_revoked(Some("known"), "x", None, now()));
    assert!(b.is_revoked(Some("known"), "x", None, now()));
    // A logout received meanwhile is enforced here at once, and waits to be shared.
    a.revoke(&session("during-outage"), now()).expect("room");
    assert!(a.is_revoked(Some("during-outage"), "x", None, now()));
    assert_eq!(a.unpublished(), 1);
    assert!(!b.is_revoked(Some("during-outage"), "x", None, now()));

    // Restarted empty: both reconnect without being restarted, A publishes what waited.
    redis.restart().expect("redis-server restarted");
    // The replay store's very first call on the new server succeeds: its broken connection is
    // replaced within the call, not by a failed request.
    let now1 = now();
    assert_eq!(
        replay.check_and_insert(key(3), now1 + 60, now1).await,
        Ok(true)
    );
    connected(&a).await;
    connected(&b).await;
    assert!(
        within(Duration::from_secs(2), || b.is_revoked(
            Some("during-outage"),
            "x",
            None,
            now()
        ))
        .await,
        "published once Redis was back"
    );
    assert_eq!(a.unpublished(), 0);
    assert!(
        b.is_revoked(Some("known"), "x", None, now()),
        "not forgotten"
    );
    // The replay store works again, on the new (empty) server.
    assert_eq!(
        replay.check_and_insert(key(3), now1 + 60, now1).await,
        Ok(false)
    );
}

#[tokio::test]
async fn garbage_in_redis_is_ignored_not_trusted() {
    let Some(redis) = redis_server() else {
        return;
    };
    // A key under the prefix that is not a revocation, and a garbage message on the channel.
    let status = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port().to_string(),
            "SET",
            "g:revoked:sid:x",
            "not json",
        ])
        .stdout(Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: redis-cli is not installed");
        return;
    }
    let a = shared_at(&redis, "g:").revocations();
    connected(&a).await;
    assert!(a.is_empty(), "garbage loads as nothing");
    let _ = Command::new("redis-cli")
        .args([
            "-p",
            &redis.port().to_string(),
            "PUBLISH",
            "g:revocations",
            "{\"sid\":7}",
        ])
        .stdout(Stdio::null())
        .status();
    a.revoke(&session("real"), now()).expect("room");
    assert!(a.is_revoked(Some("real"), "x", None, now()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(a.health(), SharedHealth::Connected, "still subscribed");
}

/// A server that accepts connections and answers every read with `reply` (or nothing).
fn fake_server(reply: Option<&'static [u8]>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    if let Some(reply) = reply {
                        let _ = stream.write_all(reply);
                    }
                }
            });
        }
    });
    format!("redis://{addr}")
}

#[tokio::test]
async fn a_server_answering_garbage_or_nothing_is_an_error_within_the_timeout() {
    for (what, reply) in [
        ("garbage", Some(&b":42\r\n"[..])),
        ("an error", Some(&b"-ERR nope\r\n"[..])),
        ("silence", None),
    ] {
        let url = fake_server(reply);
        let shared = SharedRedis::new(&url)
            .expect("url")
            .timeout(Duration::from_millis(100));
        let store = shared.replay_store();
        let started = Instant::now();
        let now = now();
        assert_eq!(
            store.check_and_insert(key(1), now + 60, now).await,
            Err(ReplayStoreUnavailable),
            "{what}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{what}: {:?}",
            started.elapsed()
        );
        let revocations = shared.revocations();
        revocations.revoke(&session("s"), now).expect("room");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_ne!(revocations.health(), SharedHealth::Connected, "{what}");
        assert!(revocations.is_revoked(Some("s"), "x", None, now), "{what}");
    }
}

#[test]
fn only_redis_urls_are_accepted_and_never_echoed() {
    for url in [
        "http://127.0.0.1:6379",
        "127.0.0.1:6379",
        "",
        "redis://user:p4ss@[bad",
    ] {
        let error = SharedRedis::new(url).expect_err(url).to_string();
        assert!(!error.contains("p4ss"), "{error}");
    }
    assert!(SharedRedis::new("rediss://cache.example.com:6380/0").is_ok());
    let debug = format!(
        "{:?}",
        SharedRedis::new("redis://:s3cret@127.0.0.1/").expect("url")
    );
    assert!(!debug.contains("s3cret"), "{debug}");
}
