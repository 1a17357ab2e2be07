//! Extract: reading declared sources into typed rows, with the rows that
//! do not fit the declaration handled by the source's `on_bad_rows`.
//!
//! A file source is read from any [`FileLocation`] by its format's reader
//! (`file/`); this module holds what is the same for every location and
//! format: the policy on bad rows, the quarantine, the typed columns, and
//! query sources over other sources.

use std::collections::HashMap;
use std::path::PathBuf;

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::error::{polars_message, Error, Result};
use crate::location::{FileLocation, StoreConfig};
use crate::spec::{Format, OnBadRows, Preprocessing, SourceKind, SourceSpec};

use bad_rows::BadRow;
use file::listing::Files;
use file::{FileFormat, SourceFile};
pub use kafka::KafkaSettings;
use typed::{collect_guarded, has_text_times, non_nullable_nulls, typed};

mod bad_rows;
mod derive;
mod file;
pub mod kafka;
mod many;
pub mod preprocess;
mod quarantine;
pub mod split;
mod time_encoding;
mod typed;

/// Where each source's files are, after configuration and overrides.
#[derive(Debug, Clone, Default)]
pub struct SourceLocations {
    /// Directory relative declared paths are resolved against.
    pub base_dir: PathBuf,
    /// Per-source location overrides (paths or URLs), by source name.
    pub overrides: HashMap<String, String>,
    /// Per-source formats configured, by source name: they win over what
    /// the file and its path say.
    pub formats: HashMap<String, Format>,
    /// Per-source `on_bad_rows` overrides, by source name.
    pub on_bad_rows: HashMap<String, OnBadRows>,
    /// Where `on_bad_rows = "quarantine"` writes rejected rows: a directory
    /// or a URL (`s3://bucket/quarantine`); without one, `_quarantine/`
    /// under `base_dir`.
    pub quarantine_dir: Option<String>,
    /// Options of the object stores sources are read from.
    pub storage: StoreConfig,
    /// How `kafka://` sources are consumed.
    pub kafka: KafkaSettings,
}

impl SourceLocations {
    /// Locations relative to `base_dir`, with no overrides.
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        SourceLocations {
            base_dir: base_dir.into(),
            ..SourceLocations::default()
        }
    }

    /// Sets the location (path or URL) of source `name`.
    pub fn with_override(mut self, name: impl Into<String>, location: impl Into<String>) -> Self {
        self.overrides.insert(name.into(), location.into());
        self
    }

    /// Sets the format of source `name`.
    pub fn with_format(mut self, name: impl Into<String>, format: Format) -> Self {
        self.formats.insert(name.into(), format);
        self
    }

    /// The format a file source declared with `declared` is read in, before
    /// the file is looked at: configured, else the extension of an
    /// overriding path, else declared. [`read`] also looks at the file.
    pub fn format(&self, spec: &SourceSpec, declared: Format) -> Format {
        if let Some(format) = self.formats.get(spec.name) {
            return *format;
        }
        self.overrides
            .get(spec.name)
            .and_then(|path| Format::from_path(path))
            .unwrap_or(declared)
    }

    /// Sets the `on_bad_rows` policy of source `name`.
    pub fn with_policy(mut self, name: impl Into<String>, policy: OnBadRows) -> Self {
        self.on_bad_rows.insert(name.into(), policy);
        self
    }

    /// Sets where quarantined rows are written: a directory or a URL.
    pub fn with_quarantine(mut self, location: impl Into<String>) -> Self {
        self.quarantine_dir = Some(location.into());
        self
    }

    /// The location (path or URL) a file source is read from, or its
    /// override, as given: relative paths are not yet resolved.
    pub(crate) fn raw<'a>(&'a self, spec: &SourceSpec, declared: &'a str) -> &'a str {
        self.overrides
            .get(spec.name)
            .map_or(declared, String::as_str)
    }

    /// Where a file source is read from, for messages: its path, or its URL
    /// without secrets.
    pub fn resolve(&self, spec: &SourceSpec, declared: &str) -> String {
        let resolved = crate::location::resolve(&self.base_dir, self.raw(spec, declared));
        crate::location::redact(&resolved)
    }

    /// The location a file source is read from.
    pub fn location(&self, spec: &SourceSpec, declared: &str) -> Result<FileLocation> {
        self.storage
            .parse(self.raw(spec, declared), &self.base_dir)
            .map_err(|e| match e {
                // Named as every other error of the source is.
                Error::Location { location, message } => source_error(spec, &location, message),
                other => other,
            })
    }

    /// The `on_bad_rows` policy of a source: configured, else declared.
    pub fn policy(&self, spec: &SourceSpec) -> OnBadRows {
        self.on_bad_rows
            .get(spec.name)
            .copied()
            .unwrap_or(spec.on_bad_rows)
    }

    /// Where quarantine files are written, under a directory per source.
    pub fn quarantine_location(&self) -> Result<FileLocation> {
        match &self.quarantine_dir {
            Some(raw) => self.storage.parse(raw, &self.base_dir),
            None => Ok(FileLocation::local(&self.base_dir.join(QUARANTINE_DIR))),
        }
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
    /// The quarantine file they were written to (`"quarantine"` only):
    /// its path, or its URL.
    pub quarantine: Option<String>,
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
    let bad: Vec<BadRow> = bad
        .into_iter()
        .map(|b| BadRow {
            record: b.row,
            place: format!("row {} after the earlier pre-processing steps", b.row + 1),
            raw: b.raw,
            reason: b.reason,
        })
        .collect();
    let mut rejected = read.rejected;
    rejected.extend(rejected_rows(spec, &location, locations, &bad)?);
    Ok(Extract { frame, rejected })
}

