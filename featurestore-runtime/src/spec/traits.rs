//! The traits the macros implement.

use serde::{de::DeserializeOwned, Serialize};

use crate::spec::{DatasetSpec, FeatureSetSpec, SourceSpec};

/// A declared source of events: `#[source]` on a struct whose fields are the columns.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a source",
    label = "not a `#[source]` struct",
    note = "declare it with `#[source(path = \"...\")]` on a struct whose fields are its columns"
)]
pub trait Source: 'static {
    /// The declaration.
    const SPEC: SourceSpec;
}

/// A declared feature set: `#[feature_set]` on a struct whose fields are the features.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a feature set",
    label = "not a `#[feature_set]` struct",
    note = "declare it with `#[feature_set(entity = \"...\", source = ..., timestamp = ...)]` \
            on a struct whose fields are its features"
)]
pub trait FeatureSet: 'static {
    /// The declaration.
    const SPEC: FeatureSetSpec;
    /// One output row: keys, `timestamp`, then every output column.
    type Row: Serialize + DeserializeOwned + std::fmt::Debug + Clone + PartialEq + Send + Sync;
    /// The output columns only, without keys and `timestamp`: what a
    /// dataset joins onto each of its rows.
    type Features: Serialize + DeserializeOwned + std::fmt::Debug + Clone + PartialEq + Send + Sync;
}

/// A declared training dataset: `#[dataset]` on a struct.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a dataset",
    label = "not a `#[dataset]` struct",
    note = "declare it with `#[dataset(spine = ..., key = ..., timestamp = ..., features(...))]` \
            on a unit struct"
)]
pub trait Dataset: 'static {
    /// The declaration.
    const SPEC: DatasetSpec;
    /// One output row.
    type Row: Serialize + DeserializeOwned + std::fmt::Debug + Clone + PartialEq + Send + Sync;
}
