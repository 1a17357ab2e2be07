//! Apache Parquet: typed columns, checked against the declaration before
//! any value is read.

use polars::prelude::*;

use super::{FileFormat, SourceFile};
use crate::error::{polars_message, Result};
use crate::source::{source_error, time_encoding};
use crate::spec::{DataType as Dt, Format, SourceSpec};

/// Apache Parquet.
pub(super) struct Parquet;

impl FileFormat for Parquet {
    fn format(&self) -> Format {
        Format::Parquet
    }

    fn scan(&self, spec: &SourceSpec, file: &SourceFile) -> Result<LazyFrame> {
        let lf = self.scan_text(spec, file)?;
        check_schema(spec, file.location(), lf.clone())?;
        Ok(lf)
    }

    /// Parquet has no text to fall back on: its columns as stored.
    fn scan_text(&self, spec: &SourceSpec, file: &SourceFile) -> Result<LazyFrame> {
        file.polars_path()
            .and_then(|path| LazyFrame::scan_parquet(path, ScanArgsParquet::default()))
            .map_err(|e| file.read_error(spec, self, &e))
    }

    fn places(&self, _: &SourceFile, records: &[usize]) -> Result<Vec<String>> {
        Ok(records
            .iter()
            .map(|r| format!("row {} (0-based offset {r})", r + 1))
            .collect())
    }
}

/// Parquet columns must already have the declared type, or one that widens
/// to it without loss: a different schema is an error, not a silent cast.
fn check_schema(spec: &SourceSpec, location: &str, mut lf: LazyFrame) -> Result<()> {
    let schema = lf.collect_schema().map_err(|e| {
        source_error(
            spec,
            location,
            format!("cannot read the schema: {}", polars_message(&e)),
        )
    })?;
    let mut wrong = Vec::new();
    for c in spec.columns {
        let Some(found) = schema.get(c.name) else {
            continue;
        };
        if let Some(encoding) = spec.time_encoding(c.name) {
            if *found != DataType::Null && !time_encoding::accepts(encoding, found) {
                wrong.push(format!(
                    "column `{}` is {found} in the file, declared as {encoding}",
                    c.name
                ));
            }
            continue;
        }
        let ok = match (c.dtype, found) {
            (_, DataType::Null) => true,
            (Dt::Bool, DataType::Boolean) | (Dt::String, DataType::String) => true,
            (Dt::Int64, f) => f.is_integer() && *f != DataType::UInt64,
            (Dt::Int32, f) => matches!(
                f,
                DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::UInt8
                    | DataType::UInt16
            ),
            (Dt::Float64, f) => f.is_float() || f.is_integer(),
            (Dt::Float32, f) => *f == DataType::Float32,
            (Dt::Date, f) => matches!(f, DataType::Date | DataType::String),
            (Dt::Timestamp, f) => matches!(
                f,
                DataType::Datetime(_, _) | DataType::Date | DataType::String
            ),
            _ => false,
        };
        if !ok {
            wrong.push(format!(
                "column `{}` is {found} in the file, declared {}",
                c.name, c.dtype
            ));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(source_error(
            spec,
            location,
            format!(
                "the Parquet schema differs from the declaration: {}",
                wrong.join("; ")
            ),
        ))
    }
}
