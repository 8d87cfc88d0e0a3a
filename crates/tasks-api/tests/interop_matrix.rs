//! The interop matrix: every documented Better Auth layout, started for real
//! (`interop/better-auth/start.sh` with the layout's options), used with the settings a user
//! would write. Tokens are minted the real way (sign-up, code + PKCE, the jwt plugin's `/token`);
//! tasks-api answers `/api/me` with the right user, or refuses exactly as configured.
//!
//! | setup | settings used |
//! |---|---|
//! | root discovery alias (the docs' recommendation) | `AUTH_SERVER_URL=<origin>`, `<origin>/` |
//! | no root alias (native) | `AUTH_SERVER_URL=<origin>`, `<origin>/api/auth`, trailing slashes |
//! | custom `basePath` `/auth` | `AUTH_SERVER_URL=<origin>/auth`; `<origin>` is refused, explained |
//! | `jwt({ jwt: { issuer, audience } })` | the plugin's token with `SSO_CLIENT_ID=<audience>` |
//! | the newest `better-auth` set (`interop/better-auth/latest`, pinned) | login + `/api/me` here; `scripts/interop-setups` reruns the interop suites with it |
//! | Better Auth on Postgres (`pg` pool) | login + `/api/me` here; `scripts/interop-setups` reruns the interop suites on it |
//!
//! One server per setup; each test reuses it for every setting. `SSOGUARD_INTEROP_SETUP`
//! (`latest`, `postgres`) moves every server of the process to that package set or database.
//!
//! ```sh
//! cargo test -p tasks-api --test interop_matrix -- --nocapture
//! SSOGUARD_INTEROP_SETUP=latest cargo test -p tasks-api --test interop --test interop_matrix
//! ```

mod interop_support;

use interop_support::{
    BetterAuth, CLIENT_ID, Setup, TasksApi, interop_dir, jwt_claims, loud, prerequisites_met, skip,
    test_database_url,
};
use serde_json::{Value, json};
use std::time::Instant;

fn done(test: &str, started: Instant) {
    eprintln!("{test}: {:.1}s", started.elapsed().as_secs_f64());
}

/// Signs up a user, logs them in through code + PKCE, and checks that tasks-api configured with
/// `vars` answers `/api/me` with exactly that user for the id_token.
async fn me_is_the_user(sso: &BetterAuth, setting: &str, vars: &[(&str, &str)]) {
    let user = sso.new_user("Matrix User").await;
    let (user, tokens) = sso.login(&user.email, "user-password-123", None).await;
    assert_eq!(jwt_claims(&tokens.id_token)["iss"], sso.issuer());
    let api = TasksApi::for_server(sso, vars).await;
    let reply = api.get("/api/me", &tokens.id_token).await;
    assert_eq!(
        reply.status, 200,
        "setup {} ({}), {setting}: /api/me {reply:?}",
        sso.setup, sso.version
    );
    assert_eq!(
        (reply.body["id"].clone(), reply.body["email"].clone()),
        (json!(user.user_id), json!(user.email)),
        "{setting}"
    );
}

/// tasks-api configured with `vars` answers 503 (keys never load); `/ready` says that the
/// signing keys are unavailable (never why), and the reason the service logs is returned.
async fn refused_with_reason(sso: &BetterAuth, setting: &str, vars: &[(&str, &str)]) -> String {
    let user = sso.new_user("Refused User").await;
    let (_, tokens) = sso.login(&user.email, "user-password-123", None).await;
    let api = TasksApi::for_server(sso, vars).await;
    let reply = api.get("/api/me", &tokens.id_token).await;
    assert_eq!(reply.status, 503, "{setting}: {reply:?}");
    let ready = api.ready().await;
    assert_eq!(ready.status, 503, "{setting}: {ready:?}");
    assert_eq!(ready.body["signing_keys"], "unavailable", "{setting}");
    api.keys_last_error()
        .unwrap_or_else(|| panic!("{setting}: no last error logged"))
}

/// The issue's layout: the docs' root alias (`oauthProviderOpenIdConfigMetadata(auth)` at
/// `/.well-known/openid-configuration`, naming `<origin>/api/auth`) and the documented
/// `AUTH_SERVER_URL=<origin>`. Before the fix every request answered 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_discovery_alias_with_the_origin_setting() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    let sso = BetterAuth::start("EdDSA", &[("BA_ROOT_DISCOVERY", "1")]).await;
    let (status, doc) = sso.root_discovery().await;
    assert_eq!(status, 200, "the root alias is served: {doc}");
    assert_eq!(doc["issuer"], sso.base(), "it names <origin>/api/auth");
    assert_eq!(
        doc,
        sso.discovery().await,
        "the same document as /api/auth's"
    );
    let origin = sso.origin.clone();
    for setting in [origin.clone(), format!("{origin}/"), sso.base()] {
        me_is_the_user(
            &sso,
            &format!("AUTH_SERVER_URL={setting}"),
            &[("AUTH_SERVER_URL", &setting)],
        )
        .await;
    }
    done("root_discovery_alias_with_the_origin_setting", started);
}

