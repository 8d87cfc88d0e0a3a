//! The `database` membership lookup (feature `organization-database`): read-only queries on the
//! organization plugin's tables in Better Auth's own database, Postgres or SQLite.
//!
//! Two queries, both on bound parameters:
//! - the member row of (organization, user), joined with `organization` so that a member row of
//!   a deleted organization never counts: `member.id`, `member.role`;
//! - with dynamic access control, the organization's `organizationRole` rows (`role`,
//!   `permission` as JSON text).
//!
//! Table and column names follow Better Auth's defaults and can be renamed as its
//! `organization({ schema })` option allows ([`OrganizationSchema`]); names are checked (letters,
//! digits, `_`) and quoted. Connections are opened read-only, lazily, at most 4 at once; each
//! lookup is bounded by the lookup timeout.

use super::access::Statements;
use crate::better_auth_db::{Pool, quoted_identifier};
use crate::error::ConfigError;
use std::collections::BTreeMap;
use std::time::Duration;

/// What one lookup found: the member row and the organization's dynamic roles.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) member_id: String,
    pub(crate) role: String,
    pub(crate) dynamic: Vec<(String, Statements)>,
}

/// The models and fields read, with Better Auth's default names.
const FIELDS: [(&str, &[&str]); 3] = [
    ("member", &["id", "organizationId", "userId", "role"]),
    ("organization", &["id"]),
    (
        "organizationRole",
        &["organizationId", "role", "permission"],
    ),
];

/// The organization plugin's table and column names, as configured in its `schema` option.
///
/// # Example
///
/// ```
/// use ssoguard::organization::OrganizationSchema;
///
/// // `usePlural: true` and a snake_case column, as a Drizzle schema might have them.
/// let schema = OrganizationSchema::default()
///     .plural()
///     .field("member", "organizationId", "organization_id");
/// # let _ = schema;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct OrganizationSchema {
    tables: BTreeMap<&'static str, String>,
    columns: BTreeMap<(&'static str, &'static str), String>,
    unknown: Option<String>,
}

impl Default for OrganizationSchema {
    /// Better Auth's defaults: tables `member`, `organization`, `organizationRole`, camelCase
    /// columns.
    fn default() -> Self {
        let mut tables = BTreeMap::new();
        let mut columns = BTreeMap::new();
        for (model, fields) in FIELDS {
            tables.insert(model, model.to_owned());
            for field in fields {
                columns.insert((model, *field), (*field).to_owned());
            }
        }
        OrganizationSchema {
            tables,
            columns,
            unknown: None,
        }
    }
}

impl OrganizationSchema {
    /// Table names `members`, `organizations`, `organizationRoles` (Better Auth's `usePlural`).
    pub fn plural(self) -> Self {
        self.table("member", "members")
            .table("organization", "organizations")
            .table("organizationRole", "organizationRoles")
    }

    /// The table of `model` (`member`, `organization`, `organizationRole`; Better Auth's
    /// `modelName`); another model is refused at build.
    pub fn table(mut self, model: &str, table: impl Into<String>) -> Self {
        match FIELDS.iter().find(|(m, _)| *m == model) {
            Some((m, _)) => {
                self.tables.insert(*m, table.into());
            }
            None => self.unknown = Some(model.to_owned()),
        }
        self
    }

    /// The column of `model.field` (`member`: `id`, `organizationId`, `userId`, `role`;
    /// `organization`: `id`; `organizationRole`: `organizationId`, `role`, `permission`);
    /// another field is refused at build.
    pub fn field(mut self, model: &str, field: &str, column: impl Into<String>) -> Self {
        let known = FIELDS
            .iter()
            .find(|(m, _)| *m == model)
            .and_then(|(m, fields)| fields.iter().find(|f| **f == field).map(|f| (*m, *f)));
        match known {
            Some(key) => {
                self.columns.insert(key, column.into());
            }
            None => self.unknown = Some(format!("{model}.{field}")),
        }
        self
    }

    fn table_name(&self, model: &'static str) -> Result<String, ConfigError> {
        quoted_identifier("organization_schema", &self.tables[model])
    }

    fn column(&self, model: &'static str, field: &'static str) -> Result<String, ConfigError> {
        quoted_identifier("organization_schema", &self.columns[&(model, field)])
    }

