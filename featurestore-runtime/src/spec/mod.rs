//! The declared model: what `#[source]` and `#[feature_set]` compile into.
//!
//! Every type here is built in `const` context by generated code and lives for
//! `'static`, so a feature crate's whole catalog is data compiled into the
//! binary: nothing is parsed or decoded at run time. All behaviour driven by
//! these specs lives in the rest of the runtime.

use std::fmt;

mod preprocess;
mod traits;
mod types;

pub use preprocess::{ForwardFillStep, PivotAggregation, PivotStep, Preprocess, Preprocessing};
pub use traits::{Dataset, FeatureSet, Source};
pub use types::*;

/// The logical type of a column, as declared by the Rust type of a field.
///
/// Mapped from Rust types by [`ColumnType`](crate::ColumnType), to polars
/// types by the engine and to CQL types by [`DataType::cql`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// `bool`
    Bool,
    /// `i32`
    Int32,
    /// `i64`
    Int64,
    /// `f32`
    Float32,
    /// `f64`
    Float64,
    /// `String`
    String,
    /// `chrono::NaiveDate`
    Date,
    /// `chrono::NaiveDateTime`, UTC, microsecond precision.
    Timestamp,
    /// `Vec<T>` of one of the types above: the output of `most_frequent_set`.
    List(&'static DataType),
}

impl DataType {
    /// The Cassandra/ScyllaDB type used for this column in the online table.
    pub const fn cql(self) -> &'static str {
        match self {
            DataType::Bool => "boolean",
            DataType::Int32 => "int",
            DataType::Int64 => "bigint",
            DataType::Float32 => "float",
            DataType::Float64 => "double",
            DataType::String => "text",
            DataType::Date => "date",
            DataType::Timestamp => "timestamp",
            DataType::List(inner) => match inner {
                DataType::Bool => "list<boolean>",
                DataType::Int32 => "list<int>",
                DataType::Int64 => "list<bigint>",
                DataType::Float32 => "list<float>",
                DataType::Float64 => "list<double>",
                DataType::String => "list<text>",
                DataType::Date => "list<date>",
                DataType::Timestamp => "list<timestamp>",
                DataType::List(_) => "list<blob>",
            },
        }
    }

    /// The Rust type a column of this type has in a generated row.
    pub const fn rust(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::Int32 => "i32",
            DataType::Int64 => "i64",
            DataType::Float32 => "f32",
            DataType::Float64 => "f64",
            DataType::String => "String",
            DataType::Date => "NaiveDate",
            DataType::Timestamp => "NaiveDateTime",
            DataType::List(inner) => match inner {
                DataType::Bool => "Vec<bool>",
                DataType::Int32 => "Vec<i32>",
                DataType::Int64 => "Vec<i64>",
                DataType::Float32 => "Vec<f32>",
                DataType::Float64 => "Vec<f64>",
                DataType::String => "Vec<String>",
                DataType::Date => "Vec<NaiveDate>",
                DataType::Timestamp => "Vec<NaiveDateTime>",
                DataType::List(_) => "Vec<Vec<_>>",
            },
        }
    }

    /// Whether values of this type are integers or floats.
    pub const fn is_numeric(self) -> bool {
        matches!(
            self,
            DataType::Int32 | DataType::Int64 | DataType::Float32 | DataType::Float64
        )
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rust())
    }
}

/// One column of a source or of a feature set's output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnSpec {
    /// Column name, as in the data.
    pub name: &'static str,
    /// Declared type.
    pub dtype: DataType,
    /// Whether the column may hold nulls (`Option<T>` in Rust).
    pub nullable: bool,
    /// Doc comment of the field, or empty.
    pub description: &'static str,
}

/// The file format of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Newline-delimited JSON, one object per line.
    NdJson,
}

impl Format {
    /// The name used in attributes and configuration.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::NdJson => "ndjson",
        }
    }
}

