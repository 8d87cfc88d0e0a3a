//! Database mode (feature `api-key-database`): read-only queries on Better Auth's `apikey` and
//! `user` tables, Postgres or SQLite, through `sqlx::Any`.
//!
//! Rows are read as JSON objects (Postgres: `row_to_json`, SQLite: every column), so the
//! plugin's optional columns and the admin plugin's `role` are read when present and a column
//! renamed by a plugin version (`userId` before `referenceId`) does not break the query. The
//! plugin's rules are applied as its `validateApiKey` does, without its writes: `enabled`,
//! `expiresAt`, `remaining` (0 with no refill due), and a full rate-limit window. Nothing is
//! written: `remaining` is not decremented, requests are not counted, expired keys are not
//! deleted.

use super::dates::millis;
use super::{ApiKeyRefusal, FoundKey, LookupResult, Owner, permission_list, unavailable};
use crate::better_auth_db::{Pool, quoted_identifier};
use crate::error::{ConfigError, VerifyError};
use serde_json::{Map, Value};
use sqlx::sqlite::SqliteRow;
use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};
use std::time::Duration;

pub(crate) struct DatabaseLookup {
    pool: Pool,
    key_query: String,
    user_query: String,
    service_configs: Vec<String>,
    timeout: Duration,
}

impl DatabaseLookup {
    pub(crate) fn new(
        url: &str,
        api_key_table: &str,
        user_table: &str,
        service_configs: Vec<String>,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let key_table = quoted_identifier("api key table", api_key_table)?;
        let user_table = quoted_identifier("user table", user_table)?;
        let pool = Pool::open_read_only(url, timeout, "api key database")?;
        let (key_query, user_query) = match pool {
            Pool::Postgres(_) => (
                format!(
                    "SELECT row_to_json(k)::text AS row FROM {key_table} k WHERE k.\"key\" = $1"
                ),
                format!(
                    "SELECT row_to_json(u)::text AS row FROM {user_table} u WHERE u.\"id\" = $1"
                ),
            ),
            Pool::Sqlite(_) => (
                format!("SELECT * FROM {key_table} WHERE \"key\" = $1"),
                format!("SELECT * FROM {user_table} WHERE \"id\" = $1"),
            ),
        };
        Ok(DatabaseLookup {
            pool,
            key_query,
            user_query,
            service_configs,
            timeout,
        })
    }

    async fn row(
        &self,
        query: &str,
        value: &str,
    ) -> Result<Option<Map<String, Value>>, VerifyError> {
        let fetch = async {
            match &self.pool {
                Pool::Postgres(pool) => {
                    let text: Result<Option<String>, sqlx::Error> = sqlx::query_scalar(query)
                        .bind(value)
                        .fetch_optional(pool)
                        .await;
                    text.and_then(|text| {
                        text.map(|text| match serde_json::from_str(&text) {
                            Ok(Value::Object(map)) => Ok(map),
                            _ => Err(sqlx::Error::Decode("row_to_json is not an object".into())),
                        })
                        .transpose()
                    })
                }
                Pool::Sqlite(pool) => sqlx::query(query)
                    .bind(value)
                    .fetch_optional(pool)
                    .await
                    .map(|row| row.as_ref().map(sqlite_row)),
            }
        };
        match tokio::time::timeout(self.timeout, fetch).await {
            Ok(Ok(row)) => Ok(row),
            Ok(Err(e)) => {
                // The error names the query and the database, never the bound value.
                tracing::warn!(error = %e, "API key check: database query failed");
                Err(unavailable())
            }
            Err(_) => {
                tracing::warn!("API key check: database query timed out");
                Err(unavailable())
            }
        }
    }

