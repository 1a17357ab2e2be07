//! Stage 2: the validated model of a declaration. Every value here has been
//! checked on its own; checks between values are `check.rs`'s. Built from
//! the raw attributes of `attr`, which knows nothing of it; no token
//! streams here, only values with the spans errors point at.

mod aggregation;
mod catalog;
mod column;
mod dataset;
mod declaration;
mod feature_set;
mod preprocess;
mod source;

pub use self::aggregation::{assertion, Function};
pub use self::catalog::{catalog, Catalog, Kind};
pub use self::column::{fallback_encoding, Derived, TimeEncoding};
pub use self::dataset::{dataset, Dataset, Join};
pub use self::declaration::{ident, unraw, FillValue};
pub use self::feature_set::{feature_set, FeatureSet, Output, PivotLit, Plain};
pub use self::preprocess::{Col, Preprocessing, Step};
pub use self::source::{source, Column, Source, SourceKind};
