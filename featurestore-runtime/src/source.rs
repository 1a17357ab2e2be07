//! Extract: scanning declared sources into typed lazy frames.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::dtype::polars_dtype;
use crate::error::{Error, Result};
use crate::spec::{ColumnSpec, DataType as Dt, Format, SourceKind, SourceSpec};

/// Where each source's files are, after configuration and overrides.
#[derive(Debug, Clone, Default)]
pub struct SourceLocations {
    /// Directory relative declared paths are resolved against.
    pub base_dir: PathBuf,
    /// Per-source path overrides, by source name.
    pub overrides: HashMap<String, String>,
}

impl SourceLocations {
    /// Locations relative to `base_dir`, with no overrides.
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        SourceLocations {
            base_dir: base_dir.into(),
            overrides: HashMap::new(),
        }
    }

    /// Sets the path of source `name`.
    pub fn with_override(mut self, name: impl Into<String>, path: impl Into<String>) -> Self {
        self.overrides.insert(name.into(), path.into());
        self
    }

    /// The resolved location of a file source.
    pub fn resolve(&self, spec: &SourceSpec, declared: &str) -> String {
        let raw = self
            .overrides
            .get(spec.name)
            .map(String::as_str)
            .unwrap_or(declared);
        resolve_path(&self.base_dir, raw)
    }
}

/// Resolves a relative path against `base`; URLs and absolute paths are kept.
pub(crate) fn resolve_path(base: &Path, raw: &str) -> String {
    if let Some(local) = raw.strip_prefix("file://") {
        return local.to_string();
    }
    if raw.contains("://") || Path::new(raw).is_absolute() {
        return raw.to_string();
    }
    base.join(raw).to_string_lossy().into_owned()
}

/// Scans a source: its columns, cast to their declared types, lazily.
pub fn scan(spec: &SourceSpec, locations: &SourceLocations) -> Result<LazyFrame> {
    match spec.kind {
        SourceKind::File { path, format } => {
            let location = locations.resolve(spec, path);
            scan_file(spec, &location, format)
        }
        SourceKind::Query { sql, inputs } => {
            let mut ctx = SQLContext::new();
            for input in inputs {
                ctx.register(input.name, scan(input, locations)?);
            }
            let lf = ctx.execute(sql).map_err(|e| Error::Source {
                source_name: spec.name.to_string(),
                location: "query".to_string(),
                message: format!("the query failed: {e}"),
            })?;
            typed(spec, "query", lf)
        }
    }
}

/// Reads a source into memory: its columns, parsed and cast.
pub fn read(spec: &SourceSpec, locations: &SourceLocations) -> Result<DataFrame> {
    scan(spec, locations)?.collect().map_err(|e| {
        source_error(
            spec,
            &describe_location(spec, locations),
            crate::error::polars_message(&e),
        )
    })
}

/// Where a source is read from, for messages: its file, or its query.
pub fn describe_location(spec: &SourceSpec, locations: &SourceLocations) -> String {
    match spec.kind {
        SourceKind::File { path, .. } => locations.resolve(spec, path),
        SourceKind::Query { .. } => "query".to_string(),
    }
}

fn source_error(spec: &SourceSpec, location: &str, message: impl Into<String>) -> Error {
    Error::Source {
        source_name: spec.name.to_string(),
        location: location.to_string(),
        message: message.into(),
    }
}

fn scan_file(spec: &SourceSpec, location: &str, format: Format) -> Result<LazyFrame> {
    if !location.contains("://") && !Path::new(location).exists() {
        return Err(source_error(
            spec,
            location,
            "no such file; set its path in featurestore.toml, with `--source NAME=PATH`, or FEATURESTORE_SOURCE_<NAME>",
        ));
    }
    let path = PlRefPath::from(location);
    let lf = match format {
        Format::Csv => {
            // Time columns are read as text and parsed strictly afterwards, so a
            // bad value is an error rather than a silent null.
            let mut overwrite = Schema::default();
            for c in spec.columns {
                let dt = match c.dtype {
                    Dt::Date | Dt::Timestamp => DataType::String,
                    other => polars_dtype(other),
                };
                overwrite.insert(c.name.into(), dt);
            }
            LazyCsvReader::new(path)
                .with_has_header(true)
                .with_dtype_overwrite(Some(SchemaRef::new(overwrite)))
                .with_infer_schema_length(Some(0))
                .finish()
        }
        Format::Parquet => LazyFrame::scan_parquet(path, ScanArgsParquet::default()),
        Format::NdJson => {
            let mut schema = Schema::default();
            for c in spec.columns {
                let dt = match c.dtype {
                    Dt::Date | Dt::Timestamp => DataType::String,
                    other => polars_dtype(other),
                };
                schema.insert(c.name.into(), dt);
            }
            LazyJsonLineReader::new(path)
                .with_schema(Some(SchemaRef::new(schema)))
                .finish()
        }
    }
    .map_err(|e| {
        source_error(
            spec,
            location,
            format!("cannot read as {}: {e}", format.name()),
        )
    })?;
    typed(spec, location, lf)
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

/// The format of a text time column, from its first non-null value among
/// the first rows. Every row must then have that format: a row in another
/// one is an error, never a silent null.
fn time_format(lf: &LazyFrame, column: &str, dtype: Dt) -> Option<&'static str> {
    let sample = lf
        .clone()
        .slice(0, 1000)
        .select([col(column).drop_nulls().first()])
        .collect()
        .ok()?;
    let value = sample.column(column).ok()?.str().ok()?.get(0)?.to_string();
    match dtype {
        Dt::Timestamp => FAST_DATETIME_FORMATS
            .iter()
            .copied()
            .find(|f| chrono::NaiveDateTime::parse_from_str(&value, f).is_ok()),
        Dt::Date => FAST_DATE_FORMATS
            .iter()
            .copied()
            .find(|f| chrono::NaiveDate::parse_from_str(&value, f).is_ok()),
        _ => None,
    }
}

/// Selects the declared columns, checking they exist, with declared types.
fn typed(spec: &SourceSpec, location: &str, mut lf: LazyFrame) -> Result<LazyFrame> {
    let schema = lf
        .collect_schema()
        .map_err(|e| source_error(spec, location, format!("cannot read the schema: {e}")))?;
    // A sample of a query's output could cost as much as the query.
    let sampled = matches!(spec.kind, SourceKind::File { .. });
    let mut exprs = Vec::with_capacity(spec.columns.len());
    for c in spec.columns {
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
        let format = match (c.dtype, found) {
            (Dt::Timestamp | Dt::Date, DataType::String) if sampled => {
                time_format(&lf, c.name, c.dtype)
            }
            _ => None,
        };
        exprs.push(cast_column(c, found, format));
    }
    Ok(lf.select(exprs))
}

fn cast_column(c: &ColumnSpec, found: &DataType, format: Option<&str>) -> Expr {
    let e = col(c.name);
    let options = StrptimeOptions {
        format: format.map(Into::into),
        ..StrptimeOptions::default()
    };
    let e = match (c.dtype, found) {
        (Dt::Timestamp, DataType::String) => {
            e.str()
                .to_datetime(Some(TimeUnit::Microseconds), None, options, lit("raise"))
        }
        (Dt::Date, DataType::String) => e.str().to_date(options),
        (dt, _) => e.strict_cast(polars_dtype(dt)),
    };
    e.alias(c.name)
}
