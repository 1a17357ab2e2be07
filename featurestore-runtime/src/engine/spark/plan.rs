//! A feature set's declaration compiled into Spark SQL.
//!
//! The plan is text, so `features describe NAME --engine spark` shows
//! exactly what the cluster runs. It has three parts:
//!
//! 1. a temporary view under the source's own name, reading its files with
//!    the declared schema (so a `query` over the source reads as in polars);
//! 2. checks run before any store changes (null keys, nulls in non-`Option`
//!    columns), each a count that must be zero;
//! 3. the rows: keys, `timestamp`, the outputs, and `year`, `month`, `day`
//!    to partition by.
//!
//! The rows follow the semantics of the polars kernel ([`crate::transform`])
//! without its grid-free kernel: the candidate days of a key are the first
//! day of the run and the days `D+1` and `D+W+1` of each of its events of
//! day `D` (where a window value can change), the windows are evaluated at
//! those days only by a range join on the key, and the change-point dedup
//! compares each candidate's values with the previous candidate's (null
//! equals null, Spark's `<=>`). `fill_null` and the casts to the declared
//! types come after the dedup, as in polars.
//!
//! What the plan cannot express is refused by [`compile`] before anything
//! runs, naming the feature set and the reason.

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::spec::{
    Aggregation, DataType, FeatureSetSpec, FillValue, Format, OnBadRows, OutputColumn, PivotValue,
    SourceKind, SourceSpec, TIMESTAMP_COLUMN,
};

/// Where a Spark run reads a source from and how it treats bad rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInput {
    /// The files, as Spark reads them: an absolute path or a Hadoop URL
    /// (`s3a://…`, `gs://…`, `abfss://…`).
    pub path: String,
    /// The `on_bad_rows` policy of the run.
    pub on_bad_rows: OnBadRows,
}

/// A check run before any work: a query returning one count that must be 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `SELECT count(*) …`
    pub sql: String,
    /// What a non-zero count means; the count is prepended.
    pub message: String,
}

/// The Spark SQL of one feature set's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// `CREATE OR REPLACE TEMPORARY VIEW {source} (…) USING … OPTIONS (…)`.
    pub source_view: String,
    /// Checks of the events, before any work.
    pub checks: Vec<Check>,
    /// The rows: keys, `timestamp`, outputs, then `year`, `month`, `day`.
    pub rows: String,
}

impl Plan {
    /// The plan as a SQL script, for people.
    pub fn script(&self) -> String {
        let mut out = String::new();
        out.push_str("-- 1. the source\n");
        out.push_str(&self.source_view);
        out.push_str(";\n\n");
        if !self.checks.is_empty() {
            out.push_str("-- 2. checks before any store changes: each count must be 0\n");
            for c in &self.checks {
                out.push_str(&format!("-- {}\n{};\n", c.message, c.sql));
            }
            out.push('\n');
        }
        out.push_str(
            "-- 3. the rows, written with mode overwrite, partitionBy(year, month, day),\n\
             --    partitionOverwriteMode=dynamic; then the latest row of each key is collected\n",
        );
        out.push_str(&self.rows);
        out.push_str(";\n");
        out
    }
}

