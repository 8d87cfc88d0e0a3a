//! Key server + token minter for the load benchmark.
//!
//! Starts an `ssoguard::testing::TestIssuer` (Better-Auth-shaped discovery and JWKS) with one
//! EdDSA and one RS256 key on a fixed address, mints the benchmark's tokens into files, then
//! keeps serving until killed:
//!
//! - `<out>/eddsa-distinct.txt`, `<out>/rs256-distinct.txt`: `--tokens` distinct tokens each
//!   (one user per token: `sub`, `email`, `name`, `role`), one per line;
//! - `<out>/eddsa-repeated.txt`, `<out>/rs256-repeated.txt`: one token each;
//! - `<out>/jwks.json` (the public keys), `<out>/issuer.txt`, `<out>/audience.txt`;
//! - `<out>/ready`, written last.
//!
//! usage: keyserver [--addr 127.0.0.1:18000] [--out bench/results/tokens] [--tokens 10000]
//!                  [--audience test-client] [--ttl-secs 7200]

use ssoguard::Algorithm;
use ssoguard::testing::{SigningKey, TestIssuer};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Args {
    addr: String,
    out: PathBuf,
    tokens: usize,
    audience: String,
    ttl: Duration,
}

fn parse_args() -> Args {
    let mut args = Args {
        addr: "127.0.0.1:18000".into(),
        out: PathBuf::from("bench/results/tokens"),
        tokens: 10_000,
        audience: "test-client".into(),
        ttl: Duration::from_secs(7200),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--addr" => args.addr = value(),
            "--out" => args.out = PathBuf::from(value()),
            "--tokens" => args.tokens = value().parse().unwrap_or_else(|_| usage("bad --tokens")),
            "--audience" => args.audience = value(),
            "--ttl-secs" => {
                args.ttl = Duration::from_secs(
                    value().parse().unwrap_or_else(|_| usage("bad --ttl-secs")),
                );
            }
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    args
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "keyserver: {msg}\nusage: keyserver [--addr 127.0.0.1:18000] [--out DIR] [--tokens 10000] \
         [--audience test-client] [--ttl-secs 7200]"
    );
    std::process::exit(2)
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Mints `count` distinct tokens for `alg`, on all cores.
fn mint(
    issuer: &TestIssuer,
    alg: Algorithm,
    count: usize,
    audience: &str,
    ttl: Duration,
) -> Vec<String> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1);
    let chunk = count.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                scope.spawn(move || {
                    (start..(start + chunk).min(count))
                        .map(|i| {
                            issuer
                                .token()
                                .alg(alg)
                                .aud(audience)
                                .ttl(ttl)
                                .sub(&format!("user-{i:06}"))
                                .email(&format!("user{i}@example.com"))
                                .name(&format!("Bench User {i}"))
                                .role("user")
                                .sign()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("minting thread"))
            .collect()
    })
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    std::fs::create_dir_all(&args.out)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", args.out.display()));
    let _ = std::fs::remove_file(args.out.join("ready"));
    let keys = vec![
        SigningKey::generate(Algorithm::EdDSA, "key-eddsa-1").expect("Ed25519 key"),
        SigningKey::generate(Algorithm::RS256, "key-rs256-1").expect("RSA key"),
    ];
    let issuer = TestIssuer::start_with_keys(&args.addr, keys, axum::Router::new())
        .await
        .unwrap_or_else(|e| {
            eprintln!("keyserver: cannot start on {}: {e}", args.addr);
            std::process::exit(1)
        });
    eprintln!(
        "keyserver: issuer {} (JWKS {})",
        issuer.issuer(),
        issuer.jwks_url()
    );

    let started = Instant::now();
    tokio::task::block_in_place(|| {
        for (alg, name) in [(Algorithm::EdDSA, "eddsa"), (Algorithm::RS256, "rs256")] {
            let tokens = mint(&issuer, alg, args.tokens, &args.audience, args.ttl);
            let unique: std::collections::HashSet<&String> = tokens.iter().collect();
            assert_eq!(unique.len(), args.tokens, "tokens are distinct");
            write(
                &args.out.join(format!("{name}-distinct.txt")),
                &(tokens.join("\n") + "\n"),
            );
            let repeated = issuer
                .token()
                .alg(alg)
                .aud(&args.audience)
                .ttl(args.ttl)
                .sub("user-repeated")
                .email("repeated@example.com")
                .name("Bench User Repeated")
                .role("user")
                .sign();
            write(
                &args.out.join(format!("{name}-repeated.txt")),
                &(repeated + "\n"),
            );
        }
    });
    let jwks: Vec<serde_json::Value> = issuer.keys().iter().map(|k| k.public_jwk()).collect();
    write(
        &args.out.join("jwks.json"),
        &serde_json::json!({ "keys": jwks }).to_string(),
    );
    write(&args.out.join("issuer.txt"), issuer.issuer());
    write(&args.out.join("audience.txt"), &args.audience);
    write(&args.out.join("ready"), "");
    eprintln!(
        "keyserver: {} tokens per algorithm written to {} in {:.1} s; serving until killed",
        args.tokens,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    std::future::pending::<()>().await;
}
