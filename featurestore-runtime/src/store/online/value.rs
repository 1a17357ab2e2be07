//! Values of online rows, and deserialising them into generated row types.

use std::fmt;

use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// One value of an online row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// SQL null.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer column.
    Int(i64),
    /// Any float column.
    Float(f64),
    /// A string.
    Str(String),
    /// A date, days since 1970-01-01.
    Date(i32),
    /// A timestamp, microseconds since the epoch (UTC).
    Timestamp(i64),
    /// A list of values (`most_frequent_set`).
    List(Vec<Value>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::Date(d) => match date_of(*d) {
                Some(d) => write!(f, "{d}"),
                None => write!(f, "{d}"),
            },
            Value::Timestamp(t) => match datetime_of(*t) {
                Some(t) => write!(f, "{}", t.format("%Y-%m-%d %H:%M:%S%.f")),
                None => write!(f, "{t}"),
            },
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

pub(crate) fn date_of(days: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::default().checked_add_signed(chrono::Duration::days(days.into()))
}

pub(crate) fn datetime_of(micros: i64) -> Option<chrono::NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc())
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i.into())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Error of deserialising a stored row into a row type.
#[derive(Debug)]
pub struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DeError {}
impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Value::Null => visitor.visit_none(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) => visitor.visit_string(s),
            // chrono's types deserialise from their ISO text.
            Value::Date(d) => match date_of(d) {
                Some(d) => visitor.visit_string(d.to_string()),
                None => Err(de::Error::custom(format!("date out of range: {d}"))),
            },
            Value::Timestamp(t) => match datetime_of(t) {
                Some(t) => visitor.visit_string(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
                None => Err(de::Error::custom(format!("timestamp out of range: {t}"))),
            },
            Value::List(items) => {
                visitor.visit_seq(de::value::SeqDeserializer::new(items.into_iter()))
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Value::Null => visitor.visit_none(),
            v => visitor.visit_some(v),
        }
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Value::Int(i) => match i32::try_from(i) {
                Ok(i) => visitor.visit_i32(i),
                Err(_) => Err(de::Error::custom(format!("{i} does not fit an i32"))),
            },
            v => v.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            Value::Float(f) => visitor.visit_f32(f as f32),
            v => v.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i64 i128 u8 u16 u32 u64 u128 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl IntoDeserializer<'_, DeError> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

/// A row as named values, deserialisable into a generated row struct.
pub(crate) struct RowDeserializer {
    pub(crate) entries: std::vec::IntoIter<(&'static str, Value)>,
    pub(crate) pending: Option<Value>,
}

impl<'de> MapAccess<'de> for RowDeserializer {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.pending = Some(v);
                seed.deserialize(k.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        match self.pending.take() {
            Some(v) => seed.deserialize(v),
            None => Err(de::Error::custom("value requested before key")),
        }
    }
}

impl<'de> de::Deserializer<'de> for RowDeserializer {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
