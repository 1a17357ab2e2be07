//! The codec between a run's frames and online records: the latest row of
//! each key of a computed frame as [`Record`]s, and records back as a frame.
//! Backends see records only, never polars.

use polars::prelude::*;

use super::{Record, Value};
use crate::error::{Error, PolarsContext, Result};
use crate::spec::{FeatureSetSpec, TIMESTAMP_COLUMN};

/// The last row of each key of a frame sorted by key and time, as records.
pub fn latest_records(spec: &FeatureSetSpec, frame: &DataFrame) -> Result<Vec<Record>> {
    if frame.height() == 0 {
        return Ok(Vec::new());
    }
    let mut is_last: Option<Expr> = None;
    for k in spec.key_names() {
        let changed = col(k).neq_missing(col(k).shift(lit(-1)));
        is_last = Some(match is_last {
            Some(e) => e.or(changed),
            None => changed,
        });
    }
    let latest = frame
        .clone()
        .lazy()
        .filter(is_last.unwrap_or_else(|| lit(true)))
        .collect()
        .ctx(|| "latest rows".into())?;
    records_of(spec, &latest)
}

/// Converts every row of a frame (keys, `timestamp`, outputs) to a record.
pub fn records_of(spec: &FeatureSetSpec, frame: &DataFrame) -> Result<Vec<Record>> {
    let n = frame.height();
    let keys: Vec<Vec<Value>> = spec
        .key_names()
        .map(|k| column_values(frame, k))
        .collect::<Result<_>>()?;
    let values: Vec<Vec<Value>> = spec
        .outputs
        .iter()
        .map(|o| column_values(frame, o.name))
        .collect::<Result<_>>()?;
    let ts = column_values(frame, TIMESTAMP_COLUMN)?;
    let mut key_iters: Vec<_> = keys.into_iter().map(Vec::into_iter).collect();
    let mut value_iters: Vec<_> = values.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(n);
    for t in ts {
        let Value::Timestamp(timestamp) = t else {
            return Err(Error::Invalid(format!(
                "feature set `{}`: a row has no timestamp",
                spec.name
            )));
        };
        out.push(Record {
            key: key_iters.iter_mut().filter_map(Iterator::next).collect(),
            timestamp,
            values: value_iters.iter_mut().filter_map(Iterator::next).collect(),
        });
    }
    Ok(out)
}

fn column_values(frame: &DataFrame, name: &str) -> Result<Vec<Value>> {
    let c = frame.column(name).ctx(|| format!("column `{name}`"))?;
    series_values(c.as_materialized_series(), name)
}

fn series_values(s: &Series, name: &str) -> Result<Vec<Value>> {
    let ctx = || format!("column `{name}`");
    Ok(match s.dtype() {
        DataType::Boolean => s
            .bool()
            .ctx(ctx)?
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Bool))
            .collect(),
        DataType::String => s
            .str()
            .ctx(ctx)?
            .iter()
            .map(|v| v.map_or(Value::Null, |v| Value::Str(v.to_string())))
            .collect(),
        DataType::Date => s
            .date()
            .ctx(ctx)?
            .physical()
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Date))
            .collect(),
        DataType::Datetime(tu, _) => {
            let factor = match tu {
                TimeUnit::Nanoseconds => -1000,
                TimeUnit::Microseconds => 1,
                TimeUnit::Milliseconds => 1000,
            };
            s.datetime()
                .ctx(ctx)?
                .physical()
                .iter()
                .map(|v| {
                    v.map_or(Value::Null, |v| {
                        Value::Timestamp(if factor < 0 { v / 1000 } else { v * factor })
                    })
                })
                .collect()
        }
        dt if dt.is_integer() => s
            .cast(&DataType::Int64)
            .ctx(ctx)?
            .i64()
            .ctx(ctx)?
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Int))
            .collect(),
        dt if dt.is_float() => s
            .cast(&DataType::Float64)
            .ctx(ctx)?
            .f64()
            .ctx(ctx)?
            .iter()
            .map(|v| v.map_or(Value::Null, Value::Float))
            .collect(),
        DataType::List(_) => {
            let mut out = Vec::with_capacity(s.len());
            let list = s.list().ctx(ctx)?;
            for item in (0..list.len()).map(|i| list.get_as_series(i)) {
                out.push(match item {
                    Some(items) => Value::List(series_values(&items, name)?),
                    None => Value::Null,
                });
            }
            out
        }
        other => {
            return Err(Error::Invalid(format!(
                "column `{name}` has type {other}, which the online store does not hold"
            )))
        }
    })
}

/// Records as a frame (keys, `timestamp`, outputs), sorted by key.
pub fn records_frame(spec: &FeatureSetSpec, records: &[Record]) -> Result<DataFrame> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| {
        a.key
            .iter()
            .zip(&b.key)
            .map(|(x, y)| cmp_values(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut columns = Vec::new();
    for (i, k) in spec.keys.iter().enumerate() {
        columns.push(values_column(
            k.name,
            k.dtype,
            sorted.iter().map(|r| &r.key[i]),
        )?);
    }
    columns.push(values_column(
        TIMESTAMP_COLUMN,
        crate::spec::DataType::Timestamp,
        sorted
            .iter()
            .map(|r| Value::Timestamp(r.timestamp))
            .collect::<Vec<_>>()
            .iter(),
    )?);
    for (i, o) in spec.outputs.iter().enumerate() {
        columns.push(values_column(
            o.name,
            o.dtype,
            sorted.iter().map(|r| &r.values[i]),
        )?);
    }
    DataFrame::new(sorted.len(), columns).ctx(|| "online rows".into())
}

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
        _ => Ordering::Equal,
    }
}

fn values_column<'a>(
    name: &str,
    dtype: crate::spec::DataType,
    values: impl Iterator<Item = &'a Value>,
) -> Result<Column> {
    values_series(name, dtype, values).map(Series::into_column)
}

fn values_series<'a>(
    name: &str,
    dtype: crate::spec::DataType,
    values: impl Iterator<Item = &'a Value>,
) -> Result<Series> {
    let element = match dtype {
        crate::spec::DataType::List(inner) => *inner,
        other => other,
    };
    let mut any: Vec<AnyValue> = Vec::new();
    for v in values {
        any.push(match v {
            Value::Null => AnyValue::Null,
            Value::Bool(b) => AnyValue::Boolean(*b),
            Value::Int(i) => AnyValue::Int64(*i),
            Value::Float(f) => AnyValue::Float64(*f),
            Value::Str(s) => AnyValue::StringOwned(s.as_str().into()),
            Value::Date(d) => AnyValue::Date(*d),
            Value::Timestamp(t) => AnyValue::Datetime(*t, TimeUnit::Microseconds, None),
            Value::List(items) => AnyValue::List(values_series("", element, items.iter())?),
        });
    }
    let target = crate::dtype::polars_dtype(dtype);
    Series::from_any_values_and_dtype(name.into(), &any, &target, true)
        .ctx(|| format!("column `{name}`"))
}
