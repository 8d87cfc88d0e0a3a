//! Verification cost per algorithm: the library against the bare `aws-lc-rs` signature check.
//!
//! For each algorithm (`verify/<alg>`), on a warm key cache:
//!
//! - `library_distinct`: [`Verifier::verify`] with the verified-token cache **disabled**, cycling
//!   through 1,000 distinct pre-minted tokens (every call does the full work: size and shape
//!   checks, header JSON, signature base64 decode, key lookup, signature check, payload decode,
//!   claims JSON, claim checks, metrics);
//! - `bare_sig`: `ParsedPublicKey::verify_sig` on the same tokens' signing inputs and
//!   **pre-decoded** signatures, with a key parsed once (the crypto floor; base64 decoding of
//!   the signature is *excluded*);
//! - `bare_sig_b64`: the same plus the base64url decoding of the signature segment, so the
//!   remaining library overhead can be told apart from the decode every JWT library must do;
//! - `library_cached`: [`Verifier::verify`] with the default token cache, one repeated token;
//! - `library_distinct_unbatched`: `library_distinct` with
//!   [`signature_batching`](ssoguard::VerifierBuilder::signature_batching) off (so the
//!   difference is what the batch queue costs a lone request).
//!
//! And `verify/EdDSA-32-concurrent/{batching_on,batching_off}`: 32 verifications spawned at once
//! on a one-worker runtime, as 32 in-flight requests on one core (throughput per verification):
//! what Ed25519 batch checking gains under load.
//!
//! And `session/{cached_lookup,cookie_cache}`: a Better Auth session cookie through
//! [`SessionVerifier`](ssoguard::session::SessionVerifier) — HMAC check, then the session from
//! the lookup cache (one `get-session` per TTL, here served in-process), or from a signed
//! compact `session_data` cookie (HMAC, base64, JSON, rules on every call).
//!
//! And `organization/claims_member`: [`Organizations::member`](ssoguard::organization::Organizations::member)
//! on verified claims whose `org_id`/`org_role` name the membership (no lookup), with a
//! permission check: what an organization route adds to `library_cached`.
//!
//! Run: `cargo bench -p ssoguard --features testing --bench verify -- --warm-up-time 1 --measurement-time 3`
//! (results and analysis in `docs/benchmarks-log.md`).

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use ssoguard::testing::TestIssuer;
use ssoguard::{Algorithm, TokenCacheConfig, Verifier};
use std::time::Duration;

/// Distinct tokens per algorithm (cycled through by the distinct-token benches).
const TOKENS: usize = 1_000;

/// The algorithms Better Auth signs with.
const ALGS: [Algorithm; 5] = [
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::ES256,
    Algorithm::ES512,
    Algorithm::PS256,
];

/// One token split for the bare check: signing input, signature segment, decoded signature.
struct Split {
    signing_input: Vec<u8>,
    sig_b64: String,
    sig: Vec<u8>,
}

fn split(token: &str) -> Split {
    let dot = token.rfind('.').expect("a compact JWS");
    let sig_b64 = token[dot + 1..].to_string();
    Split {
        signing_input: token.as_bytes()[..dot].to_vec(),
        sig: URL_SAFE_NO_PAD
            .decode(&sig_b64)
            .expect("base64url signature"),
        sig_b64,
    }
}

/// The issuer's public key for `alg`, parsed once, as ssoguard parses JWKS keys.
fn bare_key(issuer: &TestIssuer, alg: Algorithm) -> ParsedPublicKey {
    let key = issuer.key(alg).expect("the issuer has a key per algorithm");
    let jwk = key.public_jwk();
    let b64 = |member: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[member].as_str().expect("JWK member"))
            .expect("base64url JWK member")
    };
    let rsa = |params: &'static signature::RsaParameters| {
        let (n, e) = (b64("n"), b64("e"));
        RsaPublicKeyComponents { n: &n, e: &e }
            .to_parsed_public_key(params)
            .expect("RSA key")
    };
    let raw = |alg: &'static dyn signature::VerificationAlgorithm| {
        ParsedPublicKey::new(alg, key.public_key_bytes()).expect("public key")
    };
    match alg {
        Algorithm::EdDSA => raw(&signature::ED25519),
        Algorithm::ES256 => raw(&signature::ECDSA_P256_SHA256_FIXED),
        Algorithm::ES512 => raw(&signature::ECDSA_P521_SHA512_FIXED),
        Algorithm::RS256 => rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::PS256 => rsa(&signature::RSA_PSS_2048_8192_SHA256),
        other => panic!("no bare key for {other}"),
    }
}

