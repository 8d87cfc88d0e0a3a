//! Discovery against the layouts Better Auth is deployed in: the docs' root alias
//! (`oauthProviderOpenIdConfigMetadata(auth)` at `/.well-known/openid-configuration`), the native
//! `/api/auth` location only, a custom `basePath`, and the wrong documents that must never be
//! accepted. A small document server plays the SSO's origin; the keys and tokens are the
//! [`TestIssuer`]'s, so every verification below checks a real signature.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use ssoguard::testing::TestIssuer;
use ssoguard::{DiscoveryError, ProviderMetadata};
use ssoguard::{Verifier, VerifyError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// An SSO origin serving chosen discovery documents (404 elsewhere), counting fetches per path.
struct Origin {
    origin: String,
    docs: Arc<Mutex<HashMap<String, Value>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

type Shared = (
    Arc<Mutex<HashMap<String, Value>>>,
    Arc<Mutex<HashMap<String, usize>>>,
);

async fn serve(State((docs, hits)): State<Shared>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    *hits.lock().expect("lock").entry(path.clone()).or_default() += 1;
    match docs.lock().expect("lock").get(&path) {
        Some(doc) => axum::Json(doc.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl Origin {
    async fn start() -> Origin {
        let docs = Arc::new(Mutex::new(HashMap::new()));
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let app = Router::new()
            .fallback(serve)
            .with_state((docs.clone(), hits.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Origin { origin, docs, hits }
    }

    /// Serves at `path` a document naming `issuer`, with the test issuer's keys.
    fn serve_doc(&self, path: &str, issuer: &str, keys: &TestIssuer) {
        self.serve_json(
            path,
            json!({"issuer": issuer, "jwks_uri": keys.jwks_url(),
                   "id_token_signing_alg_values_supported": ["EdDSA"]}),
        );
    }

    fn serve_json(&self, path: &str, doc: Value) {
        self.docs
            .lock()
            .expect("lock")
            .insert(path.to_string(), doc);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn api_auth(&self) -> String {
        format!("{}/api/auth", self.origin)
    }
}

const ROOT: &str = "/.well-known/openid-configuration";
const API_AUTH: &str = "/api/auth/.well-known/openid-configuration";

fn verifier(authority: &str) -> Verifier {
    Verifier::builder()
        .authority(authority)
        .audience("test-client")
        .build()
        .expect("config")
}

/// Verifies a token with `iss` under `authority`'s verifier and returns the verdict.
async fn verdict(authority: &str, keys: &TestIssuer, iss: &str) -> Result<(), VerifyError> {
    let token = keys.token().sub("alice").iss(iss).sign();
    verifier(authority).verify(&token).await.map(|c| {
        assert_eq!(c.sub, "alice");
    })
}

#[tokio::test]
async fn origin_with_the_docs_root_alias_naming_api_auth_is_accepted() {
    // The layout: the root alias names <origin>/api/auth, AUTH_SERVER_URL=<origin>.
    let keys = TestIssuer::start().await.expect("issuer");
    let sso = Origin::start().await;
    sso.serve_doc(ROOT, &sso.api_auth(), &keys);
    sso.serve_doc(API_AUTH, &sso.api_auth(), &keys);
    for authority in [sso.origin.clone(), format!("{}/", sso.origin)] {
        verdict(&authority, &keys, &sso.api_auth())
            .await
            .unwrap_or_else(|e| panic!("{authority}: {e:?}"));
    }
    assert_eq!(
        sso.hits(ROOT),
        2,
        "the root document was taken, once per verifier"
    );
    assert_eq!(sso.hits(API_AUTH), 0);
    // The issuer is exact: the origin itself, or a trailing slash, in `iss` is refused.
    let v = verifier(&sso.origin);
    for iss in [sso.origin.clone(), format!("{}/", sso.api_auth())] {
        let token = keys.token().iss(&iss).sign();
        assert_eq!(
            v.verify(&token).await.unwrap_err(),
            VerifyError::IssuerMismatch,
            "{iss}"
        );
    }
}

#[tokio::test]
async fn origin_without_a_root_alias_and_origin_as_issuer_both_work() {
    let keys = TestIssuer::start().await.expect("issuer");
    // Native Better Auth: only /api/auth serves it.
    let native = Origin::start().await;
    native.serve_doc(API_AUTH, &native.api_auth(), &keys);
    verdict(&native.origin, &keys, &native.api_auth())
        .await
        .expect("native layout, origin");
    verdict(&native.api_auth(), &keys, &native.api_auth())
        .await
        .expect("native layout, issuer");
    assert_eq!(native.hits(ROOT), 1, "the root was tried first, once");
    // A provider whose issuer is the origin itself.
    let generic = Origin::start().await;
    generic.serve_doc(ROOT, &generic.origin, &keys);
    verdict(&generic.origin, &keys, &generic.origin)
        .await
        .expect("issuer = origin");
    // A root document naming another origin does not hide a good /api/auth document.
    let both = Origin::start().await;
    both.serve_doc(ROOT, "https://elsewhere.example/api/auth", &keys);
    both.serve_doc(API_AUTH, &both.api_auth(), &keys);
    verdict(&both.origin, &keys, &both.api_auth())
        .await
        .expect("second location");
}

#[tokio::test]
async fn another_origins_issuer_or_no_issuer_is_never_accepted() {
    let keys = TestIssuer::start().await.expect("issuer");
    let sso = Origin::start().await;
    let foreign = "http://localhost:3001/api/auth";
    sso.serve_doc(ROOT, foreign, &keys);
    // A token carrying the foreign issuer, signed by the keys the document points at: refused
    // because discovery refuses the document (503 class), not by luck.
    let v = verifier(&sso.origin);
    let err = v
        .verify(&keys.token().iss(foreign).sign())
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let logged = v.key_status().last_error.expect("last error");
    assert!(
        logged.contains(&format!("SSO_ISSUER={foreign}")),
        "{logged}"
    );

    match ProviderMetadata::fetch(&sso.origin, None).await {
        Err(DiscoveryError::IssuerNotUnderOrigin { origin, documents }) => {
            assert_eq!(origin, sso.origin);
            assert_eq!(
                documents,
                [
                    (
                        format!("{}{ROOT}", sso.origin),
                        format!("names issuer \"{foreign}\"")
                    ),
                    (
                        format!("{}{API_AUTH}", sso.origin),
                        "answered HTTP 404".to_string()
                    ),
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    // Same host, other scheme or port: another origin too.
    for other in [
        sso.origin.replace("http://", "https://"),
        format!("{}0/api/auth", sso.origin),
    ] {
        sso.serve_doc(ROOT, &other, &keys);
        let err = ProviderMetadata::fetch(&sso.origin, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DiscoveryError::IssuerNotUnderOrigin { .. }),
            "{other}: {err:?}"
        );
    }
    // A document naming no issuer (or an empty one) is not a document.
    for doc in [
        json!({"jwks_uri": keys.jwks_url()}),
        json!({"issuer": "", "jwks_uri": keys.jwks_url()}),
    ] {
        sso.serve_json(ROOT, doc);
        let err = ProviderMetadata::fetch(&sso.origin, None)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DiscoveryError::NotFound { .. }), "{err:?}");
        assert!(
            msg.contains(&format!("{}{ROOT} (names no issuer)", sso.origin)),
            "{msg}"
        );
        assert!(msg.contains("AUTH_SERVER_URL=<origin><basePath>"), "{msg}");
    }
}

#[tokio::test]
async fn a_custom_base_path_is_its_own_issuer() {
    let keys = TestIssuer::start().await.expect("issuer");
    let sso = Origin::start().await;
    let issuer = format!("{}/auth", sso.origin);
    sso.serve_doc("/auth/.well-known/openid-configuration", &issuer, &keys);
    verdict(&issuer, &keys, &issuer)
        .await
        .expect("AUTH_SERVER_URL=<origin>/auth");
    verdict(&format!("{issuer}/"), &keys, &issuer)
        .await
        .expect("AUTH_SERVER_URL=<origin>/auth/");
    // Given the bare origin, nothing is found under the two default places.
    let err = ProviderMetadata::fetch(&sso.origin, None)
        .await
        .unwrap_err();
    assert!(matches!(err, DiscoveryError::NotFound { .. }), "{err:?}");
    // With the root alias, the origin's document names /auth: explained, not accepted.
    sso.serve_doc(ROOT, &issuer, &keys);
    let err = ProviderMetadata::fetch(&sso.origin, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("set AUTH_SERVER_URL={issuer}")),
        "{err}"
    );
    // A path is the issuer exactly: a document naming another issuer is a mismatch.
    sso.serve_doc(
        "/auth/.well-known/openid-configuration",
        &sso.api_auth(),
        &keys,
    );
    match ProviderMetadata::fetch(&issuer, None).await {
        Err(DiscoveryError::IssuerMismatch {
            found, expected, ..
        }) => {
            assert_eq!((found, expected), (sso.api_auth(), issuer.clone()));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_path_issuer_found_only_at_the_root_alias() {
    let keys = TestIssuer::start().await.expect("issuer");
    let sso = Origin::start().await;
    sso.serve_doc(ROOT, &sso.api_auth(), &keys);
    let meta = ProviderMetadata::fetch(&sso.api_auth(), None)
        .await
        .expect("root alias for the configured issuer");
    assert_eq!(meta.issuer, sso.api_auth());
    assert_eq!((sso.hits(API_AUTH), sso.hits(ROOT)), (1, 1));
}

#[tokio::test]
async fn an_unreachable_origin_is_unreachable() {
    let err = ProviderMetadata::fetch("http://127.0.0.1:9", None)
        .await
        .unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
}
