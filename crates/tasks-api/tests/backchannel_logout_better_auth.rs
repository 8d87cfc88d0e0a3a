//! Back-channel logout with the real Better Auth (`@better-auth/oauth-provider`): the client's
//! `backchannel_logout_uri` points at tasks-api, a user signs in twice (two sessions, two
//! id_tokens carrying their `sid`), signs one session out at the SSO, and Better Auth POSTs a
//! logout token to tasks-api: that session's id_token is refused within 1 s, the other
//! session's still works. Logout tokens the test forges (another key) or takes from an id_token
//! (signed by Better Auth, but with a `nonce`) are 400 and revoke nothing.
//!
//! Better Auth accepts only public `https` logout URIs at registration, so the test writes the
//! URI into the seeded client's row of Better Auth's own database (`oauthClient.
//! backchannelLogoutUri`), which is what registration would have stored. Better Auth puts `sid`
//! in id_tokens only for clients with a logout URI (or `enable_end_session`).
//!
//! Without Node.js the test prints `SKIPPED: …` and passes, except under `CI`, where it fails.

mod interop_support;

use interop_support::{
    BetterAuth, CLIENT_ID, FRONTEND_ORIGIN, Session, TasksApi, Tokens, jwt_claims,
    prerequisites_met,
};
use serde_json::json;
use std::time::{Duration, Instant};

/// Points the seeded client's back-channel logout URI at `uri`, in Better Auth's database.
async fn register_logout_uri(sso: &BetterAuth, uri: &str) {
    use sqlx::Connection as _;
    let path = sso.sqlite_path().expect("the SQLite setup");
    let url = format!("sqlite://{}", path.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.expect("open");
    let updated = sqlx::query("UPDATE oauthClient SET backchannelLogoutUri = ? WHERE clientId = ?")
        .bind(uri)
        .bind(CLIENT_ID)
        .execute(&mut db)
        .await
        .expect("update the client row");
    assert_eq!(updated.rows_affected(), 1, "the seeded client");
}

/// Signs the user in through the authorization code flow: a new session and its tokens.
async fn sign_in(sso: &BetterAuth, email: &str) -> (Session, Tokens, String) {
    let (session, tokens) = sso.login(email, "user-password-123", None).await;
    let sid = jwt_claims(&tokens.id_token)["sid"]
        .as_str()
        .expect("Better Auth puts sid in the id_token of a client with a logout URI")
        .to_string();
    (session, tokens, sid)
}

/// `POST /sign-out` at the SSO with the session's cookie.
pub async fn sign_out(sso: &BetterAuth, session: &Session) {
    let resp = sso
        .http
        .post(format!("{}/sign-out", sso.base()))
        .header("origin", FRONTEND_ORIGIN)
        .header("cookie", &session.cookie)
        .json(&json!({}))
        .send()
        .await
        .expect("sign-out");
    assert_eq!(resp.status(), 200, "sign-out");
}

/// Polls `status` until it is `want`, for at most `within`: the time it took.
async fn within<F, Fut>(within: Duration, want: u16, mut status: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let start = Instant::now();
    loop {
        if status().await == want {
            return Some(start.elapsed());
        }
        if start.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn post_logout(api: &TasksApi, token: &str) -> (u16, serde_json::Value) {
    let resp = api
        .http
        .post(format!("{}/auth/backchannel-logout", api.base))
        .form(&[("logout_token", token)])
        .send()
        .await
        .expect("post");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_at_the_sso_ends_that_session_at_tasks_api() {
    if !prerequisites_met() {
        return;
    }
    let sso = BetterAuth::start("EdDSA", &[]).await;
    let api = TasksApi::for_server(&sso, &[]).await;
    register_logout_uri(&sso, &format!("{}/auth/backchannel-logout", api.base)).await;

    let user = sso.new_user("Logout User").await;
    let (first, first_tokens, first_sid) = sign_in(&sso, &user.email).await;
    let (_second, second_tokens, second_sid) = sign_in(&sso, &user.email).await;
    assert_ne!(first_sid, second_sid, "two sessions");
    for tokens in [&first_tokens, &second_tokens] {
        assert_eq!(api.get("/api/me", &tokens.id_token).await.status, 200);
    }

    // Attacks first: nothing may be revoked by them.
    let forger = ssoguard::testing::TestIssuer::start()
        .await
        .expect("forger");
    let forged = forger
        .logout_token()
        .iss(&sso.issuer())
        .aud(CLIENT_ID)
        .sub(&user.user_id)
        .sid(&second_sid)
        .sign();
    let (status, body) = post_logout(&api, &forged).await;
    assert_eq!(status, 400, "forged: {body}");
    assert_eq!(body["error"], "invalid_request");
    // An id_token is signed by Better Auth's real key and names the session, but it has a
    // nonce (and no logout event): never a logout token.
    let (status, body) = post_logout(&api, &second_tokens.id_token).await;
    assert_eq!(status, 400, "an id_token as logout token: {body}");
    assert_eq!(
        api.get("/api/me", &second_tokens.id_token).await.status,
        200
    );

    sign_out(&sso, &first).await;
    let took = within(Duration::from_secs(1), 401, || async {
        api.get("/api/me", &first_tokens.id_token).await.status
    })
    .await
    .unwrap_or_else(|| panic!("still accepted 1 s after sign-out:\n{}", sso.stderr()));
    eprintln!("signed-out session refused after {took:?}");
    let refused = api.get("/api/me", &first_tokens.id_token).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .challenge
            .as_deref()
            .unwrap_or_default()
            .contains("invalid_token"),
        "{:?}",
        refused.challenge
    );
    assert_eq!(
        api.get("/api/me", &second_tokens.id_token).await.status,
        200,
        "the other session of the same user"
    );
}
