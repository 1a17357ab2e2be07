//! The logical type of a column.

use std::fmt;

/// The logical type of a column, as declared by the Rust type of a field.
///
/// The runtime maps Rust types to it with its `ColumnType` trait, and it to
/// each backend's types (polars, CQL) where that backend lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `bool`
    Bool,
    /// `i32`
    Int32,
    /// `i64`
    Int64,
    /// `f32`
    Float32,
    /// `f64`
    Float64,
    /// `String`
    String,
    /// `chrono::NaiveDate`
    Date,
    /// `chrono::NaiveDateTime`, UTC, microsecond precision.
    Timestamp,
    /// `Vec<T>` of one of the types above: the output of `most_frequent_set`.
    List(&'static DataType),
}

impl DataType {
    /// The Rust type a column of this type has in a generated row.
    pub const fn rust(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::Int32 => "i32",
            DataType::Int64 => "i64",
            DataType::Float32 => "f32",
            DataType::Float64 => "f64",
            DataType::String => "String",
            DataType::Date => "NaiveDate",
            DataType::Timestamp => "NaiveDateTime",
            DataType::List(inner) => match inner {
                DataType::Bool => "Vec<bool>",
                DataType::Int32 => "Vec<i32>",
                DataType::Int64 => "Vec<i64>",
                DataType::Float32 => "Vec<f32>",
                DataType::Float64 => "Vec<f64>",
                DataType::String => "Vec<String>",
                DataType::Date => "Vec<NaiveDate>",
                DataType::Timestamp => "Vec<NaiveDateTime>",
                DataType::List(_) => "Vec<Vec<_>>",
            },
        }
    }

    /// Whether values of this type are integers: they hold no fractions.
    pub const fn is_integer(self) -> bool {
        matches!(self, DataType::Int32 | DataType::Int64)
    }

    /// Whether values of this type are integers or floats.
    pub const fn is_numeric(self) -> bool {
        matches!(
            self,
            DataType::Int32 | DataType::Int64 | DataType::Float32 | DataType::Float64
        )
    }
}

impl fmt::Display for DataType {
    /// The Rust type, as [`DataType::rust`] spells it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rust())
    }
}

#[cfg(test)]
mod tests {
    use super::DataType;

    #[test]
    fn rust_types() {
        assert_eq!(DataType::Int32.to_string(), "i32");
        assert_eq!(DataType::Timestamp.rust(), "NaiveDateTime");
        assert_eq!(DataType::List(&DataType::String).rust(), "Vec<String>");
        assert!(DataType::Float32.is_numeric());
        assert!(!DataType::String.is_numeric());
        assert!(DataType::Int64.is_integer());
        assert!(!DataType::Float64.is_integer());
        assert!(!DataType::List(&DataType::Int64).is_numeric());
    }
}
