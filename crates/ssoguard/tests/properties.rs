//! Property tests: arbitrary bytes and arbitrarily mutated valid tokens never panic the verifier
//! and are never accepted.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use ssoguard::testing::TestIssuer;
use ssoguard::{Algorithm, TokenCacheConfig, Verifier};
use std::sync::OnceLock;

struct Fixture {
    rt: tokio::runtime::Runtime,
    _issuer: TestIssuer,
    verifier: Verifier,
    tokens: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (issuer, verifier, tokens) = rt.block_on(async {
            let issuer = TestIssuer::start_all_algorithms().await.expect("issuer");
            let verifier = Verifier::builder()
                .authority(issuer.origin())
                .audience("test-client")
                .token_cache(TokenCacheConfig::default().enabled(false))
                .build()
                .expect("verifier");
            let tokens: Vec<String> = [
                Algorithm::EdDSA,
                Algorithm::ES256,
                Algorithm::ES512,
                Algorithm::RS256,
                Algorithm::PS256,
            ]
            .into_iter()
            .map(|alg| issuer.token().alg(alg).sign())
            .collect();
            for t in &tokens {
                verifier.verify(t).await.expect("valid token verifies");
            }
            (issuer, verifier, tokens)
        });
        Fixture {
            rt,
            _issuer: issuer,
            verifier,
            tokens,
        }
    })
}

fn rejects(token: &str) -> bool {
    let f = fixture();
    f.rt.block_on(f.verifier.verify(token)).is_err()
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte(usize, u8),
    Truncate(usize),
    Insert(usize, char),
    SwapSegments,
    ReplaceHeader(String),
    ReplacePayload(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::FlipByte(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<char>()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        Just(Mutation::SwapSegments),
        "\\PC{0,64}".prop_map(Mutation::ReplaceHeader),
        "\\PC{0,128}".prop_map(Mutation::ReplacePayload),
    ]
}

fn apply(token: &str, m: &Mutation) -> Option<String> {
    let mut bytes = token.as_bytes().to_vec();
    match m {
        Mutation::FlipByte(i, x) => {
            let i = i % bytes.len();
            bytes[i] ^= x;
        }
        Mutation::Truncate(i) => bytes.truncate(i % bytes.len()),
        Mutation::Insert(i, c) => {
            let i = i % bytes.len();
            let mut buf = [0u8; 4];
            let s = c.encode_utf8(&mut buf);
            bytes.splice(i..i, s.bytes());
        }
        Mutation::SwapSegments => {
            let parts: Vec<&str> = token.split('.').collect();
            return Some(format!("{}.{}.{}", parts[1], parts[0], parts[2]));
        }
        Mutation::ReplaceHeader(h) => {
            let parts: Vec<&str> = token.split('.').collect();
            return Some(format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(h),
                parts[1],
                parts[2]
            ));
        }
        Mutation::ReplacePayload(p) => {
            let parts: Vec<&str> = token.split('.').collect();
            return Some(format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(p),
                parts[2]
            ));
        }
    }
    String::from_utf8(bytes).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_are_never_accepted(s in "\\PC{0,400}") {
        prop_assert!(rejects(&s));
    }

    #[test]
    fn arbitrary_bytes_are_never_accepted(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let s = String::from_utf8_lossy(&bytes);
        prop_assert!(rejects(&s));
    }

    #[test]
    fn dotted_base64_garbage_is_never_accepted(a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,120}") {
        let token = format!("{a}.{b}.{c}");
        prop_assert!(rejects(&token));
    }

    #[test]
    fn mutated_valid_tokens_are_never_accepted(which in 0usize..5, m in mutation()) {
        let f = fixture();
        let token = &f.tokens[which];
        if let Some(mutated) = apply(token, &m) {
            prop_assume!(&mutated != token);
            prop_assert!(rejects(&mutated), "accepted after {:?}", m);
        }
    }
}
