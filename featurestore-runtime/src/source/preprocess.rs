//! Source pre-processing: the steps `#[source(...)]` declares, run in
//! declaration order on a source's rows right after they are read and
//! checked, so every feature set and dataset over the source sees the
//! pre-processed rows (Butterfree's `pre_processing` transforms).
//!
//! The macro checks the steps at compile time (SQL syntax, column names,
//! value types); here they run on the rows.

use polars::prelude::*;

use super::bad_rows::shorten;
use crate::dtype::polars_dtype;
use crate::error::{polars_message, Error, Result};
use crate::spec::{
    ColumnSpec, DataType as Dt, FillValue, PivotAggregation, PivotStep, Preprocess, SourceSpec,
};

/// A row `explode_json` could not read, for the source's `on_bad_rows`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadJson {
    /// 0-based position among the rows the step received.
    pub row: usize,
    /// The JSON text.
    pub raw: String,
    /// What was wrong.
    pub reason: String,
}

/// Runs the source's steps on its rows as read (the columns of
/// [`Preprocessing::read`](crate::spec::Preprocessing::read)). Rows whose JSON `explode_json` cannot read are
/// returned, left out, unless `fail` is set: then the first is an error.
pub fn apply(
    spec: &SourceSpec,
    mut lf: LazyFrame,
    fail: bool,
) -> Result<(LazyFrame, Vec<BadJson>)> {
    let mut bad = Vec::new();
    for (i, step) in spec.preprocess.steps.iter().enumerate() {
        let error = |message: String| Error::Source {
            source_name: spec.name.to_string(),
            location: String::new(),
            message: format!("pre-processing step {} ({}): {message}", i + 1, step.name()),
        };
        lf = match step {
            Preprocess::Filter { sql } => {
                let expr = polars::sql::sql_expr(sql).map_err(|e| {
                    error(format!("not a valid expression: {}", polars_message(&e)))
                })?;
                lf.filter(expr)
            }
            Preprocess::Replace { column, values } => lf.with_column(replace(column, values)),
            Preprocess::Pivot(p) => pivot(lf, p).map_err(|e| error(polars_message(&e)))?,
            Preprocess::ExplodeJson { column, fields } => {
                let df = lf.collect().map_err(|e| error(polars_message(&e)))?;
                let (df, rejected) =
                    explode_json(df, column, fields).map_err(|e| error(polars_message(&e)))?;
                if let (true, Some(first)) = (fail, rejected.first()) {
                    let more = match rejected.len() {
                        1 => String::new(),
                        n => format!(" ({n} such rows; the first is shown)"),
                    };
                    return Err(error(format!(
                        "row {} (counting from 1, after the earlier steps): column `{column}`: \
                         {}{more}; fix the data, or set `on_bad_rows = \"skip\"` or \
                         \"quarantine\" on the source to leave such rows out",
                        first.row + 1,
                        first.reason
                    )));
                }
                bad.extend(rejected);
                df.lazy()
            }
            Preprocess::ForwardFill(f) => forward_fill(lf, f.keys, f.timestamp, f.columns)
                .map_err(|e| error(polars_message(&e)))?,
        };
    }
    // The declared columns after the last step, in order and type.
    let columns = spec
        .columns
        .iter()
        .map(|c| col(c.name).strict_cast(polars_dtype(c.dtype)));
    Ok((lf.select(columns.collect::<Vec<_>>()), bad))
}

impl Preprocess {
    /// The step's keyword, for messages.
    pub const fn name(&self) -> &'static str {
        match self {
            Preprocess::Filter { .. } => "filter",
            Preprocess::Replace { .. } => "replace",
            Preprocess::Pivot(_) => "pivot",
            Preprocess::ExplodeJson { .. } => "explode_json",
            Preprocess::ForwardFill(_) => "forward_fill",
        }
    }
}

fn literal(value: &FillValue) -> Expr {
    match *value {
        FillValue::Int(v) => lit(v),
        FillValue::Float(v) => lit(v),
        FillValue::Bool(v) => lit(v),
        FillValue::Str(v) => lit(v),
    }
}

/// The column with each listed value replaced; other values, and nulls, stay.
fn replace(column: &str, values: &[(FillValue, FillValue)]) -> Expr {
    let c = col(column);
    // A replacement of a wider type (an `i64` literal in an `i32` column)
    // widens the column until the last step casts it back.
    let mut expr = c.clone();
    for (from, to) in values.iter().rev() {
        expr = when(c.clone().eq(literal(from)))
            .then(literal(to))
            .otherwise(expr);
    }
    expr.alias(column)
}

