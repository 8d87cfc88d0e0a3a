//! The `database` lookup (feature `session-database`): one read-only query on Better Auth's
//! own tables, `session` joined with `user`, on Postgres or SQLite.
//!
//! Table and column names follow Better Auth's defaults (`"session"."expiresAt"`, …) and can
//! be renamed as Better Auth allows (`session: { modelName, fields }`, plural table names) with
//! [`SessionSchema`]. Names are checked (letters, digits, `_`) and quoted, the token is a bound
//! parameter. Connections are opened read-only (SQLite `mode=ro`, Postgres
//! `default_transaction_read_only`), lazily, at most 4 at once; a query is bounded by the
//! lookup timeout. Dates are read as Better Auth writes them: `timestamptz` on Postgres, ISO
//! 8601 text on SQLite (epoch numbers are accepted too).

use super::record::{SessionRecord, StoreDown};
use crate::better_auth_db::{Pool, quoted_identifier};
use crate::error::ConfigError;
use std::collections::BTreeMap;
use std::time::Duration;

/// Better Auth's table and column names, as configured in its `session`/`user` options.
///
/// # Example
///
/// ```
/// use ssoguard::session::SessionSchema;
///
/// // `usePlural: true` and a snake_case column, as a Drizzle schema might have them.
/// let schema = SessionSchema::default()
///     .plural()
///     .session_field("expiresAt", "expires_at")
///     .user_field("emailVerified", "email_verified");
/// # let _ = schema;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionSchema {
    session_table: String,
    user_table: String,
    session_fields: BTreeMap<&'static str, String>,
    user_fields: BTreeMap<&'static str, String>,
    admin_fields: bool,
    organization_fields: bool,
    team_fields: bool,
}

const SESSION_FIELDS: [&str; 8] = [
    "id",
    "token",
    "userId",
    "expiresAt",
    "createdAt",
    "impersonatedBy",
    "activeOrganizationId",
    "activeTeamId",
];
const USER_FIELDS: [&str; 7] = [
    "id",
    "email",
    "name",
    "emailVerified",
    "role",
    "banned",
    "banExpires",
];

impl Default for SessionSchema {
    /// Better Auth's defaults: tables `session` and `user`, camelCase columns, the admin
    /// plugin's columns (`role`, `banned`, `banExpires`, `impersonatedBy`) present.
    fn default() -> Self {
        SessionSchema {
            session_table: "session".into(),
            user_table: "user".into(),
            session_fields: SESSION_FIELDS
                .iter()
                .map(|f| (*f, (*f).to_owned()))
                .collect(),
            user_fields: USER_FIELDS.iter().map(|f| (*f, (*f).to_owned())).collect(),
            admin_fields: true,
            organization_fields: false,
            team_fields: false,
        }
    }
}

impl SessionSchema {
    /// Table names `sessions` and `users` (Better Auth's `usePlural`).
    pub fn plural(self) -> Self {
        self.tables("sessions", "users")
    }

    /// The session and user tables' names (Better Auth's `modelName`s). Default: `session`,
    /// `user`.
    pub fn tables(mut self, session: impl Into<String>, user: impl Into<String>) -> Self {
        self.session_table = session.into();
        self.user_table = user.into();
        self
    }

    /// The column of a session field (`id`, `token`, `userId`, `expiresAt`, `createdAt`,
    /// `impersonatedBy`, `activeOrganizationId`, `activeTeamId`); other field names are
    /// refused at build.
    pub fn session_field(mut self, field: &str, column: impl Into<String>) -> Self {
        let key = SESSION_FIELDS
            .iter()
            .find(|f| **f == field)
            .copied()
            .unwrap_or("");
        self.session_fields.insert(key, column.into());
        self
    }

    /// The column of a user field (`id`, `email`, `name`, `emailVerified`, `role`, `banned`,
    /// `banExpires`); other field names are refused at build.
    pub fn user_field(mut self, field: &str, column: impl Into<String>) -> Self {
        let key = USER_FIELDS
            .iter()
            .find(|f| **f == field)
            .copied()
            .unwrap_or("");
        self.user_fields.insert(key, column.into());
        self
    }

    /// Whether the admin plugin's columns exist. Default: `true`. Without the admin plugin,
    /// `false`: no role (users get the default `user`), no bans, no impersonation.
    pub fn admin_plugin(mut self, present: bool) -> Self {
        self.admin_fields = present;
        self
    }

