//! Regenerates the fuzzing fixtures: a pinned JWKS and seed tokens signed by its keys.
//!
//! `cargo run -p ssoguard --features testing --example fuzz_fixtures -- fuzz`

use serde_json::json;
use ssoguard::Algorithm;
use ssoguard::testing::SigningKey;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fuzz".into()));
    let keys: Vec<SigningKey> = [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::ES512,
        Algorithm::RS256,
        Algorithm::PS256,
    ]
    .into_iter()
    .map(|alg| SigningKey::generate(alg, format!("fuzz-{}", alg.as_str().to_lowercase())))
    .collect::<Result<_, _>>()?;
    let jwks = json!({ "keys": keys.iter().map(SigningKey::public_jwk).collect::<Vec<_>>() });
    std::fs::create_dir_all(root.join("corpus/verify"))?;
    std::fs::create_dir_all(root.join("corpus/jwks"))?;
    std::fs::write(
        root.join("fixtures-jwks.json"),
        serde_json::to_vec_pretty(&jwks)?,
    )?;
    std::fs::write(
        root.join("corpus/jwks/seed-set.json"),
        serde_json::to_vec(&jwks)?,
    )?;
    for key in &keys {
        let claims = json!({
            "iss": "https://issuer.example/api/auth", "sub": "u1", "aud": "fuzz-client",
            "exp": 4_102_444_800_i64, "iat": 1_700_000_000, "role": "user,admin",
        });
        let header = json!({"alg": key.alg().as_str(), "kid": key.kid()});
        let token = key.sign_compact(&header, &claims);
        std::fs::write(
            root.join(format!("corpus/verify/seed-{}.txt", key.kid())),
            token,
        )?;
        std::fs::write(
            root.join(format!("corpus/jwks/seed-{}.json", key.kid())),
            serde_json::to_vec(&json!({"keys": [key.public_jwk()]}))?,
        )?;
    }
    println!("fixtures written under {}", root.display());
    Ok(())
}
