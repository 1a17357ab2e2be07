//! A source's pre-processing steps as declared: data only. They run in
//! [`crate::source`](mod@crate::source).

use super::{ColumnSpec, FillValue};

/// What `#[source]` declares besides its columns: the steps, and the
/// columns as read when the steps change them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preprocessing {
    /// The columns as read (the struct's fields, in order); empty when there
    /// are no steps, the rows as read then being [`SourceSpec::columns`](super::SourceSpec::columns).
    pub read: &'static [ColumnSpec],
    /// The steps, in declaration order.
    pub steps: &'static [Preprocess],
}

impl Preprocessing {
    /// No pre-processing: the rows as read are the source's rows.
    pub const NONE: Preprocessing = Preprocessing {
        read: &[],
        steps: &[],
    };
}

/// One pre-processing step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Preprocess {
    /// `filter = "..."`: keeps the rows where the SQL condition is true.
    Filter {
        /// A polars SQL boolean expression over the row.
        sql: &'static str,
    },
    /// `replace(column, {"a": "x"})`: each listed value becomes its
    /// replacement; other values, and nulls, stay as they are.
    Replace {
        /// The column.
        column: &'static str,
        /// `(value, replacement)` pairs.
        values: &'static [(FillValue, FillValue)],
    },
    /// `pivot(...)`: one row per key and time, one column per value of a
    /// column.
    Pivot(PivotStep),
    /// `explode_json(column, columns(...))`: the declared fields of a JSON
    /// object in a text column, as typed columns.
    ExplodeJson {
        /// The text column holding one JSON object per row.
        column: &'static str,
        /// The fields extracted, each a new column named as the field.
        fields: &'static [ColumnSpec],
    },
    /// `forward_fill(...)`: a null takes the key's last non-null value.
    ForwardFill(ForwardFillStep),
}

/// `pivot(on = amenity, value = first(has), keys(id), timestamp = ts,
/// columns(balcony: Option<bool>, ...), forward_fill)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PivotStep {
    /// The key columns rows are grouped by, with the timestamp.
    pub keys: &'static [&'static str],
    /// The time column rows are grouped by, and forward fill follows.
    pub timestamp: &'static str,
    /// The text column whose values name the new columns.
    pub on: &'static str,
    /// How the values of a group are combined.
    pub aggregation: PivotAggregation,
    /// The column aggregated.
    pub value: &'static str,
    /// The new columns, one per value of `on`, named as the value.
    pub columns: &'static [ColumnSpec],
    /// Whether a null in a new column takes the key's last non-null value.
    pub forward_fill: bool,
}

/// The aggregation of a pivot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PivotAggregation {
    /// The value of the group's first row, in input order (possibly null).
    First,
    /// The value of the group's last row, in input order (possibly null).
    Last,
    /// The sum of the non-null values; null if there are none.
    Sum,
    /// The smallest non-null value.
    Min,
    /// The largest non-null value.
    Max,
}

impl PivotAggregation {
    /// The name in `#[source(...)]`.
    pub const fn name(self) -> &'static str {
        match self {
            PivotAggregation::First => "first",
            PivotAggregation::Last => "last",
            PivotAggregation::Sum => "sum",
            PivotAggregation::Min => "min",
            PivotAggregation::Max => "max",
        }
    }
}

/// `forward_fill(columns(temperature), keys(sensor), timestamp = ts)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForwardFillStep {
    /// The columns filled.
    pub columns: &'static [&'static str],
    /// The key columns: a value is carried only within one key.
    pub keys: &'static [&'static str],
    /// The time column that orders each key's rows.
    pub timestamp: &'static str,
}
