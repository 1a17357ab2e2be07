//! Extract: scanning declared sources into typed lazy frames.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::dtype::polars_dtype;
use crate::error::{polars_message, Error, PolarsContext, Result};
use crate::spec::{
    ColumnSpec, DataType as Dt, Format, OnBadRows, Preprocessing, SourceKind, SourceSpec,
    TimeEncoding,
};
mod derive;
pub mod preprocess;
mod time_encoding;

/// Where each source's files are, after configuration and overrides.
#[derive(Debug, Clone, Default)]
pub struct SourceLocations {
    /// Directory relative declared paths are resolved against.
    pub base_dir: PathBuf,
    /// Per-source path overrides, by source name.
    pub overrides: HashMap<String, String>,
    /// Per-source `on_bad_rows` overrides, by source name.
    pub on_bad_rows: HashMap<String, OnBadRows>,
    /// Where `on_bad_rows = "quarantine"` writes rejected rows; without
    /// one, `_quarantine/` under `base_dir`.
    pub quarantine_dir: Option<PathBuf>,
}

impl SourceLocations {
    /// Locations relative to `base_dir`, with no overrides.
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        SourceLocations {
            base_dir: base_dir.into(),
            ..SourceLocations::default()
        }
    }

    /// Sets the path of source `name`.
    pub fn with_override(mut self, name: impl Into<String>, path: impl Into<String>) -> Self {
        self.overrides.insert(name.into(), path.into());
        self
    }

    /// Sets the `on_bad_rows` policy of source `name`.
    pub fn with_policy(mut self, name: impl Into<String>, policy: OnBadRows) -> Self {
        self.on_bad_rows.insert(name.into(), policy);
        self
    }

    /// The resolved location of a file source.
    pub fn resolve(&self, spec: &SourceSpec, declared: &str) -> String {
        let raw = self
            .overrides
            .get(spec.name)
            .map(String::as_str)
            .unwrap_or(declared);
        crate::location::resolve(&self.base_dir, raw)
    }

    /// The `on_bad_rows` policy of a source: configured, else declared.
    pub fn policy(&self, spec: &SourceSpec) -> OnBadRows {
        self.on_bad_rows
            .get(spec.name)
            .copied()
            .unwrap_or(spec.on_bad_rows)
    }

    /// The directory quarantine files are written to.
    pub fn quarantine_dir(&self) -> PathBuf {
        self.quarantine_dir
            .clone()
            .unwrap_or_else(|| self.base_dir.join(QUARANTINE_DIR))
    }
}

/// Name of the directory quarantined rows are written to, under the
/// historical store's root.
pub const QUARANTINE_DIR: &str = "_quarantine";

/// Rows of one source a read left out under `on_bad_rows = "skip"` or
/// `"quarantine"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The source.
    pub source_name: String,
    /// The file read.
    pub location: String,
    /// How many rows were left out.
    pub rows: usize,
    /// The quarantine file they were written to (`"quarantine"` only).
    pub quarantine: Option<PathBuf>,
}

/// A source read: its typed rows, and the rows left out.
#[derive(Clone)]
pub struct Extract {
    /// The typed rows (the declared columns, in order).
    pub frame: LazyFrame,
    /// Rows left out, per file source read (empty under `"fail"`).
    pub rejected: Vec<Rejected>,
}

impl std::fmt::Debug for Extract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extract")
            .field("rejected", &self.rejected)
            .finish_non_exhaustive()
    }
}

/// Scans a source: its columns, cast to their declared types. Rows left out
/// by an `on_bad_rows` policy are logged; [`read`] also returns them.
pub fn scan(spec: &SourceSpec, locations: &SourceLocations) -> Result<LazyFrame> {
    let extract = read(spec, locations)?;
    for r in &extract.rejected {
        tracing::warn!(
            source = r.source_name,
            location = r.location,
            rows = r.rows,
            "bad rows left out"
        );
    }
    Ok(extract.frame)
}

/// Reads a source: every row checked against the declaration (field count,
/// types, nulls in non-`Option` columns), bad rows handled by the source's
/// `on_bad_rows` policy. File sources are read whole here, so a bad value
/// is found before any store is written.
pub fn read(spec: &SourceSpec, locations: &SourceLocations) -> Result<Extract> {
    if spec.preprocess.steps.is_empty() {
        return read_declared(spec, locations);
    }
    let as_read = SourceSpec {
        columns: spec.preprocess.read,
        preprocess: Preprocessing::NONE,
        ..*spec
    };
    let extract = read_declared(&as_read, locations)?;
    preprocessed(spec, extract, locations)
}

