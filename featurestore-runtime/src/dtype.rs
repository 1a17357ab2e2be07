//! Mapping between declared types and polars types.

use polars::prelude::{DataType as Pl, TimeUnit};

use crate::spec::DataType;

/// The polars type a declared column is held in.
pub(crate) fn polars_dtype(dt: DataType) -> Pl {
    match dt {
        DataType::Bool => Pl::Boolean,
        DataType::Int32 => Pl::Int32,
        DataType::Int64 => Pl::Int64,
        DataType::Float32 => Pl::Float32,
        DataType::Float64 => Pl::Float64,
        DataType::String => Pl::String,
        DataType::Date => Pl::Date,
        DataType::Timestamp => Pl::Datetime(TimeUnit::Microseconds, None),
        DataType::List(inner) => Pl::List(Box::new(polars_dtype(*inner))),
    }
}
