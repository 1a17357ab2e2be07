//! The declared columns of a source's rows, with their declared types:
//! what every file format and every query ends with.

use polars::prelude::*;

use super::{source_error, time_encoding};
use crate::dtype::polars_dtype;
use crate::error::Result;
use crate::spec::{ColumnSpec, DataType as Dt, SourceKind, SourceSpec};

/// The format of each text time column of a file, sampled from its first
/// rows: given to [`typed_as`], pieces of the file are read as the file
/// would be whole.
pub(super) type Formats = Vec<(&'static str, Option<&'static str>)>;

/// The declared columns, checked to exist, with their declared types. With `fractions`, a text time column whose
/// sampled format has whole seconds also accepts a fraction of a second.
pub(super) fn typed(
    spec: &SourceSpec,
    location: &str,
    lf: LazyFrame,
    fractions: bool,
) -> Result<LazyFrame> {
    typed_as(spec, location, lf, fractions, None)
}

/// The [`Formats`] [`typed`] samples from the rows of `lf`.
pub(super) fn sampled_formats(spec: &SourceSpec, lf: &LazyFrame) -> Formats {
    read_columns(spec)
        .filter(|c| matches!(c.dtype, Dt::Timestamp | Dt::Date))
        .filter(|c| spec.time_encoding(c.name).is_none())
        .map(|c| (c.name, time_format(lf, c.name, c.dtype)))
        .collect()
}

/// [`typed`], text times read in `formats` when given rather than in
/// formats sampled from `lf`'s own rows.
pub(super) fn typed_as(
    spec: &SourceSpec,
    location: &str,
    mut lf: LazyFrame,
    fractions: bool,
    formats: Option<&Formats>,
) -> Result<LazyFrame> {
    let schema = lf
        .collect_schema()
        .map_err(|e| source_error(spec, location, format!("cannot read the schema: {e}")))?;
    // A sample of a query's output could cost as much as the query.
    let sampled = matches!(spec.kind, SourceKind::File { .. });
    let mut exprs = Vec::with_capacity(spec.columns.len());
    for c in read_columns(spec) {
        let Some(found) = schema.get(c.name) else {
            let have: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
            return Err(source_error(
                spec,
                location,
                format!(
                    "missing column `{}` (declared as {}); the data has columns: {}",
                    c.name,
                    c.dtype,
                    have.join(", ")
                ),
            ));
        };
        if let Some(encoding) = spec.time_encoding(c.name) {
            exprs.push(time_encoding::to_timestamp(c.name, encoding));
            continue;
        }
        let format = match (c.dtype, found) {
            (Dt::Timestamp | Dt::Date, DataType::String) if sampled => {
                let format = match formats {
                    Some(formats) => formats
                        .iter()
                        .find(|(name, _)| *name == c.name)
                        .and_then(|(_, f)| *f),
                    None => time_format(&lf, c.name, c.dtype),
                };
                format.map(|f| if fractions { with_fraction(f) } else { f })
            }
            _ => None,
        };
        exprs.push(cast_column(c, found, format));
    }
    Ok(lf.select(exprs))
}

fn cast_column(c: &ColumnSpec, found: &DataType, format: Option<&'static str>) -> Expr {
    let e = col(c.name);
    let e = match (c.dtype, found) {
        (Dt::Timestamp, DataType::String) => time_encoding::text_to_timestamp(c.name, format),
        (Dt::Date, DataType::String) => e.str().to_date(time_encoding::strptime_options(format)),
        (dt, _) => e.strict_cast(polars_dtype(dt)),
    };
    e.alias(c.name)
}

/// Collects a read of a file. polars' CSV reader can panic on malformed
/// text that the record check lets through (a quote left open at the end of
/// the file): that becomes an error of the read, not a crash of the run.
pub(super) fn collect_guarded(lf: LazyFrame) -> PolarsResult<DataFrame> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lf.collect())).unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        Err(polars_err!(
            ComputeError: "the file's text cannot be parsed (an unclosed quote?): {}", what
        ))
    })
}

