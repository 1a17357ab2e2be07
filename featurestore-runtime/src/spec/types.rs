//! How Rust types of declared fields map to column types, and which types
//! each aggregation, key or timestamp accepts.
//!
//! Generated code asserts these bounds with spans on the user's tokens, so a
//! wrong type is reported by rustc under the offending field or column, with
//! the messages below.

use chrono::{NaiveDate, NaiveDateTime};

use crate::spec::DataType;

/// A Rust type that can be the type of a declared column.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the type of a column",
    label = "unsupported column type",
    note = "columns are `bool`, `i32`, `i64`, `f32`, `f64`, `String`, `NaiveDate`, `NaiveDateTime`, or `Option` of one of them"
)]
pub trait ColumnType {
    /// The logical type.
    const DTYPE: DataType;
    /// Whether the column may be null.
    const NULLABLE: bool;
    /// The type without `Option`.
    type Inner;
}

macro_rules! column_types {
    ($($ty:ty => $dt:ident),* $(,)?) => {$(
        impl ColumnType for $ty {
            const DTYPE: DataType = DataType::$dt;
            const NULLABLE: bool = false;
            type Inner = $ty;
        }
        impl ColumnType for Option<$ty> {
            const DTYPE: DataType = DataType::$dt;
            const NULLABLE: bool = true;
            type Inner = $ty;
        }
    )*};
}

/// A Rust type that can be the declared type of a feature: a column type,
/// or a list of one (`most_frequent_set`), which no source column can be.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the type of a feature",
    label = "unsupported feature type",
    note = "features are `bool`, `i32`, `i64`, `f32`, `f64`, `String`, `NaiveDate`, `NaiveDateTime`, `Vec` of one of them, or `Option` of those"
)]
pub trait FeatureType {
    /// The logical type.
    const DTYPE: DataType;
    /// Whether the column may be null.
    const NULLABLE: bool;
    /// The type without `Option`.
    type Inner;
}

impl<T: ColumnType> FeatureType for T {
    const DTYPE: DataType = T::DTYPE;
    const NULLABLE: bool = T::NULLABLE;
    type Inner = T::Inner;
}

/// `Vec<T>`: the output of `most_frequent_set`, never a source column.
macro_rules! list_types {
    ($($ty:ty => $dt:ident),* $(,)?) => {$(
        impl FeatureType for Vec<$ty> {
            const DTYPE: DataType = DataType::List(&DataType::$dt);
            const NULLABLE: bool = false;
            type Inner = Vec<$ty>;
        }
        impl FeatureType for Option<Vec<$ty>> {
            const DTYPE: DataType = DataType::List(&DataType::$dt);
            const NULLABLE: bool = true;
            type Inner = Vec<$ty>;
        }
        impl SetOf<$ty> for Vec<$ty> {}
        impl SetOf<Option<$ty>> for Vec<$ty> {}
        impl SetOf<$ty> for Option<Vec<$ty>> {}
        impl SetOf<Option<$ty>> for Option<Vec<$ty>> {}
    )*};
}

list_types! {
    bool => Bool,
    i32 => Int32,
    i64 => Int64,
    f32 => Float32,
    f64 => Float64,
    String => String,
    NaiveDate => Date,
    NaiveDateTime => Timestamp,
}

/// A declared output type that holds lists of the values of a column of
/// type `C`: the type of `most_frequent_set`.
#[diagnostic::on_unimplemented(
    message = "`most_frequent_set` returns lists of its column's values, `Vec<{C}>`, but the feature is declared `{Self}`",
    label = "not a list of the column's type",
    note = "declare the feature as `Vec<T>` with `T` the column's type (without `Option`)"
)]
pub trait SetOf<C> {}

column_types! {
    bool => Bool,
    i32 => Int32,
    i64 => Int64,
    f32 => Float32,
    f64 => Float64,
    String => String,
    NaiveDate => Date,
    NaiveDateTime => Timestamp,
}