    /// Whether the organization plugin's session columns exist: `activeOrganizationId`, and
    /// `activeTeamId` when `teams` (its `teams: { enabled: true }`). Default: `false`, `false`.
    /// On, the session's claims carry `active_organization_id` (and `active_team_id`), which
    /// [`OrganizationSource::ActiveOrganization`](crate::organization::OrganizationSource::ActiveOrganization)
    /// reads.
    pub fn organization_plugin(mut self, present: bool, teams: bool) -> Self {
        self.organization_fields = present;
        self.team_fields = present && teams;
        self
    }

    /// The query for `dialect`; `?`/`$1` is the token.
    fn query(&self, postgres: bool) -> Result<String, ConfigError> {
        if self.session_fields.contains_key("") || self.user_fields.contains_key("") {
            return Err(ConfigError::InvalidSetting {
                setting: "session_schema",
                reason: "an unknown field was renamed".into(),
            });
        }
        let s = |f: &str| {
            quoted_identifier("session_schema", &self.session_fields[f]).map(|c| format!("s.{c}"))
        };
        let u = |f: &str| {
            quoted_identifier("session_schema", &self.user_fields[f]).map(|c| format!("u.{c}"))
        };
        let date = |col: String| {
            if postgres {
                format!("CAST(EXTRACT(EPOCH FROM {col}) * 1000 AS BIGINT)")
            } else {
                col
            }
        };
        let admin = |col: Result<String, ConfigError>| -> Result<String, ConfigError> {
            if self.admin_fields {
                col
            } else {
                Ok("NULL".into())
            }
        };
        let columns = [
            s("id")?,
            s("userId")?,
            date(s("expiresAt")?),
            date(s("createdAt")?),
            admin(s("impersonatedBy"))?,
            u("email")?,
            u("name")?,
            u("emailVerified")?,
            admin(u("role"))?,
            admin(u("banned"))?,
            if self.admin_fields {
                date(u("banExpires")?)
            } else {
                "NULL".into()
            },
            if self.organization_fields {
                s("activeOrganizationId")?
            } else {
                "NULL".into()
            },
            if self.team_fields {
                s("activeTeamId")?
            } else {
                "NULL".into()
            },
        ];
        Ok(format!(
            "SELECT {} FROM {} s JOIN {} u ON u.{} = s.{} WHERE s.{} = {}",
            columns.join(", "),
            quoted_identifier("session_schema", &self.session_table)?,
            quoted_identifier("session_schema", &self.user_table)?,
            quoted_identifier("session_schema", &self.user_fields["id"])?,
            quoted_identifier("session_schema", &self.session_fields["userId"])?,
            quoted_identifier("session_schema", &self.session_fields["token"])?,
            if postgres { "$1" } else { "?" },
        ))
    }
}

/// Where Better Auth's database is (`postgres://…` or `sqlite://…`) and its schema.
///
/// # Example
///
/// ```
/// use ssoguard::session::{DatabaseLookup, SessionSchema};
///
/// let lookup = DatabaseLookup::new("postgres://auth_reader@db/auth").schema(SessionSchema::default());
/// # let _ = lookup;
/// ```
#[derive(Clone)]
#[must_use]
pub struct DatabaseLookup {
    url: String,
    schema: SessionSchema,
}

impl std::fmt::Debug for DatabaseLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("DatabaseLookup")
            .field("url", &"[redacted]")
            .field("schema", &self.schema)
            .finish()
    }
}

impl DatabaseLookup {
    /// Better Auth's database URL, with Better Auth's default schema.
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseLookup {
            url: url.into(),
            schema: SessionSchema::default(),
        }
    }

    /// Its table and column names. Default: [`SessionSchema::default`].
    pub fn schema(mut self, schema: SessionSchema) -> Self {
        self.schema = schema;
        self
    }

    pub(crate) fn connect(self, timeout: Duration) -> Result<DatabaseStore, ConfigError> {
        let pool = Pool::open_read_only(&self.url, timeout, "session_database_url")?;
        let query = self.schema.query(matches!(pool, Pool::Postgres(_)))?;
        Ok(DatabaseStore {
            pool,
            query,
            timeout,
        })
    }
}

pub(crate) struct DatabaseStore {
    pool: Pool,
    query: String,
    timeout: Duration,
}

