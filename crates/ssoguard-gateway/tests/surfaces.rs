//! One table of credential cases run against both surfaces: an axum app built from
//! `ssoguard::axum` and the gateway's forward-auth endpoint. Both find, CSRF-check and refuse
//! credentials through `ssoguard::credential`, so each case must give the same status, the same
//! OAuth error code and the same body on both.

use axum::body::Body;
use axum::extract::FromRef;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use ssoguard::Algorithm;
use ssoguard::axum::{Auth, CurrentUser, RequireLayer};
use ssoguard::testing::{DpopClient, TestIssuer};
use ssoguard_gateway::{App, Config};
use std::sync::Arc;
use tower::ServiceExt;

const PUBLIC: &str = "https://api.example";

/// A surface under test.
enum Surface {
    Axum(axum::Router),
    Gateway(App),
}

#[derive(Clone, FromRef)]
struct State {
    auth: Auth,
}

async fn axum_app(sso: &TestIssuer) -> axum::Router {
    let verifier = ssoguard::Verifier::builder()
        .issuer(sso.issuer())
        .audience("api")
        .build()
        .expect("verifier");
    let auth = Auth::new(verifier)
        .with_cookie("sso")
        .with_allowed_origins([PUBLIC])
        .with_public_url(PUBLIC)
        .expect("public url");
    let state = State { auth };
    let ok = |_: CurrentUser| async { "ok" };
    axum::Router::new()
        .route("/api/x", get(ok).post(ok))
        .route(
            "/scoped",
            get(|| async { "ok" }).route_layer(RequireLayer::scope(&state, "tasks:write")),
        )
        .with_state(state)
}

async fn gateway(sso: &TestIssuer) -> App {
    let toml = format!(
        "listen = \"127.0.0.1:0\"\npublic_url = \"{PUBLIC}\"\nrealm = \"api\"\nfront = \"nginx\"\n\n\
         [[issuer]]\nname = \"a\"\nissuer = \"{}\"\naudiences = [\"api\"]\ncookie = \"sso\"\n\n\
         [[route]]\npath = \"/scoped\"\nscopes = [\"tasks:write\"]\n\n[[route]]\npath = \"/api\"\n",
        sso.issuer()
    );
    let config = Config::from_toml(&toml, "surfaces.toml", &|_| None).expect("config");
    App::build(config).await.expect("app")
}

/// What a surface answered: status, the OAuth error codes of its challenges, the body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    codes: Vec<String>,
    scope: Option<String>,
    /// The challenges without the gateway's `resource_metadata` parameter.
    challenges: Vec<String>,
    body: Value,
}

impl Surface {
    fn name(&self) -> &'static str {
        match self {
            Surface::Axum(_) => "axum",
            Surface::Gateway(_) => "gateway",
        }
    }

    async fn send(&self, method: &str, path: &str, headers: &[(&str, String)]) -> Answer {
        let (router, mut req) = match self {
            Surface::Axum(router) => (router.clone(), Request::builder().method(method).uri(path)),
            Surface::Gateway(app) => (
                app.router(),
                Request::get("/_ssoguard/auth")
                    .header("x-original-method", method)
                    .header("x-original-uri", path),
            ),
        };
        req = req.header("host", "api.example");
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let resp = router
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let challenges: Vec<String> = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_string())
            .collect();
        let param = |name: &str| {
            challenges.iter().find_map(|c| {
                let start = c.find(&format!("{name}=\""))? + name.len() + 2;
                Some(c[start..start + c[start..].find('"')?].to_string())
            })
        };
        let codes = challenges
            .iter()
            .filter_map(|c| {
                let start = c.find("error=\"")? + 7;
                Some(c[start..start + c[start..].find('"')?].to_string())
            })
            .collect();
        let scope = param("scope");
        let challenges = challenges
            .iter()
            .map(|c| match c.find(", resource_metadata=") {
                Some(at) => c[..at].to_string(),
                None => c.clone(),
            })
            .collect();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            codes,
            scope,
            challenges,
            body,
        }
    }
}