/// A column type `sum`, `avg`, the deviations, variances, percentiles and
/// the other functions that compute with numbers can aggregate.
#[diagnostic::on_unimplemented(
    message = "this aggregation needs a numeric column, but the column is `{Self}`",
    label = "not a numeric column",
    note = "`sum`, `sum_distinct`, `avg`, `mean`, `product`, `stddev_pop`, `stddev_samp`, `stddev`, `var_pop`, `var_samp`, `variance`, `skewness`, `kurtosis`, `percentile`, `median`, `percentile_approx` and `approx_percentile` take `i32`, `i64`, `f32`, `f64` or `Option` of one; `count`, `count_distinct`, `approx_count_distinct`, `first`, `last`, `mode`, `most_frequent_set`, `collect_list` and `collect_set` take any column; `count_if`, `bool_and` and `bool_or` take `bool`"
)]
pub trait Numeric: ColumnType {}

/// A column type `count_if`, `bool_and` and `bool_or` can aggregate.
#[diagnostic::on_unimplemented(
    message = "this aggregation needs a `bool` column, but the column is `{Self}`",
    label = "not a `bool` column",
    note = "`count_if`, `bool_and` and `bool_or` take `bool` or `Option<bool>`: derive a boolean column in the source or the feature set's `query`, or count with a feature `filter`"
)]
pub trait Boolean: ColumnType {}

/// A column type `min` and `max` can aggregate, and `max_by` and `min_by`
/// can order by.
#[diagnostic::on_unimplemented(
    message = "`min` and `max`, and the ordering column of `max_by` and `min_by`, need a numeric column, but the column is `{Self}`",
    label = "not a numeric column",
    note = "they take `i32`, `i64`, `f32`, `f64` or `Option` of one"
)]
pub trait Ordered: ColumnType {}

/// A column type `count` can aggregate (any column).
#[diagnostic::on_unimplemented(
    message = "`count` cannot take a column of type `{Self}`",
    label = "not a column type"
)]
pub trait Countable: ColumnType {}

/// A column type that can be an entity key.
#[diagnostic::on_unimplemented(
    message = "an entity key must be `String`, `i32`, `i64`, `bool` or `NaiveDate`, but this column is `{Self}`",
    label = "cannot be a key",
    note = "keys are never null: use the non-`Option` type in the source, or filter nulls out"
)]
pub trait KeyType: ColumnType {}

/// A column type that can be a feature set's event time.
#[diagnostic::on_unimplemented(
    message = "the `timestamp` column must be a `NaiveDateTime` or `NaiveDate`, but it is `{Self}`",
    label = "not a time column"
)]
pub trait TimestampType: ColumnType {}

/// A declared output type of an aggregated feature.
#[diagnostic::on_unimplemented(
    message = "an aggregated feature must be declared as `i32`, `i64`, `f32` or `f64`, not `{Self}`",
    label = "not a numeric output type",
    note = "only `first`, `last`, `mode`, `lag` and `lead` return values of other types: those of their column"
)]
pub trait NumericOutput: ColumnType {}

/// A declared output type that holds the values of a column of type `C`:
/// the type of `first`, `last` and `mode`.
#[diagnostic::on_unimplemented(
    message = "`first`, `last`, `mode`, `lag` and `lead` return values of their column, of type `{C}`, but the feature is declared `{Self}`",
    label = "not the column's type",
    note = "declare the feature with the column's type (without `Option`, it is added unless `fill_null` is set)"
)]
pub trait ValueOf<C> {}

macro_rules! value_of {
    ($($ty:ty),*) => {$(
        impl ValueOf<$ty> for $ty {}
        impl ValueOf<Option<$ty>> for $ty {}
        impl ValueOf<$ty> for Option<$ty> {}
        impl ValueOf<Option<$ty>> for Option<$ty> {}
    )*};
}
value_of!(bool, i32, i64, f32, f64, String, NaiveDate, NaiveDateTime);