fn verify_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let issuer = rt
        .block_on(TestIssuer::start_all_algorithms())
        .expect("test issuer");
    let builder = || {
        Verifier::builder()
            .authority(issuer.origin())
            .audience("test-client")
    };
    let no_cache = TokenCacheConfig::default().enabled(false);
    let uncached = builder().token_cache(no_cache).build().expect("verifier");
    let unbatched = builder()
        .token_cache(no_cache)
        .signature_batching(false)
        .build()
        .expect("verifier");
    let cached = builder().build().expect("verifier");
    rt.block_on(async {
        uncached.warm_up().await.expect("keys load");
        unbatched.warm_up().await.expect("keys load");
        cached.warm_up().await.expect("keys load");
    });

    for alg in ALGS {
        // Better-Auth-shaped id_tokens: iss, sub, aud, iat, exp, email, name, role.
        let tokens: Vec<String> = (0..TOKENS)
            .map(|i| {
                issuer
                    .token()
                    .alg(alg)
                    .sub(&format!("user-{i:05}"))
                    .email(&format!("user{i}@example.com"))
                    .name(&format!("User {i}"))
                    .role("user")
                    .sign()
            })
            .collect();
        let splits: Vec<Split> = tokens.iter().map(|t| split(t)).collect();
        let key = bare_key(&issuer, alg);
        for (token, s) in tokens.iter().zip(&splits) {
            assert!(key.verify_sig(&s.signing_input, &s.sig).is_ok());
            rt.block_on(uncached.verify(token)).expect("token verifies");
        }
        let repeated = tokens[0].clone();
        let hits = cached.metrics().cache_hits;
        rt.block_on(cached.verify(&repeated))
            .expect("token verifies");
        rt.block_on(cached.verify(&repeated))
            .expect("token verifies");
        assert!(
            cached.metrics().cache_hits > hits,
            "the repeated token hits the cache"
        );

        let mut group = c.benchmark_group(format!("verify/{alg}"));
        group.throughput(Throughput::Elements(1));

        let mut i = 0usize;
        group.bench_function(BenchmarkId::from_parameter("library_distinct"), |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 1) % TOKENS;
                let token = &tokens[i];
                let verifier = &uncached;
                async move { verifier.verify(black_box(token)).await.expect("verifies") }
            });
        });

        let mut i = 0usize;
        group.bench_function(
            BenchmarkId::from_parameter("library_distinct_unbatched"),
            |b| {
                b.to_async(&rt).iter(|| {
                    i = (i + 1) % TOKENS;
                    let token = &tokens[i];
                    let verifier = &unbatched;
                    async move { verifier.verify(black_box(token)).await.expect("verifies") }
                });
            },
        );

        let mut i = 0usize;
        group.bench_function(BenchmarkId::from_parameter("bare_sig"), |b| {
            b.iter(|| {
                i = (i + 1) % TOKENS;
                let s = &splits[i];
                key.verify_sig(black_box(&s.signing_input), black_box(&s.sig))
                    .expect("verifies");
            });
        });

        let mut i = 0usize;
        group.bench_function(BenchmarkId::from_parameter("bare_sig_b64"), |b| {
            b.iter(|| {
                i = (i + 1) % TOKENS;
                let s = &splits[i];
                let sig = URL_SAFE_NO_PAD
                    .decode(black_box(&s.sig_b64))
                    .expect("base64url");
                key.verify_sig(black_box(&s.signing_input), &sig)
                    .expect("verifies");
            });
        });

        group.bench_function(BenchmarkId::from_parameter("library_cached"), |b| {
            b.to_async(&rt).iter(|| {
                let verifier = &cached;
                let token = repeated.as_str();
                async move { verifier.verify(black_box(token)).await.expect("verifies") }
            });
        });
        group.finish();

        if alg == Algorithm::EdDSA {
            concurrent_benches(c, &rt, &tokens, &uncached, &unbatched);
        }
    }
    assert_eq!(
        uncached.metrics().cache_hits,
        0,
        "the uncached verifier never hits"
    );
}

