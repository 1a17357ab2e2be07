//! Procedural macros of the featurestore framework: [`macro@source`] and
//! [`macro@feature_set`]. Use them through `featurestore_runtime`, which
//! re-exports them and holds everything the generated code refers to.
//!
//! Each macro runs four stages, one file each: `attr` (raw attributes with
//! their spans) → `model` (validated values) → `check` (checks across
//! values) → `expand` (generated code). Errors of all stages are collected
//! and reported together; a declaration with errors still expands to its
//! struct and a stub impl (`expand/fallback.rs`), so one typo does not
//! cascade.

mod attr;
mod check;
mod ctxt;
mod expand;
mod model;
mod sql;
mod symbol;
mod window;

use proc_macro::TokenStream;

/// Declares a source of events: a struct whose fields are its columns.
///
/// ```ignore
/// use chrono::NaiveDateTime;
/// use featurestore_runtime::source;
///
/// /// Order events exported by the checkout service.
/// #[source(path = "data/order_events/input.csv", format = "csv")]
/// pub struct OrderEvents {
///     pub order_id: String,
///     pub order_timestamp: NaiveDateTime,
///     /// The buyer's CPF.
///     pub cpf: String,
///     pub chargeback_timestamp: Option<NaiveDateTime>,
/// }
/// ```
///
/// A derived source is a SQL query over other sources, each registered as a
/// table under its name:
///
/// ```ignore
/// #[source(
///     query = "SELECT o.*, u.segment FROM order_events o JOIN users u ON o.cpf = u.cpf",
///     inputs(OrderEvents, Users),
/// )]
/// pub struct OrdersWithSegment { /* ... */ }
/// ```
///
/// # Container attributes
///
/// Exactly one of `path` and `query`.
///
/// - `path = "..."`: where the files are, relative to the feature crate's
///   root, absolute, or an object-store URL. A default that configuration
///   can override per environment.
/// - `format = "csv" | "parquet" | "ndjson"`: the file format. Optional when
///   the path ends in `.csv`, `.parquet`, `.ndjson` or `.jsonl`.
/// - `query = "..."`: a SQL query, checked for syntax at compile time.
/// - `inputs(A, B, ...)`: the `#[source]` structs the query reads; required
///   with `query`.
/// - `name = "..."`: the source's name, its table name in SQL and the key of
///   `--source NAME=PATH` overrides. Default: the struct name in snake case
///   (`OrderEvents` → `order_events`).
/// - `description = "..."`: default: the struct's doc comment.
///
/// # Field attributes
///
/// None: every named field is a column, named as the field. Its type is one
/// of `bool`, `i32`, `i64`, `f32`, `f64`, `String`, `NaiveDate`,
/// `NaiveDateTime`, or `Option` of one (a nullable column). Its doc comment
/// is the column's description.
///
/// # Generated
///
/// - `impl featurestore_runtime::Source` with the whole declaration as
///   `SOURCE::SPEC`;
/// - a constant per column name: `OrderEvents::ORDER_ID == "order_id"`;
/// - docs on the struct: location or query, and a table of the columns;
/// - for feature sets to look columns up: one hidden `HasColumn` impl per
///   field.
#[proc_macro_attribute]
pub fn source(args: TokenStream, input: TokenStream) -> TokenStream {
    source_inner(args.into(), input.into()).into()
}

fn source_inner(
    args: proc_macro2::TokenStream,
    input: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let item = match syn::parse2::<syn::Item>(input.clone()) {
        Ok(item) => item,
        Err(error) => return unparsed(input, error),
    };
    expand::source(args, &item).unwrap_or_else(|error| expand::fallback::source(&item, error))
}

