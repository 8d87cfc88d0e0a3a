//! What the task routes read from a request — the `POST`/`PATCH` bodies and the list query — as
//! types. The OpenAPI document is generated from these types and every request is read through
//! them, so the constraints `/openapi.json` states are the ones enforced, from one place each.
//!
//! Problems are reported FastAPI's way ([`FieldError`]), every problem of a request at once.

use crate::db::{PageStart, parse_cursor};
use crate::error::{ApiError, FieldError};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Required};

/// Longest title, in characters (Unicode scalar values, as JSON Schema's `maxLength` counts).
pub const MAX_TITLE: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 5000;
/// Largest page (`limit`).
pub const MAX_LIMIT: i64 = 100;
/// The page size when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 20;

/// The characters Rust's `char::is_whitespace` (Unicode `White_Space`) accepts, as ranges: a
/// title of only these is blank. The schema's pattern is built from this table, and a unit test
/// checks it against `char::is_whitespace` for every character.
const WHITESPACE: [(char, char); 10] = [
    ('\u{9}', '\u{d}'),
    (' ', ' '),
    ('\u{85}', '\u{85}'),
    ('\u{a0}', '\u{a0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200a}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202f}', '\u{202f}'),
    ('\u{205f}', '\u{205f}'),
    ('\u{3000}', '\u{3000}'),
];

/// A regular-expression class body (ECMA-262 and Python agree on it) for [`WHITESPACE`].
fn whitespace_class() -> String {
    WHITESPACE
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                format!("\\u{:04x}", u32::from(lo))
            } else {
                format!("\\u{:04x}-\\u{:04x}", u32::from(lo), u32::from(hi))
            }
        })
        .collect()
}

/// Text a database column can hold: Postgres refuses NUL in `text`, so no store may get one.
const NO_NUL: &str = "^[^\\u0000]*$";

fn string_schema(min: usize, max: usize, pattern: String, description: String) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

/// Reads a string field: the value, or the problem FastAPI would name.
fn text(field: &str, value: &Value, max: usize) -> Result<String, FieldError> {
    let Value::String(s) = value else {
        return Err(FieldError::body(
            field,
            "Input should be a valid string",
            "string_type",
        ));
    };
    if s.chars().count() > max {
        return Err(FieldError::body(
            field,
            format!("String should have at most {max} characters"),
            "string_too_long",
        ));
    }
    if s.contains('\0') {
        return Err(FieldError::body(
            field,
            "String should not contain NUL characters",
            "string_pattern_mismatch",
        ));
    }
    Ok(s.clone())
}

/// A task's title: 1 to [`MAX_TITLE`] characters, not only whitespace, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// Reads the `title` field's JSON value.
    ///
    /// # Errors
    ///
    /// FastAPI's `string_type`, `string_too_long`, `string_too_short` (blank) or
    /// `string_pattern_mismatch` (NUL).
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let s = text("title", value, MAX_TITLE)?;
        if s.chars().all(char::is_whitespace) {
            return Err(FieldError::body(
                "title",
                "String should have at least 1 character",
                "string_too_short",
            ));
        }
        Ok(Title(s))
    }

    /// The title.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The title, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl utoipa::PartialSchema for Title {
    fn schema() -> RefOr<Schema> {
        let ws = whitespace_class();
        string_schema(
            1,
            MAX_TITLE,
            format!("^[^\\u0000]*[^\\u0000{ws}][^\\u0000]*$"),
            format!("1 to {MAX_TITLE} characters, not only whitespace."),
        )
    }
}

impl utoipa::ToSchema for Title {}

/// A task's description: up to [`MAX_DESCRIPTION`] characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    /// Reads the `description` field's JSON value; `null` is `None` (no description).
    ///
    /// # Errors
    ///
    /// FastAPI's `string_type`, `string_too_long` or `string_pattern_mismatch` (NUL).
    pub fn from_json(value: &Value) -> Result<Option<Self>, FieldError> {
        match value {
            Value::Null => Ok(None),
            other => text("description", other, MAX_DESCRIPTION).map(|s| Some(Description(s))),
        }
    }

    /// The description, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl utoipa::PartialSchema for Description {
    fn schema() -> RefOr<Schema> {
        string_schema(
            0,
            MAX_DESCRIPTION,
            NO_NUL.to_string(),
            format!("Up to {MAX_DESCRIPTION} characters."),
        )
    }
}