/// 32 verifications in flight at once, with and without Ed25519 batch checking.
fn concurrent_benches(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    tokens: &[String],
    batching: &Verifier,
    single: &Verifier,
) {
    const IN_FLIGHT: usize = 32;
    let tokens: std::sync::Arc<Vec<String>> = std::sync::Arc::new(tokens.to_vec());
    let mut group = c.benchmark_group("verify/EdDSA-32-concurrent");
    group.throughput(Throughput::Elements(IN_FLIGHT as u64));
    for (name, verifier) in [("batching_on", batching), ("batching_off", single)] {
        let mut next = 0usize;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.to_async(rt).iter(|| {
                let start = next;
                next = (next + IN_FLIGHT) % TOKENS;
                let handles: Vec<_> = (0..IN_FLIGHT)
                    .map(|k| {
                        let verifier = verifier.clone();
                        let tokens = std::sync::Arc::clone(&tokens);
                        tokio::spawn(async move {
                            let token = &tokens[(start + k) % TOKENS];
                            verifier.verify(black_box(token)).await.map(|_| ())
                        })
                    })
                    .collect();
                async move {
                    for h in handles {
                        h.await.expect("task").expect("verifies");
                    }
                }
            });
        });
    }
    group.finish();
}

/// Session cookies: the cached-lookup path and the cookie-cache path.
fn session_benches(c: &mut Criterion) {
    use ssoguard::session::{
        SessionSecret, SessionVerifier, sign_session_token, write_compact_cookie_cache,
    };
    const SECRET: &str = "bench-secret-0123456789abcdef0123456789abcdef";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let session = serde_json::json!({"id": "sid-1", "token": "tok-1", "userId": "u1",
        "expiresAt": "2099-01-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z"});
    let user = serde_json::json!({"id": "u1", "email": "u1@example.com", "name": "U One",
        "emailVerified": true, "role": "user", "banned": false});
    let answer = serde_json::json!({"session": session, "user": user});
    // Better Auth's get-session, in-process: asked once per TTL.
    let base = rt.block_on(async move {
        let router = axum::Router::new().route(
            "/api/auth/get-session",
            axum::routing::get(move || {
                let answer = answer.clone();
                async move { axum::Json(answer) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}/api/auth")
    });
    let secret = SessionSecret::new(SECRET).expect("secret");
    let sessions = SessionVerifier::builder()
        .secret(secret.clone())
        .remote(&base)
        .cache_ttl(Duration::from_secs(3600))
        .build()
        .expect("sessions");
    let token_cookie = format!(
        "better-auth.session_token={}",
        sign_session_token("tok-1", &secret)
    );
    let expires = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms")
        + 3_600_000;
    let with_cache = format!(
        "{token_cookie}; better-auth.session_data={}",
        write_compact_cookie_cache(&session, &user, expires, &secret)
    );
    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(1));
    for (name, cookie) in [
        ("cached_lookup", &token_cookie),
        ("cookie_cache", &with_cache),
    ] {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.to_async(&rt).iter(|| {
                let sessions = &sessions;
                let cookie = cookie.as_str();
                async move {
                    sessions
                        .verify_cookie_header([black_box(cookie)])
                        .await
                        .expect("verifies")
                }
            });
        });
    }
    group.finish();
    assert_eq!(sessions.metrics().session_lookups, 1, "one lookup per TTL");
}

fn organization_benches(c: &mut Criterion) {
    use ssoguard::organization::{AccessControl, OrganizationSource, Organizations, Statements};
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let organizations = Organizations::builder()
        .source(OrganizationSource::PathSegment("org_id".into()))
        .access_control(
            AccessControl::default().grant("member", Statements::new().allow("task", ["create"])),
        )
        .build()
        .expect("organizations");
    let claims = std::sync::Arc::new(
        ssoguard::TokenClaims::from_json(&serde_json::json!({
            "iss": "https://sso", "sub": "u1", "aud": "api", "exp": 4_000_000_000_i64,
            "org_id": "org-1", "org_role": "member"
        }))
        .expect("claims"),
    );
    let permission = "task:create".parse().expect("permission");
    let mut group = c.benchmark_group("organization");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::from_parameter("claims_member"), |b| {
        b.iter(|| {
            let member = rt
                .block_on(organizations.member(black_box(&claims), Some("org-1")))
                .expect("member");
            assert!(member.can(&permission));
            member
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = verify_benches, session_benches, organization_benches
}
criterion_main!(benches);