fn sort_by_keys(lf: LazyFrame, keys: &[&str], timestamp: &str) -> LazyFrame {
    let by: Vec<PlSmallStr> = keys
        .iter()
        .chain(std::iter::once(&timestamp))
        .map(|k| PlSmallStr::from(*k))
        .collect();
    // Stable, nulls first as Spark's ascending order: rows at one time keep
    // their input order, and a row without a time comes before the others.
    lf.sort(
        by,
        SortMultipleOptions::default()
            .with_maintain_order(true)
            .with_nulls_last(false),
    )
}

/// Nulls of `columns` take the last non-null value of the row's key, rows
/// ordered by time; the rows keep their input order.
fn forward_fill(
    lf: LazyFrame,
    keys: &[&str],
    timestamp: &str,
    columns: &[&str],
) -> PolarsResult<LazyFrame> {
    const ORDER: &str = "__fs_input_order";
    let lf = sort_by_keys(lf.with_row_index(ORDER, None), keys, timestamp);
    let partition: Vec<Expr> = keys.iter().map(|k| col(*k)).collect();
    let filled = columns
        .iter()
        .map(|c| {
            let filled = col(*c).fill_null_with_strategy(FillNullStrategy::Forward(None));
            let filled = if partition.is_empty() {
                filled
            } else {
                filled.over(&partition)?
            };
            Ok(filled.alias(*c))
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok(lf
        .with_columns(filled)
        .sort([ORDER], SortMultipleOptions::default())
        .drop(cols([ORDER])))
}

fn pivot(lf: LazyFrame, p: &PivotStep) -> PolarsResult<LazyFrame> {
    let mut by: Vec<Expr> = p.keys.iter().map(|k| col(*k)).collect();
    by.push(col(p.timestamp));
    let aggregations = p.columns.iter().map(|c| {
        let values = col(p.value).filter(col(p.on).eq(lit(c.name)));
        let value = match p.aggregation {
            PivotAggregation::First => values.first(),
            PivotAggregation::Last => values.last(),
            // polars sums no values to 0; Spark, and a sum of nothing, to null.
            PivotAggregation::Sum => when(values.clone().count().gt(lit(0)))
                .then(values.sum())
                .otherwise(lit(NULL)),
            PivotAggregation::Min => values.min(),
            PivotAggregation::Max => values.max(),
        };
        value.strict_cast(polars_dtype(c.dtype)).alias(c.name)
    });
    let grouped = lf.group_by_stable(by).agg(aggregations.collect::<Vec<_>>());
    let sorted = sort_by_keys(grouped, p.keys, p.timestamp);
    if !p.forward_fill {
        return Ok(sorted);
    }
    let names: Vec<&str> = p.columns.iter().map(|c| c.name).collect();
    forward_fill(sorted, p.keys, p.timestamp, &names)
}

/// Values of one declared field, as read from the JSON of each row.
enum Values {
    Bool(Vec<Option<bool>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Float32(Vec<Option<f32>>),
    Float64(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

impl Values {
    fn new(dtype: Dt, rows: usize) -> Values {
        match dtype {
            Dt::Bool => Values::Bool(Vec::with_capacity(rows)),
            Dt::Int32 => Values::Int32(Vec::with_capacity(rows)),
            Dt::Int64 => Values::Int64(Vec::with_capacity(rows)),
            Dt::Float32 => Values::Float32(Vec::with_capacity(rows)),
            Dt::Float64 => Values::Float64(Vec::with_capacity(rows)),
            // Times are parsed from text by polars, as a source's are.
            _ => Values::Text(Vec::with_capacity(rows)),
        }
    }

    fn push_null(&mut self) {
        match self {
            Values::Bool(v) => v.push(None),
            Values::Int32(v) => v.push(None),
            Values::Int64(v) => v.push(None),
            Values::Float32(v) => v.push(None),
            Values::Float64(v) => v.push(None),
            Values::Text(v) => v.push(None),
        }
    }

    /// Pushes `value`, or says why it does not fit: a JSON value of the
    /// field's type, or a JSON string holding one (as Spark's
    /// `get_json_object` then `cast` reads `"123"` as `123`).
    fn push(&mut self, value: &serde_json::Value) -> std::result::Result<(), &'static str> {
        use serde_json::Value as J;
        let text = value.as_str();
        match self {
            Values::Bool(v) => v.push(Some(match (value, text) {
                (J::Bool(b), _) => *b,
                (_, Some("true")) => true,
                (_, Some("false")) => false,
                _ => return Err("a boolean"),
            })),
            Values::Int32(v) => v.push(Some(
                value
                    .as_i64()
                    .or_else(|| text.and_then(|t| t.trim().parse().ok()))
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or("a 32-bit integer")?,
            )),
            Values::Int64(v) => v.push(Some(
                value
                    .as_i64()
                    .or_else(|| text.and_then(|t| t.trim().parse().ok()))
                    .ok_or("an integer")?,
            )),
            Values::Float32(v) => v.push(Some(
                value
                    .as_f64()
                    .or_else(|| text.and_then(|t| t.trim().parse().ok()))
                    .ok_or("a number")? as f32,
            )),
            Values::Float64(v) => v.push(Some(
                value
                    .as_f64()
                    .or_else(|| text.and_then(|t| t.trim().parse().ok()))
                    .ok_or("a number")?,
            )),
            // Another JSON value is kept as its JSON text, as
            // `get_json_object` returns it.
            Values::Text(v) => v.push(Some(match text {
                Some(t) => t.to_string(),
                None => value.to_string(),
            })),
        }
        Ok(())
    }

    fn into_series(self, name: &str) -> Series {
        let name = PlSmallStr::from(name);
        match self {
            Values::Bool(v) => Series::new(name, v),
            Values::Int32(v) => Series::new(name, v),
            Values::Int64(v) => Series::new(name, v),
            Values::Float32(v) => Series::new(name, v),
            Values::Float64(v) => Series::new(name, v),
            Values::Text(v) => Series::new(name, v),
        }
    }
}

/// The declared fields of the JSON objects in `column`, as new columns; the
/// rows whose JSON cannot be read, or whose field does not fit its declared
/// type, are left out and returned.
fn explode_json(
    df: DataFrame,
    column: &str,
    fields: &[ColumnSpec],
) -> PolarsResult<(DataFrame, Vec<BadJson>)> {
    let texts = df.column(column)?.str()?.clone();
    let mut values: Vec<Values> = fields
        .iter()
        .map(|f| Values::new(f.dtype, df.height()))
        .collect();
    let mut bad = Vec::new();
    for (row, text) in texts.iter().enumerate() {
        let reason = match text.map(serde_json::from_str::<serde_json::Value>) {
            None => {
                values.iter_mut().for_each(Values::push_null);
                None
            }
            Some(Err(e)) => Some(format!(
                "`{}` is not JSON: {e}",
                shorten(text.unwrap_or_default())
            )),
            Some(Ok(serde_json::Value::Object(object))) => {
                let mut reason = None;
                for (f, out) in fields.iter().zip(values.iter_mut()) {
                    match object.get(f.name) {
                        None | Some(serde_json::Value::Null) if f.nullable => out.push_null(),
                        None | Some(serde_json::Value::Null) => {
                            out.push_null();
                            reason.get_or_insert(format!(
                                "field `{}` is missing or null, but the column is not an `Option`",
                                f.name
                            ));
                        }
                        Some(value) => {
                            if let Err(expected) = out.push(value) {
                                out.push_null();
                                reason.get_or_insert(format!(
                                    "field `{}`: `{}` is not {expected}",
                                    f.name,
                                    shorten(&value.to_string())
                                ));
                            }
                        }
                    }
                }
                reason
            }
            Some(Ok(_)) => Some(format!(
                "`{}` is not a JSON object",
                shorten(text.unwrap_or_default())
            )),
        };
        if let Some(reason) = reason {
            // Keep every field's values aligned with the rows.
            for out in values.iter_mut() {
                if out_len(out) == row {
                    out.push_null();
                }
            }
            bad.push(BadJson {
                row,
                raw: text.unwrap_or_default().to_string(),
                reason,
            });
        }
    }
    let mut columns = Vec::with_capacity(fields.len());
    for (f, out) in fields.iter().zip(values) {
        let series = out.into_series(f.name);
        let series = match f.dtype {
            Dt::Date | Dt::Timestamp => parse_times(series, f)?,
            dtype => series.strict_cast(&polars_dtype(dtype))?,
        };
        columns.push(series.into_column());
    }
    let mut df = df;
    for column in columns {
        df.with_column(column)?;
    }
    if !bad.is_empty() {
        let keep = BooleanChunked::from_iter_values(
            "keep".into(),
            (0..df.height()).map(|i| bad.binary_search_by_key(&i, |b| b.row).is_err()),
        );
        df = df.filter(&keep)?;
    }
    Ok((df, bad))
}

fn out_len(values: &Values) -> usize {
    match values {
        Values::Bool(v) => v.len(),
        Values::Int32(v) => v.len(),
        Values::Int64(v) => v.len(),
        Values::Float32(v) => v.len(),
        Values::Float64(v) => v.len(),
        Values::Text(v) => v.len(),
    }
}

/// Dates and times from text, in the formats sources accept.
fn parse_times(series: Series, field: &ColumnSpec) -> PolarsResult<Series> {
    let options = super::time_encoding::strptime_options(None);
    let expr = match field.dtype {
        Dt::Date => col(field.name).str().to_date(options),
        _ => col(field.name).str().to_datetime(
            Some(TimeUnit::Microseconds),
            None,
            options,
            lit("raise"),
        ),
    };
    let df = DataFrame::new(series.len(), vec![series.into_column()])?;
    let out = df.lazy().select([expr]).collect()?;
    Ok(out.column(field.name)?.as_materialized_series().clone())
}
