//! The task repository, one code path for SQLite and Postgres (`sqlx::Any`).
//!
//! Every query is scoped by its owner ([`Owner`]): a user's personal tasks (`tasks`, by
//! `user_id`) or an organization's (`org_tasks`, by `organization_id`). A task of another owner
//! is indistinguishable from a task that does not exist. Each write is a single statement, so a
//! task is created fully or not at all, whatever happens to the connection.

use crate::input::{Description, TaskCreate, TaskUpdate, Title};
use serde::Serialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod page;

pub use page::{PageStart, parse_cursor};

/// Which database a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// SQLite (the embedded default).
    Sqlite,
    /// Postgres.
    Postgres,
}

/// A database handle.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    kind: DbKind,
}

/// A task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Task {
    /// Task id (UUID).
    pub id: String,
    /// Owner (the SSO user id); for an organization's task, the member who created it.
    pub user_id: String,
    /// The organization, for an organization's task (absent for a personal one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Title.
    pub title: String,
    /// Optional description.
    pub description: Option<String>,
    /// Done or not.
    pub done: bool,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Last update, RFC 3339.
    pub updated_at: String,
    #[serde(skip)]
    #[schema(ignore)]
    created_micros: i64,
}

fn now_micros() -> i64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1000).unwrap_or(i64::MAX)
}

fn rfc3339(micros: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn task_from_row(row: &AnyRow) -> Result<Task, sqlx::Error> {
    let created: i64 = row.try_get("created_at")?;
    let updated: i64 = row.try_get("updated_at")?;
    Ok(Task {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        organization_id: row.try_get("organization_id").ok(),
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        done: row.try_get::<i64, _>("done")? != 0,
        created_at: rfc3339(created),
        updated_at: rfc3339(updated),
        created_micros: created,
    })
}

impl Task {
    /// The pagination cursor pointing after this task.
    #[must_use]
    pub fn cursor(&self) -> String {
        format!("{}_{}", self.created_micros, self.id)
    }
}

/// Whose tasks a query reads or writes.
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    /// A user's personal tasks.
    User(&'a str),
    /// An organization's tasks.
    Organization(&'a str),
}

impl Owner<'_> {
    /// The table, its columns and the owner column.
    fn table(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Owner::User(_) => ("tasks", COLUMNS, "user_id"),
            Owner::Organization(_) => ("org_tasks", ORG_COLUMNS, "organization_id"),
        }
    }

    fn id(self) -> String {
        match self {
            Owner::User(id) | Owner::Organization(id) => id.to_owned(),
        }
    }
}

const COLUMNS: &str = "id, user_id, title, description, done, created_at, updated_at";
const ORG_COLUMNS: &str =
    "id, organization_id, user_id, title, description, done, created_at, updated_at";