/// Formats polars parses with its byte-level parser, tried in this order on
/// a sample value. Anything else is parsed with inferred formats (slower).
const FAST_DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%3f",
    "%Y-%m-%dT%H:%M:%S.%3f",
    "%Y-%m-%d %H:%M:%S.%6f",
    "%Y-%m-%dT%H:%M:%S.%6f",
    "%Y-%m-%d %H:%M:%S.%9f",
    "%Y-%m-%dT%H:%M:%S.%9f",
];
const FAST_DATE_FORMATS: &[&str] = &["%Y-%m-%d"];

/// A whole-seconds format that also accepts a fraction of a second (as the
/// second read does); other formats as they are.
pub(super) fn with_fraction(format: &'static str) -> &'static str {
    match format {
        "%Y-%m-%d %H:%M:%S" => "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S" => "%Y-%m-%dT%H:%M:%S%.f",
        f => f,
    }
}

/// A time format as a person writes it: `YYYY-MM-DD HH:MM:SS[.fffffffff]`.
pub(super) fn human_format(format: &str) -> String {
    format
        .replace("%.f", "[.fffffffff]")
        .replace(".%3f", ".fff")
        .replace(".%6f", ".ffffff")
        .replace(".%9f", ".fffffffff")
        .replace("%Y", "YYYY")
        .replace("%m", "MM")
        .replace("%d", "DD")
        .replace("%H", "HH")
        .replace("%M", "MM")
        .replace("%S", "SS")
}

/// The format of a text time column, from its first non-null value among
/// the first rows. Every row must then have that format: a row in another
/// one is an error, never a silent null.
fn time_format(lf: &LazyFrame, column: &str, dtype: Dt) -> Option<&'static str> {
    let sample = lf
        .clone()
        .slice(0, 1000)
        .select([col(column).drop_nulls().first()]);
    let sample = collect_guarded(sample).ok()?;
    let value = sample.column(column).ok()?.str().ok()?.get(0)?.to_string();
    format_of(&value, dtype)
}

/// The fast format `value` is written in, if one.
pub(super) fn format_of(value: &str, dtype: Dt) -> Option<&'static str> {
    match dtype {
        Dt::Timestamp => FAST_DATETIME_FORMATS
            .iter()
            .copied()
            .find(|f| chrono::NaiveDateTime::parse_from_str(value, f).is_ok()),
        Dt::Date => FAST_DATE_FORMATS
            .iter()
            .copied()
            .find(|f| chrono::NaiveDate::parse_from_str(value, f).is_ok()),
        _ => None,
    }
}

/// Whether a source has a time column read from text in a sampled format.
pub(super) fn has_text_times(spec: &SourceSpec) -> bool {
    read_columns(spec)
        .any(|c| matches!(c.dtype, Dt::Timestamp) && spec.time_encoding(c.name).is_none())
}

/// The type a text file's column is read as: times as text (parsed
/// strictly afterwards, so a bad value is an error rather than a silent
/// null), epoch counts as integers, the rest as declared.
pub(super) fn read_dtype(spec: &SourceSpec, c: &ColumnSpec) -> DataType {
    match (spec.time_encoding(c.name), c.dtype) {
        (Some(encoding), _) => time_encoding::raw_dtype(encoding),
        (None, Dt::Date | Dt::Timestamp) => DataType::String,
        (None, other) => polars_dtype(other),
    }
}

/// The declared columns the data holds: all but the derived ones.
pub(super) fn read_columns(spec: &SourceSpec) -> impl Iterator<Item = &'static ColumnSpec> + '_ {
    spec.columns
        .iter()
        .filter(|c| spec.derivation(c.name).is_none())
}

/// The schema a text format is read with: with `times_only`, each declared
/// column as [`read_dtype`] reads it; else every one as text.
pub(super) fn text_schema(spec: &SourceSpec, times_only: bool) -> Schema {
    let mut schema = Schema::default();
    for c in read_columns(spec) {
        let dt = if times_only {
            read_dtype(spec, c)
        } else {
            DataType::String
        };
        schema.insert(c.name.into(), dt);
    }
    schema
}

/// How many nulls the non-`Option` columns of `df` hold.
pub(super) fn non_nullable_nulls(spec: &SourceSpec, df: &DataFrame) -> usize {
    spec.columns
        .iter()
        .filter(|c| !c.nullable)
        .filter_map(|c| df.column(c.name).ok())
        .map(|c| c.null_count())
        .sum()
}
