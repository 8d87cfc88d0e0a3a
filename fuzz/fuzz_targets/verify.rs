//! Token parsing + verification on arbitrary input, with pinned keys (no network).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssoguard::Verifier;
use std::sync::OnceLock;

fn fixture() -> &'static (tokio::runtime::Runtime, Verifier) {
    static FIXTURE: OnceLock<(tokio::runtime::Runtime, Verifier)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let verifier = Verifier::builder()
            .issuer("https://issuer.example/api/auth")
            .audience("fuzz-client")
            .static_jwks(&include_bytes!("../fixtures-jwks.json")[..])
            .build()
            .expect("verifier");
        (rt, verifier)
    })
}

fuzz_target!(|data: &[u8]| {
    let (rt, verifier) = fixture();
    let token = String::from_utf8_lossy(data);
    let _ = rt.block_on(verifier.verify(&token));
});
