//! Stage 1: the raw attributes, each value kept with its tokens (for spans).
//! Only the shape of each value is checked here; its meaning is the
//! model's. Nothing here knows the model: these files import only `ctxt`
//! and `symbol`, and each other.

mod catalog;
mod column;
mod container;
mod dataset;
mod feature;
mod feature_set;
mod meta;
mod preprocess;
mod source;

pub use self::catalog::CatalogAttr;
pub use self::column::{column_attr, is_column, ColumnAttr, RawDerived};
pub use self::container::{container, docs, unit_struct, Container, Field};
pub use self::dataset::{DatasetAttr, KeyArg};
pub use self::feature::{is_feature, FeatureAttr, RawFunction};
pub use self::feature_set::{DistinctAttr, FeatureSetAttr, PivotAttr};
pub use self::meta::{args_error, did_you_mean, path_string, FillLit};
pub use self::preprocess::{
    step_example, RawExplodeJson, RawForwardFill, RawPivot, RawReplace, RawStep, RawValue,
};
pub use self::source::SourceAttr;