/// One case: how to build the request's headers (fresh per surface: proofs are single-use),
/// and what both must answer.
struct Case {
    what: &'static str,
    method: &'static str,
    path: &'static str,
    headers: Box<dyn Fn() -> Vec<(&'static str, String)>>,
    /// Send it twice and judge the second answer (replay).
    twice: bool,
    status: StatusCode,
    code: Option<&'static str>,
}

#[tokio::test]
async fn both_surfaces_answer_every_credential_case_the_same() {
    let sso = TestIssuer::start().await.expect("issuer");
    let client = Arc::new(DpopClient::generate(Algorithm::ES256).expect("key"));
    let other = Arc::new(DpopClient::generate(Algorithm::ES256).expect("key"));
    let good = sso.token().aud("api").sign();
    let scoped = sso
        .token()
        .aud("api")
        .claim("scope", json!("tasks:read"))
        .sign();
    let expired = sso.token().aud("api").exp_in(-600).iat_in(-1200).sign();
    let wrong_aud = sso.token().aud("someone-else").sign();
    // One character in the middle of the signature changed: a well-formed, wrong signature.
    let forged = {
        let mut bytes = good.clone().into_bytes();
        let at = bytes.len() - 20;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).expect("ascii")
    };
    let bound = sso.token().aud("api").cnf_jkt(&client.jkt()).sign();
    let url = format!("{PUBLIC}/api/x");

