//! Better Auth API keys against the real server: keys are created through the
//! `@better-auth/api-key` plugin's HTTP endpoints by a signed-in user, then sent to the real
//! tasks-api as `x-api-key`, checked remotely (`get-session`) or in Better Auth's database
//! (SQLite, and Postgres with `TEST_DATABASE_URL`).
//!
//! Without Node.js the tests are skipped (a loud `SKIPPED` line, listed by `scripts/test`), except
//! under `CI`, where they fail.
//!
//! ```sh
//! cargo test -p tasks-api --test api_keys -- --nocapture
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test -p tasks-api --test api_keys
//! ```

mod common;
mod interop_support;

use interop_support::{
    BetterAuth, FRONTEND_ORIGIN, Session, Setup, TasksApi, prerequisites_met, skip,
    test_database_url,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Letters only, the plugin's default key length (64): unknown to the server.
const UNKNOWN_KEY: &str = "ZZZZzzzzYYYYyyyyXXXXxxxxWWWWwwwwVVVVvvvvUUUUuuuuTTTTttttSSSSssss";

/// tasks-api's answer to an API-key request.
#[derive(Debug)]
struct Answer {
    status: u16,
    challenge: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    /// The `error_description` of a 401.
    fn reason(&self) -> String {
        let challenge = self.challenge.clone().unwrap_or_default();
        challenge
            .split("error_description=\"")
            .nth(1)
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_default()
            .to_string()
    }
}

async fn call(api: &TasksApi, method: &str, path: &str, key: &str, body: Option<Value>) -> Answer {
    let mut request = api
        .http
        .request(
            method.parse().expect("method"),
            format!("{}{path}", api.base),
        )
        .header("x-api-key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let resp = request.send().await.expect("request");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (challenge, retry_after) = (header("www-authenticate"), header("retry-after"));
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    Answer {
        status,
        challenge,
        retry_after,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

async fn me(api: &TasksApi, key: &str) -> Answer {
    call(api, "GET", "/api/me", key, None).await
}

/// Asserts a 401 with `reason` (never a 5xx, never the key in the answer).
async fn assert_refused(api: &TasksApi, key: &str, reason: &str, what: &str) {
    let answer = me(api, key).await;
    assert_eq!(answer.status, 401, "{what}: {answer:?}");
    assert_eq!(answer.reason(), reason, "{what}: {answer:?}");
    assert!(
        !format!("{answer:?}").contains(key),
        "{what}: the key is echoed"
    );
}

/// A plugin endpoint called as the signed-in user (bearer plugin session token).
async fn plugin(sso: &BetterAuth, user: &Session, path: &str, body: Value) -> Value {
    let resp = sso
        .http
        .post(format!("{}{path}", sso.base()))
        .header("origin", FRONTEND_ORIGIN)
        .bearer_auth(&user.bearer)
        .json(&body)
        .send()
        .await
        .expect("plugin call");
    let status = resp.status();
    let body: Value = resp.json().await.expect("json");
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// `POST /api-key/create`: (key, id).
async fn create_key(sso: &BetterAuth, user: &Session, body: Value) -> (String, String) {
    let created = plugin(sso, user, "/api-key/create", body).await;
    let key = created["key"].as_str().expect("key").to_string();
    let id = created["id"].as_str().expect("id").to_string();
    (key, id)
}

/// Spends one use of `key` at the SSO itself (its get-session counts the key's requests).
async fn use_at_sso(sso: &BetterAuth, key: &str) -> u16 {
    sso.http
        .get(format!("{}/get-session", sso.base()))
        .header("x-api-key", key)
        .send()
        .await
        .expect("get-session")
        .status()
        .as_u16()
}

fn done(test: &str, started: Instant) {
    eprintln!("{test}: {:.1}s", started.elapsed().as_secs_f64());
}

/// The same user through an id_token and through an API key: one `CurrentUser.id`.
async fn same_user_as_id_token(sso: &BetterAuth, api: &TasksApi, user: &Session, key: &str) {
    let (_, tokens) = sso.login(&user.email, "user-password-123", None).await;
    let by_token = api.me(&tokens.id_token).await;
    let by_key = me(api, key).await;
    assert_eq!(by_key.status, 200, "{by_key:?}");
    assert_eq!(by_key.body["id"], by_token["id"]);
    assert_eq!(by_key.body["id"], user.user_id);
    assert_eq!(by_key.body["email"], user.email);
    assert_eq!(by_key.body["name"], "Key Owner");
    assert_eq!(by_key.body["role"], "user");
}

/// Creating, using, disabling, deleting and expiring keys; checks common to both modes. `api`
/// caches answers 1 s, `api_30s` 30 s (the default).
async fn lifecycle(sso: &BetterAuth, api: &TasksApi, api_30s: &TasksApi, owner: &Session) {
    let (key, _) = create_key(sso, owner, json!({"name": "ci"})).await;
    same_user_as_id_token(sso, api, owner, &key).await;

    // Tasks are the owner's: written and read back with the key.
    let created = call(
        api,
        "POST",
        "/api/tasks",
        &key,
        Some(json!({"title": "by key"})),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["user_id"], owner.user_id);
    let list = call(api, "GET", "/api/tasks", &key, None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body[0]["title"], "by key");

    // Unknown keys: 401, never a 5xx.
    assert_refused(api, UNKNOWN_KEY, "unknown API key", "unknown key").await;
    assert_refused(api, "short", "unknown API key", "short unknown key").await;

    // An Authorization header wins over the key: this request is judged by its bearer token.
    let both = api
        .http
        .get(format!("{}/api/me", api.base))
        .header("x-api-key", &key)
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("request");
    assert_eq!(both.status(), 401);

    // Disabled by its owner: refused once the cached answer (TTL 1 s) has expired.
    let (disabled, id) = create_key(sso, owner, json!({"name": "to-disable"})).await;
    assert_eq!(me(api, &disabled).await.status, 200);
    plugin(
        sso,
        owner,
        "/api-key/update",
        json!({"keyId": id, "enabled": false}),
    )
    .await;
    assert_eq!(
        me(api, &disabled).await.status,
        200,
        "the cached answer is reused within the TTL"
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_refused(api, &disabled, "API key disabled", "disabled key").await;

    // Deleted (revoked): likewise.
    let (revoked, id) = create_key(sso, owner, json!({"name": "to-revoke"})).await;
    assert_eq!(me(api, &revoked).await.status, 200);
    plugin(sso, owner, "/api-key/delete", json!({"keyId": id})).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_refused(api, &revoked, "unknown API key", "deleted key").await;

    // Expired: a key that lives one second.
    let (expiring, _) = create_key(sso, owner, json!({"name": "brief", "expiresIn": 1})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_refused(api, &expiring, "API key expired", "expired key").await;

    // A key that expires while its answer is cached is refused at its expiry, not after the TTL.
    let (brief, _) = create_key(sso, owner, json!({"name": "brief2", "expiresIn": 2})).await;
    assert_eq!(me(api_30s, &brief).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_refused(api_30s, &brief, "API key expired", "expired while cached").await;
}

fn api_key_vars(mode: &'static str) -> Vec<(&'static str, String)> {
    vec![
        ("BETTER_AUTH_API_KEYS", mode.to_string()),
        ("BETTER_AUTH_API_KEY_CACHE_TTL", "1s".to_string()),
    ]
}

async fn tasks_api(sso: &BetterAuth, vars: &[(&'static str, String)]) -> TasksApi {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TasksApi::for_server(sso, &vars).await
}

/// Remote mode: the plugin's own checks through `get-session`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_mode_against_the_real_server() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    let sso = BetterAuth::start("EdDSA", &[("BA_API_KEYS", "1")]).await;
    let api = tasks_api(&sso, &api_key_vars("remote")).await;
    let api_30s = tasks_api(&sso, &[("BETTER_AUTH_API_KEYS", "remote".into())]).await;
    let owner = sso.new_user("Key Owner").await;
    lifecycle(&sso, &api, &api_30s, &owner).await;

    // get-session names the user, not the key's permissions: none in remote mode.
    let (key, _) = create_key(&sso, &owner, json!({})).await;
    let answer = me(&api, &key).await;
    assert_eq!(answer.body["permissions"], json!([]), "{answer:?}");
    // Unless asked to read them (`/api-key/get`, as the key's owner).
    let mut vars = api_key_vars("remote");
    vars.push(("BETTER_AUTH_API_KEY_REMOTE_PERMISSIONS", "1".into()));
    let with_permissions = tasks_api(&sso, &vars).await;
    let answer = me(&with_permissions, &key).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body["permissions"],
        json!(["tasks:read", "tasks:write"])
    );

    // The SSO gone: 503 for a key not in the cache, never 200 or 401.
    let (fresh, _) = create_key(&sso, &owner, json!({})).await;
    drop(sso);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = me(&api, &fresh).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    done("remote_mode_against_the_real_server", started);
}

/// Remote mode: the plugin's rate limit (2 requests a minute here) answers 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_mode_rate_limit() {
    if !prerequisites_met() {
        return;
    }
    let sso = BetterAuth::start(
        "EdDSA",
        &[("BA_API_KEYS", "1"), ("BA_API_KEY_RATE_MAX", "2")],
    )
    .await;
    // No cache: every request is one use at the SSO.
    let api = tasks_api(
        &sso,
        &[
            ("BETTER_AUTH_API_KEYS", "remote".into()),
            ("BETTER_AUTH_API_KEY_CACHE_TTL", "0".into()),
        ],
    )
    .await;
    let owner = sso.new_user("Key Owner").await;
    let (key, _) = create_key(&sso, &owner, json!({})).await;
    assert_eq!(me(&api, &key).await.status, 200);
    assert_eq!(me(&api, &key).await.status, 200);
    let limited = me(&api, &key).await;
    assert_eq!(limited.status, 429, "{limited:?}");
    assert!(
        limited
            .retry_after
            .as_deref()
            .is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s > 0)),
        "{limited:?}"
    );
    assert_eq!(
        limited.body["detail"],
        "Invalid token: API key rate limit exceeded"
    );
    assert_eq!(
        limited.challenge, None,
        "a valid key over its limit: no challenge"
    );
}

/// Database mode on the server's own tables: the stored hash, the permissions, the rules.
async fn database_mode(setup: Setup) {
    let started = Instant::now();
    let sso = BetterAuth::start_in(
        setup,
        "EdDSA",
        &[
            ("BA_API_KEYS".to_string(), "1".to_string()),
            ("BA_API_KEY_RATE_MAX".to_string(), "2".to_string()),
        ],
    )
    .await;
    let mut vars = api_key_vars("database");
    vars.push(("BETTER_AUTH_DATABASE_URL", sso.database_url()));
    let api = tasks_api(&sso, &vars).await;
    vars.retain(|(name, _)| *name != "BETTER_AUTH_API_KEY_CACHE_TTL");
    let api_30s = tasks_api(&sso, &vars).await;
    let owner = sso.new_user("Key Owner").await;
    lifecycle(&sso, &api, &api_30s, &owner).await;

    // The key's permissions, as `resource:action`.
    let (key, id) = create_key(&sso, &owner, json!({})).await;
    let answer = me(&api, &key).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body["permissions"],
        json!(["tasks:read", "tasks:write"])
    );

    // Reading the database spends nothing: many requests, the key is never limited by them.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(me(&api, &key).await.status, 200);
    }
    // The SSO counted two uses of the key (its limit): the window is full, 429.
    assert_eq!(use_at_sso(&sso, &key).await, 200);
    assert_eq!(use_at_sso(&sso, &key).await, 200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let limited = me(&api, &key).await;
    assert_eq!(limited.status, 429, "{limited:?}");
    assert!(limited.retry_after.is_some(), "{limited:?}");
    let _ = id;
    done(&format!("database mode ({setup})"), started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_mode_on_sqlite() {
    if !prerequisites_met() {
        return;
    }
    let setup = match Setup::current() {
        Setup::Postgres => Setup::Pinned,
        other => other,
    };
    database_mode(setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_mode_on_postgres() {
    if !prerequisites_met() {
        return;
    }
    if test_database_url().is_none() {
        skip("database_mode_on_postgres needs TEST_DATABASE_URL");
        return;
    }
    database_mode(Setup::Postgres).await;
}

/// No key, nor any 20-character slice of one, appears in the service's logs (TRACE, the HTTP
/// client's included) while keys are checked remotely (both calls) and in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_api_key_appears_in_logs() {
    if !prerequisites_met() {
        return;
    }
    let capture = common::capture_logs();
    let sso = BetterAuth::start("EdDSA", &[("BA_API_KEYS", "1")]).await;
    let owner = sso.new_user("Key Owner").await;
    let (key, id) = create_key(&sso, &owner, json!({})).await;
    let (disabled, disabled_id) = create_key(&sso, &owner, json!({})).await;
    plugin(
        &sso,
        &owner,
        "/api-key/update",
        json!({"keyId": disabled_id, "enabled": false}),
    )
    .await;
    let remote = tasks_api(
        &sso,
        &[
            ("BETTER_AUTH_API_KEYS", "remote".into()),
            ("BETTER_AUTH_API_KEY_REMOTE_PERMISSIONS", "1".into()),
        ],
    )
    .await;
    let database = tasks_api(
        &sso,
        &[
            ("BETTER_AUTH_API_KEYS", "database".into()),
            ("BETTER_AUTH_DATABASE_URL", sso.database_url()),
        ],
    )
    .await;
    for api in [&remote, &database] {
        assert_eq!(me(api, &key).await.status, 200);
        assert_eq!(me(api, &disabled).await.status, 401);
        assert_eq!(me(api, UNKNOWN_KEY).await.status, 401);
        let _ = call(api, "POST", "/api/tasks", &key, Some(json!({"title": "t"}))).await;
    }
    let log = capture.text();
    assert!(log.contains("/api/me"), "the capture saw the requests");
    assert!(
        log.contains("hyper_util::client"),
        "and the HTTP client's traces (the calls to Better Auth)"
    );
    common::assert_no_token_in(&log, &[key.as_str(), disabled.as_str(), UNKNOWN_KEY]);
    let _ = id;
}
