//! Procedural macros of the featurestore framework: [`macro@source`],
//! [`macro@feature_set`] and [`macro@dataset`], and [`catalog!`], the
//! page of a crate's docs that lists them. Use them through
//! `featurestore_runtime`, which re-exports them and holds everything the
//! generated code refers to.
//!
//! Each macro runs four stages, each importing only the ones before it:
//! `attr/` (raw attributes with their spans) → `model/` (validated values)
//! → `check.rs` (checks across values) → `expand/` (generated code). The
//! vocabulary they share with the runtime (aggregations, windows, output
//! names, formats) is `featurestore-core`'s. Errors of all stages are
//! collected and reported together; a declaration with errors still expands
//! to its struct and a stub impl (`expand/fallback.rs`), so one typo does
//! not cascade.

mod attr;
mod check;
mod ctxt;
mod expand;
mod model;
mod sql;
mod symbol;

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
/// - `on_bad_rows = "fail" | "skip" | "quarantine"`: what a run does with a
///   row that does not fit the declaration (wrong field count, wrong type,
///   unparsable time, null in a non-`Option` field). `fail` (the default)
///   stops the run with an error naming the file, line and column; `skip`
///   drops and counts such rows; `quarantine` also writes them, with the
///   reason, under the historical root's `_quarantine/`. File sources only;
///   `[sources.NAME] on_bad_rows = "..."` in `featurestore.toml` overrides it.
///
/// ## Pre-processing
///
/// Steps run in the order written, right after the rows are read and
/// checked, so every feature set and dataset over the source sees their
/// output. Each may be written several times. The fields are the columns as
/// read; `pivot` and `explode_json` declare the columns they make, as
/// fields, and the columns after the last step are those feature sets can
/// name (listed in the generated docs).
///
/// - `filter = "amount > 0"`: keeps the rows where the SQL condition holds;
///   its syntax is checked at compile time.
/// - `replace(status, {"a": "approved", "r": "refused"})`: each listed value
///   of the column becomes its replacement; other values and nulls stay.
///   Literals must suit the column's type: strings for `String`, integers
///   for integer and float columns, floats for float columns, booleans for
///   `bool`.
/// - `pivot(on = amenity, value = first(has), keys(id), timestamp = ts,
///   columns(pool: Option<bool>, oven: Option<bool>), forward_fill)`: one
///   row per key and time, sorted, with a column per value of `on` (a
///   `String` column), named as the value, holding `first`, `last`, `sum`,
///   `min` or `max` of `value` over the rows with that value (`first` and
///   `last` in input order); null without such rows. The columns are
///   declared `Option` of `value`'s type. With `forward_fill`, a null takes
///   the key's last non-null value in time order. The rows then have the
///   keys, the timestamp and the new columns only.
/// - `explode_json(payload, columns(a: Option<i64>, b: Option<String>))`:
///   the fields of the JSON object in a `String` column, as new columns
///   named as the fields (null when absent or `null`; a JSON string is read
///   as the column's type, `"123"` as `123`; another value read as text is
///   its JSON). A row whose text is not a JSON object, or whose field does
///   not fit its type, is a bad row for `on_bad_rows`.
/// - `forward_fill(columns(temperature), keys(sensor), timestamp = ts)`: a
///   null takes the last non-null value of the rows with the same keys, in
///   time order (rows at one time in input order); `keys` is optional.
///
/// A column a step names that the rows do not have at that step, a literal
/// or declared type that does not suit its column, and SQL that does not
/// parse are compile errors under the offending token.
///
/// # Field attributes
///
/// Every named field is a column, named as the field. Its type is one of
/// `bool`, `i32`, `i64`, `f32`, `f64`, `String`, `NaiveDate`,
/// `NaiveDateTime`, or `Option` of one (a nullable column). Its doc comment
/// is the column's description.
///
/// Times written other than as dates or timestamps are declared with
/// `#[column(...)]`; feature sets and datasets then see a `NaiveDateTime`
/// column (`Option` if the field is), usable as their `timestamp`:
///
/// - `#[column(epoch = "ms")] pub at: i64`: an integer count of seconds
///   (`"s"`), milliseconds (`"ms"`) or microseconds (`"us"`) since
///   1970-01-01 00:00:00 UTC. The field is `i32` or `i64`, or `Option` of
///   one.
/// - `#[column(format = "%d/%m/%Y %H:%M")] pub at: String`: text parsed with
///   a chrono `strftime` format, in UTC; a format without a time of day
///   gives midnight. The field is `String` or `Option<String>`. The format
///   is checked at build time: it must be valid and name a whole date.
///
/// A value that does not parse is a bad row under `on_bad_rows`: with
/// `fail`, the error names the file, line, column and expected format. A
/// `NaiveDate` column used as a `timestamp` is its day's midnight, UTC.
///
/// Key columns can be computed from other columns of the row instead of
/// read (Butterfree's `H3HashTransform` and `StackTransform`); each row read
/// then gives one row per value, the other columns repeated:
///
/// - `#[column(h3(lat = lat, lng = lng, resolutions = "6..=12"))] pub
///   h3_id: String`: the H3 cell holding the point (degrees; the inputs are
///   `f64` or `f32`, possibly `Option`) at each resolution, as its id in
///   15 lower-case hexadecimal digits (`88a8100ea1fffff`). Resolutions are
///   0 to 15, an inclusive range `"6..=12"` or a list `"7, 9"`. With
///   `entity = "h3_id"`, each event counts once per resolution. Needs the
///   runtime's `h3` feature.
/// - `#[column(stack(id_a, id_b))] pub id: i64`: the value of each listed
///   column, in order, in a field of their type.
///
/// A computed value that is null (a row without both coordinates, a null
/// stacked value) gives no row when the field is no `Option`, and a null
/// when it is. Inputs are columns read from the data, checked at build
/// time, as are their types.
///
/// ```ignore
/// #[source(path = "data/payments.csv")]
/// pub struct Payments {
///     pub user: String,
///     pub account: i64,
///     #[column(epoch = "ms")]
///     pub paid_at: i64,
///     #[column(format = "%d/%m/%Y")]
///     pub due: Option<String>,
/// }
/// ```
///
/// # Generated
///
/// - `impl featurestore_runtime::Source` with the whole declaration as
///   `SOURCE::SPEC`;
/// - a constant per column name, read or made by a step:
///   `OrderEvents::ORDER_ID == "order_id"`;
/// - docs on the struct: location or query, a table of the columns, and
///   with pre-processing its steps in words and the columns after them;
/// - one hidden `HasColumn` impl per column (after pre-processing), which
///   checks its type. Feature sets and datasets look columns up by name in
///   `SOURCE::SPEC`, so that an unknown column is reported with its name,
///   the closest column and the source's columns.
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
///   `w` (weeks). Windows slide daily unless `slide` says otherwise, so each
///   must then be a whole number of days (`48h` is fine, `12h` is not).
///   Without `window`, rows are grouped by key and exact timestamp.
/// - `slide = "1h"`: how far apart the rows of the windows are, e.g.
///   `window = "1h,6h,1d", slide = "1h"`. It divides a day (`15m`, `1h`,
///   `6h`; `1d`, the default, at most, so every midnight has a row and a day
///   partition holds whole slides) and every window. The row at `T`, a
///   multiple of the slide since the epoch (UTC), aggregates the events with
///   `T − W <= ts < T`; a run's rows go from the slide of the first event
///   (or the start date's first slide) to the end date's last slide, with a
///   row wherever a value changes, also when a window empties.
/// - `filter = "..."`: a SQL boolean expression the source's rows must
///   satisfy, e.g. `"chargeback_timestamp IS NOT NULL"`.
/// - `query = "..."`: a SQL query over the source, registered as a table
///   under its name. It must return columns of the source: to compute new
///   columns, declare a derived `#[source(query = ...)]`.
/// - `fill_null = 0`: a literal (integer, float, boolean or string) that
///   replaces nulls in every feature column; it must suit every feature's
///   type. Without it, feature columns are `Option`.
/// - `pivot(method, ["pix", "card"])`: every feature once per value of a
///   source column (string, integer or boolean literals), over the events
///   holding that value; the value starts the names of its columns
///   (`pix_amount__sum_over_3_days_rolling_windows`), and columns are
///   ordered values × features × functions × windows. As with a feature's
///   `filter`, the values of other events count as nulls: a `count` is `0`
///   in a window whose events all hold other values, null only in a window
///   without events.
/// - `distinct(order_id, keep = last)`: in each window, of the events with
///   equal values in the listed columns (nulls equal), only the `first` or
///   the `last` (the default, as Butterfree's `with_distinct`) by event
///   time counts; of several at that time, the one with the feature's
///   smallest (`first`) or largest (`last`) value, nulls smallest.
///   Deduplicating per window, rather than once over all events, keeps a
///   window from losing an event to a duplicate outside it.
/// - `pre_hooks(drop_tests, crate::hooks::clean)`: functions
///   `fn(LazyFrame) -> PolarsResult<LazyFrame>` run in this order on the
///   source's events, before `query` and `filter`. A function of another
///   signature is a compile error under its path.
/// - `post_hooks(...)`: the same, run on the computed rows after
///   `fill_null`; they must keep the declared columns (checked at run time).
/// - `name = "..."`: default: the struct name in snake case
///   (`UserOrders` → `user_orders`).
/// - `description = "..."`: default: the struct's doc comment.
///
/// # Field attributes
///
/// - `#[feature(count(order_id))]` (required on every field): the
///   aggregations of the feature, all of the same source column:
///   `#[feature(avg(amount), max(amount))]`, and optionally, last,
///   `filter = "type = 'a'"`: a SQL boolean expression over the source's
///   row; the values of rows where it is not true count as nulls
///   (Butterfree's `filter_expression`); `fill_null = 0`, replacing this
///   feature's nulls instead of the feature set's `fill_null` (so a count
///   and a `String` feature can each have theirs); and `truncate`, to
///   declare an integer feature of functions that return fractions (see
///   below). Nulls are skipped by every
///   function; a window without events is null. The functions:
///   - any column: `count` (non-null values), `count_distinct`,
///     `approx_count_distinct` (optionally with Spark's relative error,
///     `approx_count_distinct(x, 0.05)`: the count is exact, error 0);
///   - numeric columns: `sum`, `avg`, `min`, `max`, `stddev_pop`,
///     `var_pop`, `stddev_samp` and `var_samp` (null for a single value, as
///     Spark 3), `percentile(x, p)` with `0 <= p <= 1` (Spark's exact
///     percentile: linear interpolation at position `p·(n − 1)` of the
///     sorted values; output `percentile_50` for `0.5`);
///   - any column, returning its values: `first` and `last` (by event
///     time; at the same time, the smallest value is first and the largest
///     last), `mode` (most frequent; ties: the smallest value);
///   - any column, returning a list: `most_frequent_set` (every distinct
///     value, most frequent first, ties in ascending order; an empty list
///     when every value is null).
///
/// The field's type is the type of its output columns: `i32`, `i64`, `f32`
/// or `f64` for numeric results, the column's type for `first`, `last` and
/// `mode`, `Vec` of it for `most_frequent_set`. An integer type holds no
/// fractions: `avg`, `stddev_*`, `var_*` and `percentile`, and `sum`, `min`
/// and `max` of a float column, into `i32` or `i64` are a compile error
/// under the type, unless the feature says `truncate`
/// (`#[feature(avg(amount), truncate)]`), which keeps the whole part,
/// towards zero, as Butterfree's `DataType.INTEGER` cast did. Its doc comment is appended
/// to each output column's description.
///
/// # Plain feature sets
///
/// A feature set whose features all take a value of each event's row,
/// rather than aggregate, has one output row per event (keys, the event's
/// `timestamp`, the features, sorted by key and time; events without a time
/// are left out, and `--start-date`/`--end-date` select whole days). It has
/// no `window`, `pivot` or `distinct`. Each output column is named as the
/// field and cast to the field's type:
///
/// - `#[feature(column = amount)]`: a source column, renamed and cast;
/// - `#[feature(sql = "amount * 2")]`: a polars SQL expression over the
///   row, its syntax checked at compile time;
/// - `#[feature(function = crate::cents, column = amount)]`: a function
///   `fn(Expr) -> Expr` that receives the column; another signature is a
///   compile error under the path.
///
/// Window functions per key (Butterfree's `SparkFunctionTransform`) are
/// plain features too, one value per event:
///
/// - `#[feature(avg(amount), sum(amount), over = "2m")]`: fixed windows, the
///   events at most 2 minutes before the event up to every event at its
///   time (Spark's `rangeBetween(-120 s, 0)`), named
///   `{feature}__avg_over_2_minutes_fixed_windows`;
/// - `#[feature(avg(amount), rows = 2)]`: row windows, the event and the one
///   before it in time order (events at one time in input order), named
///   `{feature}__avg_over_2_events_row_windows`;
///
///   with `count`, `sum`, `avg`, `min`, `max`, `stddev_pop`, `var_pop`,
///   `stddev_samp`, `var_samp` and `percentile`, as above;
/// - `#[feature(lag(amount), lead(amount, 2))]`: the value of the event 1
///   before and 2 after, by time (null if none), named `{feature}__lag_1`,
///   `{feature}__lead_2`, of the column's type.
///
/// Windows and lags see every event; `--start-date`/`--end-date` then select
/// the rows.
///
/// # Generated
///
/// - `impl featurestore_runtime::FeatureSet` with the declaration as
///   `SPEC` and the row type as `Row`;
/// - `UserOrdersRow`: the typed output row (keys, `timestamp`, outputs),
///   `Serialize` and `Deserialize`, and `UserOrdersFeatures`: the outputs
///   alone, as datasets join them;
/// - output columns `{feature}__{function}_over_{n}_{unit}_rolling_windows`
///   (`cpf_orders__count_over_3_days_rolling_windows`, `…_over_6_hours_…`,
///   `…_over_30_minutes_…`; the slide is not part of the name), or
///   `{feature}__{function}` without windows: features × functions ×
///   windows, in declaration order;
/// - a constant per column name:
///   `UserOrders::CPF_ORDERS__COUNT_OVER_3_DAYS_ROLLING_WINDOWS`;
/// - docs on the struct: keys, source, windows and their slide, output
///   columns, and the online row (primary key and columns, with their Rust
///   types).
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

