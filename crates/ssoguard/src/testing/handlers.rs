//! The issuer's HTTP endpoints: discovery, JWKS and introspection, Better-Auth-shaped, with the
//! configured [`Fault`] applied.

use super::{Fault, IssuerState};
use crate::time::unix_now;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub(super) async fn apply_fault(state: &IssuerState) -> Option<Response> {
    let fault = state.fault.read().ok()?.clone()?;
    match fault {
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::Status(code) => Some(
            StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response(),
        ),
        _ => None,
    }
}

pub(super) async fn discovery(State(state): State<Arc<IssuerState>>) -> Response {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(resp) = apply_fault(&state).await {
        return resp;
    }
    let algs: Vec<&str> = state
        .keys
        .read()
        .map(|k| k.iter().map(|k| k.alg.as_str()).collect())
        .unwrap_or_default();
    let issuer = &state.issuer;
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
    }))
    .into_response()
}

pub(super) async fn introspect(
    State(state): State<Arc<IssuerState>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    state.introspections.fetch_add(1, Ordering::SeqCst);
    if let Some(resp) = apply_fault(&state).await {
        return resp;
    }
    let expected = state
        .introspection_client
        .read()
        .map(|c| c.clone())
        .unwrap_or_default();
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if basic.as_deref() != Some(format!("{}:{}", expected.0, expected.1).as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let token = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_owned)
        .unwrap_or_default();
    let found = state
        .opaque
        .read()
        .ok()
        .and_then(|s| s.get(&token).cloned());
    let answer = match found {
        Some(Value::Object(mut claims)) => {
            let expired = claims
                .get("exp")
                .and_then(Value::as_i64)
                .is_some_and(|e| e <= unix_now());
            if expired {
                json!({"active": false})
            } else {
                claims.insert("active".into(), json!(true));
                claims
                    .entry("token_type")
                    .or_insert_with(|| json!("Bearer"));
                Value::Object(claims)
            }
        }
        _ => json!({"active": false}),
    };
    axum::Json(answer).into_response()
}

pub(super) async fn jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(resp) = apply_fault(&state).await {
        return resp;
    }
    let fault = state.fault.read().ok().and_then(|f| f.clone());
    let body = match fault {
        Some(Fault::Html) => {
            return (
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>502 Bad Gateway</body></html>",
            )
                .into_response();
        }
        Some(Fault::Garbage) => return "\u{0}\u{1}not json{{{".into_response(),
        Some(Fault::EmptySet) => json!({"keys": []}),
        Some(Fault::Huge) => {
            let filler = "x".repeat(2 * 1024 * 1024);
            json!({"keys": [], "filler": filler})
        }
        _ => {
            let mut keys: Vec<Value> = state
                .keys
                .read()
                .map(|k| k.iter().map(|k| k.public_jwk()).collect())
                .unwrap_or_default();
            if let Ok(raw) = state.raw_jwks.read() {
                keys.extend(raw.iter().cloned());
            }
            json!({ "keys": keys })
        }
    };
    let cache_control = state.cache_control.read().ok().and_then(|c| c.clone());
    let mut resp = axum::Json(body).into_response();
    if let Some(cc) = cache_control {
        if let Ok(v) = header::HeaderValue::from_str(&cc) {
            resp.headers_mut().insert(header::CACHE_CONTROL, v);
        }
    }
    resp
}
