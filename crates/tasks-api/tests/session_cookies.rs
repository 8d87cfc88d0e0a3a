//! Better Auth session cookies against the real server: sign up and sign in by
//! email/password over HTTP, take the `Set-Cookie`, call tasks-api with it — in every lookup
//! mode (`remote`, `database` on SQLite and on Postgres, `redis`) and through the cookie cache.
//! Forged, foreign, unknown, expired, signed-out and banned sessions are refused (401, never a
//! 5xx), and the same user through an id_token and through the cookie is the same
//! `CurrentUser`.
//!
//! Without Node.js the tests are skipped (a loud `SKIPPED` line, listed by `scripts/test`), except
//! under `CI`, where they fail.
//! The Postgres test needs `TEST_DATABASE_URL` and the Redis test a Redis on 127.0.0.1:6379
//! (`BA_REDIS_URL` elsewhere); without them they skip the same way.
//!
//! ```sh
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo test -p tasks-api --test session_cookies -- --nocapture
//! ```

mod interop_support;

use interop_support::{
    ADMIN_EMAIL, ADMIN_PASSWORD, BetterAuth, FRONTEND_ORIGIN, Reply, Setup, TasksApi,
    prerequisites_met, skip, test_database_url,
};
use serde_json::{Value, json};
use ssoguard::session::{SessionSecret, sign_session_token};
use std::time::{Duration, Instant};

/// The package set the SQLite-backed tests run on: the newest better-auth with
/// `SSOGUARD_INTEROP_SETUP=latest` (scripts/interop-setups), else the pinned one.
fn package_set() -> Setup {
    if Setup::current() == Setup::Latest {
        Setup::Latest
    } else {
        Setup::Pinned
    }
}

/// server.mjs's default `BA_SECRET`.
const SECRET: &str = "ssoguard-dev-secret-0123456789abcdef0123456789";

/// A signed-in browser: its user and the Better Auth cookies it holds.
struct Browser {
    user_id: String,
    /// `better-auth.session_token=…` (and `; better-auth.session_data=…` with the cookie cache).
    cookies: String,
    /// Just the session-token cookie.
    session_cookie: String,
}

/// `POST /sign-up/email`, then `POST /sign-in/email`: the cookies of the sign-in.
async fn sign_up_and_in(sso: &BetterAuth, name: &str) -> Browser {
    let email = format!(
        "{name}-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let password = "user-password-123";
    sso.sign_up(&email, password, name).await;
    sign_in(sso, &email, password).await
}

/// `POST /sign-in/email`: the browser's cookies (the non-empty ones Better Auth set).
async fn sign_in(sso: &BetterAuth, email: &str, password: &str) -> Browser {
    let resp = sso
        .http
        .post(format!("{}/sign-in/email", sso.base()))
        .header("origin", FRONTEND_ORIGIN)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("sign-in");
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter(|c| c.starts_with("better-auth.") && !c.ends_with('='))
        .map(str::to_owned)
        .collect();
    let body: Value = resp.json().await.expect("sign-in json");
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("better-auth.session_token="))
        .expect("a session cookie")
        .clone();
    Browser {
        user_id: body["user"]["id"].as_str().expect("user id").to_owned(),
        cookies: cookies.join("; "),
        session_cookie,
    }
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        challenge,
        body,
    }
}

/// `GET /api/me` with `cookie`.
async fn me(api: &TasksApi, cookie: &str) -> Reply {
    let resp = api
        .http
        .get(format!("{}/api/me", api.base))
        .header("cookie", cookie)
        .send()
        .await
        .expect("request");
    reply(resp).await
}

/// `/api/me` must answer 401 `invalid_token` with `reason` (the reason of a refused cookie).
async fn assert_refused(api: &TasksApi, cookie: &str, reasons: &[&str], what: &str) {
    let got = me(api, cookie).await;
    assert_eq!(got.status, 401, "{what}: {got:?}");
    let challenge = got.challenge.unwrap_or_default();
    assert!(
        reasons
            .iter()
            .any(|r| challenge.ends_with(&format!("error_description=\"{r}\""))),
        "{what}: {challenge} is none of {reasons:?}"
    );
}

