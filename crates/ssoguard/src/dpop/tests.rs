//! Known-answer vectors and header rules; the proof rules with real signatures are in
//! `tests/dpop.rs`.

use super::*;
use http::HeaderMap;
use serde_json::json;

#[test]
fn thumbprint_matches_rfc_7638_example() {
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    });
    let Value::Object(jwk) = jwk else {
        unreachable!()
    };
    assert_eq!(
        thumbprint(&jwk).as_deref(),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
    let mut oct = Map::new();
    oct.insert("kty".into(), json!("oct"));
    oct.insert("k".into(), json!("AAAA"));
    assert_eq!(thumbprint(&oct), None);
}

#[test]
fn ath_matches_rfc_9449_example() {
    assert_eq!(
        token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn exactly_one_dpop_header() {
    let mut headers = HeaderMap::new();
    assert_eq!(proof_header(&headers), Ok(None));
    headers.append("dpop", "a.b.c".parse().expect("value"));
    assert_eq!(proof_header(&headers), Ok(Some("a.b.c")));
    headers.append("dpop", "d.e.f".parse().expect("value"));
    assert_eq!(proof_header(&headers), Err(DpopError::MultipleProofs));
}

#[test]
fn config_bounds_are_checked() {
    assert!(DpopConfig::default().check().is_ok());
    assert!(DpopConfig::default().algorithms([]).check().is_err());
    assert!(
        DpopConfig::default()
            .iat_window(Duration::from_secs(0))
            .check()
            .is_err()
    );
    assert!(
        DpopConfig::default()
            .iat_window(Duration::from_secs(601))
            .check()
            .is_err()
    );
}

#[test]
fn requests_from_a_public_base() {
    let uri: http::Uri = "/api/me?x=1".parse().expect("uri");
    let request =
        DpopRequest::from_base(Method::GET, "https://Example.com:443/", &uri).expect("request");
    assert_eq!(request.htu(), "https://example.com/api/me");
    assert!(DpopRequest::new(Method::GET, "/relative").is_err());
}

#[cfg(feature = "testing")]
#[tokio::test]
async fn a_proof_at_the_edge_of_the_window_is_still_single_use() {
    use crate::testing::DpopClient;
    let client = DpopClient::generate(Algorithm::ES256).expect("key");
    let request = DpopRequest::new(Method::GET, "https://api.example.com/me").expect("request");
    let config = DpopConfig::default();
    let iat = 1_800_000_000;
    let proof = client
        .proof("GET", "https://api.example.com/me", "tok")
        .claim("iat", serde_json::json!(iat))
        .sign();
    // Last second of the window.
    let now = iat + 60;
    let checked = check_proof(&proof, "tok", &request, &config, now).expect("in the window");
    let store = MemoryReplayStore::new(16);
    assert_eq!(
        store
            .check_and_insert(checked.replay_key, checked.expires_at, now)
            .await,
        Ok(true)
    );
    assert_eq!(
        store
            .check_and_insert(checked.replay_key, checked.expires_at, now)
            .await,
        Ok(false),
        "replayed in the same second"
    );
    assert_eq!(
        check_proof(&proof, "tok", &request, &config, now + 1).map(|_| ()),
        Err(DpopError::IssuedAt),
        "one second later the window refuses it"
    );
}
