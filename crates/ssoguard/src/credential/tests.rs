//! Finding the one credential: order and ambiguity.

use super::*;
use http::HeaderValue;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn sources() -> CredentialSources {
    CredentialSources::new()
        .token_cookie("sso")
        .token_cookie("other")
        .api_key_header(HeaderName::from_static("x-api-key"))
}

fn found(pairs: &[(&'static str, &'static str)]) -> Result<Option<String>, VerifyError> {
    let h = headers(pairs);
    sources().find(&h).map(|c| {
        c.map(|c| match c {
            Credential::Bearer(t) => format!("bearer {t}"),
            Credential::Dpop { token, proof } => format!("dpop {token} {proof:?}"),
            Credential::TokenCookie { token, cookie } => format!("cookie{cookie} {token}"),
            Credential::Session(_) => "session".into(),
            Credential::ApiKey(k) => format!("key {k}"),
        })
    })
}

#[test]
fn the_order_is_key_authorization_cookie() {
    assert_eq!(found(&[]).ok(), Some(None));
    assert_eq!(
        found(&[("authorization", "Bearer t"), ("cookie", "sso=c")]).ok(),
        Some(Some("bearer t".into()))
    );
    assert_eq!(
        found(&[("authorization", "Bearer t"), ("x-api-key", "k")]).ok(),
        Some(Some("bearer t".into())),
        "with Authorization, the key header is not read"
    );
    assert_eq!(
        found(&[("x-api-key", "k"), ("cookie", "sso=c")]).ok(),
        Some(Some("key k".into()))
    );
    assert_eq!(
        found(&[("authorization", "Basic x"), ("cookie", "a=b; other=\"c\"")]).ok(),
        Some(Some("cookie1 c".into()))
    );
    assert_eq!(
        found(&[("authorization", "dpop  t "), ("dpop", "p")]).ok(),
        Some(Some("dpop t Some(\"p\")".into()))
    );
    assert_eq!(
        found(&[("authorization", "DPoP t")]).ok(),
        Some(Some("dpop t None".into()))
    );
}

#[test]
fn ambiguous_or_malformed_credentials_are_refused() {
    let cases: [&[(&'static str, &'static str)]; 7] = [
        &[("authorization", "Bearer a"), ("authorization", "Bearer b")],
        &[("authorization", "Bearer a b")],
        &[("authorization", "DPoP a b"), ("dpop", "p")],
        &[("x-api-key", "a"), ("x-api-key", "b")],
        &[("cookie", "sso=a; sso=b")],
        &[("cookie", "sso=a"), ("cookie", "other=b")],
        &[("authorization", "DPoP a"), ("dpop", "p"), ("dpop", "q")],
    ];
    for pairs in cases {
        assert!(
            matches!(
                found(pairs),
                Err(VerifyError::Malformed(_) | VerifyError::Dpop(_))
            ),
            "{pairs:?}"
        );
    }
    assert!(matches!(
        found(&[("authorization", "DPoP")]),
        Err(VerifyError::MissingToken)
    ));
    assert!(matches!(
        found(&[("authorization", "Bearer ")]),
        Err(VerifyError::MissingToken)
    ));
}

#[test]
fn cookies_are_csrf_checked_and_headers_are_not() {
    let h = headers(&[("cookie", "sso=c"), ("authorization", "Bearer t")]);
    let found = sources().find(&h).expect("found").expect("some");
    assert!(!found.is_cookie());
    assert_eq!(found.scheme(), Some(Scheme::Bearer));
    let h = headers(&[("cookie", "sso=c")]);
    let found = sources().find(&h).expect("found").expect("some");
    assert!(found.is_cookie());
    assert_eq!(found.scheme(), None);
}