/// Declares a training dataset: a spine of events, with feature sets
/// joined onto each event as of its time (a point-in-time join: never a
/// feature row from after the event).
///
/// ```ignore
/// use featurestore_runtime::pipeline::dataset;
///
/// /// Orders enriched with both feature sets as of each order's time.
/// #[dataset(spine = OrderEvents, key = cpf, timestamp = order_timestamp,
///           features(UserOrders, UserChargebacks), fill_null = 0,
///           keep(order_id, order_timestamp, chargeback_timestamp, cpf))]
/// pub struct AwesomeDataset;
/// ```
///
/// A join can have options: rows older than a time to live count as
/// missing, and a prefix renames its columns (joining the same feature set
/// twice, or two whose columns share names):
///
/// ```ignore
/// #[dataset(spine = OrderEvents, key = cpf, timestamp = order_timestamp,
///           features(UserOrders, UserOrders(ttl = "30d", prefix = "recent_")))]
/// pub struct Recent;
/// ```
///
/// # Container attributes
///
/// - `spine = OrderEvents` (required): the `#[source]` struct whose events
///   are the rows of the dataset.
/// - `key = cpf` (required): the spine column matched to each feature set's
///   entity key, or several in a string, `key = "cpf,merchant_id"`, matched
///   in order to each feature set's `entity` keys. Names and types must
///   match (a nullable spine key is fine); a feature set of another entity
///   names its own spine columns with `key` in `features(...)`.
/// - `timestamp = order_timestamp` (required): the spine column with each
///   event's time (`NaiveDateTime` or `NaiveDate`, possibly `Option`). Each
///   feature set's columns are those of its latest row at or before it. It
///   is output as `timestamp`.
/// - `features(A, B(ttl = "30d", prefix = "b_"), ...)` (required): the
///   `#[feature_set]` structs to join, at least one, each with optional
///   options:
///   - `ttl = "30d"`: a feature row older than the spine row's time minus
///     the ttl counts as missing; a positive integer and a unit, `m`, `h`,
///     `d` or `w`.
///   - `prefix = "b_"`: prepended to every column of the join.
///   - `key = merchant_id` (or `key = "a,b"`): the spine column(s) holding
///     this feature set's entity keys, in order, when they are not the
///     dataset's `key`: `features(UserSpend, MerchantApproval(key =
///     merchant_id))` joins each row to its user's and its merchant's
///     features. Types must match the entity's; names need not.
///
///   A feature set is joined once, unless each time with its own prefix.
///   Two joins, or a join and a kept spine column, cannot output columns of
///   the same name: the compiler says which, and a `prefix` fixes it.
/// - `keep(order_id, order_timestamp, cpf)`: the spine columns to keep, in
///   output order; the `timestamp` column is output where listed, as
///   `timestamp`. The keys must be kept. Default: every spine column, in
///   field order.
/// - `fill_null = 0`: a literal (integer, float, boolean or string) that
///   replaces nulls in the joined columns. Without it they are `Option`.
/// - `filter = "..."`: a SQL boolean expression spine rows must satisfy.
/// - `query = "..."`: a SQL query over the spine source, registered as a
///   table under its name.
/// - `name = "..."`: default: the struct name in snake case
///   (`AwesomeDataset` → `awesome_dataset`).
/// - `description = "..."`: default: the struct's doc comment.
///
/// The struct is a unit struct (or has no fields): its columns come from the
/// spine and the feature sets.
///
/// # Generated
///
/// - `impl featurestore_runtime::Dataset` with the declaration as `SPEC`
///   (the joined columns are not listed: `DatasetSpec::columns` derives them
///   from each feature set) and the row type as `Row`;
/// - `AwesomeDatasetRow`: the typed row, `Serialize` and `Deserialize`:
///   a field per kept spine column, then one per join, named after the
///   feature set in snake case after its prefix (`user_orders`,
///   `recent_user_orders`), holding its `FeatureSet::Features`, flattened.
///   An unprefixed join's field has a type parameter of the row that
///   defaults to them (`AwesomeDatasetRow<UserOrdersFeatures = <UserOrders
///   as FeatureSet>::Features>`, written `AwesomeDatasetRow`), so that a type
///   that is no feature set is one error; a prefixed join's is wrapped in
///   `Prefixed`, which adds the prefix to the column names. Without `keep`,
///   the macro cannot know the spine's columns, so the row has only the
///   spine's keys and `timestamp`;
/// - a constant per kept column name: `AwesomeDataset::ORDER_ID`,
///   `AwesomeDataset::TIMESTAMP`;
/// - docs on the struct: spine, keys, joins and columns.
///
/// Spine columns that do not exist, a `timestamp` that is not a time, key
/// types that differ from a feature set's, key counts that differ, and
/// column names that collide are compile errors under the offending token.
#[proc_macro_attribute]
pub fn dataset(args: TokenStream, input: TokenStream) -> TokenStream {
    dataset_inner(args.into(), input.into()).into()
}