/// Why the Spark engine cannot run a feature set, or `None` if it can.
pub fn refusal(spec: &FeatureSetSpec) -> Option<String> {
    let source = spec.source;
    if let Some(h) = spec.pre_hooks.first() {
        return Some(format!(
            "its pre-hook `{}` is a Rust function on a polars frame, which Spark cannot run",
            h.name
        ));
    }
    if let Some(h) = spec.post_hooks.first() {
        return Some(format!(
            "its post-hook `{}` is a Rust function on a polars frame, which Spark cannot run",
            h.name
        ));
    }
    if let Some(reason) = source_refusal(source) {
        return Some(reason);
    }
    if spec.windows.is_empty() || spec.is_plain() {
        return Some(
            "it has no rolling windows; the Spark engine compiles rolling windows only so far"
                .to_string(),
        );
    }
    if !spec.slides_daily() {
        return Some(format!(
            "it slides by {}; the Spark engine compiles the daily slide only so far",
            spec.slide
        ));
    }
    if let Some(w) = spec.windows.iter().find(|w| w.days().is_none()) {
        return Some(format!("its window of {w} is not a whole number of days"));
    }
    if spec.distinct.is_some() {
        return Some("`distinct` is not compiled for Spark yet".to_string());
    }
    for f in spec.features {
        if f.plain.is_some() || f.frame.is_some() {
            return Some(format!(
                "feature `{}` is a plain feature, not compiled for Spark yet",
                f.name
            ));
        }
    }
    for o in spec.outputs {
        let supported = matches!(
            o.aggregation,
            Aggregation::Count
                | Aggregation::Sum
                | Aggregation::Avg
                | Aggregation::Min
                | Aggregation::Max
                | Aggregation::StddevPop
                | Aggregation::VarPop
                | Aggregation::StddevSamp
                | Aggregation::VarSamp
                | Aggregation::CountDistinct
                | Aggregation::ApproxCountDistinct
                | Aggregation::Percentile(_)
                | Aggregation::Mode
        );
        if matches!(
            o.aggregation,
            Aggregation::First
                | Aggregation::Last
                | Aggregation::FirstIgnoreNulls
                | Aggregation::LastIgnoreNulls
        ) {
            // Their ties go by read order, which Spark SQL does not keep.
            return Some(format!(
                "its output `{}` uses `{}`, not supported on the Spark engine yet: events of one \
                 instant are taken in the order they were read",
                o.name, o.aggregation
            ));
        }
        if !supported {
            return Some(format!(
                "its output `{}` uses `{}`, not compiled for Spark yet",
                o.name, o.aggregation
            ));
        }
        if matches!(o.dtype, DataType::List(_)) {
            return Some(format!("its output `{}` is a list", o.name));
        }
    }
    None
}

pub(crate) fn source_refusal(source: &SourceSpec) -> Option<String> {
    let name = source.name;
    if let SourceKind::Query { .. } = source.kind {
        return Some(format!(
            "its source `{name}` is a query over other sources, not compiled for Spark yet"
        ));
    }
    if !source.preprocess.steps.is_empty() {
        return Some(format!(
            "its source `{name}` has pre-processing steps, not compiled for Spark yet"
        ));
    }
    if let Some(t) = source.time_columns.first() {
        return Some(format!(
            "its source `{name}` reads `{}` as {}, not compiled for Spark yet",
            t.column, t.encoding
        ));
    }
    if let Some(d) = source.derived.first() {
        return Some(format!(
            "its source `{name}` computes `{}` ({}), not compiled for Spark yet",
            d.column,
            d.derivation.describe()
        ));
    }
    if let Some(c) = source
        .columns
        .iter()
        .find(|c| matches!(c.dtype, DataType::List(_)))
    {
        return Some(format!(
            "its source `{name}` has a list column `{}`",
            c.name
        ));
    }
    None
}

/// Refuses, before any work, a feature set the Spark engine cannot run.
pub fn check(spec: &FeatureSetSpec) -> Result<()> {
    match refusal(spec) {
        Some(reason) => Err(Error::Invalid(format!(
            "feature set `{}` cannot run on Spark: {reason}; run it with `--engine polars`",
            spec.name
        ))),
        None => Ok(()),
    }
}

/// Compiles a feature set's run over `[start, end]` into Spark SQL.
pub fn compile(
    spec: &FeatureSetSpec,
    input: &SourceInput,
    start: Option<NaiveDate>,
    end: NaiveDate,
) -> Result<Plan> {
    check(spec)?;
    if let (Some(s), e) = (start, end) {
        if s > e {
            return Err(Error::Invalid(format!(
                "the start date {s} is after the end date {e}"
            )));
        }
    }
    let source_view = source_view(spec.source, input)?;
    Ok(Plan {
        source_view,
        checks: checks(spec, input.on_bad_rows),
        rows: rows(spec, start, end),
    })
}