/// Native Better Auth (no root alias: the root answers 404): the origin, the issuer, and either
/// with a trailing slash all work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_layout_with_origin_issuer_and_trailing_slashes() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    let sso = BetterAuth::start("EdDSA", &[]).await;
    assert_eq!(sso.root_discovery().await.0, 404, "no root alias");
    let origin = sso.origin.clone();
    let issuer = sso.base();
    for setting in [
        origin.clone(),
        issuer.clone(),
        format!("{origin}/"),
        format!("{issuer}/"),
    ] {
        me_is_the_user(
            &sso,
            &format!("AUTH_SERVER_URL={setting}"),
            &[("AUTH_SERVER_URL", &setting)],
        )
        .await;
    }
    // `iss` itself stays exact: SSO_ISSUER with a trailing slash is another issuer.
    let slashed = format!("{issuer}/");
    let reason =
        refused_with_reason(&sso, "SSO_ISSUER=<issuer>/", &[("SSO_ISSUER", &slashed)]).await;
    assert!(reason.contains(&format!("SSO_ISSUER={issuer}")), "{reason}");
    done(
        "native_layout_with_origin_issuer_and_trailing_slashes",
        started,
    );
}

/// `basePath: "/auth"`: the issuer is `<origin>/auth`, and `AUTH_SERVER_URL=<origin>/auth` works.
/// The bare origin finds nothing under `/api/auth`; with the root alias served it finds a
/// document naming `<origin>/auth`, which it refuses (only `<origin>` and `<origin>/api/auth`
/// are taken from an origin) and explains with the setting to write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_base_path_with_its_issuer_as_the_setting() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    let sso = BetterAuth::start(
        "EdDSA",
        &[("BA_BASE_PATH", "/auth"), ("BA_ROOT_DISCOVERY", "1")],
    )
    .await;
    let issuer = format!("{}/auth", sso.origin);
    assert_eq!(sso.issuer(), issuer);
    assert_eq!(sso.discovery().await["issuer"], issuer);
    for setting in [issuer.clone(), format!("{issuer}/")] {
        me_is_the_user(
            &sso,
            &format!("AUTH_SERVER_URL={setting}"),
            &[("AUTH_SERVER_URL", &setting)],
        )
        .await;
    }
    let reason = refused_with_reason(&sso, "AUTH_SERVER_URL=<origin>", &[]).await;
    assert!(
        reason.contains(&format!("names issuer \"{issuer}\""))
            && reason.contains(&format!("set AUTH_SERVER_URL={issuer}")),
        "{reason}"
    );
    done("custom_base_path_with_its_issuer_as_the_setting", started);
}

/// `jwt({ jwt: { issuer: <origin>, audience: "tasks-api" } })`: the oauth-provider plugin takes
/// the jwt plugin's issuer, so the OIDC tokens and the jwt plugin's `/token` share it, and
/// Better Auth serves discovery at the issuer's path, the root, naming `<origin>`: the other
/// issuer an origin stands for.
/// `SSO_CLIENT_ID=tasks-api` accepts the plugin's token and refuses the id_token (audience
/// `rust-backend`) by name; listing both accepts both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_plugin_issuer_and_audience_with_the_audience_as_client_id() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    let sso = BetterAuth::start_with_origin("EdDSA", &[], |origin| {
        vec![
            ("BA_JWT_ISSUER".into(), origin.to_string()),
            ("BA_JWT_AUDIENCE".into(), "tasks-api".into()),
        ]
    })
    .await;
    // Better Auth serves discovery at `<issuer path>/.well-known/…`: here the root, not /api/auth.
    let (status, doc) = sso.root_discovery().await;
    assert_eq!((status, &doc["issuer"]), (200, &json!(sso.origin)), "{doc}");
    let user = sso.new_user("Plugin User").await;
    let plugin_token = sso.jwt_plugin_token(&user).await;
    let claims = jwt_claims(&plugin_token);
    assert_eq!(
        (claims["iss"].clone(), claims["aud"].clone()),
        (json!(sso.origin), json!("tasks-api"))
    );
    let (_, tokens) = sso.login(&user.email, "user-password-123", None).await;
    assert_eq!(jwt_claims(&tokens.id_token)["iss"], sso.origin);

    let api = TasksApi::for_server(&sso, &[("SSO_CLIENT_ID", "tasks-api")]).await;
    let me = api.me(&plugin_token).await;
    assert_eq!(
        (me["id"].clone(), me["email"].clone()),
        (json!(user.user_id), json!(user.email))
    );
    api.assert_refused(
        &tokens.id_token,
        "audience mismatch",
        "id_token (aud rust-backend) with SSO_CLIENT_ID=tasks-api",
    )
    .await;
    let both = format!("tasks-api,{CLIENT_ID}");
    let api_both = TasksApi::for_server(&sso, &[("SSO_CLIENT_ID", &both)]).await;
    assert_eq!(api_both.me(&plugin_token).await["id"], user.user_id);
    assert_eq!(api_both.me(&tokens.id_token).await["id"], user.user_id);
    done(
        "jwt_plugin_issuer_and_audience_with_the_audience_as_client_id",
        started,
    );
}