/// Where a source's rows come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SourceKind {
    /// Files at a path (local, or an object-store URL), overridable per run.
    File {
        /// Default location, relative to the feature crate's root unless absolute or a URL.
        path: &'static str,
        /// File format.
        format: Format,
    },
    /// A SQL query over other sources, each registered as a table under its name.
    Query {
        /// The SQL, checked for syntax at compile time.
        sql: &'static str,
        /// The sources the query reads.
        inputs: &'static [&'static SourceSpec],
    },
}

/// What `#[source]` declares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceSpec {
    /// The source's name (snake case of the struct name unless `name = "…"`).
    /// Used as the table name in SQL and in `--source NAME=PATH` overrides.
    pub name: &'static str,
    /// Doc comment of the struct, or `description = "…"`.
    pub description: &'static str,
    /// File or query.
    pub kind: SourceKind,
    /// The columns feature sets and datasets see: the fields, in order, or
    /// with pre-processing the columns after its last step.
    pub columns: &'static [ColumnSpec],
    /// What a run does with rows that do not fit the declaration.
    pub on_bad_rows: OnBadRows,
    /// Columns holding times written as epoch counts or as text in a
    /// declared format (`#[column(epoch = "ms")]`, `#[column(format =
    /// "...")]`): read as written, then parsed into timestamps.
    pub time_columns: &'static [TimeColumn],
    /// Columns computed from other columns of the row rather than read
    /// (`#[column(h3(...))]`, `#[column(stack(...))]`), each giving several
    /// rows per row read.
    pub derived: &'static [DerivedColumn],
    /// Steps run on the rows right after they are read and checked.
    pub preprocess: Preprocessing,
}

/// A source column computed from other columns of the same row, in the
/// manner of Butterfree's `H3HashTransform` and `StackTransform`: each row
/// read gives one row per value computed, the other columns repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerivedColumn {
    /// The column.
    pub column: &'static str,
    /// How its values are computed.
    pub derivation: Derivation,
}

/// How a derived column's values are computed from a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derivation {
    /// The H3 cell holding the point (`lat`, `lng`, degrees) at each
    /// resolution, as the 15-digit lower-case hexadecimal id (`8928308280fffff`).
    H3 {
        /// Latitude column.
        lat: &'static str,
        /// Longitude column.
        lng: &'static str,
        /// Resolutions, 0 to 15, in output order.
        resolutions: &'static [u8],
    },
    /// The value of each column, in order.
    Stack {
        /// The stacked columns.
        columns: &'static [&'static str],
    },
}

impl Derivation {
    /// In words, for docs and messages.
    pub fn describe(&self) -> String {
        match self {
            Derivation::H3 {
                lat,
                lng,
                resolutions,
            } => {
                let res: Vec<String> = resolutions.iter().map(u8::to_string).collect();
                format!(
                    "the H3 cell of (`{lat}`, `{lng}`) at resolution{} {}, one row each",
                    if res.len() == 1 { "" } else { "s" },
                    res.join(", ")
                )
            }
            Derivation::Stack { columns } => {
                let cols: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
                format!("the values of {}, one row each", cols.join(", "))
            }
        }
    }
}

/// A source column of times written other than as a date or a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeColumn {
    /// The column.
    pub column: &'static str,
    /// How its values are written.
    pub encoding: TimeEncoding,
}

/// How a time is written in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeEncoding {
    /// An integer count of units since 1970-01-01 00:00:00 UTC.
    Epoch(EpochUnit),
    /// Text in a chrono `strftime` format, UTC; a format without a time of
    /// day gives midnight.
    Format(&'static str),
}

/// The unit of an epoch count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpochUnit {
    /// `"s"`
    Seconds,
    /// `"ms"`
    Millis,
    /// `"us"`
    Micros,
}

impl EpochUnit {
    /// The units, by their names in attributes.
    pub const ALL: [EpochUnit; 3] = [EpochUnit::Seconds, EpochUnit::Millis, EpochUnit::Micros];

