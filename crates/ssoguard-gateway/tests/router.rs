//! Router-level tests (`oneshot`) of the forward-auth endpoint and the gateway's own endpoints,
//! with real tokens from ssoguard's test issuer.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use ssoguard::testing::{Fault, TestIssuer};
use ssoguard_gateway::{App, Config};
use tower::ServiceExt;

#[path = "router/better_auth.rs"]
mod better_auth;

fn no_env(_: &str) -> Option<String> {
    None
}

/// A gateway for `a` (named `a`) and optionally `b`, with `extra` TOML appended.
async fn gateway(a: &TestIssuer, b: Option<&TestIssuer>, extra: &str) -> App {
    gateway_behind("nginx", a, b, extra).await
}

/// [`gateway`] with `front = "{front}"`.
async fn gateway_behind(front: &str, a: &TestIssuer, b: Option<&TestIssuer>, extra: &str) -> App {
    let mut toml = format!(
        "listen = \"127.0.0.1:0\"\nresource = \"https://api.example\"\nfront = \"{front}\"\n\n[[issuer]]\nname = \"a\"\nissuer = \"{}\"\naudiences = [\"api\"]\ncookie = \"sso\"\n",
        a.issuer()
    );
    if let Some(b) = b {
        toml.push_str(&format!(
            "\n[[issuer]]\nname = \"b\"\nissuer = \"{}\"\naudiences = [\"api\", \"b-only\"]\n",
            b.issuer()
        ));
    }
    if b.is_none() {
        toml.push_str(&extra.replace("issuers = [\"b\"]", "issuers = [\"a\"]"));
    } else {
        toml.push_str(extra);
    }
    let config = Config::from_toml(&toml, "test.toml", &no_env).expect("config");
    App::build(config).await.expect("app")
}

const RULES: &str = r#"
[headers]
"X-Org-Role" = "org.role"
"X-Nick" = "nick"

[[route]]
path = "/public"
public = true

[[route]]
path = "/admin/**"
roles_all = ["admin"]

[[route]]
path = "/only-b"
issuers = ["b"]

[[route]]
path = "/api"
"#;

async fn auth(
    app: &App,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder()
        .uri("/_ssoguard/auth")
        .header("x-original-method", method)
        .header("x-original-uri", uri)
        .header("host", "gw:4180");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    call(app, req.body(Body::empty()).expect("request")).await
}

async fn call(app: &App, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let resp = app.router().oneshot(req).await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, headers, body)
}

fn header(headers: &axum::http::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<none>")
        .to_string()
}

#[tokio::test]
async fn forward_auth_answers_200_with_identity_headers() {
    let sso = TestIssuer::start().await.expect("issuer");
    let app = gateway(&sso, None, RULES).await;
    let token = sso
        .token()
        .aud("api")
        .sub("u-42")
        .role("user,admin")
        .claim("org", json!({"role": "owner"}))
        .sign();
    let bearer = format!("Bearer {token}");
    // nginx: X-Original-*.
    let (status, h, _) = auth(&app, "GET", "/api/tasks?x=1", &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "x-auth-request-user"), "u-42");
    assert_eq!(header(&h, "x-auth-request-roles"), "user,admin");
    assert_eq!(header(&h, "x-auth-request-issuer"), sso.issuer());
    assert_eq!(header(&h, "x-org-role"), "owner");
    // Absent claims: present and empty (so the proxy overwrites a client's value).
    assert_eq!(header(&h, "x-auth-request-email"), "");
    assert_eq!(header(&h, "x-nick"), "");
    // Traefik / Caddy: X-Forwarded-*, when the gateway is configured for that front.
    let app = gateway_behind("caddy", &sso, None, RULES).await;
    let req = Request::builder()
        .uri("/_ssoguard/auth")
        .header("x-forwarded-method", "DELETE")
        .header("x-forwarded-uri", "/admin/users/1")
        .header("x-forwarded-host", "app.example")
        .header("x-forwarded-proto", "https")
        .header("authorization", &bearer)
        .body(Body::empty())
        .expect("request");
    let (status, h, _) = call(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "x-auth-request-user"), "u-42");
}

