//! Six instances, one truth, with real parts: a `redis-server` of this test's own, three
//! `ssoguard-gateway` processes (reverse proxy, `[shared] redis_url`) behind a real nginx
//! `upstream` (round robin) and three `tasks-api` processes (`SSOGUARD_REDIS_URL`), all
//! trusting one test issuer and naming one public URL (so a DPoP proof for it is valid at any
//! of the six).
//!
//! - A back-channel logout posted to any one of the six (gateways and APIs in turn): the
//!   session's token is refused by all six within 1 s; the lags are printed (median, p99, max)
//!   and every one must be under 1 s. Through nginx, three requests in a row are refused.
//! - A DPoP proof used at one gateway is a replay (401) at another gateway and at a tasks-api.
//! - Redis killed: `/_ssoguard/ready` says `degraded` and stays 200; known logouts are still
//!   refused, bearer tokens still work, a DPoP request is 503 (its proof cannot be checked),
//!   never let in. Redis restarted empty: every instance reconnects by itself (`ok`), and DPoP
//!   works again, without restarting anything.
//! - Opaque tokens (every instance with introspection): a token presented to two gateways and
//!   two tasks-api costs the SSO one introspection call; with Redis killed each instance asks
//!   for itself, and restarted, they share again.
//!
//! `tasks-api` is the workspace's binary beside this test's (`cargo test --workspace` builds
//! it); without it, `redis-server` or nginx the test is a loud skip, and a failure under `CI`.

mod support;

use serde_json::{Value, json};
use ssoguard::Algorithm;
use ssoguard::testing::{DpopClient, RedisServer, TestIssuer};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{Gateway, Proc, missing, nginx_binary};
use tokio::process::Command;

/// The URL every instance names as its own (the load balancer's): DPoP proofs bind to it.
const PUBLIC_URL: &str = "http://api.shared.test";
const AUDIENCE: &str = "test-client";

fn redis_server() -> Option<RedisServer> {
    match RedisServer::start() {
        Ok(redis) => Some(redis),
        Err(e) => {
            missing(&format!(
                "SKIPPED: redis-server cannot run ({e}; apt-get install -y redis-server)"
            ));
            None
        }
    }
}

/// The workspace's `tasks-api` binary, beside this test's own directory.
fn tasks_api_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let found = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("tasks-api"))
        .filter(|p| p.is_file());
    if found.is_none() {
        missing(
            "SKIPPED: the tasks-api binary is not built beside this test (cargo test --workspace \
             builds it; or cargo build -p tasks-api)",
        );
    }
    found
}

/// One instance: its base URL and its two paths.
struct Instance {
    base: String,
    /// Where it receives back-channel logouts.
    logout_path: &'static str,
    /// Its readiness document.
    ready_path: &'static str,
    _proc: Proc,
}

async fn gateway(issuer: &TestIssuer, upstream: &str, redis: &str) -> Instance {
    let config = format!(
        "upstream = \"{upstream}\"\npublic_url = \"{PUBLIC_URL}\"\n\
         [shared]\nredis_url = \"{redis}\"\n\
         [[issuer]]\nname = \"sso\"\nissuer = \"{}\"\naudiences = [\"{AUDIENCE}\"]\n\
         introspection = {{ client_id = \"{AUDIENCE}\", client_secret_env = \"GW_SSO_SECRET\" }}\n\
         [[route]]\npath = \"/**\"\n",
        issuer.issuer()
    );
    let env = [("SSOGUARD_REDIS_URL", ""), ("GW_SSO_SECRET", "test-secret")];
    let gateway = Gateway::start(&config, &env).await;
    Instance {
        base: format!("http://{}", gateway.addr),
        logout_path: "/_ssoguard/backchannel-logout",
        ready_path: "/_ssoguard/ready",
        _proc: gateway.proc,
    }
}