/// An output type `fill_null` with an integer literal can fill.
#[diagnostic::on_unimplemented(
    message = "`fill_null` is an integer, which cannot fill a feature of type `{Self}`",
    label = "this feature is not numeric"
)]
pub trait FillInt {}
/// An output type `fill_null` with a float literal can fill.
#[diagnostic::on_unimplemented(
    message = "`fill_null` is a float, which cannot fill a feature of type `{Self}`",
    label = "this feature is not a float"
)]
pub trait FillFloat {}
/// An output type `fill_null` with a boolean can fill.
#[diagnostic::on_unimplemented(
    message = "`fill_null` is a boolean, which cannot fill a feature of type `{Self}`",
    label = "this feature is not a `bool`"
)]
pub trait FillBool {}
/// An output type `fill_null` with a string can fill.
#[diagnostic::on_unimplemented(
    message = "`fill_null` is a string, which cannot fill a feature of type `{Self}`",
    label = "this feature is not a `String`"
)]
pub trait FillStr {}

/// A column type a pivot's values of type `L` can be compared with.
#[diagnostic::on_unimplemented(
    message = "the values of `pivot` are `{L}` literals, but the pivot column is `{Self}`",
    label = "cannot hold the pivot values",
    note = "string values pivot a `String` column, integers an `i32` or `i64` column, booleans a `bool` column (each possibly `Option`)"
)]
pub trait PivotOn<L: ?Sized> {}

macro_rules! marker {
    ($tr:ident: $($ty:ty),*) => {$(
        impl $tr for $ty {}
    )*};
}
marker!(Numeric: i32, i64, f32, f64, Option<i32>, Option<i64>, Option<f32>, Option<f64>);
marker!(Boolean: bool, Option<bool>);
marker!(Ordered: i32, i64, f32, f64, Option<i32>, Option<i64>, Option<f32>, Option<f64>);
marker!(NumericOutput: i32, i64, f32, f64, Option<i32>, Option<i64>, Option<f32>, Option<f64>);
marker!(Countable: bool, i32, i64, f32, f64, String, NaiveDate, NaiveDateTime);
marker!(Countable: Option<bool>, Option<i32>, Option<i64>, Option<f32>, Option<f64>);
marker!(Countable: Option<String>, Option<NaiveDate>, Option<NaiveDateTime>);
marker!(KeyType: String, i32, i64, bool, NaiveDate);
marker!(TimestampType: NaiveDateTime, Option<NaiveDateTime>, NaiveDate, Option<NaiveDate>);
marker!(FillInt: i32, i64, f32, f64);
marker!(FillFloat: f32, f64);
marker!(FillBool: bool);
marker!(FillStr: String);

macro_rules! pivot_on {
    ($l:ty: $($ty:ty),*) => {$(
        impl PivotOn<$l> for $ty {}
        impl PivotOn<$l> for Option<$ty> {}
    )*};
}
pivot_on!(str: String);
pivot_on!(i64: i32, i64);
pivot_on!(bool: bool);

/// A column type `#[column(epoch = "...")]` reads: integer counts since
/// the epoch, read as timestamps.
#[diagnostic::on_unimplemented(
    message = "`epoch` reads integer counts since 1970-01-01, but the column is `{Self}`",
    label = "not an integer column",
    note = "declare the field `i64` (or `i32`, or `Option` of one)"
)]
pub trait EpochColumn: ColumnType {
    /// The column once read.
    type Time: ColumnType;
}

/// A column type `#[column(format = "...")]` reads: text in a format, read
/// as timestamps.
#[diagnostic::on_unimplemented(
    message = "`format` parses text, but the column is `{Self}`",
    label = "not a `String` column",
    note = "declare the field `String` or `Option<String>`"
)]
pub trait FormattedColumn: ColumnType {
    /// The column once read.
    type Time: ColumnType;
}