    let bearer = |t: &str| ("authorization", format!("Bearer {t}"));
    let cases: Vec<Case> = vec![
        Case {
            what: "no credential",
            method: "GET",
            path: "/api/x",
            headers: Box::new(Vec::new),
            twice: false,
            status: StatusCode::UNAUTHORIZED,
            code: None,
        },
        Case {
            what: "good bearer token",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let h = vec![bearer(&good)];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::OK,
            code: None,
        },
        Case {
            what: "bad signature",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let h = vec![bearer(&forged)];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_token"),
        },
        Case {
            what: "expired",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let h = vec![bearer(&expired)];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_token"),
        },
        Case {
            what: "wrong audience",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let h = vec![bearer(&wrong_aud)];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_token"),
        },
        Case {
            what: "DPoP, good proof",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let (client, bound, url) = (client.clone(), bound.clone(), url.clone());
                move || {
                    vec![
                        ("authorization", format!("DPoP {bound}")),
                        ("dpop", client.proof("GET", &url, &bound).sign()),
                    ]
                }
            }),
            twice: false,
            status: StatusCode::OK,
            code: None,
        },
        Case {
            what: "DPoP, proof for another URL",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let (client, bound) = (client.clone(), bound.clone());
                move || {
                    vec![
                        ("authorization", format!("DPoP {bound}")),
                        (
                            "dpop",
                            client
                                .proof("GET", "https://other.example/api/x", &bound)
                                .sign(),
                        ),
                    ]
                }
            }),
            twice: false,
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_dpop_proof"),
        },
        Case {
            what: "DPoP, proof by another key",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let (other, bound, url) = (other.clone(), bound.clone(), url.clone());
                move || {
                    vec![
                        ("authorization", format!("DPoP {bound}")),
                        ("dpop", other.proof("GET", &url, &bound).sign()),
                    ]
                }
            }),
            twice: false,
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_dpop_proof"),
        },
        Case {
            what: "DPoP, replayed proof",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let proof = client.proof("GET", &url, &bound).sign();
                let h = vec![("authorization", format!("DPoP {bound}")), ("dpop", proof)];
                move || h.clone()
            }),
            twice: true,
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_dpop_proof"),
        },
        Case {
            what: "DPoP-bound token sent as Bearer",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let h = vec![bearer(&bound)];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_token"),
        },
        Case {
            what: "two Authorization headers",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let h = vec![bearer(&good), bearer(&good)];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_token"),
        },
        Case {
            what: "two token cookies",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let h = vec![("cookie", format!("sso={good}; sso={good}"))];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::UNAUTHORIZED,
            code: Some("invalid_token"),
        },
        Case {
            what: "cookie, same-origin POST",
            method: "POST",
            path: "/api/x",
            headers: Box::new({
                let h = vec![
                    ("cookie", format!("sso={good}")),
                    ("origin", PUBLIC.to_string()),
                ];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::OK,
            code: None,
        },
        Case {
            what: "cookie, cross-site POST",
            method: "POST",
            path: "/api/x",
            headers: Box::new({
                let h = vec![
                    ("cookie", format!("sso={good}")),
                    ("origin", "https://evil.example".to_string()),
                    ("content-type", "application/json".to_string()),
                ];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::FORBIDDEN,
            code: None,
        },
        Case {
            what: "cookie, cross-site WebSocket handshake",
            method: "GET",
            path: "/api/x",
            headers: Box::new({
                let h = vec![
                    ("cookie", format!("sso={good}")),
                    ("origin", "https://evil.example".to_string()),
                    ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==".to_string()),
                    ("sec-websocket-version", "13".to_string()),
                ];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::FORBIDDEN,
            code: None,
        },
        Case {
            what: "insufficient scope",
            method: "GET",
            path: "/scoped",
            headers: Box::new({
                let h = vec![bearer(&scoped)];
                move || h.clone()
            }),
            twice: false,
            status: StatusCode::FORBIDDEN,
            code: Some("insufficient_scope"),
        },
    ];

    let surfaces = [
        Surface::Axum(axum_app(&sso).await),
        Surface::Gateway(gateway(&sso).await),
    ];
    for case in &cases {
        let mut answers = Vec::new();
        for surface in &surfaces {
            let headers = (case.headers)();
            let mut answer = surface.send(case.method, case.path, &headers).await;
            if case.twice {
                answer = surface.send(case.method, case.path, &headers).await;
            }
            let what = format!("{} on {}: {answer:?}", case.what, surface.name());
            assert_eq!(answer.status, case.status, "{what}");
            assert_eq!(
                answer.codes.first().map(String::as_str),
                case.code,
                "{what}"
            );
            if case.code == Some("insufficient_scope") {
                assert_eq!(answer.scope.as_deref(), Some("tasks:write"), "{what}");
            }
            if case.status != StatusCode::OK {
                assert!(answer.body["detail"].is_string(), "{what}");
            }
            answers.push(answer);
        }
        let (a, g) = (&answers[0], &answers[1]);
        assert_eq!(a.codes, g.codes, "{}: error codes differ", case.what);
        assert_eq!(
            a.challenges, g.challenges,
            "{}: challenges differ",
            case.what
        );
        if case.status == StatusCode::UNAUTHORIZED {
            assert!(
                a.challenges.iter().any(|c| c.starts_with("DPoP ")),
                "{}: a DPoP challenge where DPoP is accepted: {:?}",
                case.what,
                a.challenges
            );
        }
        if case.status != StatusCode::OK {
            assert_eq!(a.body, g.body, "{}: bodies differ", case.what);
        }
    }
}

/// RFC 9728 metadata names what DPoP the gateway accepts (RFC 9449 §5.1): Better Auth's proof
/// algorithms by default, and bound tokens not required.
#[tokio::test]
async fn the_gateway_metadata_names_dpop() {
    let sso = TestIssuer::start().await.expect("issuer");
    let app = gateway(&sso).await;
    let req = Request::get("/.well-known/oauth-protected-resource")
        .body(Body::empty())
        .expect("request");
    let resp = app.router().oneshot(req).await.expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let meta: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(meta["resource"], PUBLIC);
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["EdDSA", "ES256", "ES512", "PS256", "RS256"]),
        "{meta}"
    );
    assert!(meta.get("dpop_bound_access_tokens_required").is_none());
}

/// Without `public_url`, a DPoP proof's `htu` is the front's `X-Forwarded-Proto`/`-Host` (in
/// forward-auth-only mode the port answers the front) and the original path; a proof naming
/// another origin is refused.
#[tokio::test]
async fn the_gateway_takes_the_dpop_url_from_the_front() {
    let sso = TestIssuer::start().await.expect("issuer");
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nfront = \"nginx\"\n\n[[issuer]]\nname = \"a\"\nissuer = \"{}\"\n\
         audiences = [\"api\"]\n\n[[route]]\npath = \"/api\"\n",
        sso.issuer()
    );
    let config = Config::from_toml(&toml, "front.toml", &|_| None).expect("config");
    let app = App::build(config).await.expect("app");
    let client = DpopClient::generate(Algorithm::EdDSA).expect("key");
    let bound = sso.token().aud("api").cnf_jkt(&client.jkt()).sign();
    let ask = |proof: String| {
        Request::get("/_ssoguard/auth")
            .header("x-original-method", "DELETE")
            .header("x-original-uri", "/api/tasks/7?force=1")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "app.example")
            .header("authorization", format!("DPoP {bound}"))
            .header("dpop", proof)
            .body(Body::empty())
            .expect("request")
    };
    let good = client
        .proof("DELETE", "https://app.example/api/tasks/7", &bound)
        .sign();
    let resp = app.router().oneshot(ask(good)).await.expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    for (method, url) in [
        ("DELETE", "http://app.example/api/tasks/7"),
        ("DELETE", "https://gw.internal/api/tasks/7"),
        ("GET", "https://app.example/api/tasks/7"),
    ] {
        let proof = client.proof(method, url, &bound).sign();
        let resp = app.router().oneshot(ask(proof)).await.expect("response");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{method} {url}");
        let challenges: Vec<_> = resp.headers().get_all("www-authenticate").iter().collect();
        assert!(
            challenges[1]
                .to_str()
                .expect("ascii")
                .contains("error=\"invalid_dpop_proof\""),
            "{challenges:?}"
        );
    }
}