    /// The member query and the dynamic roles query; `(organization, user)` and
    /// `(organization)` are the bound parameters.
    fn queries(&self, postgres: bool) -> Result<(String, String), ConfigError> {
        if let Some(unknown) = &self.unknown {
            return Err(ConfigError::InvalidSetting {
                setting: "organization_schema",
                reason: format!("{unknown} is not a table or field the lookup reads"),
            });
        }
        let (p1, p2) = if postgres { ("$1", "$2") } else { ("?", "?") };
        let m = |f| self.column("member", f).map(|c| format!("m.{c}"));
        let member = format!(
            "SELECT {}, {} FROM {} m JOIN {} o ON o.{} = m.{} WHERE m.{} = {p1} AND m.{} = {p2}",
            m("id")?,
            m("role")?,
            self.table_name("member")?,
            self.table_name("organization")?,
            self.column("organization", "id")?,
            self.column("member", "organizationId")?,
            self.column("member", "organizationId")?,
            self.column("member", "userId")?,
        );
        let roles = format!(
            "SELECT {}, {} FROM {} WHERE {} = {p1}",
            self.column("organizationRole", "role")?,
            self.column("organizationRole", "permission")?,
            self.table_name("organizationRole")?,
            self.column("organizationRole", "organizationId")?,
        );
        Ok((member, roles))
    }
}

/// Where Better Auth's database is, its schema, and whether dynamic access control is on.
///
/// # Example
///
/// ```
/// use ssoguard::organization::{OrganizationDatabase, OrganizationSchema};
///
/// let db = OrganizationDatabase::new("postgres://auth_reader@db/auth")
///     .schema(OrganizationSchema::default())
///     .dynamic_roles(true);
/// # let _ = db;
/// ```
#[derive(Clone)]
#[must_use]
pub struct OrganizationDatabase {
    url: String,
    schema: OrganizationSchema,
    dynamic_roles: bool,
}

impl std::fmt::Debug for OrganizationDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("OrganizationDatabase")
            .field("url", &"[redacted]")
            .field("schema", &self.schema)
            .field("dynamic_roles", &self.dynamic_roles)
            .finish()
    }
}

impl OrganizationDatabase {
    /// Better Auth's database URL (`postgres://…`, `sqlite://…`), Better Auth's default schema,
    /// no dynamic roles.
    pub fn new(url: impl Into<String>) -> Self {
        OrganizationDatabase {
            url: url.into(),
            schema: OrganizationSchema::default(),
            dynamic_roles: false,
        }
    }

    /// Its table and column names. Default: [`OrganizationSchema::default`].
    pub fn schema(mut self, schema: OrganizationSchema) -> Self {
        self.schema = schema;
        self
    }

    /// Whether Better Auth's `dynamicAccessControl` is enabled, so that the organization's
    /// `organizationRole` rows are read and merged into the static roles. Default: `false` (the
    /// table does not exist without it). On, a row whose `permission` is not valid JSON
    /// statements grants nothing and is logged (Better Auth answers 500 for it).
    pub fn dynamic_roles(mut self, enabled: bool) -> Self {
        self.dynamic_roles = enabled;
        self
    }

    pub(crate) fn connect(self, timeout: Duration) -> Result<DatabaseStore, ConfigError> {
        let pool = Pool::open_read_only(&self.url, timeout, "organization_database_url")?;
        let (member, roles) = self.schema.queries(matches!(pool, Pool::Postgres(_)))?;
        Ok(DatabaseStore {
            pool,
            member,
            roles: self.dynamic_roles.then_some(roles),
            timeout,
        })
    }
}

pub(crate) struct DatabaseStore {
    pool: Pool,
    member: String,
    roles: Option<String>,
    timeout: Duration,
}

/// The lookup could not answer (already logged, without identifiers of the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreDown;

fn text_columns<R: sqlx::Row>(row: &R) -> Option<(String, String)>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Some((row.try_get(0).ok()?, row.try_get(1).ok()?))
}

