//! The codec between a run's frames and online records: the latest row of
//! each key of a computed frame as [`Record`]s (or as [`ValueRows`], its
//! columns' values, for a backend that encodes rows straight from them),
//! and records back as a frame. Backends see records and values only,
//! never polars.

use polars::prelude::*;

use super::{Record, Value};
use crate::error::{Error, PolarsContext, Result};
use crate::spec::{FeatureSetSpec, TIMESTAMP_COLUMN};

/// The last row of each key of a frame sorted by key and time, as records.
pub fn latest_records(spec: &FeatureSetSpec, frame: &DataFrame) -> Result<Vec<Record>> {
    records_of(spec, &latest_rows(spec, frame)?)
}

/// The last row of each key of a frame sorted by key and time: its keys,
/// `timestamp` and outputs.
pub fn latest_rows(spec: &FeatureSetSpec, frame: &DataFrame) -> Result<DataFrame> {
    if frame.height() == 0 {
        // A frame without rows may lack the columns.
        return Ok(DataFrame::empty());
    }
    // A row is its key's last when the next row's key differs.
    let n = frame.height();
    let mut is_last: Option<BooleanChunked> = None;
    for k in spec.key_names() {
        let c = frame
            .column(k)
            .ctx(|| format!("key column `{k}`"))?
            .as_materialized_series();
        let changed = differs_from_next(c).ctx(|| "latest rows".into())?;
        is_last = Some(match is_last {
            Some(e) => &e | &changed,
            None => changed,
        });
    }
    let mut is_last = is_last.unwrap_or_else(|| BooleanChunked::full("".into(), true, n - 1));
    is_last
        .append(&BooleanChunked::full("".into(), true, 1))
        .ctx(|| "latest rows".into())?;
    // One chunk: a mask of one chunk is cut to the columns' chunks, where
    // a mask of other chunks would have every column copied into one.
    let is_last = is_last.rechunk();
    let columns: Vec<&str> = record_columns(spec).map(|(name, _)| name).collect();
    frame
        .select(columns)
        .and_then(|rows| rows.filter(&is_last))
        .ctx(|| "latest rows".into())
}

/// Whether each row but the last differs from the next, compared chunk by
/// chunk: each chunk's rows against the same rows one on (a slice of the
/// chunk and at most the next chunk's first row). Two slices of the whole
/// column, one row apart, would cross every chunk boundary at different
/// rows, and polars would copy both into one chunk to compare them.
fn differs_from_next(c: &Series) -> PolarsResult<BooleanChunked> {
    let n = c.len();
    let mut out: Option<BooleanChunked> = None;
    let mut offset = 0;
    for len in c.chunk_lengths() {
        let m = len.min((n - 1).saturating_sub(offset));
        if m > 0 {
            let piece = c
                .slice(offset as i64, m)
                .not_equal_missing(&c.slice(offset as i64 + 1, m))?;
            match &mut out {
                Some(o) => o.append_owned(piece)?,
                None => out = Some(piece),
            }
        }
        offset += len;
    }
    // In pieces: the caller makes the whole mask one chunk once.
    Ok(out.unwrap_or_else(|| BooleanChunked::full("".into(), true, 0)))
}

/// Fails where [`records_of`] would on `frame`, without making its records:
/// a column of a type no record holds, or a row without a time.
pub fn check_records(spec: &FeatureSetSpec, frame: &DataFrame) -> Result<()> {
    if frame.height() == 0 {
        // No record to make (and a frame without rows may lack the columns).
        return Ok(());
    }
    // The conversion refuses by type alone: an empty column of each type
    // (and of each list's items) goes through it.
    fn check_type(dtype: &DataType, name: &str) -> Result<()> {
        series_values(&Series::new_empty(name.into(), dtype), name)?;
        match dtype {
            DataType::List(items) => check_type(items, name),
            _ => Ok(()),
        }
    }
    let names = spec
        .key_names()
        .chain([TIMESTAMP_COLUMN])
        .chain(spec.outputs.iter().map(|o| o.name));
    for name in names {
        let c = frame.column(name).ctx(|| format!("column `{name}`"))?;
        check_type(c.dtype(), name)?;
    }
    // A record's time is a timestamp: of a column of another type, or a
    // null, the conversion makes none.
    let ts = frame
        .column(TIMESTAMP_COLUMN)
        .ctx(|| "timestamp column".into())?;
    if !matches!(ts.dtype(), DataType::Datetime(..)) || ts.null_count() > 0 {
        return Err(no_timestamp(spec));
    }
    Ok(())
}