async fn tasks_api(binary: &PathBuf, issuer: &TestIssuer, redis: &str) -> Instance {
    let dir = support::temp_dir("tasks-api");
    let db = dir.join("tasks.db");
    let mut cmd = Command::new(binary);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AUTH_SERVER_URL", issuer.origin())
        .env("SSO_CLIENT_ID", AUDIENCE)
        .env("SSO_CLIENT_SECRET", "test-secret")
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("PORT", "0")
        .env("PUBLIC_URL", PUBLIC_URL)
        .env("LOG_FORMAT", "json")
        .env("SSOGUARD_REDIS_URL", redis)
        .stdin(Stdio::null());
    let mut proc = Proc::spawn("tasks-api", cmd, Some(dir));
    let line = proc.wait_for_line("tasks-api listening").await;
    let event: Value = serde_json::from_str(&line).expect("a JSON log line");
    let addr = event["fields"]["addr"].as_str().expect("addr").to_string();
    Instance {
        base: format!("http://{addr}"),
        logout_path: "/auth/backchannel-logout",
        ready_path: "/ready",
        _proc: proc,
    }
}

/// `GET /api/me` at `base` with `Authorization: <scheme> <token>` and maybe a DPoP proof.
async fn me(
    http: &reqwest::Client,
    base: &str,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> u16 {
    let mut request = http
        .get(format!("{base}/api/me"))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    request.send().await.expect("request").status().as_u16()
}

async fn bearer(http: &reqwest::Client, base: &str, token: &str) -> u16 {
    me(http, base, "Bearer", token, None).await
}

/// The readiness document of an instance (`/_ssoguard/ready` or `/ready`) and its status.
async fn ready(http: &reqwest::Client, instance: &Instance) -> (u16, Value) {
    let response = http
        .get(format!("{}{}", instance.base, instance.ready_path))
        .send()
        .await
        .expect("ready");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

/// Waits (up to 10 s) until every instance reports `shared_state` `want`, answering 200.
async fn shared_state_is(http: &reqwest::Client, instances: &[&Instance], want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for instance in instances {
        loop {
            let (status, body) = ready(http, instance).await;
            if body["shared_state"] == want {
                assert_eq!(status, 200, "{body}");
                break;
            }
            assert!(Instant::now() < deadline, "shared_state {want}: {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn post_logout(http: &reqwest::Client, instance: &Instance, logout: &str) -> u16 {
    http.post(format!("{}{}", instance.base, instance.logout_path))
        .form(&[("logout_token", logout)])
        .send()
        .await
        .expect("logout")
        .status()
        .as_u16()
}

/// Polls until `token` is refused (401) by every instance; the time it took (at most `limit`).
async fn refused_by_all(
    http: &reqwest::Client,
    instances: &[&Instance],
    token: &str,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    let mut pending: Vec<&Instance> = instances.to_vec();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for instance in pending {
            if bearer(http, &instance.base, token).await != 401 {
                still.push(instance);
            }
        }
        pending = still;
        if !pending.is_empty() {
            assert!(
                start.elapsed() < limit,
                "still accepted by {:?} after {limit:?}",
                pending.iter().map(|i| &i.base).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    start.elapsed()
}

fn logout_token(issuer: &TestIssuer, sid: &str) -> String {
    issuer
        .logout_token()
        .aud(AUDIENCE)
        .sub("alice")
        .claim("sid", json!(sid))
        .sign()
}

/// nginx on a free port, round robin over `instances`.
async fn nginx(binary: &PathBuf, instances: &[&Instance]) -> (Proc, String) {
    let port = support::free_port();
    let dir = support::temp_dir("nginx");
    let servers: String = instances
        .iter()
        .map(|i| format!("    server {};\n", i.base.trim_start_matches("http://")))
        .collect();
    let d = dir.display();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log stderr warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         upstream gateways {{\n{servers}  }}\n\
         server {{\n    listen 127.0.0.1:{port};\n    location / {{ proxy_pass http://gateways; }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("write nginx.conf");
    let mut cmd = Command::new(binary);
    cmd.arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"]);
    let mut proc = Proc::spawn("nginx", cmd, Some(dir));
    let addr = format!("127.0.0.1:{port}");
    support::wait_for_port(&addr, "nginx", &mut proc).await;
    (proc, format!("http://{addr}"))
}

#[tokio::test]
async fn six_instances_behind_nginx_share_logouts_and_dpop_replay_through_redis() {
    let Some(mut redis) = redis_server() else {
        return;
    };
    let Some(tasks_api_bin) = tasks_api_binary() else {
        return;
    };
    let Some(nginx_bin) = nginx_binary() else {
        return;
    };
    let issuer = TestIssuer::start().await.expect("issuer");
    let upstream = support::echo_upstream().await;
    let http = reqwest::Client::new();
    let url = redis.url();
    let mut gateways = Vec::new();
    let mut apis = Vec::new();
    for _ in 0..3 {
        gateways.push(gateway(&issuer, &upstream, &url).await);
        apis.push(tasks_api(&tasks_api_bin, &issuer, &url).await);
    }
    let all: Vec<&Instance> = gateways.iter().chain(apis.iter()).collect();
    shared_state_is(&http, &all, "ok").await;
    let other = issuer.token().sub("bob").sid("sid-other").sign();

    // A logout posted to each instance in turn, refused by all six within 1 s.
    let mut lags = Vec::new();
    for round in 0..18 {
        let sid = format!("sid-{round}");
        let token = issuer.token().sub("alice").sid(&sid).sign();
        for instance in &all {
            assert_eq!(
                bearer(&http, &instance.base, &token).await,
                200,
                "before the logout"
            );
        }
        let receiver = all[round % all.len()];
        assert_eq!(
            post_logout(&http, receiver, &logout_token(&issuer, &sid)).await,
            200
        );
        lags.push(refused_by_all(&http, &all, &token, Duration::from_secs(1)).await);
    }
    lags.sort();
    eprintln!(
        "logout propagation to six instances over {} logouts: median {:?}, p99 {:?}, max {:?}",
        lags.len(),
        lags[lags.len() / 2],
        lags[(lags.len() * 99).div_ceil(100) - 1],
        lags[lags.len() - 1]
    );
    for instance in &all {
        assert_eq!(
            bearer(&http, &instance.base, &other).await,
            200,
            "another session"
        );
    }

    // Through nginx (round robin over the gateways): three refusals in a row within 1 s.
    let (_nginx, front) = nginx(&nginx_bin, &gateways.iter().collect::<Vec<_>>()).await;
    let token = issuer.token().sub("alice").sid("sid-lb").sign();
    for _ in 0..3 {
        assert_eq!(bearer(&http, &front, &token).await, 200);
    }
    assert_eq!(
        post_logout(&http, &apis[1], &logout_token(&issuer, "sid-lb")).await,
        200,
        "a logout at a tasks-api"
    );
    let start = Instant::now();
    let mut refused_in_a_row = 0;
    while refused_in_a_row < 3 {
        if bearer(&http, &front, &token).await == 401 {
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

    // DPoP: a proof used at one gateway is a replay at another gateway and at a tasks-api.
    let client = DpopClient::generate(Algorithm::ES256).expect("client key");
    let bound = issuer.token().sub("carol").cnf_jkt(&client.jkt()).sign();
    let htu = format!("{PUBLIC_URL}/api/me");
    let proof = client.proof("GET", &htu, &bound).sign();
    assert_eq!(
        me(&http, &gateways[0].base, "DPoP", &bound, Some(&proof)).await,
        200
    );
    assert_eq!(
        me(&http, &gateways[1].base, "DPoP", &bound, Some(&proof)).await,
        401,
        "replay at another gateway"
    );
    assert_eq!(
        me(&http, &apis[2].base, "DPoP", &bound, Some(&proof)).await,
        401,
        "replay at a tasks-api"
    );
    let fresh = client.proof("GET", &htu, &bound).sign();
    assert_eq!(
        me(&http, &apis[2].base, "DPoP", &bound, Some(&fresh)).await,
        200,
        "a new proof"
    );

    // Redis killed: degraded but ready; what is known is enforced; DPoP is 503, never let in.
    redis.kill();
    shared_state_is(&http, &all, "degraded").await;
    let early = issuer.token().sub("alice").sid("sid-0").sign();
    for instance in &all {
        assert_eq!(
            bearer(&http, &instance.base, &early).await,
            401,
            "not forgotten"
        );
        assert_eq!(
            bearer(&http, &instance.base, &other).await,
            200,
            "bearer tokens still served"
        );
    }
    for instance in &gateways {
        let unchecked = client.proof("GET", &htu, &bound).sign();
        assert_eq!(
            me(&http, &instance.base, "DPoP", &bound, Some(&unchecked)).await,
            503,
            "a proof that cannot be checked"
        );
    }

    // Restarted empty: every instance reconnects by itself; DPoP works again.
    redis.restart().expect("redis-server restarted");
    shared_state_is(&http, &all, "ok").await;
    for instance in &all {
        let proof = client.proof("GET", &htu, &bound).sign();
        assert_eq!(
            me(&http, &instance.base, "DPoP", &bound, Some(&proof)).await,
            200
        );
        assert_eq!(
            bearer(&http, &instance.base, &early).await,
            401,
            "still not forgotten"
        );
    }
}

/// An opaque token of `sub` from the test issuer (introspected, never a JWT).
fn opaque(issuer: &TestIssuer, sub: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    issuer.issue_opaque(json!({
        "iss": issuer.issuer(), "client_id": AUDIENCE, "sub": sub, "exp": now + 600, "iat": now,
    }))
}

#[tokio::test]
async fn gateways_and_apis_introspect_an_opaque_token_once_through_redis() {
    let Some(mut redis) = redis_server() else {
        return;
    };
    let Some(tasks_api_bin) = tasks_api_binary() else {
        return;
    };
    let issuer = TestIssuer::start().await.expect("issuer");
    let upstream = support::echo_upstream().await;
    let http = reqwest::Client::new();
    let url = redis.url();
    let mut all = Vec::new();
    for _ in 0..2 {
        all.push(gateway(&issuer, &upstream, &url).await);
        all.push(tasks_api(&tasks_api_bin, &issuer, &url).await);
    }
    let all: Vec<&Instance> = all.iter().collect();
    shared_state_is(&http, &all, "ok").await;
    for round in 0..3 {
        let token = opaque(&issuer, &format!("user{round}"));
        let before = issuer.introspections();
        for instance in &all {
            for _ in 0..3 {
                assert_eq!(bearer(&http, &instance.base, &token).await, 200);
            }
        }
        assert_eq!(
            issuer.introspections(),
            before + 1,
            "one call for four instances"
        );
    }

    // Redis killed: each instance introspects for itself (its own budget), nothing refused.
    redis.kill();
    shared_state_is(&http, &all, "degraded").await;
    let token = opaque(&issuer, "alone");
    let before = issuer.introspections();
    for instance in &all {
        assert_eq!(bearer(&http, &instance.base, &token).await, 200);
    }
    assert_eq!(issuer.introspections(), before + all.len());

    // Restarted: shared again, without restarting any instance.
    redis.restart().expect("redis-server restarted");
    shared_state_is(&http, &all, "ok").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token = opaque(&issuer, "shared-again");
    let before = issuer.introspections();
    for instance in &all {
        assert_eq!(bearer(&http, &instance.base, &token).await, 200);
    }
    assert_eq!(issuer.introspections(), before + 1, "shared again");
}
