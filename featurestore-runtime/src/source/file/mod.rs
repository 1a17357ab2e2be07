//! Source files in any location, read by format.
//!
//! Where a file is and what format it has are kept apart, as in
//! datafusion's `FileFormat` (handed the store) and polars-io's `csv/`,
//! `parquet/`, `json/` beside `cloud/`. [`SourceFile::open`] gives every
//! format a file on the local disk: a local file as it is (polars reads it
//! in place), an object of any other store streamed into a temporary copy.
//! The file keeps the name of where it really is, so the structure check,
//! the bad-row policy and every message are the same for every location.

pub(super) mod csv;
pub(super) mod listing;
mod ndjson;
mod parquet;

use std::io::Write;
use std::path::PathBuf;

use futures::StreamExt;
use object_store::ObjectStoreExt;
use polars::prelude::*;
use tempfile::TempPath;

use super::bad_rows::BadRow;
use super::source_error;
use crate::error::{polars_message, Error, Result};
use crate::location::FileLocation;
use crate::spec::{Format, SourceSpec};
use featurestore_core::Compression;

/// What messages call the store a source object is read from.
const STORE: &str = "source store";

/// How files of one format are read. Each method takes a [`SourceFile`]:
/// a file on the local disk that knows where it came from, never a path
/// that may be a URL.
pub(super) trait FileFormat: Sync {
    /// The format.
    fn format(&self) -> Format;

    /// What a file of this format holds, for the message on an empty one.
    fn holds(&self) -> &'static str {
        "rows"
    }

    /// Records this format's reader would misread, found by a pass of
    /// their own before the typed read. What makes the whole file unusable
    /// (a header naming a declared column twice) is an error.
    fn misread(&self, _spec: &SourceSpec, _file: &SourceFile) -> Result<Vec<BadRow>> {
        Ok(Vec::new())
    }

    /// A copy of `file` without the records `bad` (sorted) that
    /// [`misread`](Self::misread) found, for the typed read of the others.
    fn without(&self, spec: &SourceSpec, file: &SourceFile, _bad: &[BadRow]) -> Result<SourceFile> {
        // Only a format whose `misread` finds records is asked for a copy.
        Err(source_error(
            spec,
            file.location(),
            format!(
                "records cannot be left out of a {} file",
                self.format().name()
            ),
        ))
    }

    /// The file, lazily, each declared column in the type it is read as
    /// (time text as text, parsed strictly afterwards): the fast path.
    fn scan(&self, spec: &SourceSpec, file: &SourceFile) -> Result<LazyFrame>;

    /// The file, lazily, the values of a text format as text: for finding
    /// the rows at fault once the typed read failed.
    fn scan_text(&self, spec: &SourceSpec, file: &SourceFile) -> Result<LazyFrame>;

    /// Where each of `records` (0-based, sorted) is in `file`, for people:
    /// `line 7`, `row 12`.
    fn places(&self, file: &SourceFile, records: &[usize]) -> Result<Vec<String>>;
}

/// The reader of `format`.
pub(super) fn of(format: Format) -> &'static dyn FileFormat {
    match format {
        Format::Csv => &csv::Csv,
        Format::Parquet => &parquet::Parquet,
        Format::NdJson => &ndjson::NdJson,
    }
}

/// A source file on the local disk, named by where it is.
#[derive(Debug)]
pub(super) struct SourceFile {
    /// Where the data is, for messages: the local path, or the object's URL.
    location: String,
    /// The file on disk: the source itself, or a copy of it.
    path: PathBuf,
    /// The copy, deleted when the file is dropped.
    _copy: Option<TempPath>,
}

impl SourceFile {
    /// The source file at `location`, checked to be a file with data.
    pub(super) fn open(
        spec: &SourceSpec,
        location: &FileLocation,
        format: &dyn FileFormat,
    ) -> Result<SourceFile> {
        let shown = location.to_string();
        let (file, len) = match location.local_path() {
            Some(path) => {
                let len = check_local(spec, &shown, path)?;
                let file = SourceFile {
                    location: shown,
                    path: path.to_path_buf(),
                    _copy: None,
                };
                (file, len)
            }
            None => fetch(spec, location)?,
        };
        let empty = |what: &str| {
            let columns: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
            Err(source_error(
                spec,
                file.location(),
                format!(
                    "the file is empty ({what}); expected {} with the columns {}",
                    format.holds(),
                    columns.join(", ")
                ),
            ))
        };
        if len == 0 {
            return empty("0 bytes");
        }
        match Compression::from_path(location.path().as_ref()) {
            None => Ok(file),
            Some(compression) => {
                let (plain, len) = file.decompressed(spec, compression)?;
                if len == 0 {
                    return empty("0 bytes once decompressed");
                }
                Ok(plain)
            }
        }
    }

    /// A temporary copy of this compressed file, decompressed as a stream
    /// (never whole in memory), and its size. Messages keep naming the
    /// compressed file; lines are those of its text.
    fn decompressed(
        &self,
        spec: &SourceSpec,
        compression: Compression,
    ) -> Result<(SourceFile, u64)> {
        let (plain, mut out) = SourceFile::copy(&self.location)?;
        let input = std::io::BufReader::new(self.read(spec)?);
        let copied = match compression {
            // `MultiGzDecoder`: `cat a.gz b.gz` is one valid gzip file.
            Compression::Gzip => {
                std::io::copy(&mut flate2::read::MultiGzDecoder::new(input), &mut out)
            }
            Compression::Zstd => zstd::stream::read::Decoder::with_buffer(input)
                .and_then(|mut d| std::io::copy(&mut d, &mut out)),
        };
        let len = copied.map_err(|e| {
            source_error(
                spec,
                &self.location,
                format!(
                    "cannot decompress the file as {} (its name ends with `.{}`): {e}",
                    compression.name(),
                    self.location.rsplit('.').next().unwrap_or_default()
                ),
            )
        })?;
        Ok((plain, len))
    }

