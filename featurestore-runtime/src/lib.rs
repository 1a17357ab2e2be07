//! The featurestore runtime: declare sources, feature sets and datasets with
//! the [`macro@source`], [`macro@feature_set`] and [`macro@dataset`] macros,
//! list them on the catalog page of the crate's docs with [`catalog!`], then
//! run them.
//!
//! The modules follow the pipeline, each importing only the ones above it:
//!
//! - [`spec`]: what the macros compile a declaration into (`'static` data,
//!   no execution, no backend dialect).
//! - [`location`]: one grammar for every path and URL the runtime reads or
//!   writes; [`io`]: the process's async runtime and the bridge into it;
//!   [`time`]: day arithmetic.
//! - [`mod@source`]: extract — reading declared sources from any location
//!   into typed lazy frames, pre-processing, derived columns.
//! - [`transform`]: the rolling-window kernel (change points, no grid).
//! - [`store`]: load — the historical store (partitioned Parquet) and the
//!   online stores, read back by lookups and servers.
//! - `stream` (feature `kafka`): feature sets computed continuously from a
//!   Kafka topic by the same kernel, into the online store.
//! - [`engine`]: which engine computes the rows: polars here, or (feature
//!   `spark`) a Spark cluster through Spark Connect.
//! - [`pipeline`]: whole runs, extract to both stores; datasets; run locks.
//! - `serve` (feature `server`): the HTTP feature server, over the
//!   online store.
//! - [`cli`]: the command line a feature crate's binary is made of.
//!
//! `python3 scripts/layers.py` checks that no module imports one above it
//! and that no two modules import each other.

pub mod spec;

pub(crate) mod durable;
pub mod io;
pub mod location;
pub mod time;

pub(crate) mod dtype;
pub(crate) mod expr;
pub(crate) mod spill;

pub mod source;
pub mod transform;

pub mod store;

#[cfg(feature = "kafka")]
pub mod stream;

pub mod engine;

pub mod pipeline;

pub mod catalog;
pub mod page;
#[cfg(feature = "server")]
pub mod serve;

pub mod cli;
pub mod config;
mod date_arg;
pub mod error;
pub mod fail;
pub mod registry;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

// A feature crate declares time columns with chrono's types: re-exported so
// it needs no chrono dependency of its own, whose default features would
// differ from the workspace's and rebuild polars' dependents.
pub use chrono;
pub use chrono::{NaiveDate, NaiveDateTime};
pub use error::{Error, ErrorKind, Result};
pub use featurestore_macros::{catalog, dataset, feature_set, source};
pub use registry::Registry;
pub use spec::{
    Boolean, ColumnType, Countable, DataType, Dataset, DatasetSpec, FeatureSet, FeatureSetSpec,
    FeatureType, FillBool, FillFloat, FillInt, FillStr, KeyType, Numeric, NumericOutput, Ordered,
    PivotOn, SetOf, Source, SourceSpec, TimestampType, ValueOf,
};
pub use store::online::{get_row, OnlineStore};
pub use transform::{compute, Computed, DateRange};