    /// The name used in attributes.
    pub const fn name(self) -> &'static str {
        match self {
            EpochUnit::Seconds => "s",
            EpochUnit::Millis => "ms",
            EpochUnit::Micros => "us",
        }
    }

    /// Microseconds in one unit.
    pub const fn micros(self) -> i64 {
        match self {
            EpochUnit::Seconds => 1_000_000,
            EpochUnit::Millis => 1_000,
            EpochUnit::Micros => 1,
        }
    }

    /// The unit as a word, plural.
    pub const fn word(self) -> &'static str {
        match self {
            EpochUnit::Seconds => "seconds",
            EpochUnit::Millis => "milliseconds",
            EpochUnit::Micros => "microseconds",
        }
    }
}

impl fmt::Display for TimeEncoding {
    /// In words, for docs and messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeEncoding::Epoch(unit) => write!(
                f,
                "an integer count of {} since 1970-01-01 00:00:00 UTC",
                unit.word()
            ),
            TimeEncoding::Format(mask) => write!(f, "text in the format `{mask}` (UTC)"),
        }
    }
}

/// What a run does with a source row that does not fit the declaration (a
/// wrong field count, a value of the wrong type, an unparsable time, a null
/// in a non-`Option` column): `on_bad_rows = "fail"` (the default), `"skip"`
/// or `"quarantine"` in `#[source(...)]`, overridable per source in
/// `featurestore.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBadRows {
    /// Stop the run with an error naming the file, line, column and the
    /// expected value; no store is written.
    #[default]
    Fail,
    /// Drop bad rows, counting them in the run's report.
    Skip,
    /// Drop bad rows and write them, with the reason, to a quarantine file
    /// next to the run's output.
    Quarantine,
}

impl OnBadRows {
    /// The policies, by their names in attributes and configuration.
    pub const ALL: [OnBadRows; 3] = [OnBadRows::Fail, OnBadRows::Skip, OnBadRows::Quarantine];

    /// The name used in attributes and configuration.
    pub const fn name(self) -> &'static str {
        match self {
            OnBadRows::Fail => "fail",
            OnBadRows::Skip => "skip",
            OnBadRows::Quarantine => "quarantine",
        }
    }

    /// The policy named `name`.
    pub fn from_name(name: &str) -> Option<OnBadRows> {
        OnBadRows::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl SourceSpec {
    /// The column named `name`, if the source has one.
    pub fn column(&self, name: &str) -> Option<&'static ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// How column `name` is computed, if it is derived from other columns.
    pub fn derivation(&self, name: &str) -> Option<Derivation> {
        self.derived
            .iter()
            .find(|d| d.column == name)
            .map(|d| d.derivation)
    }

    /// How column `name` is written, if it holds times written as epoch
    /// counts or formatted text.
    pub fn time_encoding(&self, name: &str) -> Option<TimeEncoding> {
        self.time_columns
            .iter()
            .find(|t| t.column == name)
            .map(|t| t.encoding)
    }
}

/// An aggregation function of a windowed feature.
///
/// Nulls are skipped by every function; a window without events is null,
/// a window whose events all have a null value is `0` for the counts and
/// null for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregation {
    /// Number of non-null values.
    Count,
    /// Sum of the values.
    Sum,
    /// Arithmetic mean of the values.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Population standard deviation.
    StddevPop,
    /// Number of distinct non-null values (Spark's `count(DISTINCT x)`).
    CountDistinct,
    /// Spark's `approx_count_distinct`, computed exactly: its error is 0,
    /// within any relative standard deviation Spark's HyperLogLog++ allows.
    ApproxCountDistinct,
    /// Population variance: `Σ(x − mean)² / n`.
    VarPop,
    /// Sample standard deviation: `sqrt(Σ(x − mean)² / (n − 1))`; null for one
    /// value (Spark 3's default, not its legacy NaN).
    StddevSamp,
    /// Sample variance: `Σ(x − mean)² / (n − 1)`; null for one value.
    VarSamp,
    /// The value of the earliest event, by event time; among events of the
    /// same time, the smallest value.
    First,
    /// The value of the latest event, by event time; among events of the
    /// same time, the largest value.
    Last,
    /// The most frequent value; among equally frequent values, the smallest.
    Mode,
    /// Every distinct non-null value, most frequent first; equally frequent
    /// values in ascending order. An empty list when every value is null.
    MostFrequentSet,
    /// No aggregation: the feature of a plain feature set, one row per
    /// event, holds a value of that event's row (see [`PlainSpec`]).
    Value,
    /// In a plain feature set: the value of the event `n` before, in the
    /// key's time order (null if there is none).
    Lag(u32),
    /// In a plain feature set: the value of the event `n` after.
    Lead(u32),
    /// Spark's exact `percentile(x, p)`: over the sorted values `v₀ … vₙ₋₁`,
    /// at position `r = p·(n − 1)`, `(⌈r⌉ − r)·v⌊r⌋ + (r − ⌊r⌋)·v⌈r⌉`.
    Percentile(Percentage),
}

