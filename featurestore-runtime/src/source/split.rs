//! A source split by key into spill files, for a run whose events do not
//! fit in its memory budget.
//!
//! Every row of the source goes to one of `n` buckets by a hash of its key
//! columns, so a key's events all land in one bucket, in the order they
//! were read: each bucket can then be computed alone, and gives the rows
//! the whole source would give for its keys. Files are read one at a time;
//! a CSV file larger than a piece the budget allows is read in batches by
//! polars' streaming engine while its structure is checked beside it, so
//! no file is ever whole in memory.
//!
//! A file read in batches has its rows checked as every file is (structure,
//! types, nulls), but a bad row in it is an error naming the file and the
//! value, not located to its line, and `on_bad_rows = "skip"` or
//! `"quarantine"` cannot leave it out: such a file is read whole, by a run
//! given a larger budget.

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use object_store::ObjectStoreExt;
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;

use super::file::listing::{Files, Listed};
use super::file::{self, SourceFile};
use super::typed::{has_text_times, non_nullable_nulls, read_columns, read_dtype, typed};
use super::{
    bad_rows_error, content_format, derive, many, read_file_or_none, source_error, Rejected,
    SourceLocations,
};
use crate::error::{polars_message, Error, Result};
use crate::spec::{Format, OnBadRows, SourceKind, SourceSpec};

/// A source split by key.
#[derive(Debug)]
pub struct KeySplit {
    /// One Parquet file per bucket that has rows, the source's declared
    /// columns in their declared types.
    pub buckets: Vec<PathBuf>,
    /// Rows read.
    pub rows: usize,
    /// Rows left out by the source's `on_bad_rows` policy.
    pub rejected: Vec<Rejected>,
    /// How long reading and splitting took.
    pub read: Duration,
}

/// Why a source cannot be split by key, or `None` when it can: the run then
/// holds it whole in memory.
pub fn cannot_split(
    spec: &SourceSpec,
    locations: &SourceLocations,
    keys: &[&str],
) -> Option<String> {
    match spec.kind {
        SourceKind::Query { .. } => return Some("it is a query over other sources".into()),
        SourceKind::File { path, .. }
            if crate::location::KafkaLocation::is_kafka(locations.raw(spec, path)) =>
        {
            return Some("it is a Kafka topic".into())
        }
        SourceKind::File { .. } => {}
    }
    if !spec.preprocess.steps.is_empty() {
        return Some("it has pre-processing steps".into());
    }
    keys.iter()
        .find(|k| spec.column(k).is_none())
        .map(|k| format!("the key `{k}` is not one of its columns"))
}