fn no_timestamp(spec: &FeatureSetSpec) -> Error {
    Error::Invalid(format!(
        "feature set `{}`: a row has no timestamp",
        spec.name
    ))
}

/// Converts every row of a frame (keys, `timestamp`, outputs) to a record,
/// in pieces on every core: a run has a record per key.
pub fn records_of(spec: &FeatureSetSpec, frame: &DataFrame) -> Result<Vec<Record>> {
    Ok(value_rows(spec, frame)?.into_records())
}

/// Rows per piece of a [`ValueRows`].
pub(super) const PIECE: usize = 16_384;

/// The rows of a frame (keys, `timestamp`, outputs) as columns of values,
/// made in pieces on every core: what [`records_of`] makes its records
/// of. A backend that encodes rows encodes each straight from its values,
/// without a record (two vectors) per row to make, gather into one list
/// and free.
#[derive(Debug, Default)]
pub struct ValueRows {
    /// [`PIECE`] consecutive rows each (the last one fewer).
    pieces: Vec<ValuePiece>,
}

#[derive(Debug)]
struct ValuePiece {
    keys: Vec<Vec<Value>>,
    timestamps: Vec<i64>,
    values: Vec<Vec<Value>>,
}

/// One row of some columns of values. It serialises as the slice of its
/// values does, so a row's key and outputs encode as its record's do.
#[derive(Debug, Clone, Copy)]
pub struct RowValues<'a> {
    columns: &'a [Vec<Value>],
    row: usize,
}

impl serde::Serialize for RowValues<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.columns.iter().map(|c| &c[self.row]))
    }
}

impl ValueRows {
    /// How many rows.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|p| p.timestamps.len()).sum()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Row `i`: its key, its time and its outputs.
    pub fn row(&self, i: usize) -> (RowValues<'_>, i64, RowValues<'_>) {
        let (piece, row) = (&self.pieces[i / PIECE], i % PIECE);
        (
            RowValues {
                columns: &piece.keys,
                row,
            },
            piece.timestamps[row],
            RowValues {
                columns: &piece.values,
                row,
            },
        )
    }

    /// The rows as records, in order.
    pub fn into_records(self) -> Vec<Record> {
        use rayon::prelude::*;
        let mut pieces: Vec<Vec<Record>> = self
            .pieces
            .into_par_iter()
            .map(ValuePiece::into_records)
            .collect();
        if pieces.len() == 1 {
            return pieces.pop().expect("one piece");
        }
        let mut out = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
        for piece in pieces {
            out.extend(piece);
        }
        out
    }
}

impl ValuePiece {
    fn into_records(self) -> Vec<Record> {
        let mut keys: Vec<_> = self.keys.into_iter().map(Vec::into_iter).collect();
        let mut values: Vec<_> = self.values.into_iter().map(Vec::into_iter).collect();
        self.timestamps
            .into_iter()
            .map(|timestamp| Record {
                key: keys.iter_mut().filter_map(Iterator::next).collect(),
                timestamp,
                values: values.iter_mut().filter_map(Iterator::next).collect(),
            })
            .collect()
    }
}

/// The rows of a frame (keys, `timestamp`, outputs) as [`ValueRows`].
pub fn value_rows(spec: &FeatureSetSpec, frame: &DataFrame) -> Result<ValueRows> {
    use rayon::prelude::*;
    let starts: Vec<usize> = (0..frame.height()).step_by(PIECE).collect();
    let pieces = starts
        .into_par_iter()
        .map(|at| value_piece(spec, &frame.slice(at as i64, PIECE)))
        .collect::<Result<_>>()?;
    Ok(ValueRows { pieces })
}

