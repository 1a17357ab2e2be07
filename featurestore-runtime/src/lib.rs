//! The featurestore runtime: declare sources, feature sets and datasets with
//! the [`macro@source`], [`macro@feature_set`] and [`macro@dataset`] macros,
//! then run them.
//!
//! - [`spec`]: what the macros compile a declaration into (`'static` data).
//! - [`mod@source`]: reading declared sources into typed lazy frames.
//! - [`preprocess`]: a source's declared pre-processing steps.
//! - [`transform`]: the rolling-window kernel (change points, no grid).
//! - [`sink`]: the historical store (partitioned Parquet) and online stores.
//! - [`mod@dataset`]: point-in-time joins of feature sets onto a spine.
//! - [`pipeline`]: a whole run, extract to both stores.
//! - [`cli`]: the command line a feature crate's binary is made of.
//! - [`cql`]: a feature set's online table in CQL (Cassandra, ScyllaDB).

pub mod spec;
mod traits;
mod types;

pub mod catalog;
pub mod cli;
pub mod config;
pub mod cql;
pub mod dataset;
mod date_arg;
pub(crate) mod dtype;
pub mod error;
pub mod fail;
mod keys;
pub mod lock;
pub mod pipeline;
pub mod preprocess;
pub mod registry;
pub mod sink;
pub mod source;
mod time_encoding;
pub mod transform;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use error::{Error, Result};
pub use featurestore_macros::{dataset, feature_set, source};
pub use registry::Registry;
pub use sink::online::{get_row, OnlineStore};
pub use spec::{DataType, DatasetSpec, FeatureSetSpec, SourceSpec};
pub use traits::{Dataset, FeatureSet, Source};
pub use transform::{compute, Computed, DateRange};
pub use types::{
    ColumnType, Countable, FeatureType, FillBool, FillFloat, FillInt, FillStr, KeyType, Numeric,
    NumericOutput, Ordered, PivotOn, SetOf, TimestampType, ValueOf,
};