    /// A new temporary file standing for the data at `location`, and the
    /// file to write that data to.
    pub(super) fn copy(location: &str) -> Result<(SourceFile, std::fs::File)> {
        let temp = tempfile::Builder::new()
            .prefix("featurestore-")
            .tempfile()
            .map_err(|source| Error::Io {
                context: format!("creating a temporary copy of {location}"),
                source,
            })?;
        let (out, path) = temp.into_parts();
        let file = SourceFile {
            location: location.to_string(),
            path: path.to_path_buf(),
            _copy: Some(path),
        };
        Ok((file, out))
    }

    /// Where the data is, for messages: the local path, or the object's URL.
    pub(super) fn location(&self) -> &str {
        &self.location
    }

    /// The file on the local disk.
    pub(super) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whether the file is Apache Parquet: it begins and ends with the
    /// magic `PAR1` (a Parquet file is at least 12 bytes: both magics and
    /// the footer's length). Text that happens to hold `PAR1` at both ends
    /// is not worth a guess of its own: it is read as Parquet and fails
    /// with the Parquet reader's message.
    pub(super) fn is_parquet(&self) -> bool {
        use std::io::{Read, Seek, SeekFrom};
        const MAGIC: &[u8; 4] = b"PAR1";
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return false;
        };
        let mut head = [0u8; 4];
        let mut tail = [0u8; 4];
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        len >= 12
            && f.read_exact(&mut head).is_ok()
            && f.seek(SeekFrom::End(-4)).is_ok()
            && f.read_exact(&mut tail).is_ok()
            && &head == MAGIC
            && &tail == MAGIC
    }

    /// The file, opened for reading.
    pub(super) fn read(&self, spec: &SourceSpec) -> Result<std::fs::File> {
        std::fs::File::open(&self.path)
            .map_err(|e| source_error(spec, &self.location, format!("cannot open the file: {e}")))
    }

    /// The file's path for polars.
    pub(super) fn polars_path(&self) -> PolarsResult<PlRefPath> {
        PlRefPath::try_from_path(&self.path)
    }

    /// A polars error reading this file, for people.
    pub(super) fn read_error(
        &self,
        spec: &SourceSpec,
        format: &dyn FileFormat,
        e: &PolarsError,
    ) -> Error {
        source_error(
            spec,
            &self.location,
            format!(
                "cannot read as {}: {}",
                format.format().name(),
                polars_message(e)
            ),
        )
    }
}

fn no_such_file(spec: &SourceSpec, location: &str) -> Error {
    source_error(
        spec,
        location,
        "no such file; set its path in featurestore.toml, with `--source NAME=PATH`, or \
         FEATURESTORE_SOURCE_<NAME>",
    )
}

fn a_directory(spec: &SourceSpec, location: &str) -> Error {
    source_error(spec, location, "is a directory; give the path of a file")
}

/// Checks a local source and returns its size. The type is checked before
/// the file is opened: opening a FIFO waits for a writer, maybe forever.
fn check_local(spec: &SourceSpec, location: &str, path: &std::path::Path) -> Result<u64> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()) => {
            // A link whose target is missing is not a missing file.
            let target = std::fs::read_link(path)
                .map_or_else(|_| "?".to_string(), |t| t.display().to_string());
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                format!("is a symbolic link to {target}, which does not exist")
            } else {
                format!("is a symbolic link to {target} that cannot be followed (a loop of links?): {e}")
            };
            return Err(source_error(spec, location, why));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(no_such_file(spec, location))
        }
        Err(e) => {
            return Err(source_error(
                spec,
                location,
                format!("cannot read the file: {e}"),
            ))
        }
    };
    if meta.is_dir() {
        return Err(a_directory(spec, location));
    }
    if !meta.is_file() {
        return Err(source_error(
            spec,
            location,
            "is not a regular file (a FIFO, a socket or a device?): a source is read whole and \
             checked before any store is written, so give the path of a file",
        ));
    }
    // Opened once now, so a file that cannot be read says why up front.
    std::fs::File::open(path)
        .map_err(|e| source_error(spec, location, format!("cannot open the file: {e}")))?;
    Ok(meta.len())
}

/// Streams the object at `location` into a temporary file, chunk by chunk,
/// so it is never whole in memory; returns the copy and its size.
fn fetch(spec: &SourceSpec, location: &FileLocation) -> Result<(SourceFile, u64)> {
    let url = location.to_string();
    let (file, mut out) = SourceFile::copy(&url)?;
    let store = location.store();
    let path = location.path();
    let len = crate::io::block_on(async {
        let got = match store.get(path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                // An object store has no directories, only objects under a
                // common prefix: say so rather than "no such file".
                let mut under = store.list(Some(path));
                return Err(match under.next().await {
                    Some(Ok(_)) => a_directory(spec, &url),
                    _ => no_such_file(spec, &url),
                });
            }
            Err(e) => return Err(Error::store(STORE, url.as_str(), "reading", e)),
        };
        let mut chunks = got.into_stream();
        let mut len = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| Error::store(STORE, url.as_str(), "reading", e))?;
            out.write_all(&chunk).map_err(|source| Error::Io {
                context: format!("copying {url} to a temporary file"),
                source,
            })?;
            len += chunk.len() as u64;
        }
        Ok(len)
    })?;
    Ok((file, len))
}
