//! A source split by key into spill files, for a run whose events do not
//! fit in its memory budget.
//!
//! Every row of the source goes to one of `n` buckets by a hash of its key
//! columns, so a key's events all land in one bucket, in the order they
//! were read: each bucket can then be computed alone, and gives the rows
//! the whole source would give for its keys. Files are read one at a time;
//! a CSV file larger than a piece the budget allows is read in pieces of
//! whole records: a check walks the file on one thread and hands over
//! each piece as it confirms it (with the bytes it read, for a plain file),
//! while polars' reader parses the pieces on the others, so no file is
//! ever whole in memory.
//!
//! A file read in pieces has its rows checked as every file is (structure,
//! types, nulls), but a bad value in it is an error naming the file, the
//! piece's bytes and the value, not located to its line, and
//! `on_bad_rows = "skip"` or `"quarantine"` cannot leave a row out: such a
//! file is read whole, by a run given a larger budget.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use object_store::ObjectStoreExt;
use polars::prelude::*;
use polars_arrow::array::BooleanArray;

use super::file::csv::{Piece, PieceBuffers};
use super::file::listing::{Files, Listed};
use super::file::{self, SourceFile};
use super::typed::{
    has_text_times, non_nullable_nulls, read_columns, read_dtype, sampled_formats, typed_as,
    Formats,
};
use super::{
    bad_rows_error, content_format, derive, many, read_file_or_none, source_error, Rejected,
    SourceLocations,
};
use crate::error::{polars_message, Error, PolarsContext, Result};
use crate::spec::{Format, OnBadRows, SourceKind, SourceSpec};
use crate::spill;

/// A source split by key.
#[derive(Debug)]
pub struct KeySplit {
    /// One spill file per bucket that has rows, the source's declared
    /// columns in their declared types.
    pub buckets: Vec<PathBuf>,
    /// Rows read.
    pub rows: usize,
    /// The earliest value of each time column (`Date` or `Datetime`), as
    /// microseconds since the epoch: `None` when it has none.
    pub first_times: BTreeMap<String, Option<i64>>,
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

/// How the feature sets computed from the parts read a column of their
/// source: what of it the parts must keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColumnRead {
    /// Only whether each value is null: the parts keep the column as a
    /// boolean with its nulls (a `count` reads nothing else).
    Nulls,
    /// Its values.
    Values,
}

/// The columns the parts keep, by name, and what of each; a column not
/// named is left out.
pub type ColumnsRead = BTreeMap<String, ColumnRead>;

/// Notes in `read` that column `name` is read as `how`: read for its values
/// by one reader and for its nulls by another, it is read for its values.
pub fn note_read(read: &mut ColumnsRead, name: &str, how: ColumnRead) {
    let was = read.entry(name.to_string()).or_insert(how);
    *was = (*was).max(how);
}

/// Reads source `spec` and writes its rows into `n` bucket files under
/// `dir` by a hash of `keys`. A CSV file larger than `piece` bytes is read
/// in pieces. With `read`, the buckets keep only the columns it names, as
/// it says; else every column, as it is.
pub fn split_by_key(
    spec: &SourceSpec,
    locations: &SourceLocations,
    keys: &[&str],
    n: usize,
    dir: &Path,
    piece: u64,
    read: Option<&ColumnsRead>,
) -> Result<KeySplit> {
    if let Some(why) = cannot_split(spec, locations, keys) {
        return Err(source_error(
            spec,
            &super::describe_location(spec, locations),
            format!("the source cannot be read in parts by key: {why}"),
        ));
    }
    let t = Instant::now();
    let mut buckets = Buckets::new(spec, dir, keys, n, read.cloned())?;
    match read_all(spec, locations, piece, &mut buckets) {
        Err(e) => {
            buckets.discard();
            Err(e)
        }
        Ok(rejected) => {
            let rows = buckets.rows;
            let first_times = std::mem::take(&mut buckets.first_times);
            Ok(KeySplit {
                buckets: buckets.finish()?,
                rows,
                first_times,
                rejected,
                read: t.elapsed(),
            })
        }
    }
}