/// A backquoted identifier.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A single-quoted string literal.
pub fn string_lit(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The Spark SQL type of a column type.
pub(crate) fn sql_type(dtype: DataType) -> &'static str {
    match dtype {
        DataType::Bool => "BOOLEAN",
        DataType::Int32 => "INT",
        DataType::Int64 => "BIGINT",
        DataType::Float32 => "FLOAT",
        DataType::Float64 => "DOUBLE",
        DataType::String => "STRING",
        DataType::Date => "DATE",
        // Spark's TIMESTAMP is an instant; read and computed in the session
        // time zone, set to UTC, as the declaration's times are.
        DataType::Timestamp => "TIMESTAMP",
        DataType::List(_) => "ARRAY<STRING>",
    }
}

fn source_view(source: &SourceSpec, input: &SourceInput) -> Result<String> {
    source_view_named(source, source.name, input)
}

/// The view reading `source`'s files, under the name `view`.
pub(crate) fn source_view_named(
    source: &SourceSpec,
    view: &str,
    input: &SourceInput,
) -> Result<String> {
    let SourceKind::File { format, .. } = source.kind else {
        return Err(Error::Invalid(format!(
            "source `{}` is no file source",
            source.name
        )));
    };
    let mode = match input.on_bad_rows {
        OnBadRows::Fail => "FAILFAST",
        OnBadRows::Skip => "DROPMALFORMED",
        OnBadRows::Quarantine => {
            return Err(Error::Invalid(format!(
                "source `{}`: `on_bad_rows = \"quarantine\"` is not available on Spark (Spark \
                 drops or fails on malformed rows but cannot hand them back); use \"fail\" or \"skip\"",
                source.name
            )))
        }
    };
    let columns: Vec<String> = source
        .columns
        .iter()
        .map(|c| format!("{} {}", ident(c.name), sql_type(c.dtype)))
        .collect();
    let mut options = vec![("path", input.path.clone())];
    let provider = match format {
        Format::Csv => {
            options.push(("header", "true".to_string()));
            // The header must name the declared columns, not merely count them.
            options.push(("enforceSchema", "false".to_string()));
            options.push(("mode", mode.to_string()));
            "csv"
        }
        Format::NdJson => {
            options.push(("mode", mode.to_string()));
            "json"
        }
        // Parquet carries its schema; a file whose columns cannot be read as
        // declared fails the read.
        Format::Parquet => "parquet",
    };
    let options: Vec<String> = options
        .into_iter()
        .map(|(k, v)| format!("{k} {}", string_lit(&v)))
        .collect();
    Ok(format!(
        "CREATE OR REPLACE TEMPORARY VIEW {} ({}) USING {provider} OPTIONS ({})",
        ident(view),
        columns.join(", "),
        options.join(", ")
    ))
}

/// The feature set's events: the source, then its `query` and `filter`.
fn events_from(spec: &FeatureSetSpec) -> String {
    let base = match spec.query {
        Some(q) => format!("({q}) AS __fs_query"),
        None => ident(spec.source.name),
    };
    match spec.filter {
        Some(f) => format!("(SELECT * FROM {base} WHERE {f}) AS __fs_filtered"),
        None => base,
    }
}

fn checks(spec: &FeatureSetSpec, on_bad_rows: OnBadRows) -> Vec<Check> {
    let mut out = Vec::new();
    let source = spec.source;
    // The polars engine refuses a null in a column declared without
    // `Option`: a bad row. Spark reads it as null without complaint.
    let not_null: Vec<&str> = source
        .columns
        .iter()
        .filter(|c| !c.nullable)
        .map(|c| c.name)
        .collect();
    if !not_null.is_empty() && on_bad_rows == OnBadRows::Fail {
        let cond: Vec<String> = not_null
            .iter()
            .map(|c| format!("{} IS NULL", ident(c)))
            .collect();
        out.push(Check {
            sql: format!(
                "SELECT count(*) FROM {} WHERE {}",
                ident(source.name),
                cond.join(" OR ")
            ),
            message: format!(
                "row(s) of source `{}` have a null in a column declared without `Option` ({})",
                source.name,
                not_null.join(", ")
            ),
        });
    }
    for k in spec.key_names() {
        out.push(Check {
            sql: format!(
                "SELECT count(*) FROM {} WHERE {} IS NULL",
                events_from(spec),
                ident(k)
            ),
            message: format!(
                "event(s) of feature set `{}` have a null key `{k}`; keys must not be null \
                 (filter them out with `filter = \"{k} IS NOT NULL\"`)",
                spec.name
            ),
        });
    }
    out
}