/// The source's pre-processing steps on its rows as read; rows whose JSON
/// `explode_json` cannot read follow the source's `on_bad_rows`.
fn preprocessed(spec: &SourceSpec, read: Extract, locations: &SourceLocations) -> Result<Extract> {
    let location = describe_location(spec, locations);
    let policy = locations.policy(spec);
    let (frame, bad) =
        preprocess::apply(spec, read.frame, policy == OnBadRows::Fail).map_err(|e| match e {
            Error::Source {
                source_name,
                message,
                ..
            } => Error::Source {
                source_name,
                location: location.clone(),
                message,
            },
            other => other,
        })?;
    let mut rejected = read.rejected;
    if !bad.is_empty() {
        let bad: Vec<BadRow> = bad
            .into_iter()
            .map(|b| BadRow {
                record: b.row,
                place: format!("row {} after the earlier pre-processing steps", b.row + 1),
                raw: b.raw,
                reason: b.reason,
            })
            .collect();
        let quarantine = match policy {
            OnBadRows::Quarantine => Some(write_quarantine(spec, &location, locations, &bad)?),
            _ => None,
        };
        rejected.push(Rejected {
            source_name: spec.name.to_string(),
            location,
            rows: bad.len(),
            quarantine,
        });
    }
    Ok(Extract { frame, rejected })
}