fn read_all(
    spec: &SourceSpec,
    locations: &SourceLocations,
    piece: u64,
    buckets: &mut Buckets,
) -> Result<Vec<Rejected>> {
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
            let rejected =
                read_file_in_pieces(spec, &listed, by_name, locations, piece, false, &mut add)?;
            if buckets.rows == 0 {
                return Err(source_error(
                    spec,
                    &shown,
                    "no rows: the file has no data, or every row was rejected; a run on it \
                     would empty every partition of its range, so it is refused",
                ));
            }
            Ok(rejected)
        }
        Files::Many { root, files } => many::each(
            spec,
            &root,
            &files,
            format,
            locations,
            &mut |per_file, listed, by_name, visit| {
                read_file_in_pieces(per_file, listed, by_name, locations, piece, true, visit)
            },
            &mut add,
        ),
    }
}

/// Reads one file of a source: whole when it is small or not CSV, else in
/// batches; hands its rows to `visit`.
fn read_file_in_pieces(
    spec: &SourceSpec,
    listed: &Listed,
    by_name: Format,
    locations: &SourceLocations,
    piece: u64,
    may_be_empty: bool,
    visit: &mut dyn FnMut(DataFrame) -> Result<()>,
) -> Result<Vec<Rejected>> {
    let location = &listed.location;
    // Read whole when it fits (or is not CSV by its name), without opening
    // it first: an object in a store would be fetched twice.
    let size = match location.local_path() {
        Some(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        None if listed.size > 0 => listed.size,
        None => crate::io::block_on(location.store().head(location.path()))
            .map(|m| m.size)
            .unwrap_or(0),
    };
    let whole = |visit: &mut dyn FnMut(DataFrame) -> Result<()>| -> Result<Vec<Rejected>> {
        let (frame, rejected) =
            read_file_or_none(spec, location, by_name, locations, may_be_empty)?;
        visit(frame)?;
        Ok(rejected)
    };
    if by_name != Format::Csv || size <= piece {
        return whole(visit);
    }
    let file = SourceFile::open(spec, location, file::of(by_name))?;
    if content_format(spec, &file, by_name, locations)? != Format::Csv {
        // A Parquet file named as CSV: read as Parquet, whole.
        drop(file);
        return whole(visit);
    }
    // Pieces no larger than a plain file read in memory takes: smaller
    // pieces keep the reader's frames in the cache and the buckets' writes
    // frequent, and the budget bounds them anyway.
    let piece = piece.min(super::PLAIN_PIECE);
    csv_in_pieces(spec, &file, locations.policy(spec), piece, visit)?;
    Ok(Vec::new())
}

/// A CSV file read in pieces of about `piece` bytes: a check walks the file
/// on one thread and hands over each piece as it confirms it, while polars'
/// reader parses the pieces on the others. A plain file (see
/// `file::csv::plain_in_pieces`) is confirmed at memory speed, its pieces
/// handed over with their bytes; the
/// structure walk, which parses every record on its one thread, looks at
/// the rest of any other file.
fn csv_in_pieces(
    spec: &SourceSpec,
    file: &SourceFile,
    policy: OnBadRows,
    piece: u64,
    visit: &mut dyn FnMut(DataFrame) -> Result<()>,
) -> Result<()> {
    let location = file.location();
    let header = file::csv::header(file)
        .ok_or_else(|| source_error(spec, location, "cannot read the header"))?;
    let schema = piece_schema(spec, &header);
    let formats = file_formats(spec, file);
    // Where the pieces parsed so far end: a plain file's lines are its
    // records, so the walk's pieces are parsed from there on only.
    let mut parsed_until = 0u64;
    let buffers = PieceBuffers::default();
    let mut parse = |mut piece: Piece| -> Result<()> {
        let start = piece.range.start.max(parsed_until);
        if start >= piece.range.end {
            return Ok(());
        }
        if let Some(bytes) = piece.bytes.as_mut() {
            bytes.drain(..(start - piece.range.start) as usize);
        }
        piece.range.start = start;
        let end = piece.range.end;
        parse_piece(spec, file, &schema, piece, formats.as_ref(), &buffers)
            .and_then(&mut *visit)?;
        parsed_until = end;
        Ok(())
    };
    let (plain, parsed) = beside_check(
        |on_piece| file::csv::plain_in_pieces(spec, file, piece, &buffers, on_piece),
        &mut parse,
    );
    parsed?;
    if plain? {
        return Ok(());
    }
    let (checked, parsed) = beside_check(
        |on_piece| file::csv::structure_in_pieces(spec, file, piece, &buffers, on_piece),
        &mut parse,
    );
    let misread = checked?;
    if let Some(first) = misread.first() {
        if policy == OnBadRows::Fail {
            return Err(bad_rows_error(spec, location, first, misread.len()));
        }
        return Err(source_error(
            spec,
            location,
            format!(
                "{} record(s) do not fit the declaration (the first at {}: {}); the file is \
                 read in pieces (it is larger than the memory budget allows at once), where \
                 `on_bad_rows` cannot leave rows out: fix the file or run it with a larger \
                 `--memory-budget`",
                misread.len(),
                first.place,
                first.reason
            ),
        ));
    }
    parsed
}

/// Runs `check` on a thread of its own, which hands over pieces of a file
/// as it confirms them, and `parse` on each piece here, in order, until it
/// fails (the check then stops at its next piece). Returns what each gave.
fn beside_check<C: Send>(
    check: impl FnOnce(&mut dyn FnMut(Piece) -> bool) -> C + Send,
    parse: &mut dyn FnMut(Piece) -> Result<()>,
) -> (C, Result<()>) {
    // A piece is handed over only when the parse takes it: the check,
    // far faster, gathers at most one piece ahead of the one parsed.
    let (tx, rx) = sync_channel::<Piece>(0);
    std::thread::scope(|s| {
        let check = s.spawn(move || check(&mut |range| tx.send(range).is_ok()));
        let mut parsed = Ok(());
        for piece in rx.iter() {
            parsed = parse(piece);
            if parsed.is_err() {
                break;
            }
        }
        drop(rx);
        let checked = check
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (checked, parsed)
    })
}

/// A plain CSV file (see `file::csv::plain_in_pieces`) read in pieces of
/// `piece` bytes, parsed and typed one after another while the check walks
/// ahead: the file is never mapped whole, and each piece's text is dropped
/// once its values are typed. None when the file is not plain, or a piece
/// does not read cleanly: the file is then read whole, where its rows at
/// fault are found and named.
pub(super) fn plain_csv(
    spec: &SourceSpec,
    file: &SourceFile,
    piece: u64,
) -> Result<Option<DataFrame>> {
    let Some(header) = file::csv::header(file) else {
        return Ok(None);
    };
    let schema = piece_schema(spec, &header);
    let Some(formats) = file_formats(spec, file) else {
        return Ok(None);
    };
    let mut frame: Option<DataFrame> = None;
    let buffers = PieceBuffers::default();
    let (plain, clean) = beside_check(
        |on_piece| file::csv::plain_in_pieces(spec, file, piece, &buffers, on_piece),
        &mut |piece| {
            let df = parse_piece(spec, file, &schema, piece, Some(&formats), &buffers)?;
            match frame.as_mut() {
                None => frame = Some(df),
                Some(all) => {
                    all.vstack_mut_owned(df)
                        .map_err(|e| source_error(spec, file.location(), polars_message(&e)))?;
                }
            }
            Ok(())
        },
    );
    Ok(match (plain?, clean) {
        (true, Ok(())) => frame,
        _ => None,
    })
}

/// The formats of a CSV file's times, sampled from its first rows: every
/// piece reads its times in them, as the file read whole does (a piece
/// sampling its own rows could read them in another).
fn file_formats(spec: &SourceSpec, file: &SourceFile) -> Option<Formats> {
    let first_rows = file
        .polars_path()
        .and_then(|path| {
            LazyCsvReader::new(path)
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .finish()
        })
        .ok()?;
    Some(sampled_formats(spec, &first_rows))
}

/// The schema pieces of a CSV file with `header` are read with: the
/// declared columns as [`read_dtype`], the others as text.
fn piece_schema(spec: &SourceSpec, header: &[String]) -> SchemaRef {
    let mut schema = Schema::default();
    for name in header {
        let dtype = match spec.column(name) {
            Some(c) => read_dtype(spec, c),
            None => DataType::String,
        };
        schema.insert(name.as_str().into(), dtype);
    }
    SchemaRef::new(schema)
}

/// The typed rows of the records of a piece of a CSV file, times in
/// `formats` when given (else sampled from the piece). The piece's bytes
/// are read from the file when the check did not hand them over; either
/// way the buffer goes back to `buffers`.
fn parse_piece(
    spec: &SourceSpec,
    file: &SourceFile,
    schema: &SchemaRef,
    piece: Piece,
    formats: Option<&Formats>,
    buffers: &PieceBuffers,
) -> Result<DataFrame> {
    let Piece { range, bytes } = piece;
    // Bytes handed over by the check are plain: no quote in them.
    let plain = bytes.is_some();
    let bytes = match bytes {
        Some(bytes) => bytes,
        None => {
            use std::io::{Read, Seek, SeekFrom};
            let io = |e: std::io::Error| {
                source_error(spec, file.location(), format!("cannot read the file: {e}"))
            };
            let mut f = file.read(spec)?;
            f.seek(SeekFrom::Start(range.start)).map_err(io)?;
            let mut bytes = buffers.take((range.end - range.start) as usize);
            f.take(range.end - range.start)
                .read_to_end(&mut bytes)
                .map_err(io)?;
            bytes
        }
    };
    let parsed = parse_bytes(spec, file, schema, range, formats, plain, &bytes);
    buffers.give(bytes);
    parsed
}

/// [`parse_piece`] of the piece's bytes.
fn parse_bytes(
    spec: &SourceSpec,
    file: &SourceFile,
    schema: &SchemaRef,
    range: std::ops::Range<u64>,
    formats: Option<&Formats>,
    plain: bool,
    bytes: &[u8],
) -> Result<DataFrame> {
    let location = file.location();
    let declared: Vec<PlSmallStr> = read_columns(spec).map(|c| c.name.into()).collect();
    let projection = declared
        .iter()
        .all(|d| schema.contains(d))
        .then(|| Arc::from(declared));
    let in_piece = |e: &PolarsError| {
        source_error(
            spec,
            location,
            format!(
                "cannot read as CSV (bytes {} to {}): {}; the file is read in pieces (it is \
                 larger than the memory budget allows at once), where a bad row is not \
                 located: run it with a larger `--memory-budget` to have its rows at fault \
                 listed",
                range.start,
                range.end,
                polars_message(e)
            ),
        )
    };
    let raw = CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(schema.clone()))
        .with_columns(projection)
        .map_parse_options(|o| if plain { o.with_quote_char(None) } else { o })
        .into_reader_with_file_handle(std::io::Cursor::new(bytes))
        .finish()
        .map_err(|e| in_piece(&e))?;
    // Times exported without a fraction of a second when it is zero: read
    // again accepting one, as a file read whole is.
    let mut typed_rows = typed_as(spec, location, raw.clone().lazy(), false, formats)?.collect();
    if typed_rows.is_err() && has_text_times(spec) {
        typed_rows = typed_as(spec, location, raw.lazy(), true, formats)?.collect();
    }
    let df = typed_rows.map_err(|e| in_piece(&e))?;
    let nulls = non_nullable_nulls(spec, &df);
    if nulls > 0 {
        return Err(source_error(
            spec,
            location,
            format!(
                "{nulls} value(s) of a non-`Option` column are null (bytes {} to {}); the \
                 file is read in pieces (it is larger than the memory budget allows at \
                 once), where a bad row is not located: run it with a larger \
                 `--memory-budget` to have its rows at fault listed",
                range.start, range.end
            ),
        ));
    }
    Ok(df)
}