fn dataset_inner(
    args: proc_macro2::TokenStream,
    input: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let item = match syn::parse2::<syn::Item>(input.clone()) {
        Ok(item) => item,
        Err(error) => return unparsed(input, error),
    };
    expand::dataset(args, &item).unwrap_or_else(|error| expand::fallback::dataset(&item, error))
}

/// The catalog page of a feature crate's docs: its sources, feature sets
/// and datasets, grouped by kind, each linked.
///
/// ```ignore
/// featurestore_runtime::catalog! {
///     sources(OrderEvents),
///     feature_sets(UserOrders, UserChargebacks),
///     datasets(AwesomeDataset),
/// }
/// ```
///
/// Written once, in the crate root (or any public module), it adds a
/// public module `catalog`: its page lists each kind's declarations, and a
/// module per kind (`catalog::sources`, `catalog::feature_sets`,
/// `catalog::datasets`) lists them again with the first line of their docs,
/// as rustdoc lists a module's items. The declarations stay where they are
/// declared; the modules only re-export them.
///
/// The same list makes `catalog::registry()`, the
/// `featurestore_runtime::Registry` the binary hands to the command line
/// (`pub use catalog::registry;` in the crate root keeps `my_crate::registry()`).
///
/// Each group is optional, written once, and lists paths as written where
/// the macro is, each path once. A path that is not a declaration of the
/// group's kind is a compile error under the path.
///
/// The generated docs hide the typed rows and features structs
/// (`UserOrdersRow`, `UserOrdersFeatures`, `AwesomeDatasetRow`): a feature
/// set's page lists their columns. They are public types all the same.
#[proc_macro]
pub fn catalog(input: TokenStream) -> TokenStream {
    catalog_inner(input.into()).into()
}

fn catalog_inner(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    expand::catalog(input).unwrap_or_else(expand::fallback::catalog)
}

/// rustc hands attribute macros only items it parsed, so this is for
/// items syn does not know yet: keep the item, report the error.
fn unparsed(input: proc_macro2::TokenStream, error: syn::Error) -> proc_macro2::TokenStream {
    let error = error.to_compile_error();
    quote::quote!(#input #error)
}

#[cfg(test)]
mod expansion;
#[cfg(test)]
mod tests;