/// Reads a source's rows as declared by its columns, without pre-processing.
fn read_declared(spec: &SourceSpec, locations: &SourceLocations) -> Result<Extract> {
    match spec.kind {
        SourceKind::File { path, format } => {
            let location = locations.resolve(spec, path);
            let extract = read_file(spec, &location, format, locations)?;
            Ok(Extract {
                frame: derive::derive(spec, &location, extract.frame)?,
                rejected: extract.rejected,
            })
        }
        SourceKind::Query { sql, inputs } => {
            let mut ctx = SQLContext::new();
            let mut rejected = Vec::new();
            for input in inputs {
                let extract = read(input, locations)?;
                rejected.extend(extract.rejected);
                ctx.register(input.name, extract.frame);
            }
            let lf = ctx.execute(sql).map_err(|e| Error::Source {
                source_name: spec.name.to_string(),
                location: "query".to_string(),
                message: format!("the query failed: {e}"),
            })?;
            let frame = typed(spec, "query", lf, false)?;
            Ok(Extract {
                frame: derive::derive(spec, "query", frame)?,
                rejected,
            })
        }
    }
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

/// One row that does not fit the declaration.
#[derive(Debug, Clone)]
struct BadRow {
    /// 0-based index of the record among the file's data records.
    record: usize,
    /// Where the row is, for people: `line 7` or `row 12`.
    place: String,
    /// The row as read, for the quarantine file.
    raw: String,
    /// What was wrong, and what was expected.
    reason: String,
}

fn read_file(
    spec: &SourceSpec,
    location: &str,
    format: Format,
    locations: &SourceLocations,
) -> Result<Extract> {
    if !location.contains("://") {
        check_readable(spec, location)?;
    }
    let policy = locations.policy(spec);
    // Rows rejected before the typed read (broken CSV records), and the file
    // the typed read then reads: the original, or a copy without them.
    let mut rejected: Vec<BadRow> = Vec::new();
    let mut cleaned: Option<TempFile> = None;
    if format == Format::Csv && !location.contains("://") {
        let t = std::time::Instant::now();
        let bad = csv_structure(spec, location)?;
        tracing::debug!(
            source = spec.name,
            elapsed_ms = t.elapsed().as_millis() as u64,
            "CSV structure checked"
        );
        if let Some(first) = bad.first() {
            if policy == OnBadRows::Fail {
                return Err(bad_rows_error(spec, location, first, bad.len()));
            }
            cleaned = Some(csv_without(spec, location, &bad)?);
            rejected = bad;
        }
    }
    let path = cleaned.as_ref().map_or(location, |t| t.path_str());
    let fits = |read: &PolarsResult<DataFrame>| matches!(read, Ok(df) if non_nullable_nulls(spec, df) == 0);
    let mut typed_read = collect_guarded(scan_typed(spec, location, path, format, false)?);
    if !fits(&typed_read) && has_text_times(spec) {
        // Exporters such as Spark write a fraction of a second only when it
        // is not zero: times sampled with whole seconds may have fractions
        // further down. Read again, accepting an optional fraction (parsed
        // per value, so slower), before looking for bad rows.
        let again = collect_guarded(scan_typed(spec, location, path, format, true)?);
        if fits(&again) {
            typed_read = again;
        }
    }
    let (frame, bad) = match typed_read {
        Ok(df) if non_nullable_nulls(spec, &df) == 0 => (df, Vec::new()),
        result => {
            // The slow path: only after a failure, find the rows at fault.
            let raw = read_raw(spec, location, path, format)?;
            let mut bad =
                locate(spec, &raw).map_err(|e| source_error(spec, location, e.to_string()))?;
            if bad.is_empty() {
                let message = match result {
                    Err(e) => format!("cannot read as {}: {}", format.name(), polars_message(&e)),
                    Ok(_) => "a non-`Option` column holds nulls".to_string(),
                };
                return Err(source_error(spec, location, message));
            }
            // Which rows of `raw` to keep, by their index in `raw`: naming
            // places maps `record` back to the original file, whose rows
            // differ from `raw`'s when broken records were removed first.
            let keep = BooleanChunked::from_iter_values(
                "keep".into(),
                (0..raw.height()).map(|i| bad.binary_search_by_key(&i, |b| b.record).is_err()),
            );
            name_places(location, path, format, &rejected, &mut bad)?;
            if policy == OnBadRows::Fail {
                return Err(bad_rows_error(spec, location, &bad[0], bad.len()));
            }
            let good = raw
                .drop(ROW)
                .and_then(|df| df.filter(&keep))
                .map_err(|e| source_error(spec, location, polars_message(&e)))?;
            let df = typed(spec, location, good.lazy(), true)?
                .collect()
                .map_err(|e| source_error(spec, location, polars_message(&e)))?;
            (df, bad)
        }
    };
    drop(cleaned);
    rejected.extend(bad);
    rejected.sort_by_key(|b| b.record);
    if frame.height() == 0 {
        let why = if rejected.is_empty() {
            "no rows: the file has no data (an empty export?); a run on it would empty every \
             partition of its range, so it is refused"
                .to_string()
        } else {
            format!(
                "no rows left: all {} row(s) were rejected (on_bad_rows = \"{}\"); first: {}: {}",
                rejected.len(),
                policy.name(),
                rejected[0].place,
                rejected[0].reason
            )
        };
        return Err(source_error(spec, location, why));
    }
    let mut out = Vec::new();
    if !rejected.is_empty() {
        let quarantine = match policy {
            OnBadRows::Quarantine => Some(write_quarantine(spec, location, locations, &rejected)?),
            _ => None,
        };
        // Reported by the caller: a run's report, or `scan`'s warning.
        tracing::info!(
            source = spec.name,
            location,
            rows = rejected.len(),
            "rows not fitting the declaration left out"
        );
        out.push(Rejected {
            source_name: spec.name.to_string(),
            location: location.to_string(),
            rows: rejected.len(),
            quarantine,
        });
    }
    Ok(Extract {
        frame: frame.lazy(),
        rejected: out,
    })
}

fn check_readable(spec: &SourceSpec, location: &str) -> Result<()> {
    let path = Path::new(location);
    if !path.exists() {
        return Err(source_error(
            spec,
            location,
            "no such file; set its path in featurestore.toml, with `--source NAME=PATH`, or FEATURESTORE_SOURCE_<NAME>",
        ));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| source_error(spec, location, format!("cannot open the file: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| source_error(spec, location, format!("cannot read the file: {e}")))?;
    if meta.is_dir() {
        return Err(source_error(
            spec,
            location,
            "is a directory; give the path of a file",
        ));
    }
    if meta.len() == 0 {
        let columns: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
        return Err(source_error(
            spec,
            location,
            format!(
                "the file is empty (0 bytes); expected {} with the columns {}",
                match spec.kind {
                    SourceKind::File {
                        format: Format::Csv,
                        ..
                    } => "a header line and rows",
                    _ => "rows",
                },
                columns.join(", ")
            ),
        ));
    }
    Ok(())
}

fn bad_rows_error(spec: &SourceSpec, location: &str, first: &BadRow, count: usize) -> Error {
    let more = if count > 1 {
        format!(" ({count} bad rows in all; the first is shown)")
    } else {
        String::new()
    };
    source_error(
        spec,
        location,
        format!(
            "{}: {}{more}; fix the data, or set `on_bad_rows = \"skip\"` or \"quarantine\" \
             on the source to leave such rows out",
            first.place, first.reason
        ),
    )
}

/// A file removed when dropped.
struct TempFile(PathBuf, String);

impl TempFile {
    fn path_str(&self) -> &str {
        &self.1
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn csv_reader(file: std::fs::File) -> csv::Reader<std::io::BufReader<std::fs::File>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(std::io::BufReader::new(file))
}

fn open_csv(
    spec: &SourceSpec,
    location: &str,
) -> Result<csv::Reader<std::io::BufReader<std::fs::File>>> {
    let file = std::fs::File::open(location)
        .map_err(|e| source_error(spec, location, format!("cannot open the file: {e}")))?;
    Ok(csv_reader(file))
}

/// CSV records polars would misread: a field count other than the
/// header's (polars fills a short row with nulls), or bytes that are not
/// UTF-8. One streaming pass; nothing is kept for good records.
fn csv_structure(spec: &SourceSpec, location: &str) -> Result<Vec<BadRow>> {
    let mut reader = open_csv(spec, location)?;
    let width = reader
        .byte_headers()
        .map_err(|e| source_error(spec, location, format!("cannot read the header: {e}")))?
        .len();
    let mut bad = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut index = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(source_error(
                    spec,
                    location,
                    format!("line {line}: cannot read the CSV: {e}"),
                ));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let reason = if record.len() != width {
            // A quote the parser took as opening a field makes that field
            // run on over the next lines.
            let quote = if record
                .iter()
                .any(|f| f.contains(&b'\n') || f.contains(&b'"'))
            {
                " (an unclosed quote?)"
            } else {
                ""
            };
            Some(format!(
                "{} field(s), expected {width} as in the header{quote}",
                record.len()
            ))
        } else if let Some((i, _)) = record
            .iter()
            .enumerate()
            .find(|(_, f)| std::str::from_utf8(f).is_err())
        {
            Some(format!("field {} is not valid UTF-8 text", i + 1))
        } else {
            None
        };
        if let Some(reason) = reason {
            bad.push(BadRow {
                record: index,
                place: format!("line {line}"),
                raw: String::from_utf8_lossy(&record_line(&record)).into_owned(),
                reason,
            });
        }
        index += 1;
    }
    Ok(bad)
}

fn record_line(record: &csv::ByteRecord) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_byte_record(record);
    let mut out = w.into_inner().unwrap_or_default();
    out.pop();
    out
}

/// A copy of a CSV file without the records `bad` (sorted by record).
fn csv_without(spec: &SourceSpec, location: &str, bad: &[BadRow]) -> Result<TempFile> {
    let path = std::env::temp_dir().join(format!("featurestore-{}.csv", uuid::Uuid::new_v4()));
    let io = |e: &dyn std::fmt::Display| {
        source_error(spec, location, format!("cannot copy the good rows: {e}"))
    };
    let temp = TempFile(path.clone(), path.to_string_lossy().into_owned());
    let mut reader = open_csv(spec, location)?;
    let mut writer = csv::Writer::from_path(&path).map_err(|e| io(&e))?;
    let header = reader.byte_headers().map_err(|e| io(&e))?.clone();
    writer.write_byte_record(&header).map_err(|e| io(&e))?;
    let mut record = csv::ByteRecord::new();
    let mut index = 0;
    let mut skip = bad.iter().map(|b| b.record).peekable();
    while reader.read_byte_record(&mut record).map_err(|e| io(&e))? {
        if skip.peek() == Some(&index) {
            skip.next();
        } else {
            writer.write_byte_record(&record).map_err(|e| io(&e))?;
        }
        index += 1;
    }
    writer.flush().map_err(|e| io(&e))?;
    Ok(temp)
}

/// The fast path: the file read with the declared types, lazily.
/// `fractions`: see [`typed`].
fn scan_typed(
    spec: &SourceSpec,
    location: &str,
    path: &str,
    format: Format,
    fractions: bool,
) -> Result<LazyFrame> {
    let lf = match format {
        Format::Csv => {
            // Time columns are read as text and parsed strictly afterwards, so a
            // bad value is an error rather than a silent null.
            let mut overwrite = Schema::default();
            for c in read_columns(spec) {
                overwrite.insert(c.name.into(), read_dtype(spec, c));
            }
            LazyCsvReader::new(PlRefPath::from(path))
                .with_has_header(true)
                .with_dtype_overwrite(Some(SchemaRef::new(overwrite)))
                .with_infer_schema_length(Some(0))
                .finish()
        }
        Format::Parquet => {
            LazyFrame::scan_parquet(PlRefPath::from(path), ScanArgsParquet::default())
        }
        Format::NdJson => LazyJsonLineReader::new(PlRefPath::from(path))
            .with_schema(Some(SchemaRef::new(text_schema(spec, true))))
            .finish(),
    }
    .map_err(|e| {
        source_error(
            spec,
            location,
            format!("cannot read as {}: {}", format.name(), polars_message(&e)),
        )
    })?;
    if format == Format::Parquet {
        check_parquet_schema(spec, location, lf.clone())?;
    }
    typed(spec, location, lf, fractions)
}

/// Collects a read of a file. polars' CSV reader can panic on malformed
/// text that the record check lets through (a quote left open at the end of
/// the file): that becomes an error of the read, not a crash of the run.
fn collect_guarded(lf: LazyFrame) -> PolarsResult<DataFrame> {
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

/// Whether a source has a time column read from text in a sampled format.
fn has_text_times(spec: &SourceSpec) -> bool {
    read_columns(spec)
        .any(|c| matches!(c.dtype, Dt::Timestamp) && spec.time_encoding(c.name).is_none())
}

/// The type a text file's column is read as: times as text (parsed
/// strictly afterwards, so a bad value is an error rather than a silent
/// null), epoch counts as integers, the rest as declared.
fn read_dtype(spec: &SourceSpec, c: &ColumnSpec) -> DataType {
    match (spec.time_encoding(c.name), c.dtype) {
        (Some(encoding), _) => time_encoding::raw_dtype(encoding),
        (None, Dt::Date | Dt::Timestamp) => DataType::String,
        (None, other) => polars_dtype(other),
    }
}

/// The declared columns the data holds: all but the derived ones.
fn read_columns(spec: &SourceSpec) -> impl Iterator<Item = &'static ColumnSpec> + '_ {
    spec.columns
        .iter()
        .filter(|c| spec.derivation(c.name).is_none())
}

/// Each declared column as text (times always; every column with `all`).
fn text_schema(spec: &SourceSpec, times_only: bool) -> Schema {
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

const ROW: &str = "__fs_record";

/// The slow path: the file as read, without the declared types (CSV and
/// NDJSON as text), with each record's index.
fn read_raw(spec: &SourceSpec, location: &str, path: &str, format: Format) -> Result<DataFrame> {
    let lf = match format {
        Format::Csv => LazyCsvReader::new(PlRefPath::from(path))
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish(),
        Format::Parquet => {
            LazyFrame::scan_parquet(PlRefPath::from(path), ScanArgsParquet::default())
        }
        Format::NdJson => LazyJsonLineReader::new(PlRefPath::from(path))
            .with_schema(Some(SchemaRef::new(text_schema(spec, false))))
            .finish(),
    };
    lf.and_then(|lf| collect_guarded(lf.with_row_index(ROW, None)))
        .map_err(|e| {
            source_error(
                spec,
                location,
                format!("cannot read as {}: {}", format.name(), polars_message(&e)),
            )
        })
}

fn non_nullable_nulls(spec: &SourceSpec, df: &DataFrame) -> usize {
    spec.columns
        .iter()
        .filter(|c| !c.nullable)
        .filter_map(|c| df.column(c.name).ok())
        .map(|c| c.null_count())
        .sum()
}

const TIME_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
];

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

/// Every record of `raw` a declared column cannot hold, sorted by record.
fn locate(spec: &SourceSpec, raw: &DataFrame) -> Result<Vec<BadRow>> {
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
                    let ok = match (&parsed, encoding) {
                        (None, Some(encoding)) => time_encoding::parses(v, encoding),
                        (None, None) => parses_as_time(v, c.dtype),
                        (Some(p), _) => p.get(i).is_ok_and(|a| !a.is_null()),
                    };
                    (!ok).then(|| {
                        format!(
                            "column `{}`: `{}` is not {}",
                            c.name,
                            shorten(v),
                            expected(c.dtype, encoding)
                        )
                    })
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

fn shorten(v: &str) -> String {
    if v.chars().count() > 60 {
        format!("{}…", v.chars().take(60).collect::<String>())
    } else {
        v.to_string()
    }
}

/// Names where each bad row is: its line in a CSV file (counting the header
/// as line 1, found by re-reading the file), its line in NDJSON, its row in
/// Parquet. `removed` are the records left out of `path` before it was read.
fn name_places(
    location: &str,
    path: &str,
    format: Format,
    removed: &[BadRow],
    bad: &mut [BadRow],
) -> Result<()> {
    match format {
        Format::Csv => {
            let Ok(file) = std::fs::File::open(path) else {
                return Ok(());
            };
            let mut reader = csv_reader(file);
            let mut record = csv::ByteRecord::new();
            let mut lines = Vec::new();
            let last = bad.last().map_or(0, |b| b.record);
            while lines.len() <= last && reader.read_byte_record(&mut record).unwrap_or(false) {
                lines.push(record.position().map_or(0, |p| p.line()));
            }
            // Lines in `path` are the original file's only without `removed`:
            // map record indices back through the removed ones.
            let mut original = Vec::new();
            if !removed.is_empty() {
                let Ok(file) = std::fs::File::open(location) else {
                    return Ok(());
                };
                let mut reader = csv_reader(file);
                let mut index = 0;
                let mut skip = removed.iter().map(|b| b.record).peekable();
                while reader.read_byte_record(&mut record).unwrap_or(false) {
                    if skip.peek() == Some(&index) {
                        skip.next();
                    } else {
                        original.push((index, record.position().map_or(0, |p| p.line())));
                    }
                    index += 1;
                }
            }
            for b in bad.iter_mut() {
                if let Some(&(index, line)) = original.get(b.record) {
                    b.record = index;
                    b.place = format!("line {line}");
                } else {
                    b.place = lines.get(b.record).map_or_else(
                        || format!("record {}", b.record + 1),
                        |l| format!("line {l}"),
                    );
                }
            }
        }
        Format::NdJson => {
            for b in bad.iter_mut() {
                b.place = format!("line {}", b.record + 1);
            }
        }
        Format::Parquet => {
            for b in bad.iter_mut() {
                b.place = format!("row {} (0-based offset {})", b.record + 1, b.record);
            }
        }
    }
    Ok(())
}

fn write_quarantine(
    spec: &SourceSpec,
    location: &str,
    locations: &SourceLocations,
    rows: &[BadRow],
) -> Result<PathBuf> {
    let dir = locations.quarantine_dir().join(spec.name);
    let io = |e: &dyn std::fmt::Display| Error::Io {
        context: format!("writing the quarantine file under {}", dir.display()),
        source: std::io::Error::other(e.to_string()),
    };
    std::fs::create_dir_all(&dir).map_err(|e| io(&e))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let path = dir.join(format!("{stamp}-{}.csv", std::process::id()));
    let mut w = csv::Writer::from_path(&path).map_err(|e| io(&e))?;
    w.write_record(["file", "place", "reason", "row"])
        .map_err(|e| io(&e))?;
    for r in rows {
        w.write_record([
            location,
            r.place.as_str(),
            r.reason.as_str(),
            r.raw.as_str(),
        ])
        .map_err(|e| io(&e))?;
    }
    w.flush().map_err(|e| io(&e))?;
    Ok(path)
}

/// Parquet columns must already have the declared type, or one that widens
/// to it without loss: a different schema is an error, not a silent cast.
fn check_parquet_schema(spec: &SourceSpec, location: &str, mut lf: LazyFrame) -> Result<()> {
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

/// Selects the declared columns, checking they exist, with declared types.
/// The declared columns, typed. With `fractions`, a text time column whose
/// sampled format has whole seconds also accepts a fraction of a second.
fn typed(
    spec: &SourceSpec,
    location: &str,
    mut lf: LazyFrame,
    fractions: bool,
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
                time_format(&lf, c.name, c.dtype).map(|f| match f {
                    "%Y-%m-%d %H:%M:%S" if fractions => "%Y-%m-%d %H:%M:%S%.f",
                    "%Y-%m-%dT%H:%M:%S" if fractions => "%Y-%m-%dT%H:%M:%S%.f",
                    f => f,
                })
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