/// Reads a source's rows as declared by its columns, without pre-processing.
fn read_declared(spec: &SourceSpec, locations: &SourceLocations) -> Result<Extract> {
    match spec.kind {
        SourceKind::File { path, .. }
            if crate::location::KafkaLocation::is_kafka(locations.raw(spec, path)) =>
        {
            let extract = kafka::read(spec, locations.raw(spec, path), locations)?;
            Ok(extract)
        }
        SourceKind::File { path, format } => {
            let (shown, extract) =
                match file::listing::files(spec, locations.raw(spec, path), locations)? {
                    Files::One(location) => {
                        let by_name = locations.format(spec, format);
                        let (frame, rejected) = read_file(spec, &location, by_name, locations)?;
                        let frame = frame.lazy();
                        (location.to_string(), Extract { frame, rejected })
                    }
                    Files::Many { root, files } => {
                        let extract = many::read(spec, &root, &files, format, locations)?;
                        (root, extract)
                    }
                };
            Ok(Extract {
                frame: derive::derive(spec, &shown, extract.frame)?,
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

/// The format `file` is read in, `by_name` being the one its configuration
/// or path gives. A Parquet file says so in its bytes: read as text it
/// would only fail on its first binary byte, so it is read as Parquet
/// unless another format was configured on purpose, which is then an error
/// saying what the file is.
fn content_format(
    spec: &SourceSpec,
    file: &SourceFile,
    by_name: Format,
    locations: &SourceLocations,
) -> Result<Format> {
    if by_name == Format::Parquet || !file.is_parquet() {
        return Ok(by_name);
    }
    if locations.formats.contains_key(spec.name) {
        return Err(source_error(
            spec,
            file.location(),
            format!(
                "the file is Parquet (it begins and ends with `PAR1`), but the source's format \
                 is configured as {}; set `format = \"parquet\"` under [sources.{}] in \
                 featurestore.toml, or `--source-format {}=parquet`",
                by_name.name(),
                spec.name,
                spec.name
            ),
        ));
    }
    tracing::info!(
        source = spec.name,
        location = file.location(),
        "the file is Parquet: read as Parquet, not {}",
        by_name.name()
    );
    Ok(Format::Parquet)
}

/// Where a source is read from, for messages: its file, or its query.
pub fn describe_location(spec: &SourceSpec, locations: &SourceLocations) -> String {
    match spec.kind {
        SourceKind::File { path, .. } => locations.resolve(spec, path),
        SourceKind::Query { .. } => "query".to_string(),
    }
}

/// An error reading source `spec` from `location`.
pub(crate) fn source_error(spec: &SourceSpec, location: &str, message: impl Into<String>) -> Error {
    Error::Source {
        source_name: spec.name.to_string(),
        location: location.to_string(),
        message: message.into(),
    }
}

/// The pieces a large plain CSV file is read in, bytes.
// Measured at 10M events: 32 MiB pieces lower the read's peak (about 700
// MiB) but not the run's, which rose (1005-1041 MiB against 900-993: more,
// smaller chunks for the compute to hold and gather); 128 MiB raised both.
pub(super) const PLAIN_PIECE: u64 = 64 << 20;

/// Reads a file source's file in the format `by_name` its configuration or
/// name gives: the same steps for every location and format. A file
/// without rows is an error.
fn read_file(
    spec: &SourceSpec,
    location: &FileLocation,
    by_name: Format,
    locations: &SourceLocations,
) -> Result<(DataFrame, Vec<Rejected>)> {
    read_file_or_none(spec, location, by_name, locations, false)
}

/// [`read_file`], where a file without rows is taken as it is when
/// `may_be_empty` (one file of many).
fn read_file_or_none(
    spec: &SourceSpec,
    location: &FileLocation,
    by_name: Format,
    locations: &SourceLocations,
    may_be_empty: bool,
) -> Result<(DataFrame, Vec<Rejected>)> {
    let file = SourceFile::open(spec, location, file::of(by_name))?;
    let format = file::of(content_format(spec, &file, by_name, locations)?);
    // A large plain CSV file is read in pieces: never mapped whole, and
    // each piece's text dropped once typed (10M events, 438 MiB: the read's
    // peak 1275 -> 664 MiB). A file it cannot vouch for is read whole
    // below, where its rows at fault are found; the pieces read before a
    // late quote or bad value are then read twice.
    if format.format() == Format::Csv
        && std::fs::metadata(file.path()).is_ok_and(|m| m.len() > PLAIN_PIECE)
    {
        if let Some(frame) = split::plain_csv(spec, &file, PLAIN_PIECE)? {
            if frame.height() > 0 || may_be_empty {
                return Ok((frame, Vec::new()));
            }
        }
    }
    let policy = locations.policy(spec);
    // Records the typed reader would misread, and the file it then reads:
    // the original, or a copy without them. The check is a pass of its own
    // on one core; the typed read of the file as it is runs beside it on
    // polars' threads and is kept when the check finds nothing, the common
    // case, so that both cores work through the read. When the check finds
    // records, that read is dropped and the copy without them read instead.
    let (removed, as_is) = std::thread::scope(|s| {
        let check = s.spawn(|| format.misread(spec, &file));
        let as_is = typed_attempt(spec, format, &file, &file, false);
        let removed = check
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (removed, as_is)
    });
    let removed = removed?;
    let cleaned = match removed.first() {
        None => None,
        Some(first) if policy == OnBadRows::Fail => {
            return Err(bad_rows_error(spec, file.location(), first, removed.len()))
        }
        Some(_) => Some(format.without(spec, &file, &removed)?),
    };
    let reading = cleaned.as_ref().unwrap_or(&file);
    let first = cleaned.is_none().then_some(as_is);
    let (frame, bad) = read_typed(spec, format, &file, reading, &removed, policy, first)?;
    drop(cleaned);
    let mut rejected = removed;
    rejected.extend(bad);
    rejected.sort_by_key(|b| b.record);
    if frame.height() == 0 && !may_be_empty {
        return Err(no_rows(spec, file.location(), policy, &rejected));
    }
    let rejected = rejected_rows(spec, file.location(), locations, &rejected)?;
    Ok((frame, rejected.into_iter().collect()))
}

/// One typed read of `reading` (`file`, or a copy of it without some
/// records), times with a fraction of a second or not.
fn typed_attempt(
    spec: &SourceSpec,
    format: &dyn FileFormat,
    file: &SourceFile,
    reading: &SourceFile,
    fractions: bool,
) -> Result<PolarsResult<DataFrame>> {
    let lf = typed(
        spec,
        file.location(),
        format.scan(spec, reading)?,
        fractions,
    )?;
    Ok(collect_guarded(lf))
}

/// The typed rows of `reading` (`file`, or a copy of it without the
/// `removed` records), and the rows at fault that the policy left out.
/// `first` is the first attempt at it when already made.
fn read_typed(
    spec: &SourceSpec,
    format: &dyn FileFormat,
    file: &SourceFile,
    reading: &SourceFile,
    removed: &[BadRow],
    policy: OnBadRows,
    first: Option<Result<PolarsResult<DataFrame>>>,
) -> Result<(DataFrame, Vec<BadRow>)> {
    let attempt = |fractions| typed_attempt(spec, format, file, reading, fractions);
    let fits = |read: &PolarsResult<DataFrame>| matches!(read, Ok(df) if non_nullable_nulls(spec, df) == 0);
    let mut result = match first {
        Some(first) => first?,
        None => attempt(false)?,
    };
    if !fits(&result) && has_text_times(spec) {
        // Exporters such as Spark write a fraction of a second only when it
        // is not zero: times sampled with whole seconds may have fractions
        // further down. Read again, accepting an optional fraction (parsed
        // per value, so slower), before looking for bad rows.
        let again = attempt(true)?;
        if fits(&again) {
            result = again;
        }
    }
    match result {
        Ok(df) if non_nullable_nulls(spec, &df) == 0 => Ok((df, Vec::new())),
        failed => rows_at_fault(spec, format, file, reading, removed, policy, failed),
    }
}

/// The slow path, only after the typed read failed: the rows at fault are
/// found, then failed on or left out by the policy.
fn rows_at_fault(
    spec: &SourceSpec,
    format: &dyn FileFormat,
    file: &SourceFile,
    reading: &SourceFile,
    removed: &[BadRow],
    policy: OnBadRows,
    failed: PolarsResult<DataFrame>,
) -> Result<(DataFrame, Vec<BadRow>)> {
    let location = file.location();
    let raw = bad_rows::raw(format.scan_text(spec, reading)?)
        .map_err(|e| reading.read_error(spec, format, &e))?;
    let mut bad =
        bad_rows::locate(spec, &raw).map_err(|e| source_error(spec, location, e.to_string()))?;
    if bad.is_empty() {
        return Err(match failed {
            Err(e) => file.read_error(spec, format, &e),
            Ok(_) => source_error(spec, location, "a non-`Option` column holds nulls"),
        });
    }
    let good = bad_rows::without(&raw, &bad)
        .map_err(|e| source_error(spec, location, polars_message(&e)))?;
    bad_rows::name_places(removed, &mut bad, |records| format.places(file, records))?;
    if policy == OnBadRows::Fail {
        return Err(bad_rows_error(spec, location, &bad[0], bad.len()));
    }
    let df = typed(spec, location, good.lazy(), true)?
        .collect()
        .map_err(|e| source_error(spec, location, polars_message(&e)))?;
    Ok((df, bad))
}

/// Why a read gave no rows: an empty export, or every row rejected.
fn no_rows(spec: &SourceSpec, location: &str, policy: OnBadRows, rejected: &[BadRow]) -> Error {
    let why = match rejected.first() {
        None => "no rows: the file has no data (an empty export?); a run on it would empty every \
                 partition of its range, so it is refused"
            .to_string(),
        Some(first) => format!(
            "no rows left: all {} row(s) were rejected (on_bad_rows = \"{}\"); first: {}: {}",
            rejected.len(),
            policy.name(),
            first.place,
            first.reason
        ),
    };
    source_error(spec, location, why)
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

/// The rows a read left out, quarantined under `"quarantine"`; `None`
/// when there are none.
fn rejected_rows(
    spec: &SourceSpec,
    location: &str,
    locations: &SourceLocations,
    rows: &[BadRow],
) -> Result<Option<Rejected>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let quarantine = match locations.policy(spec) {
        OnBadRows::Quarantine => Some(quarantine::write(spec, location, locations, rows)?),
        _ => None,
    };
    // Reported by the caller: a run's report, or `scan`'s warning.
    tracing::info!(
        source = spec.name,
        location,
        rows = rows.len(),
        "rows not fitting the declaration left out"
    );
    Ok(Some(Rejected {
        source_name: spec.name.to_string(),
        location: location.to_string(),
        rows: rows.len(),
        quarantine,
    }))
}