fn date_lit(d: NaiveDate) -> String {
    format!("DATE'{}'", d.format("%Y-%m-%d"))
}

/// The value a feature's output aggregates: the column, null where the
/// feature's `filter` or the pivot value leaves the row out.
fn input_expr(spec: &FeatureSetSpec, o: &OutputColumn) -> String {
    let feature = &spec.features[o.feature];
    let mut keep: Vec<String> = Vec::new();
    if let Some(f) = feature.filter {
        keep.push(format!("({f})"));
    }
    if let (Some(pivot), Some(i)) = (spec.pivot, o.pivot) {
        let value = match pivot.values[i] {
            PivotValue::Int(v) => v.to_string(),
            PivotValue::Bool(v) => v.to_string(),
            PivotValue::Str(v) => string_lit(v),
        };
        keep.push(format!("{} = {value}", ident(pivot.column)));
    }
    // A condition of `count_if` is SQL already; Spark's SQL reads it alike.
    let column = if feature.condition {
        format!("({})", feature.column)
    } else {
        ident(feature.column)
    };
    if keep.is_empty() {
        column
    } else {
        // A null condition leaves the row out, as SQL's WHERE does.
        format!(
            "CASE WHEN coalesce({}, false) THEN {column} END",
            keep.join(" AND ")
        )
    }
}

fn is_int(dtype: DataType) -> bool {
    matches!(dtype, DataType::Int32 | DataType::Int64)
}

/// The aggregate of `v` (the input inside the window, else null), as the
/// polars kernel computes it, to the bit where the result is exact.
fn aggregate(agg: Aggregation, v: &str, input: DataType) -> String {
    // Integer moments in exact decimal arithmetic, as the kernel's i128
    // moments: the same doubles whatever order the events come in.
    let n = format!("CAST(count({v}) AS DOUBLE)");
    let num = format!(
        "CAST(count({v}) * sum(CAST({v} AS DECIMAL(38,0)) * CAST({v} AS DECIMAL(38,0))) \
         - sum(CAST({v} AS DECIMAL(38,0))) * sum(CAST({v} AS DECIMAL(38,0))) AS DOUBLE)"
    );
    let int = is_int(input);
    match agg {
        Aggregation::Count => format!("count({v})"),
        Aggregation::Sum => format!("sum({v})"),
        Aggregation::Avg if int => format!("CAST(sum({v}) AS DOUBLE) / {n}"),
        Aggregation::Avg => format!("avg({v})"),
        Aggregation::Min => format!("min({v})"),
        Aggregation::Max => format!("max({v})"),
        Aggregation::StddevPop if int => format!("sqrt({num} / ({n} * {n}))"),
        Aggregation::StddevPop => format!("stddev_pop({v})"),
        Aggregation::VarPop if int => format!("{num} / {n} / {n}"),
        Aggregation::VarPop => format!("var_pop({v})"),
        Aggregation::VarSamp if int => {
            format!("CASE WHEN count({v}) > 1 THEN {num} / {n} / ({n} - 1) END")
        }
        Aggregation::VarSamp => format!("var_samp({v})"),
        Aggregation::StddevSamp if int => {
            format!("CASE WHEN count({v}) > 1 THEN sqrt(greatest({num} / {n} / ({n} - 1), 0D)) END")
        }
        Aggregation::StddevSamp => format!("stddev_samp({v})"),
        Aggregation::CountDistinct | Aggregation::ApproxCountDistinct => {
            format!("count(DISTINCT {v})")
        }
        Aggregation::Percentile(p) => format!("percentile({v}, {})", p.value()),
        Aggregation::Mode => format!("mode({v}, true)"),
        other => format!("NULL /* {other} */"),
    }
}

