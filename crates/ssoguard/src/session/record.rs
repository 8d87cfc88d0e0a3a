//! A Better Auth session and its user, as every store gives them, and the rules that decide
//! whether it authenticates a request.
//!
//! `get-session`, the secondary storage and the cookie cache all hold the same JSON
//! (`{"session": {…}, "user": {…}}`, dates as ISO 8601 strings); the database gives the same
//! fields as columns. Each becomes a [`SessionRecord`], then [`SessionRecord::into_claims`]:
//! expired → [`VerifyError::Expired`], banned (admin plugin, `banExpires` respected) →
//! [`VerifyError::UserBanned`], else [`TokenClaims`] with `sub` = user id, so the axum
//! `CurrentUser` is the same whichever credential came. A store that cannot answer says
//! [`StoreDown`].

use crate::claims::TokenClaims;
use crate::error::VerifyError;
use serde_json::{Map, Value, json};

/// The store could not answer (already logged, with the reason and without the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreDown;

/// The fields of a session and its user that authentication needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SessionRecord {
    pub(crate) session_id: String,
    /// The session token (compared with the cookie's for the cookie cache).
    pub(crate) token: Option<String>,
    pub(crate) expires_at_ms: i64,
    pub(crate) created_at_ms: Option<i64>,
    pub(crate) impersonated_by: Option<String>,
    pub(crate) user_id: String,
    pub(crate) email: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) email_verified: Option<bool>,
    pub(crate) role: Option<String>,
    pub(crate) banned: bool,
    pub(crate) ban_expires_ms: Option<i64>,
    /// Further user fields carried into the claims (`organizationId`, `permissions`).
    pub(crate) organization_id: Option<String>,
    pub(crate) permissions: Option<Value>,
    /// The organization plugin's `session.activeOrganizationId` and `activeTeamId`.
    pub(crate) active_organization_id: Option<String>,
    pub(crate) active_team_id: Option<String>,
}