/// Milliseconds of a date column: epoch milliseconds (Postgres query, numbers), or ISO text.
fn date_ms<R: sqlx::Row>(row: &R, i: usize) -> Option<i64>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    if let Ok(Some(ms)) = row.try_get::<Option<i64>, _>(i) {
        // SQLite integers may be seconds (Drizzle's `timestamp` mode) or milliseconds.
        return Some(if ms.abs() < 100_000_000_000 {
            ms * 1000
        } else {
            ms
        });
    }
    let text: Option<String> = row.try_get(i).ok()?;
    super::record::date_ms(&serde_json::Value::String(text?))
}

fn flag<R: sqlx::Row>(row: &R, i: usize) -> Option<bool>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    if let Ok(b) = row.try_get::<Option<bool>, _>(i) {
        return b;
    }
    row.try_get::<Option<i64>, _>(i)
        .ok()
        .flatten()
        .map(|n| n != 0)
}

fn record<R: sqlx::Row>(row: &R, token: &str) -> Option<SessionRecord>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let text = |i: usize| row.try_get::<Option<String>, _>(i).ok().flatten();
    Some(SessionRecord {
        session_id: text(0)?,
        token: Some(token.to_owned()),
        user_id: text(1)?,
        expires_at_ms: date_ms(row, 2)?,
        created_at_ms: date_ms(row, 3),
        impersonated_by: text(4),
        email: text(5),
        name: text(6),
        email_verified: flag(row, 7),
        role: text(8),
        banned: flag(row, 9).unwrap_or(false),
        ban_expires_ms: date_ms(row, 10),
        organization_id: None,
        permissions: None,
        active_organization_id: text(11),
        active_team_id: text(12),
    })
}

impl DatabaseStore {
    pub(crate) async fn find(&self, token: &str) -> Result<Option<SessionRecord>, StoreDown> {
        let query = async {
            match &self.pool {
                Pool::Postgres(pool) => sqlx::query(&self.query)
                    .bind(token)
                    .fetch_optional(pool)
                    .await
                    .map(|row| row.map(|row| record(&row, token))),
                Pool::Sqlite(pool) => sqlx::query(&self.query)
                    .bind(token)
                    .fetch_optional(pool)
                    .await
                    .map(|row| row.map(|row| record(&row, token))),
            }
        };
        match tokio::time::timeout(self.timeout, query).await {
            Err(_) => {
                tracing::warn!("session lookup (database) timed out");
                Err(StoreDown)
            }
            Ok(Err(e)) => {
                // sqlx errors name the table or column at fault, never the bound token.
                tracing::warn!(error = %e, "session lookup (database) failed");
                Err(StoreDown)
            }
            Ok(Ok(None)) => Ok(None),
            Ok(Ok(Some(Some(record)))) => Ok(Some(record)),
            Ok(Ok(Some(None))) => {
                tracing::error!("session row without id, user id or a readable expiresAt");
                Err(StoreDown)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_quote_configured_names_and_refuse_others() {
        let q = SessionSchema::default().query(false).expect("query");
        assert_eq!(
            q,
            "SELECT s.\"id\", s.\"userId\", s.\"expiresAt\", s.\"createdAt\", s.\"impersonatedBy\", u.\"email\", u.\"name\", u.\"emailVerified\", u.\"role\", u.\"banned\", u.\"banExpires\", NULL, NULL FROM \"session\" s JOIN \"user\" u ON u.\"id\" = s.\"userId\" WHERE s.\"token\" = ?"
        );
        let q = SessionSchema::default()
            .plural()
            .session_field("expiresAt", "expires_at")
            .admin_plugin(false)
            .query(true)
            .expect("query");
        assert!(
            q.contains("CAST(EXTRACT(EPOCH FROM s.\"expires_at\") * 1000 AS BIGINT)"),
            "{q}"
        );
        assert!(
            q.contains("FROM \"sessions\" s JOIN \"users\" u") && q.ends_with("= $1"),
            "{q}"
        );
        assert!(!q.contains("banned"), "{q}");
        assert!(!q.contains("active"), "{q}");
        let q = SessionSchema::default()
            .organization_plugin(true, false)
            .query(false)
            .expect("query");
        assert!(
            q.contains("u.\"banExpires\", s.\"activeOrganizationId\", NULL FROM"),
            "{q}"
        );
        for bad in [
            SessionSchema::default().tables("session; DROP TABLE x", "user"),
            SessionSchema::default().user_field("email", "e\"mail"),
            SessionSchema::default().user_field("password", "password"),
        ] {
            assert!(bad.query(false).is_err());
        }
    }
}