/// Declares a feature set: aggregations of a source's columns per entity
/// key, over rolling windows. Each field is one feature.
///
/// ```ignore
/// use featurestore_runtime::feature_set;
///
/// /// Aggregates the total of orders from users in different time windows.
/// #[feature_set(
///     entity = "cpf",
///     window = "3d,7d,30d",
///     source = OrderEvents,
///     timestamp = order_timestamp,
///     fill_null = 0,
/// )]
/// pub struct UserOrders {
///     /// Total of orders registered on the user's CPF.
///     #[feature(count(order_id))]
///     pub cpf_orders: i32,
/// }
///
/// #[feature_set(
///     entity = "cpf",
///     window = "3d,7d,30d",
///     source = OrderEvents,
///     timestamp = chargeback_timestamp,
///     filter = "chargeback_timestamp IS NOT NULL",
///     fill_null = 0,
/// )]
/// pub struct UserChargebacks {
///     #[feature(count(order_id))]
///     pub cpf_chargebacks: i32,
/// }
/// ```
///
/// # Container attributes
///
/// - `entity = "cpf"` (required): the key column of the source, or several
///   comma-separated: `entity = "cpf,merchant_id"`. Keys are never null and
///   are `String`, `i32`, `i64`, `bool` or `NaiveDate`.
/// - `source = OrderEvents` (required): the `#[source]` struct the events
///   come from.
/// - `timestamp = order_timestamp` (required): the source column with each
///   event's time (`NaiveDateTime` or `NaiveDate`, possibly `Option`). The
///   output's time column is always named `timestamp`.
/// - `window = "3d,7d,30d"`: rolling window lengths, comma-separated: a
///   positive integer and a unit, `m` (minutes), `h` (hours), `d` (days) or
///   `w` (weeks). Windows slide daily, so each must be a whole number of
///   days (`48h` is fine, `12h` is not). Without `window`, rows are grouped
///   by key and exact timestamp.
/// - `filter = "..."`: a SQL boolean expression the source's rows must
///   satisfy, e.g. `"chargeback_timestamp IS NOT NULL"`.
/// - `query = "..."`: a SQL query over the source, registered as a table
///   under its name. It must return columns of the source: to compute new
///   columns, declare a derived `#[source(query = ...)]`.
/// - `fill_null = 0`: a literal (integer, float, boolean or string) that
///   replaces nulls in every feature column; it must suit every feature's
///   type. Without it, feature columns are `Option`.
/// - `name = "..."`: default: the struct name in snake case
///   (`UserOrders` → `user_orders`).
/// - `description = "..."`: default: the struct's doc comment.
///
/// # Field attributes
///
/// - `#[feature(count(order_id))]` (required on every field): the
///   aggregations of the feature, all of the same source column:
///   `#[feature(avg(amount), max(amount))]`. The functions are `count` (any
///   column), `sum`, `avg`, `stddev_pop` (numeric columns), `min` and `max`
///   (numeric columns).
///
/// The field's type is the type of its output columns: `i32`, `i64`, `f32`
/// or `f64`. Its doc comment is appended to each output column's
/// description.
///
/// # Generated
///
/// - `impl featurestore_runtime::FeatureSet` with the declaration as
///   `SPEC` and the row type as `Row`;
/// - `UserOrdersRow`: the typed output row (keys, `timestamp`, outputs),
///   `Serialize` and `Deserialize`;
/// - output columns `{feature}__{function}_over_{n}_{unit}_rolling_windows`
///   (`cpf_orders__count_over_3_days_rolling_windows`), or
///   `{feature}__{function}` without windows: features × functions ×
///   windows, in declaration order;
/// - a constant per column name:
///   `UserOrders::CPF_ORDERS__COUNT_OVER_3_DAYS_ROLLING_WINDOWS`;
/// - docs on the struct: keys, source, windows, output columns, and the
///   online table's `CREATE TABLE`.
///
/// Columns that the source lacks, or whose type does not suit the key, the
/// timestamp or the aggregation, are compile errors under the column's name.
#[proc_macro_attribute]
pub fn feature_set(args: TokenStream, input: TokenStream) -> TokenStream {
    feature_set_inner(args.into(), input.into()).into()
}

fn feature_set_inner(
    args: proc_macro2::TokenStream,
    input: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let item = match syn::parse2::<syn::Item>(input.clone()) {
        Ok(item) => item,
        Err(error) => return unparsed(input, error),
    };
    expand::feature_set(args, &item)
        .unwrap_or_else(|error| expand::fallback::feature_set(&item, error))
}

/// rustc hands attribute macros only items it parsed, so this is for
/// items syn does not know yet: keep the item, report the error.
fn unparsed(input: proc_macro2::TokenStream, error: syn::Error) -> proc_macro2::TokenStream {
    let error = error.to_compile_error();
    quote::quote!(#input #error)
}

#[cfg(test)]
mod tests;