/// The `p` of `percentile(x, p)`, in millionths: `0.5` is `500_000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Percentage {
    /// `p × 1 000 000`, from `0` to `1 000 000`.
    pub millionths: u32,
}

impl Percentage {
    /// `p` as a float.
    pub fn value(self) -> f64 {
        f64::from(self.millionths) / 1_000_000.0
    }
}

impl Aggregation {
    /// The function's name in attributes; output column names add the
    /// percentage of a percentile (see [`Aggregation::label`]).
    pub const fn name(self) -> &'static str {
        match self {
            Aggregation::Count => "count",
            Aggregation::Sum => "sum",
            Aggregation::Avg => "avg",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::StddevPop => "stddev_pop",
            Aggregation::CountDistinct => "count_distinct",
            Aggregation::ApproxCountDistinct => "approx_count_distinct",
            Aggregation::VarPop => "var_pop",
            Aggregation::StddevSamp => "stddev_samp",
            Aggregation::VarSamp => "var_samp",
            Aggregation::First => "first",
            Aggregation::Last => "last",
            Aggregation::Mode => "mode",
            Aggregation::MostFrequentSet => "most_frequent_set",
            Aggregation::Value => "value",
            Aggregation::Lag(_) => "lag",
            Aggregation::Lead(_) => "lead",
            Aggregation::Percentile(_) => "percentile",
        }
    }

    /// The function as output column names spell it: the name, and for a
    /// percentile its percentage with `_` for the decimal point
    /// (`percentile_50`, `percentile_99_9`).
    pub fn label(self) -> String {
        match self {
            Aggregation::Percentile(p) => {
                let percent = format!("{}", f64::from(p.millionths) / 10_000.0);
                format!("percentile_{}", percent.replace('.', "_"))
            }
            Aggregation::Lag(n) => format!("lag_{n}"),
            Aggregation::Lead(n) => format!("lead_{n}"),
            other => other.name().to_string(),
        }
    }

    /// What the function computes, in words, for docs.
    pub fn describe(self) -> String {
        match self {
            Aggregation::Count => "number of non-null values".into(),
            Aggregation::Sum => "sum".into(),
            Aggregation::Avg => "mean".into(),
            Aggregation::Min => "smallest value".into(),
            Aggregation::Max => "largest value".into(),
            Aggregation::StddevPop => "population standard deviation".into(),
            Aggregation::CountDistinct => "number of distinct non-null values".into(),
            Aggregation::ApproxCountDistinct => {
                "number of distinct non-null values, computed exactly (error 0)".into()
            }
            Aggregation::VarPop => "population variance".into(),
            Aggregation::StddevSamp => "sample standard deviation (null for a single value)".into(),
            Aggregation::VarSamp => "sample variance (null for a single value)".into(),
            Aggregation::First => "value of the earliest event (ties: the smallest value)".into(),
            Aggregation::Last => "value of the latest event (ties: the largest value)".into(),
            Aggregation::Mode => "most frequent value (ties: the smallest value)".into(),
            Aggregation::MostFrequentSet => {
                "distinct values, most frequent first (ties: ascending values)".into()
            }
            Aggregation::Value => "value of the event's row".into(),
            Aggregation::Lag(n) => format!("value of the event {n} before, by time"),
            Aggregation::Lead(n) => format!("value of the event {n} after, by time"),
            Aggregation::Percentile(p) => format!(
                "exact {} percentile, interpolated linearly between the nearest values",
                p.value()
            ),
        }
    }

    /// Whether the function returns one of the column's values (so the
    /// output has the column's type) rather than a number.
    pub const fn returns_a_value(self) -> bool {
        matches!(
            self,
            Aggregation::First
                | Aggregation::Last
                | Aggregation::Mode
                | Aggregation::Lag(_)
                | Aggregation::Lead(_)
        )
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Percentile(p) => write!(f, "percentile({})", p.value()),
            other => f.write_str(other.name()),
        }
    }
}