/// Whether an aggregate can be NaN (turned into null, as the kernel does).
fn may_be_nan(agg: Aggregation, input: DataType) -> bool {
    matches!(input, DataType::Float32 | DataType::Float64)
        && !matches!(
            agg,
            Aggregation::Count | Aggregation::CountDistinct | Aggregation::ApproxCountDistinct
        )
}

fn fill_lit(fill: FillValue) -> String {
    match fill {
        FillValue::Int(i) => i.to_string(),
        FillValue::Float(f) => format!("CAST({} AS DOUBLE)", string_lit(&f.to_string())),
        FillValue::Bool(b) => b.to_string(),
        FillValue::Str(s) => string_lit(s),
    }
}

fn rows(spec: &FeatureSetSpec, start: Option<NaiveDate>, end: NaiveDate) -> String {
    let keys: Vec<String> = spec.key_names().map(ident).collect();
    let ts = "`__fs_ts`";
    let source_type = |c: &str| spec.source.column(c).map_or(DataType::String, |c| c.dtype);

    // Inputs, each once.
    let mut inputs: Vec<String> = Vec::new();
    let mut input_of: Vec<usize> = Vec::new();
    for o in spec.outputs {
        let e = input_expr(spec, o);
        let i = match inputs.iter().position(|x| *x == e) {
            Some(i) => i,
            None => {
                inputs.push(e);
                inputs.len() - 1
            }
        };
        input_of.push(i);
    }
    let mut events_select: Vec<String> = keys.clone();
    events_select.push(format!(
        "CAST({} AS TIMESTAMP) AS {ts}",
        ident(spec.timestamp)
    ));
    for (i, e) in inputs.iter().enumerate() {
        events_select.push(format!("{e} AS `__fs_in{i}`"));
    }
    // Whether each event has each pivot value: a window without one is
    // null under that value, as a Spark pivot leaves absent cells.
    if let Some(pivot) = spec.pivot {
        for (k, value) in pivot.values.iter().enumerate() {
            let value = match *value {
                PivotValue::Int(v) => v.to_string(),
                PivotValue::Bool(v) => v.to_string(),
                PivotValue::Str(v) => string_lit(v),
            };
            events_select.push(format!(
                "coalesce({} = {value}, false) AS `__fs_pv{k}`",
                ident(pivot.column)
            ));
        }
    }

    let days: Vec<i64> = spec.windows.iter().filter_map(|w| w.days()).collect();
    let max_days = days.iter().copied().max().unwrap_or(1);
    let mut offsets: Vec<i64> = vec![1];
    offsets.extend(days.iter().map(|d| d + 1));
    offsets.sort_unstable();
    offsets.dedup();
    let offsets: String = offsets
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");

    let first_day = match start {
        Some(s) => format!(
            "least(greatest(to_date(min({ts})), {}), {})",
            date_lit(s),
            date_lit(end)
        ),
        None => format!("least(to_date(min({ts})), {})", date_lit(end)),
    };

    let key_list = keys.join(", ");
    let g_keys: Vec<String> = keys.iter().map(|k| format!("g.{k}")).collect();
    let join_on: Vec<String> = keys.iter().map(|k| format!("t.{k} = g.{k}")).collect();

    let mut aggs: Vec<String> = Vec::new();
    for (j, o) in spec.outputs.iter().enumerate() {
        let w = o.window.and_then(|w| w.days()).unwrap_or(max_days);
        let inside = format!("t.{ts} >= CAST(date_sub(g.`__fs_day`, {w}) AS TIMESTAMP)");
        let v = format!("CASE WHEN {inside} THEN t.`__fs_in{}` END", input_of[j]);
        let feature = &spec.features[o.feature];
        let input_type = if feature.condition {
            DataType::Bool
        } else {
            source_type(feature.column)
        };
        let mut agg = aggregate(o.aggregation, &format!("({v})"), input_type);
        if may_be_nan(o.aggregation, input_type) {
            agg = format!("nanvl({agg}, CAST(NULL AS DOUBLE))");
        }
        let member = o
            .pivot
            .map(|k| format!(" AND t.`__fs_pv{k}`"))
            .unwrap_or_default();
        // An empty window is null, whatever the function.
        aggs.push(format!(
            "CASE WHEN count(CASE WHEN {inside}{member} THEN 1 END) > 0 THEN {agg} END AS `__fs_o{j}`"
        ));
    }
    let outs: Vec<String> = (0..spec.outputs.len())
        .map(|j| format!("`__fs_o{j}`"))
        .collect();
    let current = format!(
        "struct({})",
        if outs.is_empty() {
            "1".to_string()
        } else {
            outs.join(", ")
        }
    );
    let mut select: Vec<String> = keys.clone();
    select.push(format!(
        "CAST(`__fs_day` AS TIMESTAMP_NTZ) AS {}",
        ident(TIMESTAMP_COLUMN)
    ));
    for (j, o) in spec.outputs.iter().enumerate() {
        let value = match spec.fill_of(o) {
            Some(fill) => format!("coalesce(`__fs_o{j}`, {})", fill_lit(fill)),
            None => format!("`__fs_o{j}`"),
        };
        select.push(format!(
            "CAST({value} AS {}) AS {}",
            sql_type(o.dtype),
            ident(o.name)
        ));
    }
    select.push("year(`__fs_day`) AS `year`".to_string());
    select.push("month(`__fs_day`) AS `month`".to_string());
    select.push("day(`__fs_day`) AS `day`".to_string());

    format!(
        "WITH events AS (\n  SELECT {events_select}\n  FROM {from}\n),\n\
timed AS (SELECT * FROM events WHERE {ts} IS NOT NULL),\n\
bounds AS (SELECT {first_day} AS first_day FROM timed),\n\
candidates AS (\n  SELECT {key_list}, b.first_day AS `__fs_day` FROM (SELECT DISTINCT {key_list} FROM timed) AS k CROSS JOIN bounds b\n  \
UNION\n  SELECT {key_list}, date_add(to_date({ts}), `__fs_n`) AS `__fs_day` FROM timed LATERAL VIEW explode(array({offsets})) AS `__fs_n`\n),\n\
grid AS (\n  SELECT c.* FROM candidates c JOIN bounds b ON c.`__fs_day` >= b.first_day AND c.`__fs_day` <= {end}\n),\n\
windowed AS (\n  SELECT {g_keys}, g.`__fs_day`,\n    {aggs}\n  FROM grid g LEFT JOIN timed t\n    ON {join_on}\n    \
AND t.{ts} >= CAST(date_sub(g.`__fs_day`, {max_days}) AS TIMESTAMP) AND t.{ts} < CAST(g.`__fs_day` AS TIMESTAMP)\n  \
GROUP BY {g_keys}, g.`__fs_day`\n),\n\
changes AS (\n  SELECT *, {current} AS `__fs_now`,\n    lag({current}) OVER (PARTITION BY {key_list} ORDER BY `__fs_day`) AS `__fs_prev`,\n    \
row_number() OVER (PARTITION BY {key_list} ORDER BY `__fs_day`) AS `__fs_rank`\n  FROM windowed\n)\n\
SELECT {select}\nFROM changes\nWHERE `__fs_rank` = 1 OR NOT (`__fs_prev` <=> `__fs_now`)",
        events_select = events_select.join(", "),
        from = events_from(spec),
        end = date_lit(end),
        g_keys = g_keys.join(", "),
        aggs = aggs.join(",\n    "),
        join_on = join_on.join(" AND "),
        select = select.join(",\n  "),
    )
}
