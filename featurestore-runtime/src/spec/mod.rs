//! The declared model: what `#[source]` and `#[feature_set]` compile into.
//!
//! Every type here is built in `const` context by generated code and lives for
//! `'static`, so a feature crate's whole catalog is data compiled into the
//! binary: nothing is parsed or decoded at run time. All behaviour driven by
//! these specs lives in the rest of the runtime.

use std::fmt;

mod preprocess;
mod traits;
/// The column-type traits; the markers only generated code names are
/// re-exported by `__private`, so messages name them there.
pub(crate) mod types;

pub use preprocess::{ForwardFillStep, PivotAggregation, PivotStep, Preprocess, Preprocessing};
pub use traits::{Dataset, FeatureSet, Source};
pub use types::{
    Boolean, ColumnType, Countable, FeatureType, FillBool, FillFloat, FillInt, FillStr, KeyType,
    Numeric, NumericOutput, Ordered, PivotOn, SetOf, TimestampType, ValueOf,
};

pub use featurestore_core::{
    Aggregation, DataType, EpochUnit, Format, Frame, Keep, OnBadRows, Percentage, Window,
    WindowUnit, TIMESTAMP_COLUMN,
};

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
    /// `count_if("amount > 100")`: [`column`](Self::column) is not a
    /// column name but a SQL boolean expression over the source's row,
    /// whose value each event gives the feature's functions.
    pub condition: bool,
    /// A SQL boolean expression over the source's row: the values of rows
    /// where it is not true are left out, as nulls (Butterfree's
    /// `filter_expression`): `count` is then `0`, not null, in a window with
    /// events of which none passes.
    pub filter: Option<&'static str>,
    /// `#[feature(..., fill_null = 0)]`: replaces nulls in this feature's
    /// columns, instead of the feature set's `fill_null`.
    pub fill_null: Option<FillValue>,
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
    /// `ttl = "30d"`: a row stays in the online store this long after its
    /// time; an older row reads as missing (and Cassandra drops it, `USING
    /// TTL`). `None` keeps rows until a run replaces or removes them.
    pub ttl: Option<Window>,
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

impl FeatureSetSpec {
    /// Whether an online row of time `timestamp` has outlived the feature
    /// set's `ttl` at `now` (both µs since the epoch): it has when `now` is
    /// at or past `timestamp + ttl`.
    pub fn expired(&self, timestamp: i64, now: i64) -> bool {
        self.ttl
            .is_some_and(|ttl| timestamp.saturating_add(ttl.micros()) <= now)
    }

    /// Whether the feature set is plain: one row per event, no aggregation.
    pub fn is_plain(&self) -> bool {
        featurestore_core::is_plain(self.features.iter().map(|f| {
            featurestore_core::is_row_level(
                f.plain.is_some(),
                f.frame.is_some(),
                f.aggregations.iter().copied(),
            )
        }))
    }

    /// The value that replaces nulls in an output column: its feature's
    /// `fill_null`, or the feature set's.
    pub fn fill_of(&self, output: &OutputColumn) -> Option<FillValue> {
        self.features
            .get(output.feature)
            .and_then(|f| f.fill_null)
            .or(self.fill_null)
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
    /// The spine columns matched, in order, to the feature set's keys: the
    /// join's own `key`, or the dataset's.
    pub keys: &'static [&'static str],
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
    /// The spine's key columns: matched, in order, to the keys of each
    /// feature set joined without a `key` of its own (see [`JoinSpec::keys`]).
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
