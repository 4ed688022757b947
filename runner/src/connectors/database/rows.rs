//! Rows to JSON objects (column name → value) and JSON values to bound parameters, per
//! backend.

use serde_json::{Map, Number, Value};
use sqlx::{Column, Row, TypeInfo};

use super::DatabaseError;

/// Tries each Rust type in turn (sqlx checks type compatibility before decoding) and
/// turns the first that fits into JSON.
macro_rules! decode_column {
    ($row:expr, $index:expr, $( $ty:ty => $to_json:expr ),+ $(,)?) => {{
        let mut found = None;
        $(
            if found.is_none() {
                if let Ok(value) = $row.try_get::<Option<$ty>, _>($index) {
                    found = Some(value.map_or(Value::Null, $to_json));
                }
            }
        )+
        found
    }};
}

fn float(value: f64) -> Value {
    Number::from_f64(value).map_or(Value::Null, Value::Number)
}

fn naive_timestamp(value: chrono::NaiveDateTime) -> Value {
    Value::String(value.format("%Y-%m-%dT%H:%M:%S%.f").to_string())
}

fn unsupported<R: Row>(row: &R, index: usize) -> DatabaseError {
    let column = &row.columns()[index];
    DatabaseError::UnsupportedType {
        column: column.name().to_owned(),
        type_name: column.type_info().name().to_owned(),
    }
}

pub fn pg_row(row: &sqlx::postgres::PgRow) -> Result<Value, DatabaseError> {
    let mut object = Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        let value = decode_column!(row, index,
            bool => Value::Bool,
            i16 => Value::from,
            i32 => Value::from,
            i64 => Value::from,
            f32 => |v| float(f64::from(v)),
            f64 => float,
            String => Value::String,
            chrono::DateTime<chrono::Utc> => |v| Value::String(v.to_rfc3339()),
            chrono::NaiveDateTime => naive_timestamp,
            chrono::NaiveDate => |v| Value::String(v.to_string()),
            uuid::Uuid => |v| Value::String(v.to_string()),
            Value => |v| v,
        )
        .ok_or_else(|| unsupported(row, index))?;
        object.insert(column.name().to_owned(), value);
    }
    Ok(Value::Object(object))
}

pub fn mysql_row(row: &sqlx::mysql::MySqlRow) -> Result<Value, DatabaseError> {
    let mut object = Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        let value = decode_column!(row, index,
            i64 => Value::from,
            u64 => Value::from,
            f64 => float,
            f32 => |v| float(f64::from(v)),
            chrono::NaiveDateTime => naive_timestamp,
            chrono::NaiveDate => |v| Value::String(v.to_string()),
            Value => |v| v,
            String => Value::String,
        )
        .ok_or_else(|| unsupported(row, index))?;
        object.insert(column.name().to_owned(), value);
    }
    Ok(Value::Object(object))
}

pub fn sqlite_row(row: &sqlx::sqlite::SqliteRow) -> Result<Value, DatabaseError> {
    let mut object = Map::new();
    for (index, column) in row.columns().iter().enumerate() {
        let value = decode_column!(row, index,
            i64 => Value::from,
            f64 => float,
            String => Value::String,
        )
        .ok_or_else(|| unsupported(row, index))?;
        object.insert(column.name().to_owned(), value);
    }
    Ok(Value::Object(object))
}

/// Binds JSON values to a query of any backend: numbers as integers or floats, booleans
/// as booleans, strings as text, objects and arrays as JSON text, null as NULL.
macro_rules! bind_json {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for value in $values {
            query = match value {
                serde_json::Value::Null => query.bind(None::<String>),
                serde_json::Value::Bool(b) => query.bind(*b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => query.bind(i),
                    None => query.bind(n.as_f64()),
                },
                serde_json::Value::String(s) => query.bind(s.as_str()),
                other => query.bind(other.to_string()),
            };
        }
        query
    }};
}
pub(crate) use bind_json;

impl super::DatabasePool {
    /// Runs `sql` (already in this backend's placeholders) with `values` bound in order;
    /// every row, or with `first_only` at most the first.
    pub async fn query_rows(
        &self,
        sql: &str,
        values: Vec<&Value>,
        first_only: bool,
    ) -> Result<Vec<Value>, DatabaseError> {
        /// The same fetch on each backend's pool, turning rows with its converter.
        macro_rules! fetch {
            ($pool:expr, $convert:expr) => {{
                let query = bind_json!(sqlx::query(sql), values);
                if first_only {
                    let row = query
                        .fetch_optional($pool)
                        .await
                        .map_err(DatabaseError::sql("query"))?;
                    row.iter().map($convert).collect()
                } else {
                    let rows = query
                        .fetch_all($pool)
                        .await
                        .map_err(DatabaseError::sql("query"))?;
                    rows.iter().map($convert).collect()
                }
            }};
        }
        match self {
            Self::Postgres(pool) => fetch!(pool, pg_row),
            Self::MySql(pool) => fetch!(pool, mysql_row),
            Self::Sqlite(pool) => fetch!(pool, sqlite_row),
        }
    }
}