impl utoipa::ToSchema for Description {}

fn done_from_json(value: &Value) -> Result<bool, FieldError> {
    value
        .as_bool()
        .ok_or_else(|| FieldError::body("done", "Input should be a valid boolean", "bool_type"))
}

/// The body as a JSON object, or FastAPI's error for a missing, malformed or non-object body.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let error = |loc: Vec<String>, msg: &str, kind: &str| {
        ApiError::Validation(vec![FieldError {
            loc,
            msg: msg.into(),
            kind: kind.into(),
        }])
    };
    if body.is_empty() {
        return Err(error(vec!["body".into()], "Field required", "missing"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error(
            vec!["body".into()],
            "Input should be a valid dictionary or object",
            "model_attributes_type",
        )),
        Err(e) => Err(error(
            vec!["body".into(), e.column().to_string()],
            "JSON decode error",
            "json_invalid",
        )),
    }
}

/// Collects one field's result: its value, or its problem pushed to `errors`.
fn field<T>(result: Result<T, FieldError>, errors: &mut Vec<FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// Body of `POST /api/tasks`. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct TaskCreate {
    /// The title.
    pub title: Title,
    /// The description; absent or null: none.
    pub description: Option<Description>,
    /// Done or not; absent: false.
    #[schema(default = false, required = false)]
    pub done: bool,
}