/// The unit of a window length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowUnit {
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
    /// `w`
    Weeks,
}

impl WindowUnit {
    /// Length of one unit in microseconds.
    pub const fn micros(self) -> i64 {
        match self {
            WindowUnit::Minutes => 60_000_000,
            WindowUnit::Hours => 3_600_000_000,
            WindowUnit::Days => 86_400_000_000,
            WindowUnit::Weeks => 7 * 86_400_000_000,
        }
    }

    /// The unit as a word in output column names.
    pub const fn word(self, plural: bool) -> &'static str {
        match (self, plural) {
            (WindowUnit::Minutes, false) => "minute",
            (WindowUnit::Minutes, true) => "minutes",
            (WindowUnit::Hours, false) => "hour",
            (WindowUnit::Hours, true) => "hours",
            (WindowUnit::Days, false) => "day",
            (WindowUnit::Days, true) => "days",
            (WindowUnit::Weeks, false) => "week",
            (WindowUnit::Weeks, true) => "weeks",
        }
    }
}

/// A rolling window length, e.g. `3d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// Number of units, at least 1.
    pub amount: u32,
    /// The unit.
    pub unit: WindowUnit,
}

impl Window {
    /// One day: the slide of rolling windows unless `slide` is declared.
    pub const DAY: Window = Window {
        amount: 1,
        unit: WindowUnit::Days,
    };

    /// Length in microseconds.
    pub const fn micros(self) -> i64 {
        self.amount as i64 * self.unit.micros()
    }

    /// Length in whole days, if it is a whole number of days.
    pub const fn days(self) -> Option<i64> {
        let m = self.micros();
        if m % WindowUnit::Days.micros() == 0 {
            Some(m / WindowUnit::Days.micros())
        } else {
            None
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.unit.word(self.amount != 1))
    }
}

/// A literal that replaces nulls in feature columns after change-point dedup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FillValue {
    /// An integer literal (fills integer and float columns).
    Int(i64),
    /// A float literal.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A string literal.
    Str(&'static str),
}

/// One declared feature: a source column and the aggregations applied to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureSpec {
    /// The field name, the prefix of its output columns.
    pub name: &'static str,
    /// The source column aggregated.
    pub column: &'static str,
    /// Aggregations, in declaration order.
    pub aggregations: &'static [Aggregation],
    /// The declared output type of every output column of this feature.
    pub dtype: DataType,
    /// Doc comment of the field, or empty.
    pub description: &'static str,
    /// How a plain feature (no aggregation) computes its value from each
    /// event's row; `None` for an aggregated feature.
    pub plain: Option<PlainSpec>,
    /// In a plain feature set, the events each of the feature's functions
    /// aggregates for each event (Butterfree's `SparkFunctionTransform`
    /// windows).
    pub frame: Option<Frame>,
    /// A SQL boolean expression over the source's row: the values of rows
    /// where it is not true are left out, as nulls (Butterfree's
    /// `filter_expression`): `count` is then `0`, not null, in a window with
    /// events of which none passes.
    pub filter: Option<&'static str>,
}