fn value_piece(spec: &FeatureSetSpec, frame: &DataFrame) -> Result<ValuePiece> {
    let columns = |names: &mut dyn Iterator<Item = &str>| -> Result<Vec<Vec<Value>>> {
        names.map(|name| column_values(frame, name)).collect()
    };
    let keys = columns(&mut spec.key_names())?;
    let values = columns(&mut spec.outputs.iter().map(|o| o.name))?;
    let timestamps = column_values(frame, TIMESTAMP_COLUMN)?
        .into_iter()
        .map(|t| match t {
            Value::Timestamp(t) => Ok(t),
            _ => Err(no_timestamp(spec)),
        })
        .collect::<Result<_>>()?;
    Ok(ValuePiece {
        keys,
        timestamps,
        values,
    })
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

/// A record's columns: keys, `timestamp`, outputs, with their types.
fn record_columns(
    spec: &FeatureSetSpec,
) -> impl Iterator<Item = (&'static str, crate::spec::DataType)> + '_ {
    spec.keys
        .iter()
        .map(|k| (k.name, k.dtype))
        .chain([(TIMESTAMP_COLUMN, crate::spec::DataType::Timestamp)])
        .chain(spec.outputs.iter().map(|o| (o.name, o.dtype)))
}

/// Rows of [`latest_rows`], sorted by key, as [`records_frame`] makes them
/// of their records: each column of its declared type.
pub fn declared_frame(spec: &FeatureSetSpec, rows: &DataFrame) -> Result<DataFrame> {
    if rows.height() == 0 {
        // A frame without rows may lack the columns.
        return records_frame(spec, &[]);
    }
    let columns: Vec<Expr> = record_columns(spec)
        .map(|(name, dtype)| col(name).strict_cast(crate::dtype::polars_dtype(dtype)))
        .collect();
    rows.clone()
        .lazy()
        .select(columns)
        .collect()
        .ctx(|| "online rows".into())
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
    // Built as the values are (integers as `i64`, floats as `f64`), then
    // cast to the declared type: a value out of its range is an error.
    Series::from_any_values_and_dtype(name.into(), &any, &value_dtype(dtype), true)
        .and_then(|s| s.strict_cast(&crate::dtype::polars_dtype(dtype)))
        .ctx(|| format!("column `{name}`"))
}

/// The type a column's [`Value`]s have: its declared one, but for
/// integers and floats, held at 64 bits.
fn value_dtype(dtype: crate::spec::DataType) -> DataType {
    use crate::spec::DataType as Dt;
    match dtype {
        Dt::Int32 => DataType::Int64,
        Dt::Float32 => DataType::Float64,
        Dt::List(inner) => DataType::List(Box::new(value_dtype(*inner))),
        other => crate::dtype::polars_dtype(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::online::tests::SPEC;

    fn frame(rows: &[(&str, i64, i64)]) -> DataFrame {
        df!(
            "id" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            TIMESTAMP_COLUMN => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "n" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )
        .expect("a frame")
    }

    #[test]
    fn records_of_every_type_make_a_frame_of_the_declared_types() {
        use Value::{Bool, Date, Float, Int, List, Null, Str, Timestamp};
        let spec = crate::store::online::tests::every_type();
        let record = |id: &str, share: Value, amounts: Value| Record {
            key: vec![Str(id.into()), Int(1)],
            timestamp: 5,
            values: vec![
                Bool(true),
                Int(-7),
                Int(1 << 40),
                Float(0.1),
                share,
                Str("n".into()),
                Date(3),
                Timestamp(9),
                List(vec![Str("a".into()), Null]),
                amounts,
            ],
        };
        let records = [
            record("a", Float(0.5), List(vec![Int(1), Null])),
            record("b", Null, Null),
            record("c", Float(f64::from(f32::MAX)), List(vec![])),
        ];
        let frame = records_frame(spec, &records).expect("a frame of the records");
        let declared: Vec<DataType> = spec
            .outputs
            .iter()
            .map(|o| crate::dtype::polars_dtype(o.dtype))
            .collect();
        let got: Vec<DataType> = spec
            .outputs
            .iter()
            .map(|o| frame.column(o.name).unwrap().dtype().clone())
            .collect();
        assert_eq!(got, declared);
        // Read back as they were written.
        assert_eq!(records_of(spec, &frame).expect("records"), records);
        // A value out of its column's range is an error, not a wrapped one.
        let mut wide = records[0].clone();
        wide.values[1] = Int(i64::from(i32::MAX) + 1);
        assert!(records_frame(spec, &[wide]).is_err());
    }

    #[test]
    fn the_latest_rows_of_a_frame_in_chunks_are_each_keys_last() {
        // Sorted by key and time; key `b` runs across a chunk boundary, key
        // `c` starts at one, and `d`'s only row is a chunk of its own.
        let rows = [
            ("a", 1, 10),
            ("a", 2, 11),
            ("b", 1, 20),
            ("b", 2, 21),
            ("b", 3, 22),
            ("c", 1, 30),
            ("c", 5, 31),
            ("d", 4, 40),
        ];
        let mut chunked = frame(&rows[..3]);
        chunked
            .vstack_mut_owned(frame(&rows[3..5]))
            .expect("stacks");
        chunked
            .vstack_mut_owned(frame(&rows[5..7]))
            .expect("stacks");
        chunked.vstack_mut_owned(frame(&rows[7..])).expect("stacks");
        assert_eq!(chunked.first_col_n_chunks(), 4);
        // Each key's last row, found by hand.
        let expected: Vec<(String, i64, i64)> = rows
            .iter()
            .enumerate()
            .filter(|(i, r)| rows.get(i + 1).is_none_or(|next| next.0 != r.0))
            .map(|(_, r)| (r.0.to_string(), r.1, r.2))
            .collect();
        let got = |f: &DataFrame| -> Vec<(String, i64, i64)> {
            let latest = latest_rows(&SPEC, f).expect("latest rows");
            let ids = latest.column("id").unwrap().str().unwrap().clone();
            let ts = latest
                .column(TIMESTAMP_COLUMN)
                .unwrap()
                .i64()
                .unwrap()
                .clone();
            let n = latest.column("n").unwrap().i64().unwrap().clone();
            ids.iter()
                .zip(ts.iter())
                .zip(n.iter())
                .map(|((i, t), n)| (i.unwrap().to_string(), t.unwrap(), n.unwrap()))
                .collect()
        };
        assert_eq!(got(&chunked), expected);
        let mut whole = chunked.clone();
        whole.rechunk_mut();
        assert_eq!(got(&whole), expected);
        // One row: its key's last.
        assert_eq!(got(&frame(&rows[7..])), vec![("d".to_string(), 4, 40)]);
    }

    #[test]
    fn records_are_checked_without_being_made() {
        let times = |t: &[Option<i64>]| {
            Column::new(TIMESTAMP_COLUMN.into(), t)
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                .unwrap()
        };
        let mut rows = frame(&[("a", 1, 10), ("b", 2, 20)]);
        // Times as numbers: no record has one.
        assert!(check_records(&SPEC, &rows).is_err());
        assert!(records_of(&SPEC, &rows).is_err());
        rows.with_column(times(&[Some(1), Some(2)])).unwrap();
        check_records(&SPEC, &rows).expect("records of these rows");
        assert_eq!(records_of(&SPEC, &rows).expect("records").len(), 2);

        // A row without a time: refused by both, in the same words.
        let mut no_time = rows.clone();
        no_time.with_column(times(&[Some(1), None])).unwrap();
        let checked = check_records(&SPEC, &no_time).unwrap_err().to_string();
        assert_eq!(
            checked,
            records_of(&SPEC, &no_time).unwrap_err().to_string()
        );
        assert!(checked.contains("no timestamp"), "{checked}");

        // A type no record holds, in a list's items too: refused by type,
        // even where every list is null (which the conversion of these
        // rows would let through). No row: no record to refuse.
        let duration = DataType::Duration(TimeUnit::Microseconds);
        let mut odd = rows.clone();
        odd.with_column(Column::full_null("n".into(), 2, &duration))
            .unwrap();
        let err = check_records(&SPEC, &odd).unwrap_err().to_string();
        assert_eq!(err, records_of(&SPEC, &odd).unwrap_err().to_string());
        assert!(err.contains("does not hold"), "{err}");
        check_records(&SPEC, &odd.clear()).expect("no record");
        check_records(&SPEC, &DataFrame::empty()).expect("no record");
        let list = DataType::List(Box::new(duration));
        odd.with_column(Column::full_null("n".into(), 2, &list))
            .unwrap();
        let err = check_records(&SPEC, &odd).unwrap_err().to_string();
        assert!(err.contains("does not hold"), "{err}");
    }
}
