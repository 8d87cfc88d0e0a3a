//! Beyond id_tokens, whole-app: client-credentials service tokens on scope-guarded routes,
//! opaque access tokens through introspection, and the SSO admin profile.

mod common;

use common::{Backend, TestApp};
use serde_json::{Value, json};
use ssoguard::m2m::ClientCredentials;
use ssoguard::testing::Fault;

#[tokio::test]
async fn service_tokens_reach_scoped_routes_and_not_user_routes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let alice = app.token("alice", "user");
    app.create_task(&alice, "one").await;
    let source = ClientCredentials::builder("dev-client", "dev-secret")
        .authority(app.issuer().origin())
        .scope("api:read")
        .build();
    let service = source.token().await.expect("client_credentials token");

    let resp = app.get("/api/service/stats", &service).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"client_id": "dev-client", "total_tasks": 1})
    );

    let resp = app.get("/api/tasks", &service).await;
    assert_eq!(resp.status(), 403, "a service token is not a user");
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"detail": "A user token is required (this is a service token)"})
    );
    let resp = app.get("/api/service/stats", &alice).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.expect("json"),
        json!({"detail": "Scope 'api:read' required"})
    );

    let unscoped = ClientCredentials::builder("dev-client", "dev-secret")
        .authority(app.issuer().origin())
        .build()
        .token()
        .await
        .expect("token");
    assert_eq!(app.get("/api/service/stats", &unscoped).await.status(), 403);
}

#[tokio::test]
async fn opaque_access_tokens_are_introspected() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("SSO_CLIENT_SECRET", "introspection-secret")],
    )
    .await;
    app.issuer()
        .set_introspection_client("dev-client", "introspection-secret");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let claims = json!({
        "iss": app.issuer().issuer(), "client_id": "dev-client", "azp": "dev-client", "sub": "olga",
        "exp": now + 3600, "iat": now, "scope": "openid email", "email": "olga@example.com", "role": "user",
    });
    let opaque = app.issuer().issue_opaque(claims);
    let resp = app.get("/api/me", &opaque).await;
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.expect("json");
    assert_eq!(
        (me["id"].as_str(), me["email"].as_str()),
        (Some("olga"), Some("olga@example.com"))
    );
    assert_eq!(
        app.create_task(&opaque, "via opaque").await["user_id"],
        "olga"
    );

    let revoked = app.issuer().issue_opaque(json!({
        "iss": app.issuer().issuer(), "client_id": "dev-client", "sub": "x", "exp": now + 60,
    }));
    app.issuer().revoke_opaque(&revoked);
    let resp = app.get("/api/me", &revoked).await;
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains("token is not active")
    );

    let fresh = app.issuer().issue_opaque(json!({
        "iss": app.issuer().issuer(), "client_id": "dev-client", "sub": "y", "exp": now + 60,
    }));
    app.issuer().set_fault(Some(Fault::Down));
    let resp = app.get("/api/me", &fresh).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().get("retry-after").is_some());
}