/// The events a window function aggregates for each event of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frame {
    /// `fixed_windows`: the events at most this long before the event, up to
    /// and including the events at its time.
    Range(Window),
    /// `row_windows`: the event and the `n − 1` before it in time order
    /// (events at one time in input order).
    Rows(u32),
}

/// The value of a plain feature, from each event's row, cast to the
/// feature's type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlainSpec {
    /// The source column [`FeatureSpec::column`], renamed to the feature.
    Column,
    /// A polars SQL expression over the row, checked for syntax at build time.
    Sql(&'static str),
    /// A Rust function of the column [`FeatureSpec::column`].
    Function(ExprFunction),
}

/// `fn(Expr) -> Expr`, with its path as declared.
#[derive(Clone, Copy)]
pub struct ExprFunction {
    /// The function's path, as written in the attribute.
    pub name: &'static str,
    /// The function: receives the column, returns the feature's expression.
    pub run: fn(polars::prelude::Expr) -> polars::prelude::Expr,
}

impl fmt::Debug for ExprFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for ExprFunction {
    /// The same path, the same function: addresses are no reliable identity.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// `pivot(column, [values])`: every feature once per value, over the rows
/// whose pivot column holds that value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PivotSpec {
    /// The source column compared with the values.
    pub column: &'static str,
    /// The values, in declaration order; each prefixes its output columns.
    pub values: &'static [PivotValue],
}

/// One value of a pivot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PivotValue {
    /// An integer.
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
    /// A string.
    Str(&'static str),
}

impl fmt::Display for PivotValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PivotValue::Int(i) => write!(f, "{i}"),
            PivotValue::Bool(b) => write!(f, "{b}"),
            PivotValue::Str(s) => f.write_str(s),
        }
    }
}

/// One output column of a feature set (keys and `timestamp` excluded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputColumn {
    /// Full column name, e.g. `cpf_orders__count_over_3_days_rolling_windows`.
    pub name: &'static str,
    /// Index into [`FeatureSetSpec::features`].
    pub feature: usize,
    /// The aggregation.
    pub aggregation: Aggregation,
    /// The window, or `None` for a feature set without windows.
    pub window: Option<Window>,
    /// Output type (the feature's declared type).
    pub dtype: DataType,
    /// Whether the column may be null (no `fill_null` declared).
    pub nullable: bool,
    /// Index into the values of [`FeatureSetSpec::pivot`]: the column
    /// aggregates the rows whose pivot column holds that value (the values of
    /// other rows count as nulls, as with a feature's `filter`).
    pub pivot: Option<usize>,
}

/// What `#[feature_set]` declares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureSetSpec {
    /// The feature set's name (snake case of the struct name unless `name = "…"`).
    pub name: &'static str,
    /// Doc comment of the struct, or `description = "…"`.
    pub description: &'static str,
    /// Key columns (`entity = "cpf"`, or `"a,b"` for several), typed from the source.
    pub keys: &'static [ColumnSpec],
    /// The source column holding each event's time.
    pub timestamp: &'static str,
    /// The source the events come from.
    pub source: &'static SourceSpec,
    /// A SQL boolean expression rows of the source must satisfy.
    pub filter: Option<&'static str>,
    /// A SQL query over the source (registered as a table under its name).
    pub query: Option<&'static str>,
    /// Rolling windows, in declaration order; empty for group-by-timestamp.
    pub windows: &'static [Window],
    /// How far apart the rows of rolling windows are: [`Window::DAY`] unless
    /// `slide` is declared. It divides a day and every window; rows are at
    /// its multiples since the epoch. Unused without windows.
    pub slide: Window,
    /// Value that replaces nulls in the output after dedup.
    pub fill_null: Option<FillValue>,
    /// Declared features, in declaration order.
    pub features: &'static [FeatureSpec],
    /// Output feature columns: (pivot values ×) features × aggregations ×
    /// windows, in that order.
    pub outputs: &'static [OutputColumn],
    /// Every feature once per value of a column.
    pub pivot: Option<PivotSpec>,
    /// In each window, one event per value of some columns.
    pub distinct: Option<DistinctSpec>,
    /// Run on the source's events, in order, before the feature set's
    /// `query` and `filter`.
    pub pre_hooks: &'static [HookSpec],
    /// Run on the computed rows, in order, after `fill_null`; they must keep
    /// the declared columns.
    pub post_hooks: &'static [HookSpec],
}