/// `c` as a boolean, true where it has a value and null where it has
/// none: what `is_not_null` reads of it, and nothing else.
fn nulls_of(c: &Column) -> Column {
    let valid = c.is_not_null();
    let chunks = valid.downcast_iter().map(|a| {
        BooleanArray::new(
            ArrowDataType::Boolean,
            a.values().clone(),
            Some(a.values().clone()),
        )
    });
    BooleanChunked::from_chunk_iter(c.name().clone(), chunks).into_column()
}

/// The bucket files being written.
struct Buckets {
    files: Vec<PathBuf>,
    writers: Vec<Option<spill::Writer>>,
    keys: Vec<String>,
    hasher: PlSeedableRandomStateQuality,
    location: String,
    rows: usize,
    first_times: BTreeMap<String, Option<i64>>,
    /// What of each column the buckets keep; everything without.
    read: Option<ColumnsRead>,
}

impl Buckets {
    fn new(
        spec: &SourceSpec,
        dir: &Path,
        keys: &[&str],
        n: usize,
        read: Option<ColumnsRead>,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            context: format!("creating the spill directory {}", dir.display()),
            source: e,
        })?;
        Ok(Buckets {
            files: (0..n)
                .map(|i| dir.join(format!("{}-{i:04}.arrow", spec.name)))
                .collect(),
            writers: (0..n).map(|_| None).collect(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            hasher: PlSeedableRandomStateQuality::seed_from_u64(0x5eed),
            location: dir.display().to_string(),
            rows: 0,
            first_times: BTreeMap::new(),
            read,
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
        let df = &self.kept(df)?;
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
        // One chunk before the buckets' gathers: a gather of text across
        // the reader's chunks looks up each value's chunk and copies it
        // (a quarter of a 100M split read), one chunk's copies its views.
        let mut df = df.clone();
        df.rechunk_mut();
        let mut rows: Vec<Vec<IdxSize>> = vec![Vec::new(); n];
        for (row, h) in hashes.iter().enumerate() {
            // The high bits: the low ones of some hashes are weak.
            let b = ((*h as u128 * n as u128) >> 64) as usize;
            rows[b].push(row as IdxSize);
        }
        // The buckets' gathers and writes on every core: one after another,
        // they left a core idle for a third of the read.
        use rayon::prelude::*;
        let location = &self.location;
        self.writers
            .par_iter_mut()
            .zip(&self.files)
            .zip(rows)
            .filter(|(_, idx)| !idx.is_empty())
            .try_for_each(|((writer, file), idx)| -> Result<()> {
                let part = df
                    .take(&IdxCa::from_vec("idx".into(), idx))
                    .ctx(|| format!("splitting by key in the spill directory {location}"))?;
                match writer {
                    Some(w) => w.write(&part).map(|_| ()),
                    None => {
                        let mut w = spill::Writer::create(file, part.schema())?;
                        w.write(&part)?;
                        *writer = Some(w);
                        Ok(())
                    }
                }
            })?;
        self.rows += df.height();
        self.note_first_times(&df)
    }

    /// What the buckets keep of `df`: the columns read, those read only
    /// for their nulls as booleans with the same nulls (a short text takes
    /// 16 bytes a row and is checked as UTF-8 when read back; the boolean
    /// takes two bits).
    fn kept(&self, df: &DataFrame) -> Result<DataFrame> {
        let Some(read) = &self.read else {
            return Ok(df.clone());
        };
        let columns = df
            .columns()
            .iter()
            .filter_map(|c| match read.get(c.name().as_str())? {
                ColumnRead::Values => Some(c.clone()),
                ColumnRead::Nulls => Some(nulls_of(c)),
            })
            .collect();
        DataFrame::new(df.height(), columns).map_err(|e| self.error("splitting by key", e))
    }

    /// Records the earliest value of each time column of `df`, in
    /// microseconds as the transform casts an event time.
    fn note_first_times(&mut self, df: &DataFrame) -> Result<()> {
        let micros = DataType::Datetime(TimeUnit::Microseconds, None);
        for c in df.columns() {
            if !matches!(c.dtype(), DataType::Date | DataType::Datetime(..)) {
                continue;
            }
            let first = c
                .cast(&micros)
                .and_then(|t| t.datetime().map(|t| t.physical().min()))
                .map_err(|e| self.error("splitting by key", e))?;
            let earliest = self.first_times.entry(c.name().to_string()).or_default();
            *earliest = match (*earliest, first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(())
    }

    /// The bucket files with rows, closed.
    fn finish(mut self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for (b, writer) in self.writers.iter_mut().enumerate() {
            if let Some(w) = writer.take() {
                w.finish()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::FileLocation;
    use crate::spec::{ColumnSpec, DataType as Dt, Preprocessing, SourceKind};

    const COLUMNS: [ColumnSpec; 4] = [
        ColumnSpec {
            name: "id",
            dtype: Dt::String,
            nullable: false,
            description: "",
        },
        ColumnSpec {
            name: "at",
            dtype: Dt::Timestamp,
            nullable: false,
            description: "",
        },
        ColumnSpec {
            name: "amount",
            dtype: Dt::Float64,
            nullable: true,
            description: "",
        },
        ColumnSpec {
            name: "back",
            dtype: Dt::Timestamp,
            nullable: true,
            description: "",
        },
    ];

    const SPEC: SourceSpec = SourceSpec {
        name: "events",
        description: "",
        kind: SourceKind::File {
            path: "events.csv",
            format: Format::Csv,
        },
        columns: &COLUMNS,
        on_bad_rows: OnBadRows::Fail,
        time_columns: &[],
        derived: &[],
        preprocess: Preprocessing {
            read: &[],
            steps: &[],
        },
    };

    /// `rows` rows (about 37 bytes each) with an undeclared column, empty
    /// fields and times with and without a fraction of a second.
    fn text(rows: u32) -> String {
        let mut text = String::from("id,extra,at,amount,back\n");
        for i in 0..rows {
            let back = match i % 7 {
                0 => format!("2020-02-{:02} 10:00:00", 1 + i % 28),
                _ => String::new(),
            };
            let fraction = if i % 3 == 1 { ".250" } else { "" };
            let amount = if i % 5 == 0 {
                String::new()
            } else {
                format!("{}.5", i % 977)
            };
            text.push_str(&format!(
                "u{i:06},x{},2020-01-{:02} {:02}:{:02}:{:02}{fraction},{amount},{back}\n",
                i % 13,
                1 + i % 28,
                i % 24,
                i % 60,
                (i / 60) % 60,
            ));
        }
        text
    }

    fn pieces(path: &std::path::Path, piece: u64) -> Option<DataFrame> {
        let location =
            FileLocation::parse(&path.to_string_lossy(), path.parent().unwrap()).unwrap();
        let file = SourceFile::open(&SPEC, &location, file::of(Format::Csv)).unwrap();
        plain_csv(&SPEC, &file, piece).unwrap()
    }

    fn whole(path: &std::path::Path) -> DataFrame {
        let location =
            FileLocation::parse(&path.to_string_lossy(), path.parent().unwrap()).unwrap();
        // Smaller than a piece: read whole.
        let (frame, rejected) = super::super::read_file_or_none(
            &SPEC,
            &location,
            Format::Csv,
            &SourceLocations::default(),
            false,
        )
        .unwrap();
        assert!(rejected.is_empty());
        frame
    }

    #[test]
    fn a_plain_file_read_in_pieces_is_the_file_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        // About 11 MiB: the check confirms lines 4 MiB at a time, so
        // pieces of a byte are cut there, three in all.
        let text = text(300_000);
        std::fs::write(&path, &text).unwrap();
        let expected = whole(&path);
        assert_eq!(expected.height(), 300_000);
        for (piece, count) in [(1, 3), (5 << 20, 2), (1 << 30, 1)] {
            // The pieces follow each other from the header's end to the
            // file's, each ending at a line's end.
            let location = FileLocation::parse(&path.to_string_lossy(), dir.path()).unwrap();
            let file = SourceFile::open(&SPEC, &location, file::of(Format::Csv)).unwrap();
            let mut ranges = Vec::new();
            let buffers = PieceBuffers::default();
            let whole_file = file::csv::plain_in_pieces(&SPEC, &file, piece, &buffers, &mut |p| {
                // Each piece's bytes are the file's bytes in its range.
                let bytes = p
                    .bytes
                    .expect("a plain file's pieces come with their bytes");
                assert_eq!(
                    bytes,
                    text.as_bytes()[p.range.start as usize..p.range.end as usize]
                );
                ranges.push(p.range);
                true
            })
            .unwrap();
            assert!(whole_file);
            assert_eq!(ranges.len(), count, "pieces of {piece} bytes: {ranges:?}");
            assert_eq!(ranges[0].start as usize, text.find('\n').unwrap() + 1);
            assert_eq!(ranges[count - 1].end as usize, text.len());
            for (r, next) in ranges.iter().zip(&ranges[1..]) {
                assert_eq!(r.end, next.start);
                assert_eq!(text.as_bytes()[r.end as usize - 1], b'\n');
            }
            let read = pieces(&path, piece).expect("a plain file");
            assert!(
                read.equals_missing(&expected),
                "pieces of {piece} bytes: {read} against {expected}"
            );
        }
    }

    #[test]
    fn every_piece_reads_times_in_the_form_of_the_files_first_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        // The first piece ends where the check's first 4 MiB block ends,
        // after the last whole line in it: the rows before are in one
        // form, the rows from the next piece on in another. Each piece
        // alone would read; the file read whole does not.
        let mut good = text(150_000);
        good.truncate(good[..(4 << 20) - 100].rfind('\n').unwrap() + 1);
        // A last row of 29 bytes and its padding: the rows end 10 bytes
        // before the block's end, and the next row is 30 bytes long.
        let pad = (4 << 20) - 10 - 29 - good.len();
        good.push_str(&format!(
            "u9,{},2020-01-01 00:00:00,1.5,\n",
            "x".repeat(pad)
        ));
        assert_eq!(good.len(), (4 << 20) - 10);
        let other = "u9,x,2020-01-01T00:00:00,1.5,\n".repeat(10_000);
        std::fs::write(&path, format!("{good}{other}")).unwrap();
        assert!(pieces(&path, 1).is_none());
        // The same rows in one form read in pieces.
        std::fs::write(&path, format!("{good}{}", other.replace('T', " "))).unwrap();
        assert!(pieces(&path, 1).is_some());
    }

    /// The frames [`csv_in_pieces`] hands over, stacked.
    fn split_pieces(path: &std::path::Path, piece: u64) -> Result<DataFrame> {
        let location =
            FileLocation::parse(&path.to_string_lossy(), path.parent().unwrap()).unwrap();
        let file = SourceFile::open(&SPEC, &location, file::of(Format::Csv)).unwrap();
        let mut all: Option<DataFrame> = None;
        csv_in_pieces(&SPEC, &file, OnBadRows::Fail, piece, &mut |df| {
            match all.as_mut() {
                None => all = Some(df),
                Some(a) => {
                    a.vstack_mut_owned(df).unwrap();
                }
            }
            Ok(())
        })?;
        Ok(all.expect("rows"))
    }

    #[test]
    fn a_file_split_by_key_is_read_in_pieces_as_it_is_read_whole_when_it_stops_being_plain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        // About 11 MiB of plain lines, then a quoted field holding a comma
        // (the fast check hands over its first 4 MiB blocks before it
        // finds the quote; the walk then looks at the file), then more.
        let good = text(300_000);
        let rest = &good[good.find('\n').unwrap() + 1..];
        std::fs::write(
            &path,
            format!("{good}\"u,9\",x,2020-01-01 00:00:00,1.5,\n{rest}"),
        )
        .unwrap();
        let expected = whole(&path);
        assert_eq!(expected.height(), 600_001);
        // The walk's pieces of 4 KiB hold about a hundred records each:
        // pieces of a byte (a record each) took a debug build 7 minutes
        // to parse one by one, and cut no other boundary.
        for piece in [1 << 12, 5 << 20, 1 << 30] {
            let read = split_pieces(&path, piece).unwrap();
            assert!(
                read.equals_missing(&expected),
                "pieces of {piece} bytes: {read} against {expected}"
            );
        }
        // A short row after the quote: refused, and named by its line.
        std::fs::write(
            &path,
            format!("{good}\"u,9\",x,2020-01-01 00:00:00,1.5,\nu9,x\n{rest}"),
        )
        .unwrap();
        let e = split_pieces(&path, 1 << 12).unwrap_err().to_string();
        assert!(e.contains("line 300003"), "{e}");
    }

    #[test]
    fn a_file_with_anything_to_look_at_late_in_it_is_left_to_the_whole_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.csv");
        let good = text(20_000);
        let late = [
            // A quoted field, a short row, a bad time, a missing value of
            // a non-`Option` column: each after several pieces.
            "\"u9\",x,2020-01-01 00:00:00,1.5,\n",
            "u9,x,2020-01-01 00:00:00\n",
            "u9,x,2020-13-01 00:00:00,1.5,\n",
            ",x,2020-01-01 00:00:00,1.5,\n",
        ];
        for row in late {
            std::fs::write(
                &path,
                format!("{good}{row}{}", &good[good.find('\n').unwrap() + 1..]),
            )
            .unwrap();
            assert!(pieces(&path, 4096).is_none(), "{row}");
        }
    }
}