fn installed_version(dir: &std::path::Path, package: &str) -> Option<(String, Value)> {
    let text = std::fs::read_to_string(dir.join("node_modules").join(package).join("package.json"))
        .ok()?;
    let json: Value = serde_json::from_str(&text).ok()?;
    Some((json["version"].as_str()?.to_string(), json))
}

/// The newest better-auth set (`interop/better-auth/latest`, its own package.json and lockfile,
/// pinned like the main set) beside the pinned set: it installs (`start.sh` runs `npm ci` there
/// when `node_modules` is missing or stale, and fails naming npm's ERESOLVE clash if it cannot),
/// the installed versions are exactly the pins, the peer clashes its overrides bridge are named
/// from the installed packages, and a login against it reaches `/api/me` with the right user.
/// Whether a newer release is out is not a test's question: `scripts/check-upstream` answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newest_better_auth_installs_and_serves() {
    if !prerequisites_met() {
        return;
    }
    let started = Instant::now();
    let dir = interop_dir().join("latest");
    let install = tokio::process::Command::new("bash")
        .arg(interop_dir().join("start.sh"))
        .arg("--install")
        .env("BA_SET", "latest")
        .output()
        .await
        .expect("run start.sh --install");
    assert!(
        install.status.success(),
        "setup `newest better-auth`: interop/better-auth/latest does not install:\n{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("package.json")).expect("latest/package.json"),
    )
    .expect("latest/package.json is JSON");
    let mut installed = Vec::new();
    let mut clashes = Vec::new();
    for package in [
        "better-auth",
        "@better-auth/oauth-provider",
        "@better-auth/api-key",
    ] {
        let pinned = manifest["dependencies"][package]
            .as_str()
            .unwrap_or_else(|| panic!("latest/package.json pins {package}"));
        let (version, json) =
            installed_version(&dir, package).unwrap_or_else(|| panic!("{package} installed"));
        assert_eq!(
            version, pinned,
            "setup `newest better-auth`: {package} {version} is installed but \
             latest/package.json pins {pinned}"
        );
        installed.push(format!("{package} {version}"));
        // The clashes the lockfile's overrides bridge: a plugin's exact peer pins against what
        // this better-auth brings.
        for (name, wanted) in json["peerDependencies"].as_object().into_iter().flatten() {
            let wanted = wanted.as_str().unwrap_or_default();
            let exact = wanted.chars().next().is_some_and(|c| c.is_ascii_digit())
                && !wanted.contains(['|', ' ']);
            match installed_version(&dir, name) {
                Some((have, _)) if exact && wanted != have => {
                    clashes.push(format!("{package} pins {name} {wanted} (installed {have})"));
                }
                _ => {}
            }
        }
    }
    let version = manifest["dependencies"]["better-auth"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    loud(&format!(
        "newest better-auth set: {}: {}",
        installed.join(", "),
        if clashes.is_empty() {
            "installs cleanly".to_string()
        } else {
            format!(
                "npm refuses the plain set (ERESOLVE): {}; latest/package.json overrides them \
                 to better-auth {version}'s",
                clashes.join(", ")
            )
        }
    ));

    // A server from that set: login, /api/me.
    let sso = BetterAuth::start_in(Setup::Latest, "EdDSA", &[]).await;
    assert_eq!(sso.version, version);
    me_is_the_user(
        &sso,
        &format!("better-auth {version}, AUTH_SERVER_URL=<origin>"),
        &[],
    )
    .await;
    done("newest_better_auth_installs_and_serves", started);
}

/// Better Auth on Postgres (a `pg` pool on a fresh database of `TEST_DATABASE_URL`) instead of
/// SQLite: migrations, seeding, login and `/api/me`. `scripts/interop-setups` reruns the interop
/// suites on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn better_auth_on_postgres() {
    if !prerequisites_met() {
        return;
    }
    if test_database_url().is_none() {
        skip("set TEST_DATABASE_URL to run Better Auth on Postgres");
        return;
    }
    let started = Instant::now();
    let sso = BetterAuth::start_in(Setup::Postgres, "EdDSA", &[]).await;
    assert!(
        sso.stderr().contains("db=postgres://"),
        "the server runs on Postgres: {}",
        sso.stderr()
    );
    me_is_the_user(
        &sso,
        "Better Auth on Postgres, AUTH_SERVER_URL=<origin>",
        &[],
    )
    .await;
    done("better_auth_on_postgres", started);
}