/// A user function on a lazy frame: `fn(LazyFrame) -> PolarsResult<LazyFrame>`.
pub type Hook =
    fn(polars::prelude::LazyFrame) -> polars::prelude::PolarsResult<polars::prelude::LazyFrame>;

/// A hook, with its path as declared (for messages and docs).
#[derive(Clone, Copy)]
pub struct HookSpec {
    /// The function's path, as written in the attribute.
    pub name: &'static str,
    /// The function.
    pub run: Hook,
}

impl fmt::Debug for HookSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for HookSpec {
    /// Hooks are the same when declared with the same path: function
    /// addresses are not reliable identities.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// `distinct(a, b, keep = last)`: in each window, of the events with equal
/// values in the subset columns (nulls equal), only the first or the last by
/// event time counts. Of several at that time, the one kept for a feature is
/// the one with its smallest value (`first`) or largest (`last`), nulls
/// smallest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DistinctSpec {
    /// The columns whose values make events duplicates.
    pub subset: &'static [&'static str],
    /// Which duplicate counts.
    pub keep: Keep,
}

/// Which of duplicate events a `distinct` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keep {
    /// The earliest.
    First,
    /// The latest (Butterfree's default).
    Last,
}

/// Name of the time column of every feature set's output.
pub const TIMESTAMP_COLUMN: &str = "timestamp";

impl FeatureSetSpec {
    /// Whether the feature set is plain: one row per event, no aggregation.
    pub fn is_plain(&self) -> bool {
        !self.features.is_empty()
            && self.features.iter().all(|f| {
                f.plain.is_some()
                    || f.frame.is_some()
                    || (!f.aggregations.is_empty()
                        && f.aggregations
                            .iter()
                            .all(|a| matches!(a, Aggregation::Lag(_) | Aggregation::Lead(_))))
            })
    }

    /// Whether the rows of rolling windows are a day apart (the default slide).
    pub fn slides_daily(&self) -> bool {
        self.slide.micros() == Window::DAY.micros()
    }

    /// Names of the key columns.
    pub fn key_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.keys.iter().map(|k| k.name)
    }

    /// The directory name of the entity in the historical store: the key
    /// columns joined by `_`.
    pub fn entity(&self) -> String {
        self.key_names().collect::<Vec<_>>().join("_")
    }

    /// All output column names: keys, `timestamp`, features.
    pub fn column_names(&self) -> Vec<&'static str> {
        self.key_names()
            .chain(std::iter::once(TIMESTAMP_COLUMN))
            .chain(self.outputs.iter().map(|o| o.name))
            .collect()
    }

    /// The CQL statement that creates this feature set's online table.
    pub fn cql_create_table(&self, keyspace: Option<&str>) -> String {
        let table = match keyspace {
            Some(ks) => format!("{ks}.{}", self.name),
            None => self.name.to_string(),
        };
        let mut cols: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("    {} {}", k.name, k.dtype.cql()))
            .collect();
        cols.push(format!("    {TIMESTAMP_COLUMN} timestamp"));
        cols.extend(
            self.outputs
                .iter()
                .map(|o| format!("    {} {}", o.name, o.dtype.cql())),
        );
        let keys: Vec<&str> = self.key_names().collect();
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\n{},\n    PRIMARY KEY (({}))\n);",
            cols.join(",\n"),
            keys.join(", ")
        )
    }
}

