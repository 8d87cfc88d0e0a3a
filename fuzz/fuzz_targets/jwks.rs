//! JWKS parsing on arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssoguard::Algorithm;
use ssoguard::jwk::parse_jwks;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = parse_jwks(data, &Algorithm::ALL, 100) {
        assert!(!set.keys.is_empty());
    }
});