#[tokio::test]
async fn forward_auth_refusals() {
    let sso = TestIssuer::start().await.expect("issuer");
    let app = gateway(&sso, None, RULES).await;
    let user = format!("Bearer {}", sso.token().aud("api").role("user").sign());
    let metadata = "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\"";

    let (status, h, body) = auth(&app, "GET", "/api/tasks", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&h, "www-authenticate"),
        format!("Bearer realm=\"ssoguard\", {metadata}")
    );
    assert_eq!(body["detail"], "Not authenticated");

    let forged = format!("{}x", user.trim_end_matches(|c: char| c != '.'));
    let (status, h, _) = auth(&app, "GET", "/api/tasks", &[("authorization", &forged)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(header(&h, "www-authenticate").contains("error=\"invalid_token\""));

    let (status, h, body) = auth(&app, "POST", "/admin/users", &[("authorization", &user)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        header(&h, "www-authenticate").contains("error=\"insufficient_scope\""),
        "{h:?}"
    );
    assert_eq!(body["detail"], "Role 'admin' required");

    let (status, _, body) = auth(&app, "GET", "/docs", &[("authorization", &user)]).await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::FORBIDDEN, Some("No route allows this request"))
    );

    for sneaky in [
        "/api/../admin/x",
        "/api/%2e%2e/admin/x",
        "/api%2f..%2fadmin",
        "/api//x",
    ] {
        let (status, _, _) = auth(&app, "GET", sneaky, &[("authorization", &user)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{sneaky}");
    }
    // A percent-encoded path is matched decoded: /%61dmin is /admin.
    let (status, _, _) = auth(&app, "GET", "/%61dmin/x", &[("authorization", &user)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The public route needs no token and gives no identity.
    let (status, h, _) = auth(
        &app,
        "GET",
        "/public/x",
        &[("x-auth-request-user", "admin")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "x-auth-request-user"), "");

    // No original URI: a misconfigured proxy, not a pass (403: nginx turns a 400 into a 500).
    let req = Request::builder()
        .uri("/_ssoguard/auth")
        .header("authorization", &user)
        .body(Body::empty())
        .expect("req");
    assert_eq!(call(&app, req).await.0, StatusCode::FORBIDDEN);

    // A claim with a control character is refused, not forwarded.
    let nasty = sso
        .token()
        .aud("api")
        .claim("nick", json!("a\r\nX-Auth-Request-User: admin"))
        .sign();
    let (status, _, _) = auth(
        &app,
        "GET",
        "/api/x",
        &[("authorization", &format!("Bearer {nasty}"))],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Forward-auth reads one header set, the configured front's: a question that also carries any
/// other header naming an original target or method (another front's set, an underscore
/// spelling, an IIS rewrite, a method override) is refused, whichever the client tried to
/// smuggle in and whatever the rule of either path would say.
#[tokio::test]
async fn forward_auth_reads_only_the_configured_fronts_headers() {
    let sso = TestIssuer::start().await.expect("issuer");
    let user = format!("Bearer {}", sso.token().aud("api").role("user").sign());
    let admin = format!("Bearer {}", sso.token().aud("api").role("admin").sign());
    for front in ["nginx", "caddy", "traefik", "generic"] {
        let app = gateway_behind(front, &sso, None, RULES).await;
        let (own_uri, own_method) = if front == "nginx" {
            ("x-original-uri", "x-original-method")
        } else {
            ("x-forwarded-uri", "x-forwarded-method")
        };
        let other_uri = if front == "nginx" {
            "x-forwarded-uri"
        } else {
            "x-original-uri"
        };
        let ask = |uri: &str, method: &str, extra: &[(&str, &str)], token: Option<&str>| {
            let mut req = Request::builder()
                .uri("/_ssoguard/auth")
                .header(own_uri, uri)
                .header(own_method, method)
                .header("x-forwarded-host", "app.example");
            for (k, v) in extra {
                req = req.header(*k, *v);
            }
            if let Some(token) = token {
                req = req.header("authorization", token);
            }
            req.body(Body::empty()).expect("request")
        };
        // The front's own set decides alone.
        assert_eq!(
            call(&app, ask("/public/x", "GET", &[], None)).await.0,
            StatusCode::OK,
            "{front}"
        );
        assert_eq!(
            call(&app, ask("/admin/secret", "GET", &[], Some(&admin)))
                .await
                .0,
            StatusCode::OK,
            "{front}"
        );
        // The review's case: the other set names a public path; the front's names /admin.
        let smuggled: Vec<(&str, &str)> = vec![
            (other_uri, "/public/x"),
            ("X_Original_URI", "/public/x"),
            ("x_forwarded_uri", "/public/x"),
            ("x-original-url", "/public/x"),
            ("x-rewrite-url", "/public/x"),
            ("x-forwarded-prefix", "/public"),
            ("x-forwarded-path", "/public/x"),
            ("x-envoy-original-path", "/public/x"),
        ];
        for (name, value) in &smuggled {
            for token in [None, Some(user.as_str()), Some(admin.as_str())] {
                let (status, _, body) =
                    call(&app, ask("/admin/secret", "GET", &[(name, value)], token)).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{front}: {name}: {body}");
                assert!(
                    body["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("configured front")),
                    "{front}: {name}: {body}"
                );
            }
        }
        // The method: another set's or an override's GET next to the front's DELETE.
        let other_method = if front == "nginx" {
            "x-forwarded-method"
        } else {
            "x-original-method"
        };
        for name in [
            other_method,
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
            "X_HTTP_Method_Override",
        ] {
            let (status, _, body) = call(
                &app,
                ask("/admin/secret", "DELETE", &[(name, "GET")], Some(&user)),
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{front}: {name}: {body}");
        }
        // The front's header twice is not a choice either.
        let (status, _, _) = call(
            &app,
            ask("/public/x", "GET", &[(own_uri, "/admin/secret")], None),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{front}: duplicate");
    }
}

/// Paths another backend reads as a protected path (`;` parameters, case, trailing dots and
/// spaces, `#`) and lower-case methods: refused (403 in forward-auth); readings that agree
/// are served as sent.
#[tokio::test]
async fn path_and_method_forms_are_refused() {
    const FORMS: &str = r#"
[[route]]
path = "/public"
public = true

[[route]]
path = "/api/admin"
roles_any = ["admin"]

[[route]]
path = "/api/records"
methods = ["DELETE"]
roles_any = ["admin"]

[[route]]
path = "/api"
"#;
    let sso = TestIssuer::start().await.expect("issuer");
    let app = gateway(&sso, None, FORMS).await;
    let user = format!("Bearer {}", sso.token().aud("api").role("user").sign());
    for target in [
        "/public/..;/api/admin/x",
        "/public/..%3B/api/admin/x",
        "/api/admin;jsessionid=1/users",
        "/api/ADMIN/users",
        "/api/Admin/users",
        "/API/ADMIN",
        "/api/admin./users",
        "/api/admin%20/users",
        "/api/admin%2E/users",
        "/api/admin.%20/users",
        "/api/admin%09/users",
        "/public/x#/../../api/admin/x",
        "/public/x%23/../api/admin/x",
        "/PUBLIC/x",
        "/public./x",
    ] {
        let (status, _, body) = auth(&app, "GET", target, &[("authorization", &user)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{target}: {body}");
    }
    // `delete` is DELETE to Django and Flask: refused, not matched past the DELETE rule.
    for method in ["delete", "Delete", "dElEtE"] {
        let (status, _, body) =
            auth(&app, method, "/api/records/1", &[("authorization", &user)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {body}");
        assert_eq!(body["detail"], "Method must be upper case", "{method}");
    }
    for target in ["/api/Tasks/ABC", "/api/x.y", "/api/a%20b", "/api/records/1"] {
        let (status, _, body) = auth(&app, "GET", target, &[("authorization", &user)]).await;
        assert_eq!(status, StatusCode::OK, "{target}: {body}");
    }
}

#[tokio::test]
async fn keys_unavailable_is_503_with_retry_after() {
    let sso = TestIssuer::start().await.expect("issuer");
    sso.set_fault(Some(Fault::Down));
    let app = gateway(&sso, None, RULES).await;
    let token = format!("Bearer {}", sso.token().aud("api").sign());
    let (status, h, body) = auth(&app, "GET", "/api/x", &[("authorization", &token)]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_ne!(header(&h, "retry-after"), "<none>");
    assert_eq!(
        body["detail"],
        "Authentication service unavailable, retry later"
    );
    let (status, _, ready) = call(
        &app,
        Request::get("/_ssoguard/ready")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["issuers"][0]["ready"], false);
}

#[tokio::test]
async fn several_issuers_route_by_exact_iss() {
    let a = TestIssuer::start().await.expect("issuer a");
    let b = TestIssuer::start().await.expect("issuer b");
    let app = gateway(&a, Some(&b), RULES).await;
    let from_b = format!("Bearer {}", b.token().aud("api").sub("bob").sign());
    let from_a = format!("Bearer {}", a.token().aud("api").sub("alice").sign());
    let (status, h, _) = auth(&app, "GET", "/only-b", &[("authorization", &from_b)]).await;
    assert_eq!(
        (status, header(&h, "x-auth-request-issuer")),
        (StatusCode::OK, b.issuer().to_string())
    );
    let (status, _, body) = auth(&app, "GET", "/only-b", &[("authorization", &from_a)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, h, _) = auth(&app, "GET", "/api/x", &[("authorization", &from_a)]).await;
    assert_eq!(
        (status, header(&h, "x-auth-request-user")),
        (StatusCode::OK, "alice".to_string())
    );
    // A's key signing a token that claims B's issuer fails B's signature check.
    let crossed = format!("Bearer {}", a.token().aud("api").iss(b.issuer()).sign());
    assert_eq!(
        auth(&app, "GET", "/api/x", &[("authorization", &crossed)])
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Audiences are per issuer: B accepts "b-only", A does not.
    let b_only = |sso: &TestIssuer| format!("Bearer {}", sso.token().aud("b-only").sign());
    assert_eq!(
        auth(&app, "GET", "/api/x", &[("authorization", &b_only(&b))])
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        auth(&app, "GET", "/api/x", &[("authorization", &b_only(&a))])
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // An unknown issuer: 401 without any fetch.
    let (fa, fb) = (a.jwks_fetches(), b.jwks_fetches());
    let stranger = format!(
        "Bearer {}",
        a.token().aud("api").iss("https://stranger.example").sign()
    );
    assert_eq!(
        auth(&app, "GET", "/api/x", &[("authorization", &stranger)])
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!((a.jwks_fetches(), b.jwks_fetches()), (fa, fb));
}

#[tokio::test]
async fn cookie_credentials_need_a_same_origin_request_for_unsafe_methods() {
    let sso = TestIssuer::start().await.expect("issuer");
    let app = gateway(&sso, None, RULES).await;
    let cookie = format!("sso={}", sso.token().aud("api").sign());
    let (status, _, _) = auth(&app, "GET", "/api/x", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = auth(&app, "POST", "/api/x", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, _) = auth(
        &app,
        "POST",
        "/api/x",
        &[("cookie", &cookie), ("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = auth(
        &app,
        "POST",
        "/api/x",
        &[("cookie", &cookie), ("origin", "http://gw:4180")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn own_endpoints_and_forward_auth_only_mode() {
    let sso = TestIssuer::start().await.expect("issuer");
    let app = gateway(&sso, None, RULES).await;
    let get = |uri: &str| {
        Request::get(uri)
            .header("host", "gw:4180")
            .body(Body::empty())
            .expect("req")
    };
    let (status, _, body) = call(&app, get("/_ssoguard/health")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    // Keys are warmed up in the background.
    for _ in 0..100 {
        if call(&app, get("/_ssoguard/ready")).await.0 == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(call(&app, get("/_ssoguard/ready")).await.0, StatusCode::OK);
    let (status, _, meta) = call(&app, get("/.well-known/oauth-protected-resource")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta["resource"], "https://api.example");
    assert_eq!(meta["authorization_servers"], json!([sso.issuer()]));
    assert_eq!(
        call(&app, get("/_ssoguard/nothing")).await.0,
        StatusCode::NOT_FOUND
    );
    // No upstream: the gateway proxies nothing.
    assert_eq!(call(&app, get("/api/x")).await.0, StatusCode::NOT_FOUND);
    let _ = auth(&app, "GET", "/nowhere", &[]).await;
    let (status, h, Value::String(text)) = call(&app, get("/_ssoguard/metrics")).await else {
        panic!("metrics are text");
    };
    assert_eq!(status, StatusCode::OK);
    assert!(header(&h, "content-type").starts_with("application/openmetrics-text"));
    assert!(
        text.contains(
            "ssoguard_gateway_decisions_total{outcome=\"forbidden\",reason=\"no_route\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("ssoguard_keys_ready{issuer=\"a\"} 1"),
        "{text}"
    );
}

const ORGANIZATION_RULES: &str = r#"
[organizations]
roles = { owner = { task = ["read", "delete"] }, member = { task = ["read"] } }

[headers]
"X-Auth-Request-Org" = "org_id"
"X-Auth-Request-Org-Roles" = "org_role"

[[route]]
path = "/orgs"
methods = ["GET"]
organization_segment = 2
organization_permissions = ["task:read"]

[[route]]
path = "/orgs"
methods = ["DELETE"]
organization_segment = 2
organization_permissions = ["task:delete"]

[[route]]
path = "/org-admin"
organization_roles_any = ["owner", "admin"]
"#;

#[tokio::test]
async fn organization_rules_read_the_tokens_organization_claims() {
    let sso = TestIssuer::start().await.expect("issuer");
    let app = gateway(&sso, None, ORGANIZATION_RULES).await;
    let bearer = |org: Option<&str>, role: &str| {
        let mut token = sso.token().aud("api").sub("u-7");
        if let Some(org) = org {
            token = token
                .claim("org_id", json!(org))
                .claim("org_role", json!(role));
        }
        format!("Bearer {}", token.sign())
    };
    let (owner, member, outsider, none) = (
        bearer(Some("o1"), "owner"),
        bearer(Some("o1"), "member"),
        bearer(Some("o2"), "owner"),
        bearer(None, ""),
    );
    let (status, h, _) = auth(&app, "GET", "/orgs/o1/tasks", &[("authorization", &member)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "x-auth-request-org"), "o1");
    assert_eq!(header(&h, "x-auth-request-org-roles"), "member");
    let (status, _, _) = auth(
        &app,
        "DELETE",
        "/orgs/o1/tasks/9",
        &[("authorization", &owner)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = auth(
        &app,
        "DELETE",
        "/orgs/o1/tasks/9",
        &[("authorization", &member)],
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "Permission 'task:delete' required in this organization"})
        )
    );
    // Another organization's token, or none: never a member of the one the path names.
    for (who, uri) in [
        (&outsider, "/orgs/o1/tasks"),
        (&none, "/orgs/o1/tasks"),
        (&owner, "/orgs/o2/tasks"),
    ] {
        let (status, _, body) = auth(&app, "GET", uri, &[("authorization", who)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
    }
    let (_, _, body) = auth(
        &app,
        "GET",
        "/orgs/o1/tasks",
        &[("authorization", &outsider)],
    )
    .await;
    assert_eq!(body, json!({"detail": "Not a member of this organization"}));
    // A role rule on the token's own organization.
    let (status, _, _) = auth(&app, "GET", "/org-admin", &[("authorization", &owner)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = auth(&app, "GET", "/org-admin", &[("authorization", &member)]).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "One of the organization roles owner, admin required"})
        )
    );
    let (_, _, body) = auth(&app, "GET", "/org-admin", &[("authorization", &none)]).await;
    assert_eq!(body, json!({"detail": "No active organization"}));
    // Settings that cannot work are refused at start.
    for bad in [
        "[[route]]\npath = \"/x\"\norganization_permissions = [\"task\"]\n",
        "[[route]]\npath = \"/x\"\norganization_segment = 0\n",
        "[[route]]\npath = \"/x\"\npublic = true\norganization_roles_any = [\"owner\"]\n",
        "[organizations]\nroles = { owner = [\"task\"] }\n",
        "[organizations]\ndatabase_url_env = \"NOT_SET\"\n",
        "[organizations]\ndynamic_roles = true\n",
        "[organizations]\ncache_ttl_secs = 0\n",
    ] {
        let toml = format!(
            "listen = \"127.0.0.1:0\"\n\n[[issuer]]\nname = \"a\"\nissuer = \"{}\"\naudiences = [\"api\"]\n{bad}",
            sso.issuer()
        );
        assert!(
            Config::from_toml(&toml, "t.toml", &no_env).is_err(),
            "{bad}"
        );
    }
}

/// Memberships looked up in Better Auth's tables (a SQLite file with its 1.7.5 DDL): the
/// token's claims do not count, a removal takes effect within `cache_ttl_secs`, an unreadable
/// database is a 503.
#[tokio::test]
async fn organization_rules_with_memberships_looked_up() {
    use sqlx::ConnectOptions as _;
    let sso = TestIssuer::start().await.expect("issuer");
    let path = std::env::temp_dir().join(format!(
        "gateway-orgs-{}-{}.db",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let mut db = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .connect()
        .await
        .expect("database");
    for sql in [
        r#"CREATE TABLE "organization" ("id" text not null primary key, "name" text not null, "slug" text not null unique, "logo" text, "createdAt" date not null, "metadata" text)"#,
        r#"CREATE TABLE "member" ("id" text not null primary key, "organizationId" text not null references "organization" ("id") on delete cascade, "userId" text not null, "role" text not null, "createdAt" date not null)"#,
        r#"INSERT INTO "organization" VALUES ('o1', 'o1', 'o1', NULL, '2026-12-01', NULL)"#,
        r#"INSERT INTO "member" VALUES ('m1', 'o1', 'u-owner', 'owner', '2026-12-01')"#,
        r#"INSERT INTO "member" VALUES ('m2', 'o1', 'u-member', 'member', '2026-12-01')"#,
    ] {
        sqlx::query(sql).execute(&mut db).await.expect(sql);
    }
    let url = format!("sqlite://{}", path.display());
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nresource = \"https://api.example\"\n\n[[issuer]]\nname = \"a\"\nissuer = \"{}\"\naudiences = [\"api\"]\n{}",
        sso.issuer(),
        ORGANIZATION_RULES.replace(
            "[organizations]\n",
            "[organizations]\ndatabase_url_env = \"BA_DATABASE\"\ncache_ttl_secs = 1\n"
        )
    );
    let env = |k: &str| (k == "BA_DATABASE").then(|| url.clone());
    let config = Config::from_toml(&toml, "test.toml", &env).expect("config");
    assert!(
        !format!("{config:?}").contains(&url),
        "the URL is not printed"
    );
    let app = ssoguard_gateway::App::build(config).await.expect("app");
    let bearer = |sub: &str, claims: Option<(&str, &str)>| {
        let mut token = sso.token().aud("api").sub(sub);
        if let Some((org, role)) = claims {
            token = token
                .claim("org_id", json!(org))
                .claim("org_role", json!(role));
        }
        format!("Bearer {}", token.sign())
    };
    let owner = bearer("u-owner", None);
    let member = bearer("u-member", None);
    let forged = bearer("u-outsider", Some(("o1", "owner")));
    let (status, _, _) = auth(
        &app,
        "DELETE",
        "/orgs/o1/tasks/1",
        &[("authorization", &owner)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = auth(
        &app,
        "DELETE",
        "/orgs/o1/tasks/1",
        &[("authorization", &member)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, _) = auth(&app, "GET", "/orgs/o1/tasks", &[("authorization", &member)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) =
        auth(&app, "GET", "/orgs/o1/tasks", &[("authorization", &forged)]).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "Not a member of this organization"})
        )
    );
    // A removal: refused once the cached membership (1 s) has expired.
    sqlx::query(r#"DELETE FROM "member" WHERE "id" = 'm2'"#)
        .execute(&mut db)
        .await
        .expect("delete");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, _, _) = auth(&app, "GET", "/orgs/o1/tasks", &[("authorization", &member)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Better Auth's tables unreadable: 503 with Retry-After, never let in.
    sqlx::query(r#"DROP TABLE "member""#)
        .execute(&mut db)
        .await
        .expect("drop");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, headers, _) =
        auth(&app, "GET", "/orgs/o1/tasks", &[("authorization", &owner)]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key("retry-after"));
    drop(db);
    let _ = std::fs::remove_file(&path);
}
