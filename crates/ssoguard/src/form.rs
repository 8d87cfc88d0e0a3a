//! `application/x-www-form-urlencoded` encoding of one value, for the requests the library
//! sends itself (introspection, client credentials, token exchange).
//!
//! Everything but the RFC 3986 unreserved characters is percent-encoded (a space too, as `%20`),
//! which every form parser accepts; secrets and tokens therefore cannot break out of their field.

/// `value` percent-encoded for a form body or a query string.
pub(crate) fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::form_encode;

    #[test]
    fn reserved_characters_are_escaped() {
        assert_eq!(form_encode("a b+c/="), "a%20b%2Bc%2F%3D");
        assert_eq!(form_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(form_encode("&é"), "%26%C3%A9");
    }
}