/// `dpop_required = true`: a bearer token is refused with the DPoP challenge alone, a bound
/// token with its proof passes, and the RFC 9728 metadata says bound tokens are required.
#[tokio::test]
async fn with_dpop_required_the_gateway_refuses_bearer_tokens() {
    let sso = TestIssuer::start().await.expect("issuer");
    let toml = format!(
        "listen = \"127.0.0.1:0\"\npublic_url = \"{PUBLIC}\"\ndpop_required = true\n\n\
         [[issuer]]\nname = \"a\"\nissuer = \"{}\"\naudiences = [\"api\"]\n\n\
         [[route]]\npath = \"/api\"\n",
        sso.issuer()
    );
    let config = Config::from_toml(&toml, "required.toml", &|_| None).expect("config");
    let app = App::build(config).await.expect("app");
    let ask = |authorization: String, proof: Option<String>| {
        let mut req = Request::get("/_ssoguard/auth")
            .header("x-original-method", "GET")
            .header("x-original-uri", "/api/me")
            .header("authorization", authorization);
        if let Some(proof) = proof {
            req = req.header("dpop", proof);
        }
        req.body(Body::empty()).expect("request")
    };
    let plain = sso.token().aud("api").sign();
    let resp = app
        .router()
        .oneshot(ask(format!("Bearer {plain}"), None))
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<String> = resp
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect();
    assert!(
        !challenges.is_empty() && challenges.iter().all(|c| c.starts_with("DPoP")),
        "only the DPoP challenge: {challenges:?}"
    );

    let client = DpopClient::generate(Algorithm::ES256).expect("key");
    let bound = sso.token().aud("api").cnf_jkt(&client.jkt()).sign();
    let proof = client
        .proof("GET", &format!("{PUBLIC}/api/me"), &bound)
        .sign();
    let resp = app
        .router()
        .oneshot(ask(format!("DPoP {bound}"), Some(proof)))
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);

    let req = Request::get("/.well-known/oauth-protected-resource")
        .body(Body::empty())
        .expect("request");
    let resp = app.router().oneshot(req).await.expect("response");
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let meta: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(
        meta["dpop_bound_access_tokens_required"],
        json!(true),
        "{meta}"
    );
}