/// Parses dynamic role rows; an unreadable one grants nothing.
fn dynamic_roles(rows: Vec<Option<(String, String)>>) -> Vec<(String, Statements)> {
    rows.into_iter()
        .filter_map(|row| {
            let Some((role, permission)) = row else {
                tracing::error!("organizationRole row without a readable role or permission");
                return None;
            };
            let parsed = serde_json::from_str(&permission)
                .map_err(|e| e.to_string())
                .and_then(|v| Statements::from_json(&v));
            match parsed {
                Ok(statements) => Some((role, statements)),
                Err(reason) => {
                    tracing::error!(
                        role = %role,
                        reason = %reason,
                        "invalid organizationRole permission: ignored"
                    );
                    None
                }
            }
        })
        .collect()
}

impl DatabaseStore {
    /// The member row of `user_id` in `organization_id`, with the organization's dynamic roles.
    pub(crate) async fn find(
        &self,
        organization_id: &str,
        user_id: &str,
    ) -> Result<Option<Found>, StoreDown> {
        let query = async {
            macro_rules! run {
                ($pool:expr) => {{
                    let member = sqlx::query(&self.member)
                        .bind(organization_id)
                        .bind(user_id)
                        .fetch_optional($pool)
                        .await?
                        .map(|row| text_columns(&row));
                    let roles: Vec<Option<(String, String)>> = match (&member, &self.roles) {
                        (Some(Some(_)), Some(q)) => sqlx::query(q)
                            .bind(organization_id)
                            .fetch_all($pool)
                            .await?
                            .iter()
                            .map(text_columns)
                            .collect(),
                        _ => Vec::new(),
                    };
                    Ok::<_, sqlx::Error>((member, roles))
                }};
            }
            match &self.pool {
                Pool::Postgres(pool) => run!(pool),
                Pool::Sqlite(pool) => run!(pool),
            }
        };
        match tokio::time::timeout(self.timeout, query).await {
            Err(_) => {
                tracing::warn!("organization membership lookup (database) timed out");
                Err(StoreDown)
            }
            Ok(Err(e)) => {
                // sqlx errors name the table or column at fault, never the bound values.
                tracing::warn!(error = %e, "organization membership lookup (database) failed");
                Err(StoreDown)
            }
            Ok(Ok((None, _))) => Ok(None),
            Ok(Ok((Some(None), _))) => {
                tracing::error!("member row without a readable id or role");
                Err(StoreDown)
            }
            Ok(Ok((Some(Some((member_id, role))), rows))) => Ok(Some(Found {
                member_id,
                role,
                dynamic: dynamic_roles(rows),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_quote_configured_names_and_refuse_others() {
        let (member, roles) = OrganizationSchema::default()
            .queries(false)
            .expect("queries");
        assert_eq!(
            member,
            "SELECT m.\"id\", m.\"role\" FROM \"member\" m JOIN \"organization\" o ON o.\"id\" = m.\"organizationId\" WHERE m.\"organizationId\" = ? AND m.\"userId\" = ?"
        );
        assert_eq!(
            roles,
            "SELECT \"role\", \"permission\" FROM \"organizationRole\" WHERE \"organizationId\" = ?"
        );
        let (member, roles) = OrganizationSchema::default()
            .plural()
            .field("member", "userId", "user_id")
            .queries(true)
            .expect("queries");
        assert!(
            member.contains("FROM \"members\" m JOIN \"organizations\" o")
                && member.ends_with("m.\"user_id\" = $2"),
            "{member}"
        );
        assert!(roles.contains("\"organizationRoles\"") && roles.ends_with("= $1"));
        for bad in [
            OrganizationSchema::default().table("member", "member; DROP TABLE x"),
            OrganizationSchema::default().table("team", "team"),
            OrganizationSchema::default().field("member", "email", "email"),
            OrganizationSchema::default().field("member", "role", "r\"ole"),
        ] {
            assert!(bad.queries(false).is_err());
        }
    }

    #[test]
    fn unreadable_dynamic_roles_grant_nothing() {
        let roles = dynamic_roles(vec![
            Some(("editor".into(), r#"{"task":["update"]}"#.into())),
            Some(("broken".into(), "not json".into())),
            Some(("wrong".into(), r#"{"task":"update"}"#.into())),
            None,
        ]);
        assert_eq!(roles.len(), 1);
        assert_eq!(roles[0].0, "editor");
    }
}
