//! JWKS parsing on arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssoguard::Algorithm;
use ssoguard::ParsedKeySet;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = ParsedKeySet::parse(data, &Algorithm::ALL, 100) {
        assert!(!set.keys.is_empty());
    }
});