impl Db {
    /// Connects (creating a SQLite file if missing) and runs the embedded migrations.
    ///
    /// # Errors
    ///
    /// The database error when it cannot be reached or migrated.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let (url, kind) = if url.starts_with("sqlite:") {
            let url = if url.contains("mode=") || url.contains(":memory:") {
                url.to_string()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (url, DbKind::Sqlite)
        } else {
            (url.to_string(), DbKind::Postgres)
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if kind == DbKind::Sqlite { 4 } else { 10 })
            .acquire_timeout(Duration::from_secs(3))
            .connect(&url)
            .await?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| sqlx::Error::Migrate(Box::new(e)))?;
        Ok(Db { pool, kind })
    }

    /// Which database this is.
    #[must_use]
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Creates a task for `user_id`.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn create(&self, user_id: &str, new: TaskCreate) -> Result<Task, sqlx::Error> {
        self.create_in(Owner::User(user_id), user_id, new).await
    }

    /// Creates a task of `owner`, created by `user_id`.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn create_in(
        &self,
        owner: Owner<'_>,
        user_id: &str,
        new: TaskCreate,
    ) -> Result<Task, sqlx::Error> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_micros();
        let description = new.description.map(Description::into_string);
        let organization_id = match owner {
            Owner::User(_) => None,
            Owner::Organization(org) => Some(org.to_owned()),
        };
        let query = match owner {
            Owner::User(_) => sqlx::query(
                "INSERT INTO tasks (id, user_id, title, description, done, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id),
            Owner::Organization(org) => sqlx::query(
                "INSERT INTO org_tasks (id, organization_id, user_id, title, description, done, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&id)
            .bind(org),
        };
        query
            .bind(user_id)
            .bind(new.title.as_str())
            .bind(description.clone())
            .bind(i64::from(new.done))
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(Task {
            id,
            user_id: user_id.to_string(),
            organization_id,
            title: new.title.into_string(),
            description,
            done: new.done,
            created_at: rfc3339(now),
            updated_at: rfc3339(now),
            created_micros: now,
        })
    }

    /// Lists `user_id`'s tasks, newest first.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn list(
        &self,
        user_id: &str,
        limit: i64,
        start: PageStart,
    ) -> Result<Vec<Task>, sqlx::Error> {
        self.list_of(Owner::User(user_id), limit, start).await
    }

    /// Lists `owner`'s tasks, newest first.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn list_of(
        &self,
        owner: Owner<'_>,
        limit: i64,
        start: PageStart,
    ) -> Result<Vec<Task>, sqlx::Error> {
        let (table, columns, by) = owner.table();
        let owner = owner.id();
        let rows = match start {
            PageStart::Offset(offset) => {
                sqlx::query(&format!(
                    "SELECT {columns} FROM {table} WHERE {by} = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
                ))
                .bind(&owner)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
            PageStart::After(micros, id) => {
                sqlx::query(&format!(
                    "SELECT {columns} FROM {table} WHERE {by} = $1 \
                     AND (created_at < $2 OR (created_at = $3 AND id < $4)) \
                     ORDER BY created_at DESC, id DESC LIMIT $5"
                ))
                .bind(&owner)
                .bind(micros)
                .bind(micros)
                .bind(id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(task_from_row).collect()
    }

    /// One of `user_id`'s tasks.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn get(&self, user_id: &str, id: &str) -> Result<Option<Task>, sqlx::Error> {
        self.get_of(Owner::User(user_id), id).await
    }

    /// One of `owner`'s tasks.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn get_of(&self, owner: Owner<'_>, id: &str) -> Result<Option<Task>, sqlx::Error> {
        let (table, columns, by) = owner.table();
        let row = sqlx::query(&format!(
            "SELECT {columns} FROM {table} WHERE id = $1 AND {by} = $2"
        ))
        .bind(id)
        .bind(owner.id())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Applies a patch to one of `user_id`'s tasks; `None` when it is not theirs or absent.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn update(
        &self,
        user_id: &str,
        id: &str,
        patch: TaskUpdate,
    ) -> Result<Option<Task>, sqlx::Error> {
        self.update_of(Owner::User(user_id), id, patch).await
    }

    /// Applies a patch to one of `owner`'s tasks; `None` when it is not theirs or absent.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn update_of(
        &self,
        owner: Owner<'_>,
        id: &str,
        patch: TaskUpdate,
    ) -> Result<Option<Task>, sqlx::Error> {
        let Some(current) = self.get_of(owner, id).await? else {
            return Ok(None);
        };
        let (table, columns, by) = owner.table();
        let title = patch.title.map_or(current.title, Title::into_string);
        let description = match patch.description {
            Some(new) => new.map(Description::into_string),
            None => current.description,
        };
        let done = patch.done.unwrap_or(current.done);
        let now = now_micros();
        let row = sqlx::query(&format!(
            "UPDATE {table} SET title = $1, description = $2, done = $3, updated_at = $4 \
             WHERE id = $5 AND {by} = $6 RETURNING {columns}"
        ))
        .bind(title)
        .bind(description)
        .bind(i64::from(done))
        .bind(now)
        .bind(id)
        .bind(owner.id())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Deletes one of `user_id`'s tasks; false when it is not theirs or absent.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn delete(&self, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
        self.delete_of(Owner::User(user_id), id).await
    }

    /// Deletes one of `owner`'s tasks; false when it is not theirs or absent.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn delete_of(&self, owner: Owner<'_>, id: &str) -> Result<bool, sqlx::Error> {
        let (table, _, by) = owner.table();
        let result = sqlx::query(&format!("DELETE FROM {table} WHERE id = $1 AND {by} = $2"))
            .bind(id)
            .bind(owner.id())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// How many tasks `user_id` has.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn count_for_user(&self, user_id: &str) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM tasks WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&self.pool)
            .await?;
        row.try_get("n")
    }

    /// How many tasks exist in total (service statistics).
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn count_all(&self) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM tasks")
            .fetch_one(&self.pool)
            .await?;
        row.try_get("n")
    }

    /// Deletes all of `user_id`'s tasks.
    ///
    /// # Errors
    ///
    /// The database error.
    pub async fn delete_all_for_user(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        let result = sqlx::query("DELETE FROM tasks WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}
