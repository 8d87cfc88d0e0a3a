//! Crypto floor: signature verifications per second on one core (run it under `taskset -c 0`).
//!
//! For each algorithm, over the key server's distinct tokens:
//!
//! - `bare`: `aws_lc_rs::signature::ParsedPublicKey::verify_sig` with the key parsed once, on
//!   the signing input and the **pre-decoded** signature (base64 decoding excluded, as in the
//!   criterion bench `bare_sig`);
//! - `library`: `ssoguard::Verifier::verify` with the verified-token cache disabled, keys warm,
//!   signature batching off (everything a request pays for verification, without HTTP);
//! - `library_queued_alone`: the same with the default signature batching, one call at a time,
//!   each in its own `block_on` (every check is a queue of one: what a lone request pays for
//!   the queue and its extra yield to the runtime).
//!
//! Prints one JSON object per line.
//!
//! usage: crypto-floor [--dir bench/results/tokens] [--seconds 3]

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ssoguard::{TokenCacheConfig, Verifier};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn b64(value: &serde_json::Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(value.as_str().expect("JWK member is a string"))
        .expect("JWK member is base64url")
}

fn key_for(jwks: &serde_json::Value, alg: &str) -> ParsedPublicKey {
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["alg"] == alg)
        .unwrap_or_else(|| panic!("no {alg} key in jwks.json"));
    match alg {
        "EdDSA" => ParsedPublicKey::new(&signature::ED25519, b64(&jwk["x"])).expect("Ed25519 key"),
        "RS256" => {
            let (n, e) = (b64(&jwk["n"]), b64(&jwk["e"]));
            RsaPublicKeyComponents { n: &n, e: &e }
                .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                .expect("RSA key")
        }
        other => panic!("unsupported alg {other}"),
    }
}

/// Runs `op(i)` for `seconds` (after a short warm-up); returns operations per second.
fn rate(seconds: f64, mut op: impl FnMut(usize)) -> (u64, f64) {
    let warm = Instant::now();
    let mut i = 0usize;
    while warm.elapsed() < Duration::from_millis(500) {
        op(i);
        i += 1;
    }
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..64 {
            op(i);
            i += 1;
        }
        n += 64;
        if start.elapsed().as_secs_f64() >= seconds {
            break;
        }
    }
    (n, n as f64 / start.elapsed().as_secs_f64())
}

fn main() {
    let mut dir = PathBuf::from("bench/results/tokens");
    let mut seconds = 3.0f64;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match (flag.as_str(), it.next()) {
            ("--dir", Some(v)) => dir = PathBuf::from(v),
            ("--seconds", Some(v)) => seconds = v.parse().expect("--seconds is a number"),
            _ => {
                eprintln!("usage: crypto-floor [--dir DIR] [--seconds 3]");
                std::process::exit(2);
            }
        }
    }
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.join(name).display()))
    };
    let jwks: serde_json::Value = serde_json::from_str(&read("jwks.json")).expect("jwks.json");
    let issuer = read("issuer.txt");
    let audience = read("audience.txt");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let builder = Verifier::builder()
        .authority(issuer.trim())
        .audience(audience.trim())
        .token_cache(TokenCacheConfig::default().enabled(false));
    let verifier = builder
        .clone()
        .signature_batching(false)
        .build()
        .expect("verifier");
    let queued = builder.build().expect("verifier");
    for v in [&verifier, &queued] {
        rt.block_on(v.warm_up())
            .expect("keys load from the key server");
    }

    for (alg, file) in [
        ("EdDSA", "eddsa-distinct.txt"),
        ("RS256", "rs256-distinct.txt"),
    ] {
        let tokens: Vec<String> = read(file).lines().map(str::to_owned).collect();
        let key = key_for(&jwks, alg);
        let split: Vec<(Vec<u8>, Vec<u8>)> = tokens
            .iter()
            .map(|t| {
                let dot = t.rfind('.').expect("compact JWS");
                let sig = URL_SAFE_NO_PAD.decode(&t[dot + 1..]).expect("signature");
                (t.as_bytes()[..dot].to_vec(), sig)
            })
            .collect();
        let (n, bare) = rate(seconds, |i| {
            let (input, sig) = &split[i % split.len()];
            key.verify_sig(black_box(input), black_box(sig))
                .expect("signature verifies");
        });
        report("bare", alg, n, bare);
        for (name, v) in [("library", &verifier), ("library_queued_alone", &queued)] {
            let (n, per_sec) = rate(seconds, |i| {
                let token = &tokens[i % tokens.len()];
                rt.block_on(v.verify(black_box(token)))
                    .expect("token verifies");
            });
            report(name, alg, n, per_sec);
        }
    }
}

/// One result line: `{"kind": "crypto", "impl", "alg", "ops", "per_sec", "ns_per_op"}`.
fn report(name: &str, alg: &str, ops: u64, per_sec: f64) {
    println!(
        "{}",
        serde_json::json!({"kind": "crypto", "impl": name, "alg": alg, "ops": ops,
            "per_sec": per_sec.round(), "ns_per_op": (1e9 / per_sec).round()})
    );
}
