//! Newline-delimited JSON: one object per line.

use polars::prelude::*;

use super::{FileFormat, SourceFile};
use crate::error::Result;
use crate::source::typed::text_schema;
use crate::spec::{Format, SourceSpec};

/// One JSON object per line.
pub(super) struct NdJson;

impl NdJson {
    fn read(&self, spec: &SourceSpec, file: &SourceFile, times_only: bool) -> Result<LazyFrame> {
        file.polars_path()
            .and_then(|path| {
                LazyJsonLineReader::new(path)
                    .with_schema(Some(SchemaRef::new(text_schema(spec, times_only))))
                    .finish()
            })
            .map_err(|e| file.read_error(spec, self, &e))
    }
}

impl FileFormat for NdJson {
    fn format(&self) -> Format {
        Format::NdJson
    }

    fn scan(&self, spec: &SourceSpec, file: &SourceFile) -> Result<LazyFrame> {
        self.read(spec, file, true)
    }

    fn scan_text(&self, spec: &SourceSpec, file: &SourceFile) -> Result<LazyFrame> {
        self.read(spec, file, false)
    }

    fn places(&self, _: &SourceFile, records: &[usize]) -> Result<Vec<String>> {
        Ok(records.iter().map(|r| format!("line {}", r + 1)).collect())
    }
}
