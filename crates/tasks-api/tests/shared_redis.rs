//! Several instances, one truth, with real parts: a `redis-server` of this test's own (free
//! port, no persistence) and three `tasks-api` processes (the binary) trusting one test issuer,
//! all with `SSOGUARD_REDIS_URL`.
//!
//! - A back-channel logout posted to one instance: the session's token is refused by all three
//!   within 1 s (each lag measured and printed; every one must be under 1 s); other sessions
//!   keep working.
//! - Redis killed: the instances report `degraded` on `/ready` and keep refusing what they know;
//!   a logout received meanwhile is enforced by its instance at once; Redis restarted empty: the
//!   instances reconnect by themselves and the waiting logout reaches the other two.
//! - The same through a real nginx `upstream` (round robin) in front of the three: after a
//!   logout posted through nginx, three consecutive requests (one per instance) are refused
//!   within 1 s.
//! - DPoP replay across instances, at library level: two verifiers sharing the Redis replay
//!   store (tasks-api does not accept DPoP over HTTP yet): a proof used at one is a replay at the
//!   other; with Redis down the proof cannot be checked (503-class error), never accepted.
//!
//! Without `redis-server` (or nginx, for its test) the tests print `SKIPPED: …` and pass, except
//! under `CI`.

mod common;

use axum::http::Method;
use serde_json::{Value, json};
use ssoguard::dpop::{DpopConfig, DpopError, DpopRequest};
use ssoguard::shared::SharedRedis;
use ssoguard::testing::{DpopClient, RedisServer, TestIssuer};
use ssoguard::{Algorithm, KeysUnavailable, Verifier, VerifyError};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// A `redis-server` of this test's own; `None` (skipped) when it cannot run.
fn redis_server() -> Option<RedisServer> {
    match RedisServer::start() {
        Ok(server) => Some(server),
        Err(e) => {
            common::skip(&format!("redis-server cannot run: {e}"));
            None
        }
    }
}

/// One `tasks-api` process.
struct Instance {
    base: String,
    _child: Child,
    db: std::path::PathBuf,
}

impl Drop for Instance {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db.display()));
        }
    }
}

impl Instance {
    async fn start(issuer: &TestIssuer, redis_url: &str) -> Instance {
        let db = std::env::temp_dir().join(format!(
            "tasks-api-shared-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let mut child = Command::new(env!("CARGO_BIN_EXE_tasks-api"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AUTH_SERVER_URL", issuer.origin())
            .env("SSO_CLIENT_ID", "test-client")
            .env("DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("PORT", "0")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("SSOGUARD_REDIS_URL", redis_url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn tasks-api");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read the log") {
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if event["fields"]["message"] == "tasks-api listening" {
                    return event["fields"]["addr"].as_str().map(str::to_owned);
                }
            }
            None
        })
        .await
        .expect("listening within 30 s")
        .expect("the listening line names the address");
        // Keep draining the log so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Instance {
            base: format!("http://{addr}"),
            _child: child,
            db,
        }
    }
}