macro_rules! read_as_time {
    ($tr:ident: $($ty:ty),*) => {$(
        impl $tr for $ty {
            type Time = NaiveDateTime;
        }
        impl $tr for Option<$ty> {
            type Time = Option<NaiveDateTime>;
        }
    )*};
}
read_as_time!(EpochColumn: i32, i64);
read_as_time!(FormattedColumn: String);

/// A column type `h3(lat = ..., lng = ...)` reads as degrees.
#[diagnostic::on_unimplemented(
    message = "`h3` reads latitudes and longitudes in degrees, but this column is `{Self}`",
    label = "not a float column",
    note = "declare the field `f64` or `f32`, or `Option` of one"
)]
pub trait Degrees: ColumnType {}
marker!(Degrees: f32, f64, Option<f32>, Option<f64>);

/// A column type that holds H3 cell ids: their hexadecimal text.
#[diagnostic::on_unimplemented(
    message = "an `h3` column holds cell ids as text, but it is declared `{Self}`",
    label = "not a `String` column",
    note = "declare the field `String` (rows without a point are left out) or `Option<String>` (they keep a null cell)"
)]
pub trait CellId: ColumnType {}
marker!(CellId: String, Option<String>);

/// A column type that can hold the values of a stacked column of type `C`.
#[diagnostic::on_unimplemented(
    message = "a `stack` column holds the values of the stacked columns, of type `{C}`, but it is declared `{Self}`",
    label = "not the stacked column's type",
    note = "stacked columns and the stack have one type, each possibly `Option`"
)]
pub trait StackOf<C> {}

macro_rules! stack_of {
    ($($ty:ty),*) => {$(
        impl StackOf<$ty> for $ty {}
        impl StackOf<Option<$ty>> for $ty {}
        impl StackOf<$ty> for Option<$ty> {}
        impl StackOf<Option<$ty>> for Option<$ty> {}
    )*};
}
stack_of!(bool, i32, i64, f32, f64, String, NaiveDate, NaiveDateTime);

/// A column type `replace` can replace values of type `L` in.
#[diagnostic::on_unimplemented(
    message = "the values of `replace` are `{L}` literals, but the column is `{Self}`",
    label = "not a value of the column's type",
    note = "`replace` takes string literals for a `String` column, integers for an integer column, numbers for a float column, booleans for a `bool` column (each possibly `Option`)"
)]
pub trait ReplaceIn<L: ?Sized> {}

macro_rules! replace_in {
    ($l:ty: $($ty:ty),*) => {$(
        impl ReplaceIn<$l> for $ty {}
        impl ReplaceIn<$l> for Option<$ty> {}
    )*};
}
replace_in!(str: String);
replace_in!(i64: i32, i64, f32, f64);
replace_in!(f64: f32, f64);
replace_in!(bool: bool);

/// The declared type of a column `pivot` makes from a `value` column of
/// type `C`: `Option` of `C`'s type, as a key may have no row with the
/// column's value at a time.
#[diagnostic::on_unimplemented(
    message = "`pivot` makes columns of its `value` column's type, `{C}`, which are null where a key has no row with the column's value, but this one is declared `{Self}`",
    label = "not `Option` of the value column's type",
    note = "declare each new column of `pivot` as `Option<T>`, `T` the type of the `value` column without `Option`"
)]
pub trait PivotColumnOf<C> {}

macro_rules! pivot_column_of {
    ($($ty:ty),*) => {$(
        impl PivotColumnOf<$ty> for Option<$ty> {}
        impl PivotColumnOf<Option<$ty>> for Option<$ty> {}
    )*};
}
pivot_column_of!(
    bool,
    i32,
    i64,
    f32,
    f64,
    String,
    chrono::NaiveDate,
    chrono::NaiveDateTime
);

/// A column type that can hold JSON text: `explode_json`'s column.
#[diagnostic::on_unimplemented(
    message = "`explode_json` reads JSON text, but the column is `{Self}`",
    label = "not a text column",
    note = "the column of `explode_json` is a `String` or `Option<String>`"
)]
pub trait JsonText {}

impl JsonText for String {}
impl JsonText for Option<String> {}
