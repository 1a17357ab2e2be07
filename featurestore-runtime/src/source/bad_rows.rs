//! Finding the rows of a file that do not fit the declaration, and naming
//! where they are (`line 7`, `row 12`) and what was expected, for messages
//! and quarantine files.

use polars::prelude::*;

use super::time_encoding;
use super::typed::collect_guarded;
use crate::dtype::polars_dtype;
use crate::error::{PolarsContext, Result};
use crate::spec::{DataType as Dt, SourceSpec, TimeEncoding};

/// One row that does not fit the declaration.
#[derive(Debug, Clone)]
pub(crate) struct BadRow {
    /// 0-based index of the record among the file's data records.
    pub record: usize,
    /// Where the row is, for people: `line 7` or `row 12`.
    pub place: String,
    /// The row as read, for the quarantine file.
    pub raw: String,
    /// What was wrong, and what was expected.
    pub reason: String,
}

/// The index of each record of the file, in the frame [`raw`] reads.
const ROW: &str = "__fs_record";

/// The slow path: `lf`, a file read without the declared types (text
/// formats as text), with each record's index.
pub(super) fn raw(lf: LazyFrame) -> PolarsResult<DataFrame> {
    collect_guarded(lf.with_row_index(ROW, None))
}

/// `raw` without its record index, and without the records of `bad`.
pub(super) fn without(raw: &DataFrame, bad: &[BadRow]) -> PolarsResult<DataFrame> {
    // By index in `raw`, before `name_places` maps the records to the file's.
    let keep = BooleanChunked::from_iter_values(
        "keep".into(),
        (0..raw.height()).map(|i| bad.binary_search_by_key(&i, |b| b.record).is_err()),
    );
    raw.drop(ROW)?.filter(&keep)
}

/// Every record of `raw` a declared column cannot hold, sorted by record.
pub(super) fn locate(spec: &SourceSpec, raw: &DataFrame) -> Result<Vec<BadRow>> {
    let n = raw.height();
    let mut reasons: Vec<Option<String>> = vec![None; n];
    let text = |c: &Column| -> Result<Series> {
        c.as_materialized_series()
            .cast(&DataType::String)
            .ctx(|| "formatting values".into())
    };
    for c in spec.columns {
        let Ok(column) = raw.column(c.name) else {
            continue;
        };
        let values = text(column)?;
        let values = values.str().ctx(|| "formatting values".into())?;
        let encoding = spec.time_encoding(c.name);
        // The typed read parses a text time column in the format of its
        // first value (with an optional fraction of a second): a value in
        // another form (`T`, `Z`, a date alone) is a bad row, named here,
        // rather than a failure of the whole read.
        let detected = match (c.dtype, column.dtype(), encoding) {
            (Dt::Date | Dt::Timestamp, DataType::String, None) => values
                .iter()
                .flatten()
                .find(|v| !v.is_empty())
                .and_then(|v| super::typed::format_of(v, c.dtype))
                .map(super::typed::with_fraction),
            _ => None,
        };
        let parsed: Option<Series> = match (c.dtype, column.dtype()) {
            _ if encoding.is_some() => None,
            (Dt::Date | Dt::Timestamp, DataType::String) => None,
            (dt, _) => Some(
                column
                    .as_materialized_series()
                    .cast_with_options(
                        &polars_dtype(dt),
                        polars::chunked_array::cast::CastOptions::NonStrict,
                    )
                    .ctx(|| format!("checking column `{}`", c.name))?,
            ),
        };
        for (i, value) in values.iter().enumerate() {
            if reasons[i].is_some() {
                continue;
            }
            let reason = match value {
                None | Some("") if !c.nullable => Some(format!(
                    "column `{}` is empty, expected {} (the field is not an `Option`)",
                    c.name,
                    expected(c.dtype, encoding)
                )),
                None => None,
                Some(v) => {
                    let ok = match (&parsed, encoding, detected) {
                        (None, Some(encoding), _) => time_encoding::parses(v, encoding),
                        (None, None, Some(format)) => parses_in(v, format, c.dtype),
                        (None, None, None) => parses_as_time(v, c.dtype),
                        (Some(p), _, _) => p.get(i).is_ok_and(|a| !a.is_null()),
                    };
                    match detected {
                        Some(format) if !ok && parses_as_time(v, c.dtype) => Some(format!(
                            "column `{}`: `{}` is not in the column's form {}, the form of its first value (UTC)",
                            c.name,
                            shorten(v),
                            super::typed::human_format(format)
                        )),
                        _ => (!ok).then(|| {
                            format!(
                                "column `{}`: `{}` is not {}",
                                c.name,
                                shorten(v),
                                expected(c.dtype, encoding)
                            )
                        }),
                    }
                }
            };
            reasons[i] = reason;
        }
    }
    let records = raw
        .column(ROW)
        .ctx(|| "record index".into())?
        .as_materialized_series()
        .cast(&DataType::UInt64)
        .ctx(|| "record index".into())?;
    let records = records.u64().ctx(|| "record index".into())?;
    let mut out = Vec::new();
    for (i, reason) in reasons.into_iter().enumerate() {
        let Some(reason) = reason else { continue };
        let record = records.get(i).unwrap_or(i as u64) as usize;
        let raw_row: csv::StringRecord = spec
            .columns
            .iter()
            .filter_map(|c| raw.column(c.name).ok())
            .map(|c| {
                c.get(i)
                    .map(|v| match v {
                        AnyValue::Null => String::new(),
                        AnyValue::String(s) => s.to_string(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default()
            })
            .collect();
        out.push(BadRow {
            record,
            place: String::new(),
            raw: String::from_utf8_lossy(&record_line(raw_row.as_byte_record())).into_owned(),
            reason,
        });
    }
    out.sort_by_key(|b| b.record);
    Ok(out)
}

/// A value as quoted in a message: at most 60 characters.
pub(super) fn shorten(text: &str) -> String {
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text.to_string()
    }
}

/// A record as one CSV line, for the quarantine file.
pub(super) fn record_line(record: &csv::ByteRecord) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_byte_record(record);
    let mut out = w.into_inner().unwrap_or_default();
    out.pop();
    out
}

const TIME_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
];

