//! The featurestore runtime: declare sources and feature sets with the
//! [`source`] and [`feature_set`] macros, then run them.

pub mod spec;
mod traits;
mod types;

pub mod catalog;
pub mod cli;
pub mod config;
pub mod dataset;
pub(crate) mod dtype;
pub mod error;
pub mod pipeline;
pub mod registry;
pub mod sink;
pub mod source;
pub mod transform;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use error::{Error, Result};
pub use featurestore_macros::{feature_set, source};
pub use registry::Registry;
pub use sink::online::{get_row, OnlineStore};
pub use spec::{DataType, DatasetSpec, FeatureSetSpec, SourceSpec};
pub use traits::{Dataset, FeatureSet, Source};
pub use transform::{compute, Computed, DateRange};
pub use types::{
    ColumnType, Countable, FillBool, FillFloat, FillInt, FillStr, KeyType, Numeric, NumericOutput,
    Ordered, TimestampType,
};