/// One feature set joined onto a dataset's spine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JoinSpec {
    /// The feature set.
    pub feature_set: &'static FeatureSetSpec,
    /// A feature row older than `spine timestamp − ttl` counts as missing.
    pub ttl: Option<Window>,
    /// Prepended to every joined column name (resolves collisions); may be empty.
    pub prefix: &'static str,
}

/// Where a dataset column comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnOrigin {
    /// A column of the spine, kept as is.
    Spine {
        /// The spine column.
        column: &'static str,
    },
    /// The spine's timestamp column, output as `timestamp`.
    Timestamp {
        /// The spine column.
        column: &'static str,
    },
    /// An output column of a joined feature set, as of the spine row's time.
    Feature {
        /// Index into [`DatasetSpec::joins`].
        join: usize,
        /// The feature set's column.
        column: &'static str,
    },
}

/// One column of a dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DatasetColumn {
    /// Output name.
    pub name: &'static str,
    /// Declared type.
    pub dtype: DataType,
    /// Whether it may be null.
    pub nullable: bool,
    /// Lineage.
    pub origin: ColumnOrigin,
}

/// What `#[dataset]` declares: a spine of events, and feature sets joined
/// onto each event as of its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DatasetSpec {
    /// The dataset's name (snake case of the struct name unless `name = "…"`).
    pub name: &'static str,
    /// Doc comment of the struct, or `description = "…"`.
    pub description: &'static str,
    /// The events one row each is built for.
    pub spine: &'static SourceSpec,
    /// A SQL boolean expression spine rows must satisfy.
    pub filter: Option<&'static str>,
    /// A SQL query over the spine source (registered under its name).
    pub query: Option<&'static str>,
    /// Spine columns matched, in order, to each feature set's keys.
    pub keys: &'static [&'static str],
    /// The spine column holding each event's time.
    pub timestamp: &'static str,
    /// The joined feature sets, in declaration order.
    pub joins: &'static [JoinSpec],
    /// Replaces nulls in the joined feature columns.
    pub fill_null: Option<FillValue>,
    /// The spine columns kept, in output order; the spine's timestamp column
    /// is output as `timestamp`. The joined columns follow them (see
    /// [`DatasetSpec::columns`]).
    pub spine_columns: &'static [DatasetColumn],
}

/// A column of a dataset's output, with its name resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedColumn {
    /// Output name (with the join's prefix for feature columns).
    pub name: String,
    /// Declared type.
    pub dtype: DataType,
    /// Whether it may be null.
    pub nullable: bool,
    /// Lineage.
    pub origin: ColumnOrigin,
}

impl DatasetSpec {
    /// Every output column: the kept spine columns, then each joined feature
    /// set's output columns (prefixed), in declaration order.
    pub fn columns(&self) -> Vec<ResolvedColumn> {
        let mut out: Vec<ResolvedColumn> = self
            .spine_columns
            .iter()
            .map(|c| ResolvedColumn {
                name: c.name.to_string(),
                dtype: c.dtype,
                nullable: c.nullable,
                origin: c.origin,
            })
            .collect();
        for (i, j) in self.joins.iter().enumerate() {
            for o in j.feature_set.outputs {
                out.push(ResolvedColumn {
                    name: format!("{}{}", j.prefix, o.name),
                    dtype: o.dtype,
                    // A spine row without a feature row has nulls, unless filled.
                    nullable: self.fill_null.is_none(),
                    origin: ColumnOrigin::Feature {
                        join: i,
                        column: o.name,
                    },
                });
            }
        }
        out
    }
}