/// Polls `/api/me` until it refuses `cookie` (at most `within`); the time it took.
async fn refused_within(api: &TasksApi, cookie: &str, within: Duration, what: &str) -> Duration {
    let started = Instant::now();
    loop {
        let got = me(api, cookie).await;
        assert!(got.status < 500, "{what}: never a 5xx: {got:?}");
        if got.status == 401 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{what}: still accepted after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// tasks-api accepting session cookies with `lookup` (plus its URL variable), TTL 1 s.
async fn tasks_api(sso: &BetterAuth, lookup: &[(&str, &str)]) -> TasksApi {
    let mut vars = vec![
        ("BETTER_AUTH_SECRET", SECRET),
        ("BETTER_AUTH_SESSION_CACHE_TTL", "1s"),
    ];
    vars.extend_from_slice(lookup);
    TasksApi::for_server(sso, &vars).await
}

/// What every lookup mode must do with real cookies: accept the user's (same `CurrentUser`
/// as the id_token's), write with it only from an allowed origin, refuse forged, foreign and
/// unknown ones without a 5xx, and honour a sign-out and a ban within the TTL.
async fn check_mode(sso: &BetterAuth, api: &TasksApi, mode: &str) {
    let alice = sign_up_and_in(sso, "alice").await;
    let got = me(api, &alice.session_cookie).await;
    assert_eq!(got.status, 200, "{mode}: {got:?}");
    assert_eq!(got.body["id"], alice.user_id, "{mode}");
    assert!(got.body["session_id"].is_string(), "{mode}: {}", got.body);
    assert_eq!(got.body["role"], "user");

    // The same user through an id_token (code + PKCE with the same browser session).
    let session = interop_support::Session {
        user_id: alice.user_id.clone(),
        email: got.body["email"].as_str().unwrap_or_default().to_owned(),
        cookie: alice.session_cookie.clone(),
        bearer: String::new(),
    };
    let tokens = sso.authorize(&session, None).await;
    assert_eq!(
        api.me(&tokens.id_token).await["id"],
        got.body["id"],
        "{mode}"
    );

    // Writes with the cookie: only from an allowed origin, with JSON (the CSRF rule).
    let create = |origin: Option<&'static str>| {
        let mut req = api
            .http
            .post(format!("{}/api/tasks", api.base))
            .header("cookie", &alice.session_cookie)
            .json(&json!({"title": format!("from a session cookie ({mode})")}));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        req.send()
    };
    let created = reply(create(Some(FRONTEND_ORIGIN)).await.expect("post")).await;
    assert_eq!(created.status, 201, "{mode}: {created:?}");
    let cross = reply(create(Some("https://evil.example")).await.expect("post")).await;
    assert_eq!(cross.status, 403, "{mode}: {cross:?}");
    let none = reply(create(None).await.expect("post")).await;
    assert_eq!(none.status, 403, "{mode}: {none:?}");

    // Forged, foreign, unknown.
    let (name, value) = alice.session_cookie.split_once('=').expect("cookie");
    let (token, _) = value.rsplit_once('.').expect("signed");
    let tampered = format!("{name}={token}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D");
    assert_refused(api, &tampered, &["invalid signature"], "tampered signature").await;
    let other = SessionSecret::new("another-secret-0123456789abcdef0123456789").expect("secret");
    let foreign = format!("{name}={}", sign_session_token(token, &other));
    assert_refused(api, &foreign, &["invalid signature"], "another secret").await;
    let secret = SessionSecret::new(SECRET).expect("secret");
    let unknown = format!(
        "{name}={}",
        sign_session_token("no-such-session-token", &secret)
    );
    assert_refused(api, &unknown, &["session not found"], "unknown token").await;
    assert_refused(
        api,
        &format!("{}; {}", alice.session_cookie, alice.session_cookie),
        &["malformed token: ambiguous credentials: more than one session cookie"],
        "two session cookies",
    )
    .await;

    // Sign-out: refused within the TTL (1 s) plus one poll.
    let signed_out = sso
        .http
        .post(format!("{}/sign-out", sso.base()))
        .header("origin", FRONTEND_ORIGIN)
        .header("cookie", &alice.session_cookie)
        .json(&json!({}))
        .send()
        .await
        .expect("sign-out");
    assert_eq!(signed_out.status(), 200, "{mode}: sign-out");
    let lag = refused_within(
        api,
        &alice.session_cookie,
        Duration::from_secs(3),
        "sign-out",
    )
    .await;
    eprintln!("{mode}: sign-out honoured after {:.2}s", lag.as_secs_f64());
    assert_refused(
        api,
        &alice.session_cookie,
        &["session not found"],
        "signed out",
    )
    .await;

    // An admin ban (the admin plugin deletes the user's sessions): refused within the TTL.
    let bob = sign_up_and_in(sso, "bob").await;
    assert_eq!(
        me(api, &bob.session_cookie).await.status,
        200,
        "{mode}: bob"
    );
    let admin = sso.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let banned = sso
        .http
        .post(format!("{}/admin/ban-user", sso.base()))
        .bearer_auth(&admin.bearer)
        .json(&json!({"userId": bob.user_id, "banReason": "test"}))
        .send()
        .await
        .expect("ban");
    assert_eq!(banned.status(), 200, "{mode}: ban");
    let lag = refused_within(api, &bob.session_cookie, Duration::from_secs(3), "ban").await;
    eprintln!("{mode}: ban honoured after {:.2}s", lag.as_secs_f64());
    assert_refused(
        api,
        &bob.session_cookie,
        &["session not found", "user is banned"],
        "banned",
    )
    .await;
}

/// An admin impersonating a user (admin plugin `impersonate-user`): the impersonation
/// session's cookie is the user, with `impersonated_by` = the admin.
async fn check_impersonation(sso: &BetterAuth, api: &TasksApi) {
    let henry = sign_up_and_in(sso, "henry").await;
    let admin = sign_in(sso, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let admin_me = me(api, &admin.session_cookie).await;
    assert_eq!(admin_me.status, 200, "{admin_me:?}");
    assert!(admin_me.body["impersonated_by"].is_null());
    let resp = sso
        .http
        .post(format!("{}/admin/impersonate-user", sso.base()))
        .header("origin", FRONTEND_ORIGIN)
        .header("cookie", &admin.session_cookie)
        .json(&json!({"userId": henry.user_id}))
        .send()
        .await
        .expect("impersonate");
    assert_eq!(resp.status(), 200, "impersonate-user");
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|c| c.starts_with("better-auth.session_token=") && !c.ends_with('='))
        .expect("the impersonation session's cookie")
        .to_owned();
    let got = me(api, &cookie).await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(got.body["id"], henry.user_id);
    assert_eq!(
        got.body["impersonated_by"], admin_me.body["id"],
        "{}",
        got.body
    );
}

/// Lookups are counted: many requests with one cookie cost one lookup per TTL.
async fn check_lookups_are_cached(sso: &BetterAuth, api: &TasksApi, mode: &str) {
    let carol = sign_up_and_in(sso, "carol").await;
    let before = api.session_metrics().expect("sessions on").session_lookups;
    let started = Instant::now();
    let mut requests = 0;
    // Within one TTL (1 s): at most two lookups (the window may straddle an expiry).
    while started.elapsed() < Duration::from_millis(800) {
        let got = me(api, &carol.session_cookie).await;
        assert_eq!(got.status, 200, "{mode}: {got:?}");
        requests += 1;
    }
    let lookups = api.session_metrics().expect("sessions on").session_lookups - before;
    eprintln!("{mode}: {requests} requests, {lookups} lookup(s)");
    assert!(
        requests > 20 && lookups <= 2,
        "{mode}: {requests} requests, {lookups} lookups"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_and_sqlite_database_lookups() {
    if !prerequisites_met() {
        return;
    }
    let sso = BetterAuth::start_in(package_set(), "EdDSA", &[]).await;
    let remote = tasks_api(&sso, &[("BETTER_AUTH_SESSION_LOOKUP", "remote")]).await;
    check_mode(&sso, &remote, "remote").await;
    check_lookups_are_cached(&sso, &remote, "remote").await;
    check_impersonation(&sso, &remote).await;

    let path = sso.sqlite_path().expect("SQLite");
    let url = format!("sqlite://{}", path.display());
    let database = tasks_api(
        &sso,
        &[
            ("BETTER_AUTH_SESSION_LOOKUP", "database"),
            ("BETTER_AUTH_DATABASE_URL", &url),
        ],
    )
    .await;
    check_mode(&sso, &database, "database (SQLite)").await;
    check_lookups_are_cached(&sso, &database, "database (SQLite)").await;
    check_expiry_and_ban_rules_in_the_database(&sso, &database, &remote, &path).await;
}

/// Rows changed in Better Auth's own SQLite file: an `expiresAt` in the past is 401 `token
/// expired`; `banned = 1` with the session kept is 401 `user is banned`, and a `banExpires` in
/// the past lifts it. Better Auth's `get-session` (the `remote` lookup) answers `null` for the
/// expired session.
async fn check_expiry_and_ban_rules_in_the_database(
    sso: &BetterAuth,
    api: &TasksApi,
    remote: &TasksApi,
    path: &std::path::Path,
) {
    use sqlx::Connection as _;
    let url = format!("sqlite://{}", path.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.expect("open");
    let dave = sign_up_and_in(sso, "dave").await;
    assert_eq!(me(api, &dave.session_cookie).await.status, 200);
    sqlx::query("UPDATE session SET expiresAt = '2020-01-01T00:00:00.000Z' WHERE userId = ?")
        .bind(&dave.user_id)
        .execute(&mut db)
        .await
        .expect("expire");
    refused_within(api, &dave.session_cookie, Duration::from_secs(3), "expired").await;
    assert_refused(api, &dave.session_cookie, &["token expired"], "expired").await;
    assert_refused(
        remote,
        &dave.session_cookie,
        &["session not found"],
        "expired (remote)",
    )
    .await;

    let erin = sign_up_and_in(sso, "erin").await;
    assert_eq!(me(api, &erin.session_cookie).await.status, 200);
    sqlx::query("UPDATE user SET banned = 1 WHERE id = ?")
        .bind(&erin.user_id)
        .execute(&mut db)
        .await
        .expect("ban");
    refused_within(api, &erin.session_cookie, Duration::from_secs(3), "banned").await;
    assert_refused(api, &erin.session_cookie, &["user is banned"], "banned").await;
    sqlx::query("UPDATE user SET banExpires = '2020-01-01T00:00:00.000Z' WHERE id = ?")
        .bind(&erin.user_id)
        .execute(&mut db)
        .await
        .expect("ban over");
    // The negative answer is kept at most the negative TTL (≤ the 1 s TTL).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(me(api, &erin.session_cookie).await.status, 200, "ban over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_database_lookup() {
    if !prerequisites_met() {
        return;
    }
    if test_database_url().is_none() {
        skip("the Postgres session lookup needs TEST_DATABASE_URL");
        return;
    }
    let sso = BetterAuth::start_in(Setup::Postgres, "EdDSA", &[]).await;
    let url = sso.postgres_url().expect("Postgres");
    let api = tasks_api(
        &sso,
        &[
            ("BETTER_AUTH_SESSION_LOOKUP", "database"),
            ("BETTER_AUTH_DATABASE_URL", &url),
        ],
    )
    .await;
    check_mode(&sso, &api, "database (Postgres)").await;
    check_lookups_are_cached(&sso, &api, "database (Postgres)").await;
}

fn redis_url() -> String {
    std::env::var("BA_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_secondary_storage_lookup() {
    if !prerequisites_met() {
        return;
    }
    let url = redis_url();
    let addr = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    if tokio::net::TcpStream::connect(&addr).await.is_err() {
        skip(&format!(
            "the Redis session lookup needs Redis at {addr} (apt-get install -y redis-server)"
        ));
        return;
    }
    let sso = BetterAuth::start_in(
        package_set(),
        "EdDSA",
        &[
            ("BA_SECONDARY_STORAGE".into(), "redis".into()),
            ("BA_REDIS_URL".into(), url.clone()),
        ],
    )
    .await;
    let api = tasks_api(
        &sso,
        &[
            ("BETTER_AUTH_SESSION_LOOKUP", "redis"),
            ("BETTER_AUTH_REDIS_URL", &url),
        ],
    )
    .await;
    check_mode(&sso, &api, "redis").await;
    check_lookups_are_cached(&sso, &api, "redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_cache_answers_without_a_lookup() {
    if !prerequisites_met() {
        return;
    }
    let sso = BetterAuth::start_in(
        package_set(),
        "EdDSA",
        &[("BA_COOKIE_CACHE".into(), "1".into())],
    )
    .await;
    let api = tasks_api(&sso, &[("BETTER_AUTH_SESSION_LOOKUP", "remote")]).await;
    let frank = sign_up_and_in(&sso, "frank").await;
    assert!(
        frank.cookies.contains("better-auth.session_data="),
        "the cookie cache is on: {}",
        frank.cookies
    );
    for _ in 0..200 {
        let got = me(&api, &frank.cookies).await;
        assert_eq!(got.status, 200, "{got:?}");
        assert_eq!(got.body["id"], frank.user_id);
    }
    let m = api.session_metrics().expect("sessions on");
    assert_eq!(
        (m.session_lookups, m.session_cookie_cache_hits),
        (0, 200),
        "every request answered by the signed session_data cookie"
    );
    // Without the cache cookie, the same session is looked up.
    assert_eq!(me(&api, &frank.session_cookie).await.status, 200);
    assert_eq!(api.session_metrics().expect("on").session_lookups, 1);
    // A cache cookie of another session is not used for this one.
    let grace = sign_up_and_in(&sso, "grace").await;
    let data = frank
        .cookies
        .split("; ")
        .find(|c| c.starts_with("better-auth.session_data="))
        .expect("data cookie");
    let mixed = format!("{}; {data}", grace.session_cookie);
    let got = me(&api, &mixed).await;
    assert_eq!(got.body["id"], grace.user_id, "{got:?}");
    assert_eq!(api.session_metrics().expect("on").session_lookups, 2);
}