/// Milliseconds since the epoch of an ISO 8601 date (`2026-12-07T00:17:56.029Z`, what
/// `Date.toJSON` writes), or of a number of milliseconds.
pub(crate) fn date_ms(value: &Value) -> Option<i64> {
    match value {
        Value::String(s) => {
            let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()?;
            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
        }
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn string(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A boolean as JSON (`true`) or as SQLite stores it (`1`).
fn boolean(map: &Map<String, Value>, key: &str) -> Option<bool> {
    match map.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

impl SessionRecord {
    /// From `{"session": {…}, "user": {…}}` (get-session, secondary storage, cookie cache).
    ///
    /// # Errors
    ///
    /// [`VerifyError::MissingClaim`] when the session has no id, user id or valid `expiresAt`.
    pub(crate) fn from_json(value: &Value) -> Result<Self, VerifyError> {
        let session = value
            .get("session")
            .and_then(Value::as_object)
            .ok_or(VerifyError::MissingClaim("session"))?;
        let user = value
            .get("user")
            .and_then(Value::as_object)
            .ok_or(VerifyError::MissingClaim("user"))?;
        let user_id = string(user, "id")
            .or_else(|| string(session, "userId"))
            .ok_or(VerifyError::MissingClaim("user.id"))?;
        Ok(SessionRecord {
            session_id: string(session, "id").ok_or(VerifyError::MissingClaim("session.id"))?,
            token: string(session, "token"),
            expires_at_ms: session
                .get("expiresAt")
                .and_then(date_ms)
                .ok_or(VerifyError::MissingClaim("session.expiresAt"))?,
            created_at_ms: session.get("createdAt").and_then(date_ms),
            impersonated_by: string(session, "impersonatedBy"),
            user_id,
            email: string(user, "email"),
            name: string(user, "name"),
            email_verified: boolean(user, "emailVerified"),
            role: match user.get("role") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Array(roles)) => Some(
                    roles
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                _ => None,
            },
            banned: boolean(user, "banned").unwrap_or(false),
            ban_expires_ms: user.get("banExpires").and_then(date_ms),
            organization_id: string(user, "organizationId"),
            permissions: user.get("permissions").filter(|p| !p.is_null()).cloned(),
            active_organization_id: string(session, "activeOrganizationId"),
            active_team_id: string(session, "activeTeamId"),
        })
    }

    /// Whether the ban (if any) is in force at `now_ms`.
    fn is_banned(&self, now_ms: i64) -> bool {
        self.banned && self.ban_expires_ms.is_none_or(|until| until > now_ms)
    }

    /// Applies the rules at `now_ms` and builds the claims (`iss` = `issuer`, `aud` =
    /// `audience`, `exp` = the session's expiry in seconds, `sid` = the session id,
    /// `impersonated_by` when an admin impersonates the user, `active_organization_id` and
    /// `active_team_id` from the organization plugin).
    ///
    /// # Errors
    ///
    /// [`VerifyError::Expired`] for an `expiresAt` not in the future;
    /// [`VerifyError::UserBanned`] for a ban in force.
    pub(crate) fn into_claims(
        self,
        now_ms: i64,
        issuer: &str,
        audience: &str,
    ) -> Result<TokenClaims, VerifyError> {
        if self.expires_at_ms <= now_ms {
            return Err(VerifyError::Expired);
        }
        if self.is_banned(now_ms) {
            return Err(VerifyError::UserBanned);
        }
        let mut map = Map::new();
        map.insert("iss".into(), json!(issuer));
        map.insert("sub".into(), json!(self.user_id));
        map.insert("aud".into(), json!(audience));
        map.insert("exp".into(), json!(self.expires_at_ms.div_euclid(1000)));
        map.insert("sid".into(), json!(self.session_id));
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                map.insert(key.to_owned(), value);
            }
        };
        put(
            "iat",
            self.created_at_ms.map(|ms| json!(ms.div_euclid(1000))),
        );
        put("email", self.email.map(Value::String));
        put("name", self.name.map(Value::String));
        put("email_verified", self.email_verified.map(Value::Bool));
        put("role", self.role.map(Value::String));
        put("impersonated_by", self.impersonated_by.map(Value::String));
        put("organization_id", self.organization_id.map(Value::String));
        put("permissions", self.permissions);
        put(
            crate::organization::ACTIVE_ORGANIZATION_CLAIM,
            self.active_organization_id.map(Value::String),
        );
        put(
            crate::organization::ACTIVE_TEAM_CLAIM,
            self.active_team_id.map(Value::String),
        );
        TokenClaims::from_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `get-session` answer of Better Auth 1.7.5 (admin plugin on).
    fn answer() -> Value {
        json!({"session":{"expiresAt":"2026-12-07T00:17:56.029Z","token":"gPz4UkWeb2kAy1iun3MGtgj7ejytsqKh","createdAt":"2026-11-30T00:17:56.029Z","updatedAt":"2026-11-30T00:17:56.029Z","ipAddress":"","userAgent":"curl/7.88.1","userId":"InCAImYEdr7csnVqK42DmwHHxaEblfrZ","impersonatedBy":null,"id":"Rd3VlPT7qSTDEfcjAcUYtejNJ9k2YlNm"},"user":{"name":"P","email":"p@example.com","emailVerified":false,"image":null,"createdAt":"2026-11-30T00:17:56.022Z","updatedAt":"2026-11-30T00:17:56.022Z","role":"user,admin","banned":false,"banReason":null,"banExpires":null,"organizationId":null,"permissions":null,"id":"InCAImYEdr7csnVqK42DmwHHxaEblfrZ"}})
    }

    const EXPIRES_MS: i64 = 1_796_602_676_029;

    #[test]
    fn a_get_session_answer_becomes_the_users_claims() {
        let record = SessionRecord::from_json(&answer()).expect("record");
        assert_eq!(record.expires_at_ms, EXPIRES_MS);
        let claims = record
            .into_claims(
                EXPIRES_MS - 1,
                "http://sso/api/auth",
                "better-auth.session_token",
            )
            .expect("claims");
        assert_eq!(claims.sub, "InCAImYEdr7csnVqK42DmwHHxaEblfrZ");
        assert_eq!(claims.exp, EXPIRES_MS / 1000);
        assert_eq!(claims.email.as_deref(), Some("p@example.com"));
        assert_eq!(claims.email_verified, Some(false));
        assert!(claims.has_role("admin") && claims.has_role("user"));
        assert_eq!(claims.extra["sid"], "Rd3VlPT7qSTDEfcjAcUYtejNJ9k2YlNm");
        assert!(!claims.extra.contains_key("impersonated_by"));
        assert!(!claims.is_client_credentials());
    }

    #[test]
    fn expiry_bans_and_impersonation() {
        let record = SessionRecord::from_json(&answer()).expect("record");
        assert_eq!(
            record.clone().into_claims(EXPIRES_MS, "i", "a"),
            Err(VerifyError::Expired)
        );
        let mut banned = answer();
        banned["user"]["banned"] = json!(true);
        let record = SessionRecord::from_json(&banned).expect("record");
        assert_eq!(
            record.into_claims(0, "i", "a"),
            Err(VerifyError::UserBanned)
        );
        banned["user"]["banExpires"] = json!("2026-12-01T00:00:00.000Z");
        let record = SessionRecord::from_json(&banned).expect("record");
        let dec_1 = date_ms(&json!("2026-12-01T00:00:00.000Z")).expect("date");
        assert_eq!(
            record.clone().into_claims(dec_1 - 1, "i", "a"),
            Err(VerifyError::UserBanned),
            "ban still in force"
        );
        assert!(record.into_claims(dec_1, "i", "a").is_ok(), "ban over");
        let mut impersonated = answer();
        impersonated["session"]["impersonatedBy"] = json!("admin-id");
        let claims = SessionRecord::from_json(&impersonated)
            .expect("record")
            .into_claims(0, "i", "a")
            .expect("claims");
        assert_eq!(claims.extra["impersonated_by"], "admin-id");
        let mut active = answer();
        active["session"]["activeOrganizationId"] = json!("org-1");
        active["session"]["activeTeamId"] = json!("team-1");
        let claims = SessionRecord::from_json(&active)
            .expect("record")
            .into_claims(0, "i", "a")
            .expect("claims");
        assert_eq!(
            (
                &claims.extra["active_organization_id"],
                &claims.extra["active_team_id"]
            ),
            (&json!("org-1"), &json!("team-1"))
        );
    }

    #[test]
    fn incomplete_answers_are_refused() {
        for broken in [
            json!(null),
            json!({"session": {}}),
            json!({"session": {"id": "s", "expiresAt": "soon"}, "user": {"id": "u"}}),
            json!({"session": {"expiresAt": "2026-12-07T00:17:56.029Z"}, "user": {"id": "u"}}),
        ] {
            assert!(matches!(
                SessionRecord::from_json(&broken),
                Err(VerifyError::MissingClaim(_))
            ));
        }
        assert_eq!(date_ms(&json!(1234)), Some(1234));
        assert_eq!(date_ms(&json!(true)), None);
    }
}