/// `GET /api/me` at `base` (an instance or the front).
async fn me(http: &reqwest::Client, base: &str, token: &str) -> u16 {
    http.get(format!("{base}/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn ready(http: &reqwest::Client, instance: &Instance) -> Value {
    http.get(format!("{}/ready", instance.base))
        .send()
        .await
        .expect("ready")
        .json()
        .await
        .expect("json")
}

/// Waits (up to 10 s) until every instance's `/ready` reports `shared_state` `want`.
async fn shared_state_is(http: &reqwest::Client, instances: &[Instance], want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for instance in instances {
        loop {
            let body = ready(http, instance).await;
            if body["shared_state"] == want {
                break;
            }
            assert!(Instant::now() < deadline, "shared_state {want}: {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn post_logout(http: &reqwest::Client, base: &str, logout: &str) -> u16 {
    http.post(format!("{base}/auth/backchannel-logout"))
        .form(&[("logout_token", logout)])
        .send()
        .await
        .expect("logout")
        .status()
        .as_u16()
}

/// Polls until `token` is refused (401) by every instance; returns the time it took.
async fn refused_by_all(
    http: &reqwest::Client,
    instances: &[Instance],
    token: &str,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    let mut pending: Vec<&Instance> = instances.iter().collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for instance in pending {
            if me(http, &instance.base, token).await != 401 {
                still.push(instance);
            }
        }
        pending = still;
        if !pending.is_empty() {
            assert!(
                start.elapsed() < limit,
                "still accepted by {} instance(s) after {limit:?}",
                pending.len()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    start.elapsed()
}

fn session_token(issuer: &TestIssuer, sid: &str) -> String {
    issuer.token().sub("alice").sid(sid).sign()
}

fn logout_token(issuer: &TestIssuer, sid: &str) -> String {
    issuer
        .logout_token()
        .aud("test-client")
        .sub("alice")
        .claim("sid", json!(sid))
        .sign()
}

#[tokio::test]
async fn a_logout_at_one_instance_is_enforced_by_all_three_within_a_second() {
    let Some(mut redis) = redis_server() else {
        return;
    };
    let issuer = TestIssuer::start().await.expect("issuer");
    let http = reqwest::Client::new();
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(Instance::start(&issuer, &redis.url()).await);
    }
    shared_state_is(&http, &instances, "ok").await;
    let other = session_token(&issuer, "sid-other");

    let mut lags = Vec::new();
    for round in 0..12 {
        let sid = format!("sid-{round}");
        let token = session_token(&issuer, &sid);
        // Verified (and cached) by every instance first.
        for instance in &instances {
            assert_eq!(me(&http, &instance.base, &token).await, 200);
        }
        let receiver = &instances[round % 3];
        assert_eq!(
            post_logout(&http, &receiver.base, &logout_token(&issuer, &sid)).await,
            200
        );
        lags.push(refused_by_all(&http, &instances, &token, Duration::from_secs(1)).await);
    }
    lags.sort();
    eprintln!(
        "logout propagation over {} logouts: median {:?}, max {:?}",
        lags.len(),
        lags[lags.len() / 2],
        lags[lags.len() - 1]
    );
    for instance in &instances {
        assert_eq!(
            me(&http, &instance.base, &other).await,
            200,
            "another session"
        );
    }

    // Redis killed: every instance says so and keeps enforcing what it knows.
    redis.kill();
    shared_state_is(&http, &instances, "degraded").await;
    let early = session_token(&issuer, "sid-0");
    for instance in &instances {
        assert_eq!(
            me(&http, &instance.base, &early).await,
            401,
            "not forgotten"
        );
        assert_eq!(
            me(&http, &instance.base, &other).await,
            200,
            "bearer JWTs still served"
        );
    }
    // A logout received meanwhile: enforced by its instance at once, waiting to be shared.
    let outage = session_token(&issuer, "sid-outage");
    for instance in &instances {
        assert_eq!(me(&http, &instance.base, &outage).await, 200);
    }
    assert_eq!(
        post_logout(
            &http,
            &instances[1].base,
            &logout_token(&issuer, "sid-outage")
        )
        .await,
        200
    );
    assert_eq!(me(&http, &instances[1].base, &outage).await, 401);
    assert_eq!(ready(&http, &instances[1]).await["unpublished"], 1);
    assert_eq!(ready(&http, &instances[1]).await["status"], "ready");

    // Restarted empty: reconnected without restarting anyone; the waiting logout reaches all.
    redis.restart().expect("redis-server restarted");
    shared_state_is(&http, &instances, "ok").await;
    refused_by_all(&http, &instances, &outage, Duration::from_secs(2)).await;
    assert_eq!(ready(&http, &instances[1]).await["unpublished"], 0);
    // And pushing works again on the new server.
    let after = session_token(&issuer, "sid-after");
    assert_eq!(me(&http, &instances[2].base, &after).await, 200);
    assert_eq!(
        post_logout(
            &http,
            &instances[0].base,
            &logout_token(&issuer, "sid-after")
        )
        .await,
        200
    );
    refused_by_all(&http, &instances, &after, Duration::from_secs(1)).await;

    // An instance started now loads only what the new server holds: the logouts published
    // since the restart.
    let late = Instance::start(&issuer, &redis.url()).await;
    shared_state_is(&http, std::slice::from_ref(&late), "ok").await;
    assert_eq!(me(&http, &late.base, &after).await, 401);
    assert_eq!(me(&http, &late.base, &outage).await, 401);
    assert_eq!(me(&http, &late.base, &other).await, 200);
}

#[tokio::test]
async fn a_dpop_proof_used_at_one_verifier_is_a_replay_at_another() {
    let Some(mut redis) = redis_server() else {
        return;
    };
    let issuer = TestIssuer::start().await.expect("issuer");
    let verifier = || {
        let shared = SharedRedis::new(&redis.url()).expect("url");
        Verifier::builder()
            .authority(issuer.origin())
            .audience("test-client")
            .dpop(DpopConfig::default().replay_store(shared.replay_store()))
            .build()
            .expect("verifier")
    };
    let (a, b) = (verifier(), verifier());
    let client = DpopClient::generate(Algorithm::ES256).expect("key");
    let token = issuer
        .token()
        .header("typ", json!("at+jwt"))
        .cnf_jkt(&client.jkt())
        .sign();
    let url = "https://api.example.com/api/me";
    let request = DpopRequest::new(Method::GET, url).expect("request");

    let proof = client.proof("GET", url, &token).sign();
    a.verify_dpop(&token, Some(&proof), &request)
        .await
        .expect("first use");
    assert_eq!(
        b.verify_dpop(&token, Some(&proof), &request).await.err(),
        Some(VerifyError::Dpop(DpopError::Replayed))
    );
    let fresh = client.proof("GET", url, &token).sign();
    b.verify_dpop(&token, Some(&fresh), &request)
        .await
        .expect("a new proof at the other instance");

    redis.kill();
    let unchecked = client.proof("GET", url, &token).sign();
    let error = a
        .verify_dpop(&token, Some(&unchecked), &request)
        .await
        .expect_err("never let in unchecked");
    assert!(
        matches!(
            error,
            VerifyError::KeysUnavailable {
                reason: KeysUnavailable::DpopReplayStore,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status_code(), 503);
}

/// nginx on a free port, round robin over `upstreams` (nginx's default balancing).
struct Nginx {
    child: std::process::Child,
    dir: std::path::PathBuf,
    base: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Nginx {
    fn start(upstreams: &[Instance]) -> Option<Nginx> {
        let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(binary) = binary else {
            common::skip("nginx is not installed");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir =
            std::env::temp_dir().join(format!("nginx-shared-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("nginx dir");
        let servers: String = upstreams
            .iter()
            .map(|i| format!("    server {};\n", i.base.trim_start_matches("http://")))
            .collect();
        let d = dir.display();
        let conf = format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log stderr warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             upstream tasks {{\n{servers}  }}\n\
             server {{\n    listen 127.0.0.1:{port};\n    location / {{ proxy_pass http://tasks; }}\n  }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("write nginx.conf");
        let child = std::process::Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let nginx = Nginx {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(nginx)
    }
}

#[tokio::test]
async fn through_nginx_round_robin_a_logout_is_refused_on_every_instance_within_a_second() {
    let Some(redis) = redis_server() else {
        return;
    };
    let issuer = TestIssuer::start().await.expect("issuer");
    let http = reqwest::Client::new();
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(Instance::start(&issuer, &redis.url()).await);
    }
    shared_state_is(&http, &instances, "ok").await;
    let Some(nginx) = Nginx::start(&instances) else {
        return;
    };
    let front = nginx.base.as_str();
    for round in 0..5 {
        let sid = format!("sid-lb-{round}");
        let token = session_token(&issuer, &sid);
        // Three requests: one per instance, each verifies (and caches) the token.
        for _ in 0..3 {
            assert_eq!(me(&http, front, &token).await, 200);
        }
        assert_eq!(
            post_logout(&http, front, &logout_token(&issuer, &sid)).await,
            200
        );
        let start = Instant::now();
        let mut refused_in_a_row = 0;
        while refused_in_a_row < 3 {
            if me(&http, front, &token).await == 401 {
                refused_in_a_row += 1;
            } else {
                refused_in_a_row = 0;
                assert!(
                    start.elapsed() < Duration::from_secs(1),
                    "accepted after 1 s"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }
}
