//! Replays the committed fuzz corpora (`fuzz/corpus/*`) as a regular test, so CI keeps every
//! input the fuzzers found interesting: no panic, and only the signed seeds are accepted.

use ssoguard::ParsedKeySet;
use ssoguard::{Algorithm, Verifier};
use std::path::Path;

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn verify_corpus_replays_without_panics() {
    let jwks =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fixtures-jwks.json"))
            .expect("fixtures");
    let verifier = Verifier::builder()
        .issuer("https://issuer.example/api/auth")
        .audience("fuzz-client")
        .static_jwks(jwks)
        .build()
        .expect("verifier");
    let files = corpus("verify");
    assert!(files.len() >= 5);
    // libFuzzer may store a seed again under its hash: identical bytes count as that seed.
    let seeds: Vec<&Vec<u8>> = files
        .iter()
        .filter(|(n, _)| n.starts_with("seed-"))
        .map(|(_, d)| d)
        .collect();
    assert_eq!(seeds.len(), 5);
    for (name, data) in &files {
        let token = String::from_utf8_lossy(data);
        let result = verifier.verify(&token).await;
        if seeds.contains(&data) {
            assert!(result.is_ok(), "{name}: {result:?}");
        } else {
            assert!(result.is_err(), "{name} was accepted");
        }
    }
}

#[test]
fn jwks_corpus_replays_without_panics() {
    let files = corpus("jwks");
    assert!(files.len() >= 6);
    for (name, data) in &files {
        let result = ParsedKeySet::parse(data, &Algorithm::ALL, 100);
        if name.starts_with("seed-") {
            assert!(result.is_ok(), "{name}: {result:?}");
        }
    }
}