/// The bytes of a file source's files, or `None` when unknown (a query, a
/// Kafka topic, a file that cannot be listed: reading it says why).
pub fn input_bytes(spec: &SourceSpec, locations: &SourceLocations) -> Option<u64> {
    let SourceKind::File { path, .. } = spec.kind else {
        return None;
    };
    if crate::location::KafkaLocation::is_kafka(locations.raw(spec, path)) {
        return None;
    }
    match file::listing::files(spec, locations.raw(spec, path), locations).ok()? {
        Files::One(location) => match location.local_path() {
            Some(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            None => crate::io::block_on(location.store().head(location.path()))
                .ok()
                .map(|m| m.size),
        },
        Files::Many { files, .. } => Some(files.iter().map(|f| f.size).sum()),
    }
}

/// Reads source `spec` and writes its rows into `n` bucket files under
/// `dir` by a hash of `keys`. A CSV file larger than `piece` bytes is read
/// in batches.
pub fn split_by_key(
    spec: &SourceSpec,
    locations: &SourceLocations,
    keys: &[&str],
    n: usize,
    dir: &Path,
    piece: u64,
) -> Result<KeySplit> {
    if let Some(why) = cannot_split(spec, locations, keys) {
        return Err(source_error(
            spec,
            &super::describe_location(spec, locations),
            format!("the source cannot be read in parts by key: {why}"),
        ));
    }
    let t = Instant::now();
    // Times exported without a fraction of a second when it is zero are
    // read again accepting one, as a file read whole is.
    let mut fractions = false;
    loop {
        let mut buckets = Buckets::new(spec, dir, keys, n)?;
        match read_all(spec, locations, piece, fractions, &mut buckets) {
            Err(Retry::Fractions) if !fractions => {
                fractions = true;
                buckets.discard();
            }
            Err(Retry::Fractions) => unreachable!("only asked for without fractions"),
            Err(Retry::Failed(e)) => {
                buckets.discard();
                return Err(e);
            }
            Ok(rejected) => {
                let rows = buckets.rows;
                return Ok(KeySplit {
                    buckets: buckets.finish()?,
                    rows,
                    rejected,
                    read: t.elapsed(),
                });
            }
        }
    }
}

enum Retry {
    /// A file read in batches failed on a time that may have a fraction.
    Fractions,
    Failed(Error),
}

impl From<Error> for Retry {
    fn from(e: Error) -> Self {
        Retry::Failed(e)
    }
}

fn read_all(
    spec: &SourceSpec,
    locations: &SourceLocations,
    piece: u64,
    fractions: bool,
    buckets: &mut Buckets,
) -> std::result::Result<Vec<Rejected>, Retry> {
    let SourceKind::File { path, format } = spec.kind else {
        unreachable!("checked by `cannot_split`")
    };
    let shown = locations.resolve(spec, path);
    let mut add = |df: DataFrame| -> Result<()> {
        let df = derive::derive(spec, &shown, df.lazy())?
            .collect()
            .map_err(|e| source_error(spec, &shown, polars_message(&e)))?;
        buckets.add(&df)
    };
    match file::listing::files(spec, locations.raw(spec, path), locations)? {
        Files::One(location) => {
            let by_name = locations.format(spec, format);
            let listed = Listed {
                size: 0,
                relative: String::new(),
                partitions: Vec::new(),
                location,
            };
            let rejected = read_file_in_pieces(
                spec, &listed, by_name, locations, piece, fractions, false, &mut add,
            )?;
            if buckets.rows == 0 {
                return Err(source_error(
                    spec,
                    &shown,
                    "no rows: the file has no data, or every row was rejected; a run on it \
                     would empty every partition of its range, so it is refused",
                )
                .into());
            }
            Ok(rejected)
        }
        Files::Many { root, files } => {
            let mut retry = None;
            let rejected = many::each(
                spec,
                &root,
                &files,
                format,
                locations,
                &mut |per_file, listed, by_name, visit| {
                    read_file_in_pieces(
                        per_file, listed, by_name, locations, piece, fractions, true, visit,
                    )
                    .map_err(|e| match e {
                        Retry::Failed(e) => e,
                        Retry::Fractions => {
                            retry = Some(Retry::Fractions);
                            source_error(spec, &listed.location.to_string(), "retried")
                        }
                    })
                },
                &mut add,
            );
            match (rejected, retry) {
                (_, Some(r)) => Err(r),
                (Err(e), None) => Err(e.into()),
                (Ok(rejected), None) => Ok(rejected),
            }
        }
    }
}

/// Reads one file of a source: whole when it is small or not CSV, else in
/// batches; hands its rows to `visit`.
#[allow(clippy::too_many_arguments)]
fn read_file_in_pieces(
    spec: &SourceSpec,
    listed: &Listed,
    by_name: Format,
    locations: &SourceLocations,
    piece: u64,
    fractions: bool,
    may_be_empty: bool,
    visit: &mut dyn FnMut(DataFrame) -> Result<()>,
) -> std::result::Result<Vec<Rejected>, Retry> {
    let location = &listed.location;
    let size = match location.local_path() {
        Some(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        None => listed.size,
    };
    let file = SourceFile::open(spec, location, file::of(by_name))?;
    let format = content_format(spec, &file, by_name, locations)?;
    if format != Format::Csv || size <= piece {
        drop(file);
        let (frame, rejected) =
            read_file_or_none(spec, location, by_name, locations, may_be_empty)?;
        visit(frame)?;
        return Ok(rejected);
    }
    csv_in_batches(spec, &file, locations.policy(spec), fractions, visit)?;
    Ok(Vec::new())
}

/// A CSV file read in batches by polars' streaming engine, its structure
/// checked beside it.
fn csv_in_batches(
    spec: &SourceSpec,
    file: &SourceFile,
    policy: OnBadRows,
    fractions: bool,
    visit: &mut dyn FnMut(DataFrame) -> Result<()>,
) -> std::result::Result<(), Retry> {
    let format = file::of(Format::Csv);
    let location = file.location();
    let mut overwrite = Schema::default();
    for c in read_columns(spec) {
        overwrite.insert(c.name.into(), read_dtype(spec, c));
    }
    let lf = file
        .polars_path()
        .and_then(|path| {
            LazyCsvReader::new(path)
                .with_has_header(true)
                .with_dtype_overwrite(Some(SchemaRef::new(overwrite)))
                .with_infer_schema_length(Some(0))
                .finish()
        })
        .map_err(|e| file.read_error(spec, format, &e))?;
    let lf = typed(spec, location, lf, fractions)?;
    let (tx, rx) = sync_channel::<DataFrame>(2);
    // Stops the read once the receiver is gone (a batch was refused).
    let sink = lf
        .sink_batches(
            PlanCallback::new(move |df| Ok(tx.send(df).is_err())),
            true,
            None,
        )
        .map_err(|e| file.read_error(spec, format, &e))?;
    let (checked, read, visited) = std::thread::scope(|s| {
        let check = s.spawn(|| format.misread(spec, file));
        let run = s.spawn(move || sink.collect_with_engine(Engine::Streaming));
        let mut visited = Ok(());
        for df in rx.iter() {
            let nulls = non_nullable_nulls(spec, &df);
            visited = if nulls > 0 {
                Err(source_error(
                    spec,
                    location,
                    format!(
                        "{nulls} value(s) of a non-`Option` column are null; the file is \
                         read in batches (it is larger than the memory budget allows at \
                         once), where a bad row is not located: run it with a larger \
                         `--memory-budget` to have its rows at fault listed"
                    ),
                ))
            } else {
                visit(df)
            };
            if visited.is_err() {
                break;
            }
        }
        drop(rx);
        let read = run.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        let checked = check
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (checked, read, visited)
    });
    let misread = checked?;
    if let Some(first) = misread.first() {
        if policy == OnBadRows::Fail {
            return Err(bad_rows_error(spec, location, first, misread.len()).into());
        }
        return Err(source_error(
            spec,
            location,
            format!(
                "{} record(s) do not fit the declaration (the first at {}: {}); the file is \
                 read in batches (it is larger than the memory budget allows at once), where \
                 `on_bad_rows` cannot leave rows out: fix the file or run it with a larger \
                 `--memory-budget`",
                misread.len(),
                first.place,
                first.reason
            ),
        )
        .into());
    }
    visited?;
    if let Err(e) = read {
        if !fractions && has_text_times(spec) {
            return Err(Retry::Fractions);
        }
        return Err(source_error(
            spec,
            location,
            format!(
                "cannot read as CSV: {}; the file is read in batches (it is larger than the \
                 memory budget allows at once), where a bad row is not located: run it with \
                 a larger `--memory-budget` to have its rows at fault listed",
                polars_message(&e)
            ),
        )
        .into());
    }
    Ok(())
}

/// The bucket files being written.
struct Buckets {
    files: Vec<PathBuf>,
    writers: Vec<Option<BatchedWriter<std::fs::File>>>,
    keys: Vec<String>,
    hasher: PlSeedableRandomStateQuality,
    location: String,
    rows: usize,
}

impl Buckets {
    fn new(spec: &SourceSpec, dir: &Path, keys: &[&str], n: usize) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            context: format!("creating the spill directory {}", dir.display()),
            source: e,
        })?;
        Ok(Buckets {
            files: (0..n)
                .map(|i| dir.join(format!("{}-{i:04}.parquet", spec.name)))
                .collect(),
            writers: (0..n).map(|_| None).collect(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            hasher: PlSeedableRandomStateQuality::seed_from_u64(0x5eed),
            location: dir.display().to_string(),
            rows: 0,
        })
    }

    fn error(&self, doing: &str, e: impl std::fmt::Display) -> Error {
        Error::Invalid(format!(
            "{doing} in the spill directory {}: {e}",
            self.location
        ))
    }

    /// Appends each row of `df` to its key's bucket, in order.
    fn add(&mut self, df: &DataFrame) -> Result<()> {
        if df.height() == 0 {
            return Ok(());
        }
        let n = self.files.len();
        let mut hashes = Vec::with_capacity(df.height());
        for (i, k) in self.keys.iter().enumerate() {
            let c = df
                .column(k)
                .map_err(|e| self.error("splitting by key", e))?;
            let done = if i == 0 {
                c.vec_hash(self.hasher.clone(), &mut hashes)
            } else {
                c.vec_hash_combine(self.hasher.clone(), &mut hashes)
            };
            done.map_err(|e| self.error("splitting by key", e))?;
        }
        let mut rows: Vec<Vec<IdxSize>> = vec![Vec::new(); n];
        for (row, h) in hashes.iter().enumerate() {
            // The high bits: the low ones of some hashes are weak.
            let b = ((*h as u128 * n as u128) >> 64) as usize;
            rows[b].push(row as IdxSize);
        }
        for (b, idx) in rows.into_iter().enumerate() {
            if idx.is_empty() {
                continue;
            }
            let part = df
                .take(&IdxCa::from_vec("idx".into(), idx))
                .map_err(|e| self.error("splitting by key", e))?;
            if self.writers[b].is_none() {
                let file = std::fs::File::create(&self.files[b])
                    .map_err(|e| self.error("creating a bucket file", e))?;
                let writer = ParquetWriter::new(file)
                    .with_compression(ParquetCompression::Snappy)
                    .batched(part.schema())
                    .map_err(|e| self.error("creating a bucket file", e))?;
                self.writers[b] = Some(writer);
            }
            let writer = self.writers[b].as_mut().expect("created above");
            writer
                .write_batch(&part)
                .map_err(|e| Error::Invalid(format!("writing a bucket file: {e}")))?;
        }
        self.rows += df.height();
        Ok(())
    }

    /// The bucket files with rows, closed.
    fn finish(mut self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for (b, writer) in self.writers.iter_mut().enumerate() {
            if let Some(w) = writer.take() {
                w.finish()
                    .map_err(|e| Error::Invalid(format!("closing a bucket file: {e}")))?;
                out.push(self.files[b].clone());
            }
        }
        Ok(out)
    }

    /// Removes what was written.
    fn discard(&mut self) {
        for (b, writer) in self.writers.iter_mut().enumerate() {
            if writer.take().is_some() {
                let _ = std::fs::remove_file(&self.files[b]);
            }
        }
        self.rows = 0;
    }
}
