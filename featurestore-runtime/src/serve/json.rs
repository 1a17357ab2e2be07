//! Typed values as JSON, both ways: keys read from requests, stored values
//! written into responses.

use chrono::{NaiveDate, SecondsFormat};
use serde_json::Value as Json;

use super::error::ApiError;
use crate::spec::{ColumnSpec, DataType};
use crate::store::online::Value;

/// A key value of column `column` from JSON, of the column's type: a JSON
/// string for `String`, an integer for `i32`/`i64` (in range), `true` or
/// `false` for `bool`, `"YYYY-MM-DD"` for a date. `at` says where in the
/// request the value is, for the message.
pub(crate) fn key_value(
    column: &ColumnSpec,
    json: &Json,
    at: &dyn Fn() -> String,
) -> Result<Value, ApiError> {
    let wrong = |expected: &str| {
        ApiError::bad_request(format!(
            "{}: key column `{}` is {}, got {}",
            at(),
            column.name,
            expected,
            shown(json)
        ))
    };
    match column.dtype {
        DataType::String => match json {
            Json::String(s) => Ok(Value::Str(s.clone())),
            _ => Err(wrong("a string")),
        },
        DataType::Int32 | DataType::Int64 => {
            let Some(i) = json.as_i64() else {
                return Err(wrong(if column.dtype == DataType::Int32 {
                    "a 32-bit integer"
                } else {
                    "a 64-bit integer"
                }));
            };
            if column.dtype == DataType::Int32 && i32::try_from(i).is_err() {
                return Err(wrong("a 32-bit integer"));
            }
            Ok(Value::Int(i))
        }
        DataType::Bool => match json {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            _ => Err(wrong("true or false")),
        },
        DataType::Date => {
            let date = json
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .ok_or_else(|| wrong("a date, \"YYYY-MM-DD\""))?;
            let days = date.signed_duration_since(NaiveDate::default()).num_days();
            i32::try_from(days)
                .map(Value::Date)
                .map_err(|_| wrong("a date, \"YYYY-MM-DD\""))
        }
        other => Err(ApiError::bad_request(format!(
            "{}: key column `{}` is of type {}, which cannot be looked up over HTTP",
            at(),
            column.name,
            other.rust()
        ))),
    }
}

/// A JSON value as a message shows it: short, whatever its size.
fn shown(json: &Json) -> String {
    let text = json.to_string();
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// A stored value as JSON: numbers, booleans and strings as themselves,
/// dates as `"YYYY-MM-DD"`, timestamps as RFC 3339 in UTC, lists as arrays.
/// A float JSON cannot hold (NaN, infinities) is the string protobuf's JSON
/// mapping uses (`"NaN"`, `"Infinity"`, `"-Infinity"`), as Feast's server
/// writes it.
pub(crate) fn value_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(x) => match serde_json::Number::from_f64(*x) {
            Some(n) => Json::Number(n),
            None if x.is_nan() => Json::from("NaN"),
            None if *x > 0.0 => Json::from("Infinity"),
            None => Json::from("-Infinity"),
        },
        Value::Str(s) => Json::from(s.as_str()),
        Value::Date(_) => Json::from(value.to_string()),
        Value::Timestamp(t) => timestamp_json(*t),
        Value::List(items) => Json::Array(items.iter().map(value_json).collect()),
    }
}

/// Microseconds since the epoch as RFC 3339 in UTC (`2020-07-17T00:00:00Z`,
/// with as many fraction digits as needed), protobuf's JSON form of a
/// timestamp.
pub(crate) fn timestamp_json(micros: i64) -> Json {
    match chrono::DateTime::from_timestamp_micros(micros) {
        Some(t) => Json::from(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        None => Json::from(micros),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(dtype: DataType) -> ColumnSpec {
        ColumnSpec {
            name: "k",
            dtype,
            nullable: false,
            description: "",
        }
    }

    #[test]
    fn keys_must_have_their_column_type() {
        let at = || "entities.k[0]".to_string();
        let int = column(DataType::Int32);
        assert_eq!(key_value(&int, &Json::from(7), &at).unwrap(), Value::Int(7));
        let err = key_value(&int, &Json::from("7"), &at).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.message
                .contains("entities.k[0]: key column `k` is a 32-bit integer, got \"7\""),
            "{}",
            err.message
        );
        assert!(key_value(&int, &Json::from(1_i64 << 40), &at).is_err());
        assert!(key_value(&int, &Json::from(1.5), &at).is_err());
        let date = column(DataType::Date);
        assert_eq!(
            key_value(&date, &Json::from("1970-01-03"), &at).unwrap(),
            Value::Date(2)
        );
        assert!(key_value(&date, &Json::from("03/01/1970"), &at).is_err());
        let s = column(DataType::String);
        assert!(key_value(&s, &Json::Null, &at).is_err());
    }

    #[test]
    fn values_are_json_of_their_kind() {
        assert_eq!(
            timestamp_json(1_594_944_000_000_000),
            Json::from("2020-07-17T00:00:00Z")
        );
        assert_eq!(
            timestamp_json(1_500),
            Json::from("1970-01-01T00:00:00.001500Z")
        );
        assert_eq!(value_json(&Value::Float(f64::NAN)), Json::from("NaN"));
        assert_eq!(
            value_json(&Value::Float(f64::NEG_INFINITY)),
            Json::from("-Infinity")
        );
        assert_eq!(value_json(&Value::Date(2)), Json::from("1970-01-03"));
        assert_eq!(
            value_json(&Value::List(vec![Value::Int(1), Value::Null])),
            serde_json::json!([1, null])
        );
    }
}