    pub(crate) async fn lookup(&self, hashed: &str) -> LookupResult {
        let Some(key) = self.row(&self.key_query, hashed).await? else {
            return Err(VerifyError::ApiKey(ApiKeyRefusal::Unknown));
        };
        check_rules(&key, crate::time::unix_now() * 1000)?;
        let reference = key
            .get("referenceId")
            .or_else(|| key.get("userId"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(VerifyError::ApiKey(ApiKeyRefusal::NoOwner))?
            .to_string();
        let config = key
            .get("configId")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let owner = if self.service_configs.iter().any(|c| c == config) {
            Owner::Service {
                reference_id: reference,
            }
        } else {
            let user = self
                .row(&self.user_query, &reference)
                .await?
                .ok_or(VerifyError::ApiKey(ApiKeyRefusal::NoOwner))?;
            let text = |name: &str| user.get(name).and_then(Value::as_str).map(str::to_owned);
            Owner::User {
                id: reference,
                email: text("email"),
                name: text("name"),
                role: text("role"),
                email_verified: user.get("emailVerified").and_then(flag),
            }
        };
        Ok(FoundKey {
            key_id: key.get("id").and_then(Value::as_str).map(str::to_owned),
            owner,
            permissions: key
                .get("permissions")
                .map(permission_list)
                .unwrap_or_default(),
            expires_at: key.get("expiresAt").and_then(millis).map(|ms| ms / 1000),
            reuse_until: None,
        })
    }
}

/// A SQLite row as a JSON object, each column by the storage class of its value (SQLite's
/// declared types, such as Better Auth's `date`, say nothing reliable).
fn sqlite_row(row: &SqliteRow) -> Map<String, Value> {
    let mut map = Map::new();
    for column in row.columns() {
        let i = column.ordinal();
        let class = row
            .try_get_raw(i)
            .ok()
            .filter(|raw| !raw.is_null())
            .map(|raw| raw.type_info().name().to_string());
        let value = match class.as_deref() {
            Some("INTEGER") => row.try_get_unchecked::<i64, _>(i).map(Value::from),
            Some("REAL") => row.try_get_unchecked::<f64, _>(i).map(Value::from),
            Some("TEXT") => row.try_get_unchecked::<String, _>(i).map(Value::from),
            _ => Ok(Value::Null),
        };
        map.insert(column.name().to_string(), value.unwrap_or(Value::Null));
    }
    map
}

/// A boolean column: `true`/`false` (Postgres) or `1`/`0` (SQLite).
fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// A number column, whatever its JSON type.
fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The plugin's checks on a key row (`validateApiKey` and its rate-limit decision), read-only.
pub(crate) fn check_rules(key: &Map<String, Value>, now_ms: i64) -> Result<(), VerifyError> {
    let refuse = |refusal| Err(VerifyError::ApiKey(refusal));
    if key.get("enabled").and_then(flag) == Some(false) {
        return refuse(ApiKeyRefusal::Disabled);
    }
    if key
        .get("expiresAt")
        .and_then(millis)
        .is_some_and(|at| now_ms > at)
    {
        return refuse(ApiKeyRefusal::Expired);
    }
    if number(key.get("remaining")) == Some(0) {
        let refill_due = match (
            number(key.get("refillInterval")),
            number(key.get("refillAmount")),
        ) {
            (Some(interval), Some(amount)) if interval > 0 && amount > 0 => {
                let last = key
                    .get("lastRefillAt")
                    .and_then(millis)
                    .or_else(|| key.get("createdAt").and_then(millis))
                    .unwrap_or(0);
                now_ms - last > interval
            }
            _ => false,
        };
        if !refill_due {
            return refuse(ApiKeyRefusal::UsageExhausted);
        }
    }
    let limited = key.get("rateLimitEnabled").and_then(flag) != Some(false);
    if let (true, Some(window), Some(max), Some(last)) = (
        limited,
        number(key.get("rateLimitTimeWindow")),
        number(key.get("rateLimitMax")),
        key.get("lastRequest").and_then(millis),
    ) {
        let since = now_ms - last;
        if since <= window && number(key.get("requestCount")).unwrap_or(0) >= max {
            return refuse(ApiKeyRefusal::RateLimited {
                retry_after: Duration::from_millis(u64::try_from(window - since).unwrap_or(0))
                    .max(Duration::from_secs(1)),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_as_the_plugin_applies_them() {
        let now = 1_000_000_000_000;
        let ok = json!({"enabled": 1, "expiresAt": null, "remaining": null,
            "rateLimitEnabled": 1, "rateLimitTimeWindow": 60_000, "rateLimitMax": 3,
            "requestCount": 2, "lastRequest": now - 1000});
        let ok = ok.as_object().expect("object").clone();
        assert_eq!(check_rules(&ok, now), Ok(()));
        let with = |k: &str, v: Value| {
            let mut m = ok.clone();
            m.insert(k.into(), v);
            check_rules(&m, now)
        };
        let refused = |r| Err(VerifyError::ApiKey(r));
        assert_eq!(
            with("enabled", json!(false)),
            refused(ApiKeyRefusal::Disabled)
        );
        assert_eq!(with("enabled", json!(0)), refused(ApiKeyRefusal::Disabled));
        assert_eq!(
            with("expiresAt", json!(now - 1)),
            refused(ApiKeyRefusal::Expired)
        );
        assert_eq!(with("expiresAt", json!(now + 1000)), Ok(()));
        assert_eq!(
            with("remaining", json!(0)),
            refused(ApiKeyRefusal::UsageExhausted)
        );
        assert_eq!(with("remaining", json!(5)), Ok(()));
        assert_eq!(
            with("requestCount", json!(3)),
            refused(ApiKeyRefusal::RateLimited {
                retry_after: Duration::from_secs(59)
            })
        );
        // The window has passed, or rate limiting is off for the key: allowed.
        let mut old = ok.clone();
        old.insert("requestCount".into(), json!(3));
        old.insert("lastRequest".into(), json!(now - 61_000));
        assert_eq!(check_rules(&old, now), Ok(()));
        old.insert("lastRequest".into(), json!(now - 1000));
        old.insert("rateLimitEnabled".into(), json!(false));
        assert_eq!(check_rules(&old, now), Ok(()));
        // remaining 0 with a refill due is allowed.
        let mut refill = ok.clone();
        refill.insert("remaining".into(), json!(0));
        refill.insert("refillInterval".into(), json!(1000));
        refill.insert("refillAmount".into(), json!(10));
        refill.insert("lastRefillAt".into(), json!(now - 2000));
        assert_eq!(check_rules(&refill, now), Ok(()));
        refill.insert("lastRefillAt".into(), json!(now - 10));
        assert_eq!(
            check_rules(&refill, now),
            refused(ApiKeyRefusal::UsageExhausted)
        );
    }
}
