//! The traits the macros implement.

use serde::{de::DeserializeOwned, Serialize};

use crate::spec::{FeatureSetSpec, SourceSpec};

/// A declared source of events: `#[source]` on a struct whose fields are the columns.
pub trait Source: 'static {
    /// The declaration.
    const SPEC: SourceSpec;
}

/// A declared feature set: `#[feature_set]` on a struct whose fields are the features.
pub trait FeatureSet: 'static {
    /// The declaration.
    const SPEC: FeatureSetSpec;
    /// One output row: keys, `timestamp`, then every output column.
    type Row: Serialize + DeserializeOwned + std::fmt::Debug + Clone + PartialEq + Send + Sync;
}

/// A declared training dataset: `#[dataset]` on a struct.
pub trait Dataset: 'static {
    /// The declaration.
    const SPEC: crate::spec::DatasetSpec;
    /// One output row.
    type Row: Serialize + DeserializeOwned + std::fmt::Debug + Clone + PartialEq + Send + Sync;
}