impl TaskCreate {
    /// Reads a `POST /api/tasks` body.
    ///
    /// # Errors
    ///
    /// [`ApiError::Validation`] listing every problem.
    pub fn from_body(body: &[u8]) -> Result<Self, ApiError> {
        let map = json_object(body)?;
        let mut errors = Vec::new();
        let title = match map.get("title") {
            None => field(
                Err(FieldError::body("title", "Field required", "missing")),
                &mut errors,
            ),
            Some(v) => field(Title::from_json(v), &mut errors),
        };
        let description = match map.get("description") {
            None => Some(None),
            Some(v) => field(Description::from_json(v), &mut errors),
        };
        let done = match map.get("done") {
            None => Some(false),
            Some(v) => field(done_from_json(v), &mut errors),
        };
        match (title, description, done) {
            (Some(title), Some(description), Some(done)) if errors.is_empty() => Ok(TaskCreate {
                title,
                description,
                done,
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// Body of `PATCH /api/tasks/{id}`: at least one of the fields; `description: null` clears it.
/// Unknown fields are ignored beside a known one; a body naming none (`{}`,
/// `{"completed": true}`) is refused, so a misspelt field is not taken for an update.
#[derive(Debug, Clone, Default, PartialEq, Eq, utoipa::ToSchema)]
pub struct TaskUpdate {
    /// A new title.
    #[schema(nullable = false)]
    pub title: Option<Title>,
    /// A new description; null clears it.
    #[schema(value_type = Option<Description>)]
    pub description: Option<Option<Description>>,
    /// The new done flag.
    #[schema(nullable = false)]
    pub done: Option<bool>,
}

impl TaskUpdate {
    /// The fields a `PATCH` body may name; it must name at least one.
    pub const FIELDS: [&'static str; 3] = ["title", "description", "done"];

    /// Reads a `PATCH /api/tasks/{id}` body.
    ///
    /// # Errors
    ///
    /// [`ApiError::Validation`] listing every problem; for a body that names none of
    /// [`Self::FIELDS`], one problem at `["body"]` saying which fields it may name.
    pub fn from_body(body: &[u8]) -> Result<Self, ApiError> {
        let map = json_object(body)?;
        if !Self::FIELDS.iter().any(|f| map.contains_key(*f)) {
            return Err(ApiError::Validation(vec![FieldError {
                loc: vec!["body".into()],
                msg: "The body names no field to update: give at least one of title, description, done"
                    .into(),
                kind: "value_error".into(),
            }]));
        }
        let mut errors = Vec::new();
        let update = TaskUpdate {
            title: map
                .get("title")
                .and_then(|v| field(Title::from_json(v), &mut errors)),
            description: map
                .get("description")
                .and_then(|v| field(Description::from_json(v), &mut errors)),
            done: map
                .get("done")
                .and_then(|v| field(done_from_json(v), &mut errors)),
        };
        if errors.is_empty() {
            Ok(update)
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// The query of `GET /api/tasks`: `limit` with `offset`, or `cursor`.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Page size, 1 to [`MAX_LIMIT`].
    pub limit: i64,
    /// Where the page starts.
    pub start: PageStart,
}

/// What a cursor looks like: [`crate::db::Task::cursor`]'s `<micros>_<uuid>`.
pub const CURSOR_PATTERN: &str =
    "^[0-9]{1,18}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

impl ListQuery {
    /// Reads the query string's parameters.
    ///
    /// # Errors
    ///
    /// [`ApiError::Validation`] listing every problem (`limit` outside 1–100, a negative or
    /// non-integer `offset`, a `cursor` that is not one this service made).
    pub fn from_query(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let limit = match query.get("limit").map(|v| v.parse::<i64>()) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => {
                errors.push(FieldError::query(
                    "limit",
                    format!("Input should be an integer from 1 to {MAX_LIMIT}"),
                    "int_range",
                ));
                DEFAULT_LIMIT
            }
        };
        let offset = match query.get("offset").map(|v| v.parse::<i64>()) {
            None => 0,
            Some(Ok(n)) if n >= 0 => n,
            Some(_) => {
                errors.push(FieldError::query(
                    "offset",
                    "Input should be a non-negative integer",
                    "int_range",
                ));
                0
            }
        };
        let start = match query.get("cursor") {
            None => PageStart::Offset(offset),
            Some(cursor) => match parse_cursor(cursor) {
                Some((micros, id)) => PageStart::After(micros, id),
                None => {
                    errors.push(FieldError::query("cursor", "Invalid cursor", "value_error"));
                    PageStart::Offset(0)
                }
            },
        };
        if errors.is_empty() {
            Ok(ListQuery { limit, start })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

fn query_param(name: &str, description: &str, schema: ObjectBuilder) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

impl utoipa::IntoParams for ListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let int64 = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        };
        vec![
            query_param(
                "limit",
                "Page size.",
                int64()
                    .minimum(Some(1))
                    .maximum(Some(MAX_LIMIT))
                    .default(Some(json!(DEFAULT_LIMIT))),
            ),
            query_param(
                "offset",
                "Tasks to skip (ignored with `cursor`).",
                int64().minimum(Some(0)).default(Some(json!(0))),
            ),
            query_param(
                "cursor",
                "Continue after the previous page: its `X-Next-Cursor` header.",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(CURSOR_PATTERN)),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(result: Result<TaskCreate, ApiError>) -> Vec<(String, String)> {
        match result {
            Err(ApiError::Validation(e)) => {
                e.into_iter().map(|f| (f.loc.join("."), f.kind)).collect()
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn create_validation_matches_fastapi() {
        let ok = TaskCreate::from_body(br#"{"title":"x"}"#).expect("valid");
        assert!(!ok.done && ok.description.is_none());
        assert_eq!(
            errors(TaskCreate::from_body(b"{}")),
            [("body.title".into(), "missing".into())]
        );
        assert_eq!(
            errors(TaskCreate::from_body(br#"{"title":5}"#)),
            [("body.title".into(), "string_type".into())]
        );
        assert_eq!(
            errors(TaskCreate::from_body(br#"{"title":"  "}"#)),
            [("body.title".into(), "string_too_short".into())]
        );
        let long = format!(r#"{{"title":"{}"}}"#, "x".repeat(201));
        assert_eq!(
            errors(TaskCreate::from_body(long.as_bytes())),
            [("body.title".into(), "string_too_long".into())]
        );
        assert_eq!(
            errors(TaskCreate::from_body(
                br#"{"title":"x","done":"yes","description":1}"#
            )),
            [
                ("body.description".into(), "string_type".into()),
                ("body.done".into(), "bool_type".into())
            ]
        );
        assert_eq!(
            errors(TaskCreate::from_body(b"[1]"))[0].1,
            "model_attributes_type"
        );
        assert_eq!(errors(TaskCreate::from_body(b"{oops"))[0].1, "json_invalid");
        assert_eq!(errors(TaskCreate::from_body(b""))[0].1, "missing");
    }

    #[test]
    fn null_is_refused_where_the_schema_does_not_allow_it() {
        assert_eq!(
            errors(TaskCreate::from_body(br#"{"title":null}"#)),
            [("body.title".into(), "string_type".into())]
        );
        assert_eq!(
            errors(TaskCreate::from_body(br#"{"title":"x","done":null}"#)),
            [("body.done".into(), "bool_type".into())]
        );
        let cleared = TaskUpdate::from_body(br#"{"description":null}"#).expect("valid");
        assert_eq!(cleared.description, Some(None));
        assert!(TaskUpdate::from_body(br#"{"title":null}"#).is_err());
        assert!(TaskUpdate::from_body(br#"{"done":null}"#).is_err());
    }

    #[test]
    fn a_patch_must_name_a_known_field() {
        for body in [&br#"{}"#[..], br#"{"completed":true}"#, br#"{"Title":"x"}"#] {
            match TaskUpdate::from_body(body) {
                Err(ApiError::Validation(e)) => {
                    assert_eq!(e.len(), 1);
                    assert_eq!(
                        (e[0].loc.as_slice(), e[0].kind.as_str()),
                        (&["body".to_string()][..], "value_error")
                    );
                    assert!(
                        e[0].msg.contains("title, description, done"),
                        "{}",
                        e[0].msg
                    );
                }
                other => panic!("expected a validation error, got {other:?}"),
            }
        }
        // Beside a known field, an unknown one is ignored.
        let update = TaskUpdate::from_body(br#"{"done":true,"completed":false}"#).expect("valid");
        assert_eq!(update.done, Some(true));
    }

    #[test]
    fn nul_characters_are_refused() {
        assert_eq!(
            errors(TaskCreate::from_body(br#"{"title":"a\u0000b"}"#)),
            [("body.title".into(), "string_pattern_mismatch".into())]
        );
        assert_eq!(
            errors(TaskCreate::from_body(
                br#"{"title":"a","description":"\u0000"}"#
            )),
            [("body.description".into(), "string_pattern_mismatch".into())]
        );
    }

    #[test]
    fn the_whitespace_table_is_char_is_whitespace() {
        for c in (0..=0x10_ffff).filter_map(char::from_u32) {
            let in_table = WHITESPACE.iter().any(|&(lo, hi)| (lo..=hi).contains(&c));
            assert_eq!(in_table, c.is_whitespace(), "U+{:04X}", u32::from(c));
        }
        assert!(whitespace_class().starts_with("\\u0009-\\u000d\\u0020"));
    }

    #[test]
    fn list_query_bounds_are_the_schema_bounds() {
        let q = |pairs: &[(&str, &str)]| {
            ListQuery::from_query(
                &pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                    .collect(),
            )
        };
        assert_eq!(q(&[]).expect("defaults").limit, DEFAULT_LIMIT);
        assert!(q(&[("limit", "1")]).is_ok() && q(&[("limit", "100")]).is_ok());
        assert!(q(&[("limit", "0")]).is_err() && q(&[("limit", "101")]).is_err());
        assert!(q(&[("offset", "-1")]).is_err());
        // An invalid offset is refused even when a cursor makes it unused.
        let cursor = "1700000000000000_4f1c3a52-9a3e-4c7e-8c1e-0123456789ab";
        assert!(q(&[("cursor", cursor)]).is_ok());
        assert!(q(&[("cursor", cursor), ("offset", "x")]).is_err());
        assert!(q(&[("cursor", "+1_4f1c3a52-9a3e-4c7e-8c1e-0123456789ab")]).is_err());
        assert!(q(&[("cursor", "1_{4f1c3a52-9a3e-4c7e-8c1e-0123456789ab}")]).is_err());
    }
}
