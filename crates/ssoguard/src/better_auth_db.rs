//! Better Auth's own database, opened read-only: the session lookup (feature
//! `session-database`), API keys (feature `api-key-database`) and organization memberships
//! (feature `organization-database`) read its tables through this one pool and this one
//! identifier rule.

use crate::error::ConfigError;
use std::str::FromStr as _;
use std::time::Duration;

/// A lazily connecting pool on Better Auth's database.
pub(crate) enum Pool {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

impl Pool {
    /// Opens `url` (`postgres://…`, `postgresql://…` or `sqlite:…`) read-only: Postgres sessions
    /// default to read-only transactions, SQLite files open read-only. At most 4 connections,
    /// `timeout` to get one; nothing connects before the first query. Errors name `setting`.
    pub(crate) fn open_read_only(
        url: &str,
        timeout: Duration,
        setting: &'static str,
    ) -> Result<Pool, ConfigError> {
        let invalid = |reason: &str| ConfigError::InvalidSetting {
            setting,
            reason: reason.into(),
        };
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = sqlx::postgres::PgConnectOptions::from_str(url)
                .map_err(|_| invalid("not a valid postgres:// URL"))?
                .options([("default_transaction_read_only", "on")]);
            Ok(Pool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(options),
            ))
        } else if url.starts_with("sqlite:") {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .map_err(|_| invalid("not a valid sqlite: URL"))?
                .read_only(true)
                .busy_timeout(timeout);
            Ok(Pool::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(options),
            ))
        } else {
            Err(invalid("use a postgres:// or sqlite: URL"))
        }
    }
}

/// `"name"`, quoted, for a plain table or column name (letters, digits, `_`; 1–63 bytes): names
/// come from settings, so nothing else may reach a query. Errors name `setting`.
pub(crate) fn quoted_identifier(setting: &'static str, name: &str) -> Result<String, ConfigError> {
    if name.is_empty()
        || name.len() > 63
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(ConfigError::InvalidSetting {
            setting,
            reason: format!("{name:?} is not a plain table or column name"),
        });
    }
    Ok(format!("\"{name}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_plain_names_quoted() {
        assert_eq!(
            quoted_identifier("t", "api_keys").expect("ok"),
            "\"api_keys\""
        );
        for bad in ["", "a\"b", "a b", "a;drop", &"x".repeat(64)] {
            assert!(quoted_identifier("t", bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn only_postgres_and_sqlite_urls_open() {
        let t = Duration::from_secs(1);
        assert!(Pool::open_read_only("mysql://db/auth", t, "db").is_err());
        assert!(Pool::open_read_only("postgres://u@127.0.0.1/auth", t, "db").is_ok());
        assert!(Pool::open_read_only("sqlite://auth.db", t, "db").is_ok());
    }
}