/// Whether `value` is a time of `dtype` in exactly `format`.
fn parses_in(value: &str, format: &str, dtype: Dt) -> bool {
    match dtype {
        Dt::Date => chrono::NaiveDate::parse_from_str(value, format).is_ok(),
        _ => chrono::NaiveDateTime::parse_from_str(value, format).is_ok(),
    }
}

fn parses_as_time(value: &str, dtype: Dt) -> bool {
    let v = value.trim_end_matches('Z');
    match dtype {
        Dt::Date => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
        _ => {
            TIME_FORMATS
                .iter()
                .any(|f| chrono::NaiveDateTime::parse_from_str(v, f).is_ok())
                || chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()
        }
    }
}

fn expected(dtype: Dt, encoding: Option<TimeEncoding>) -> String {
    match encoding {
        Some(encoding) => time_encoding::expected(encoding),
        None => expected_of_type(dtype).to_string(),
    }
}

fn expected_of_type(dtype: Dt) -> &'static str {
    match dtype {
        Dt::Bool => "a boolean (true or false)",
        Dt::Int32 => "a 32-bit integer",
        Dt::Int64 => "an integer",
        Dt::Float32 | Dt::Float64 => "a number",
        Dt::String => "text",
        Dt::Date => "a date (YYYY-MM-DD)",
        Dt::Timestamp => "a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff], UTC)",
        // Lists are feature types only; a source column is never one.
        Dt::List(_) => "a list",
    }
}

/// Names where each of `bad` is, with `places`: where each record of the
/// file as given is (a CSV line, an NDJSON line, a Parquet row). `bad`
/// (sorted) counts the records of the file read, which lacked the `removed`
/// records (sorted) of the file as given: each is mapped back first.
pub(super) fn name_places(
    removed: &[BadRow],
    bad: &mut [BadRow],
    places: impl FnOnce(&[usize]) -> Result<Vec<String>>,
) -> Result<()> {
    let mut skipped = removed.iter().map(|b| b.record).peekable();
    let mut shift = 0;
    for b in bad.iter_mut() {
        while skipped.next_if(|&r| r <= b.record + shift).is_some() {
            shift += 1;
        }
        b.record += shift;
    }
    let records: Vec<usize> = bad.iter().map(|b| b.record).collect();
    for (b, place) in bad.iter_mut().zip(places(&records)?) {
        b.place = place;
    }
    Ok(())
}
