//! CSV: a pass with the `csv` crate over the records before polars reads
//! the file, since polars fills a short row with nulls and cannot say
//! which line it misread; then the typed read with polars.

use std::io::{BufRead, BufReader, Seek, SeekFrom};

use csv::{ByteRecord, Position};
use polars::prelude::*;

use super::{FileFormat, SourceFile};
use crate::error::Result;
use crate::source::bad_rows::{record_line, BadRow};
use crate::source::source_error;
use crate::source::typed::{read_columns, read_dtype};
use crate::spec::{Format, SourceSpec};

/// Comma-separated values with a header line.
pub(super) struct Csv;

impl FileFormat for Csv {
    fn format(&self) -> Format {
        Format::Csv
    }

    fn holds(&self) -> &'static str {
        "a header line and rows"
    }

    fn misread(&self, spec: &SourceSpec, file: &SourceFile) -> Result<Vec<BadRow>> {
        let t = std::time::Instant::now();
        let bad = structure(spec, file);
        tracing::debug!(
            source = spec.name,
            elapsed_ms = t.elapsed().as_millis() as u64,
            "CSV structure checked"
        );
        bad
    }

    fn without(&self, spec: &SourceSpec, file: &SourceFile, bad: &[BadRow]) -> Result<SourceFile> {
        let (copy, out) = SourceFile::copy(file.location())?;
        let io = |e: &dyn std::fmt::Display| {
            source_error(
                spec,
                file.location(),
                format!("cannot copy the good rows: {e}"),
            )
        };
        let mut reader = reader(file.read(spec)?);
        let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(out));
        let header = reader.byte_headers().map_err(|e| io(&e))?.clone();
        writer.write_byte_record(&header).map_err(|e| io(&e))?;
        let mut record = ByteRecord::new();
        let mut index = 0;
        let mut skip = bad.iter().map(|b| b.record).peekable();
        while reader.read_byte_record(&mut record).map_err(|e| io(&e))? {
            if skip.next_if_eq(&index).is_none() {
                writer.write_byte_record(&record).map_err(|e| io(&e))?;
            }
            index += 1;
        }
        writer.flush().map_err(|e| io(&e))?;
        Ok(copy)
    }

    fn scan(&self, spec: &SourceSpec, file: &SourceFile) -> Result<LazyFrame> {
        // Time columns are read as text and parsed strictly afterwards, so a
        // bad value is an error rather than a silent null.
        let mut overwrite = Schema::default();
        for c in read_columns(spec) {
            overwrite.insert(c.name.into(), read_dtype(spec, c));
        }
        // Only the declared columns are parsed, when the header has them
        // all (else every column is read, for the message that lists them).
        let header = header(file).unwrap_or_default();
        let declared: Vec<PlSmallStr> = read_columns(spec).map(|c| c.name.into()).collect();
        let projection = declared
            .iter()
            .all(|d| header.iter().any(|h| h == d.as_str()))
            .then(|| Arc::from(declared));
        // polars' reader of a whole file (mapped, split at record bounds
        // found in parallel) rather than its streaming source, whose one
        // thread counting the lines of every batch bounded the read: the
        // typed read of 10M events 1.9 -> 1.3 s, the same values.
        // It panics on a field that is a lone quote at the end of the file.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            CsvReadOptions::default()
                .with_has_header(true)
                .with_columns(projection)
                .with_schema_overwrite(Some(SchemaRef::new(overwrite.clone())))
                .with_infer_schema_length(Some(0))
                .try_into_reader_with_file_path(Some(file.path().to_path_buf()))
                .and_then(|reader| reader.finish())
        }));
        if let Ok(Ok(frame)) = read {
            return Ok(frame.lazy());
        }
        // A file that does not parse is planned lazily: its failure then
        // comes from collecting it, where the rows at fault are looked for.
        file.polars_path()
            .and_then(|path| {
                LazyCsvReader::new(path)
                    .with_has_header(true)
                    .with_dtype_overwrite(Some(SchemaRef::new(overwrite)))
                    .with_infer_schema_length(Some(0))
                    .finish()
            })
            .map_err(|e| file.read_error(spec, self, &e))
    }

    fn scan_text(&self, spec: &SourceSpec, file: &SourceFile) -> Result<LazyFrame> {
        file.polars_path()
            .and_then(|path| {
                LazyCsvReader::new(path)
                    .with_has_header(true)
                    .with_infer_schema_length(Some(0))
                    .finish()
            })
            .map_err(|e| file.read_error(spec, self, &e))
    }

    fn places(&self, file: &SourceFile, records: &[usize]) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(records.len());
        let mut wanted = records.iter().copied().peekable();
        if let (Ok(data), Ok(mut lines)) = (std::fs::File::open(file.path()), Lines::open(file)) {
            let mut reader = reader(data);
            let mut record = ByteRecord::new();
            let mut index = 0;
            while wanted.peek().is_some() && reader.read_byte_record(&mut record).unwrap_or(false) {
                if wanted.next_if_eq(&index).is_some() {
                    out.push(match record.position().map(|p| lines.start(p)) {
                        Some(Ok(line)) => format!("line {line}"),
                        _ => format!("record {}", index + 1),
                    });
                }
                index += 1;
            }
        }
        // Records the reader did not reach are named by their count.
        out.extend(wanted.map(|r| format!("record {}", r + 1)));
        Ok(out)
    }
}

fn reader<R: std::io::Read>(data: R) -> csv::Reader<BufReader<R>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(BufReader::new(data))
}

/// CSV records polars would misread: a field count other than the
/// header's (polars fills a short row with nulls), or bytes that are not
/// UTF-8. One streaming pass; nothing is kept for good records. A header
/// that names a declared column twice is an error.
fn structure(spec: &SourceSpec, file: &SourceFile) -> Result<Vec<BadRow>> {
    walk(spec, file, None)
}

/// A piece of a file the check hands over: a byte range of whole records,
/// with its bytes when the check read them (a plain file's), so that they
/// are not read from the file a second time.
pub(in crate::source) struct Piece {
    pub range: std::ops::Range<u64>,
    pub bytes: Option<Vec<u8>>,
}

/// The buffers a plain file's pieces are gathered in, handed back once a
/// piece is parsed: the next piece is copied into pages already in memory
/// rather than into fresh ones (a fresh 64 MiB for each piece faulted in
/// 0.11 of the 1.69 CPU-seconds of reading 10M events).
#[derive(Default)]
pub(in crate::source) struct PieceBuffers(std::sync::Mutex<Vec<Vec<u8>>>);

impl PieceBuffers {
    /// An empty buffer with room for `capacity` bytes.
    pub(in crate::source) fn take(&self, capacity: usize) -> Vec<u8> {
        let mut buffer = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        buffer.clear();
        buffer.reserve(capacity);
        buffer
    }

    /// A buffer done with.
    pub(in crate::source) fn give(&self, buffer: Vec<u8>) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(buffer);
    }
}

/// A file's pieces of at least `piece` bytes, each a byte range of whole
/// records (the header left out), handed to `on_piece` as the check of
/// [`structure`] finds them, which it returns at the end; `on_piece`
/// returning false stops the walk. Pieces of a plain file come with their
/// bytes, gathered in `buffers`.
pub(in crate::source) fn structure_in_pieces(
    spec: &SourceSpec,
    file: &SourceFile,
    piece: u64,
    buffers: &PieceBuffers,
    on_piece: &mut dyn FnMut(Piece) -> bool,
) -> Result<Vec<BadRow>> {
    walk(spec, file, Some((piece.max(1), buffers, on_piece)))
}

/// The names of a CSV file's header, if it has one.
pub(in crate::source) fn header(file: &SourceFile) -> Option<Vec<String>> {
    let h = reader(std::fs::File::open(file.path()).ok()?)
        .byte_headers()
        .ok()?
        .clone();
    Some(
        h.iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect(),
    )
}

type Pieces<'a> = Option<(u64, &'a PieceBuffers, &'a mut dyn FnMut(Piece) -> bool)>;

fn walk(spec: &SourceSpec, file: &SourceFile, mut pieces: Pieces<'_>) -> Result<Vec<BadRow>> {
    let location = file.location();
    // Parquet's binary header would be reported as a field count.
    let mut magic = [0u8; 4];
    if std::io::Read::read_exact(&mut file.read(spec)?, &mut magic).is_ok() && &magic == b"PAR1" {
        return Err(source_error(
            spec,
            location,
            "the file is Parquet (it starts with `PAR1`), not CSV: declare `format = \"parquet\"` \
             on the source, or give a path ending in `.parquet`",
        ));
    }
    let mut reader = reader(file.read(spec)?);
    let header = reader
        .byte_headers()
        .map_err(|e| source_error(spec, location, format!("cannot read the header: {e}")))?
        .clone();
    check_header(spec, location, &header)?;
    let width = header.len();
    let io = |e: std::io::Error| source_error(spec, location, format!("cannot read the file: {e}"));
    // Where the pieces handed over so far end: a record's first byte.
    let mut handed = 0;
    match pieces.as_mut() {
        None => {
            if plainly_whole(file.path(), width, &mut |_, _| true).map_err(io)? == Plain::Whole {
                return Ok(Vec::new());
            }
        }
        Some((piece, buffers, on_piece)) => {
            match hand_plain(file.path(), width, *piece, buffers, &mut **on_piece).map_err(io)? {
                (Plain::Stopped | Plain::Whole, _) => return Ok(Vec::new()),
                // The walk looks at the whole file, and hands over pieces
                // from where these end.
                (Plain::Not, from) => handed = from,
            }
        }
    }
    let mut lines = Lines::open(file)
        .map_err(|e| source_error(spec, location, format!("cannot open the file: {e}")))?;
    let mut raw = file.read(spec)?;
    let mut bad = Vec::new();
    let mut record = ByteRecord::new();
    let mut index = 0;
    // Where the piece being walked starts: the first record's byte.
    let mut start: Option<u64> = None;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                if let (Some((piece, _, on_piece)), Some(position)) =
                    (pieces.as_mut(), record.position())
                {
                    // Pieces are cut at a record's first byte: the `csv`
                    // crate places a record where reading it began, before
                    // the blank lines it skipped and the `\n` of a CRLF.
                    let at = lines.first_byte(position).map_err(io)?;
                    match start {
                        _ if at < handed => {}
                        None => start = Some(at),
                        Some(from) if at - from >= *piece => {
                            if !on_piece(Piece {
                                range: from..at,
                                bytes: None,
                            }) {
                                return Ok(bad);
                            }
                            start = Some(at);
                        }
                        Some(_) => {}
                    }
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(source_error(
                    spec,
                    location,
                    format!("line {line}: cannot read the CSV: {e}"),
                ));
            }
        }
        let reason = match misfit(&record, width) {
            Some(reason) => Some(reason),
            None => stray_quote(&record, &header, &mut raw)
                .map_err(|e| source_error(spec, location, format!("cannot read the file: {e}")))?,
        };
        if let Some(reason) = reason {
            let line = match record.position() {
                Some(p) => lines.start(p).map_err(|e| {
                    source_error(spec, location, format!("cannot read the file: {e}"))
                })?,
                None => 0,
            };
            bad.push(BadRow {
                record: index,
                place: format!("line {line}"),
                raw: String::from_utf8_lossy(&record_line(&record)).into_owned(),
                reason,
            });
        }
        index += 1;
    }
    if let (Some((_, _, on_piece)), Some(from)) = (pieces, start) {
        let end = std::fs::metadata(file.path())
            .map_err(|e| source_error(spec, location, format!("cannot read the file: {e}")))?
            .len();
        on_piece(Piece {
            range: from..end,
            bytes: None,
        });
    }
    Ok(bad)
}

/// A plain file's records (see [`plainly_whole`]) in pieces of at least
/// `piece` bytes, with their bytes gathered in `buffers`, handed to
/// `on_piece` as the check confirms them: true once every record is handed
/// over; false, with only some handed over, when the file is not plain (the
/// walk must look at it), its header is refused, or `on_piece` returned
/// false.
pub(in crate::source) fn plain_in_pieces(
    spec: &SourceSpec,
    file: &SourceFile,
    piece: u64,
    buffers: &PieceBuffers,
    on_piece: &mut dyn FnMut(Piece) -> bool,
) -> Result<bool> {
    let location = file.location();
    let io = |e: std::io::Error| source_error(spec, location, format!("cannot read the file: {e}"));
    let Ok(header) = reader(file.read(spec)?).byte_headers().cloned() else {
        return Ok(false);
    };
    if check_header(spec, location, &header).is_err() {
        return Ok(false);
    }
    let (plain, _) =
        hand_plain(file.path(), header.len(), piece.max(1), buffers, on_piece).map_err(io)?;
    Ok(plain == Plain::Whole)
}

/// Hands over a file's lines after its header in pieces of at least
/// `piece` bytes, as [`plainly_whole`] confirms them: in a plain file a
/// line is a record, so pieces end at line breaks. Each piece comes with
/// its bytes, copied from the check's reads into a buffer of `buffers`.
/// Returns what the check found and where the pieces handed over end.
fn hand_plain(
    path: &std::path::Path,
    width: usize,
    piece: u64,
    buffers: &PieceBuffers,
    on_piece: &mut dyn FnMut(Piece) -> bool,
) -> std::io::Result<(Plain, u64)> {
    // Room for a piece and the check's read that ends it.
    let room = usize::try_from(piece)
        .unwrap_or(usize::MAX)
        .saturating_add(READ_BLOCK)
        .min(PIECE_ROOM_MAX);
    let mut from = header_end(path)?;
    let mut bytes = buffers.take(room);
    let mut checked = from;
    let plain = plainly_whole(path, width, &mut |confirmed, lines| {
        // `lines` ends at `confirmed`; the header is not part of a piece.
        let start = confirmed - lines.len() as u64;
        let skip = from.saturating_sub(start).min(lines.len() as u64) as usize;
        bytes.extend_from_slice(&lines[skip..]);
        checked = confirmed;
        if confirmed.saturating_sub(from) < piece {
            return true;
        }
        let more = on_piece(Piece {
            range: from..confirmed,
            bytes: Some(std::mem::take(&mut bytes)),
        });
        // Once the piece is taken, the one parsed before is done with:
        // two buffers in all.
        bytes = buffers.take(room);
        from = confirmed;
        more
    })?;
    if plain == Plain::Whole && checked > from {
        // The last piece, shorter than the others. It ends where the check
        // ended, even if the file has grown since.
        if !on_piece(Piece {
            range: from..checked,
            bytes: Some(bytes),
        }) {
            return Ok((Plain::Stopped, from));
        }
        from = checked;
    } else {
        buffers.give(bytes);
    }
    Ok((plain, from))
}

/// The bytes [`plainly_whole`] reads at a time.
const READ_BLOCK: usize = 1 << 22;

/// The most a piece's buffer reserves ahead; a larger piece grows it as it
/// is gathered.
const PIECE_ROOM_MAX: usize = 1 << 28;

/// What [`plainly_whole`] found.
#[derive(Debug, PartialEq, Eq)]
enum Plain {
    /// Every record after the header is whole.
    Whole,
    /// Something the walk must look at.
    Not,
    /// `confirmed` asked to stop.
    Stopped,
}

/// Whether every record after the header is certainly whole, found at
/// memory speed: the file holds no quote and no carriage return, so each
/// line is one record and its fields are what lies between commas; it is
/// UTF-8; and every line has the header's number of fields. The walk of
/// the `csv` crate would find nothing in such a file. Anything else (a
/// quote, CRLF, a blank line, a short line) is [`Plain::Not`], and the walk
/// then finds and names the records at fault, or that there are none: this
/// decides only that there is nothing to look for, at a tenth of the cost
/// of the walk (10M events: 1.8 CPU-seconds of walk against 0.2).
/// `confirmed` is told each offset up to which the lines are found whole
/// (always a line's first byte, or the end), with the bytes found whole
/// since the offset it was told before, and stops the pass by returning
/// false.
fn plainly_whole(
    path: &std::path::Path,
    width: usize,
    confirmed: &mut dyn FnMut(u64, &[u8]) -> bool,
) -> std::io::Result<Plain> {
    use std::io::Read;
    let mut data = std::fs::File::open(path)?;
    let mut buf = vec![0u8; READ_BLOCK];
    // The file offset of `buf[0]`, and the bytes of a line not ended yet
    // at the start of `buf`.
    let (mut base, mut carry) = (0u64, 0);
    let mut header = true;
    let Some(commas) = width.checked_sub(1) else {
        return Ok(Plain::Not);
    };
    let line_ok = |line: &[u8], header: &mut bool| {
        if std::mem::take(header) {
            return true;
        }
        !line.is_empty() && memchr::memchr_iter(b',', line).count() == commas
    };
    loop {
        if carry == buf.len() {
            buf.resize(2 * buf.len(), 0);
        }
        let n = data.read(&mut buf[carry..])?;
        if n == 0 {
            // The last line, without a line break after it.
            let last = &buf[..carry];
            if last.is_empty() {
                return Ok(Plain::Whole);
            }
            if !(plain(last) && line_ok(last, &mut header)) {
                return Ok(Plain::Not);
            }
            return Ok(match confirmed(base + carry as u64, last) {
                true => Plain::Whole,
                false => Plain::Stopped,
            });
        }
        let filled = carry + n;
        let Some(end) = memchr::memrchr(b'\n', &buf[..filled]) else {
            carry = filled;
            continue;
        };
        let lines = &buf[..end];
        if !plain(lines) {
            return Ok(Plain::Not);
        }
        let mut from = 0;
        for at in memchr::memchr_iter(b'\n', lines).chain([end]) {
            if !line_ok(&lines[from..at], &mut header) {
                return Ok(Plain::Not);
            }
            from = at + 1;
        }
        base += end as u64 + 1;
        if !confirmed(base, &buf[..=end]) {
            return Ok(Plain::Stopped);
        }
        buf.copy_within(end + 1..filled, 0);
        carry = filled - end - 1;
    }
}

/// Where the header line of a file without quotes ends: the first byte
/// after its line break, or the file's end.
fn header_end(path: &std::path::Path) -> std::io::Result<u64> {
    let mut data = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut at = 0u64;
    loop {
        let buf = data.fill_buf()?;
        if buf.is_empty() {
            return Ok(at);
        }
        if let Some(i) = memchr::memchr(b'\n', buf) {
            return Ok(at + i as u64 + 1);
        }
        let len = buf.len();
        at += len as u64;
        data.consume(len);
    }
}

/// Bytes with no quote and no carriage return, and UTF-8.
fn plain(bytes: &[u8]) -> bool {
    memchr::memchr2(b'"', b'\r', bytes).is_none() && std::str::from_utf8(bytes).is_ok()
}

/// A field holding a quote that the file does not quote and escape (`x"y`
/// rather than `"x""y"`): the `csv` crate takes it as a character, polars
/// as the start of a quoted field that runs on over the next records. Only
/// records with a quote in a field are looked at in the file's bytes.
fn stray_quote(
    record: &ByteRecord,
    header: &ByteRecord,
    raw: &mut std::fs::File,
) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let Some(position) = record.position() else {
        return Ok(None);
    };
    let with_quotes: Vec<(usize, &[u8])> = record
        .iter()
        .enumerate()
        .filter(|(_, f)| f.contains(&b'"'))
        .collect();
    if with_quotes.is_empty() {
        return Ok(None);
    }
    // The record's bytes are at most every field quoted with its quotes
    // doubled, and the separators.
    let bound: usize = record.iter().map(|f| 2 * f.len() + 3).sum::<usize>() + 2;
    raw.seek(SeekFrom::Start(position.byte()))?;
    let mut bytes = Vec::with_capacity(bound);
    raw.take(bound as u64).read_to_end(&mut bytes)?;
    for (i, field) in with_quotes {
        let escaped = record_line(&ByteRecord::from(vec![field]));
        if !bytes
            .windows(escaped.len())
            .any(|w| w == escaped.as_slice())
        {
            let name = header
                .get(i)
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            return Ok(Some(format!(
                "column `{name}`: `{}` holds a quote in a field that is not quoted; \
                 quote the field and double the quote: `{}`",
                String::from_utf8_lossy(field),
                String::from_utf8_lossy(&escaped)
            )));
        }
    }
    Ok(None)
}

/// Why polars would misread `record`, if it would.
fn misfit(record: &ByteRecord, width: usize) -> Option<String> {
    if record.len() != width {
        // A quote the parser took as opening a field makes that field run
        // on over the next lines.
        let quote = if record
            .iter()
            .any(|f| f.contains(&b'\n') || f.contains(&b'"'))
        {
            " (an unclosed quote?)"
        } else {
            ""
        };
        return Some(format!(
            "{} field(s), expected {width} as in the header{quote}",
            record.len()
        ));
    }
    record
        .iter()
        .position(|f| std::str::from_utf8(f).is_err())
        .map(|i| format!("field {} is not valid UTF-8 text", i + 1))
}

/// A declared column named twice in the header is an error: which of the
/// two holds it is anyone's guess (polars would take the first).
fn check_header(spec: &SourceSpec, location: &str, header: &ByteRecord) -> Result<()> {
    for c in read_columns(spec) {
        let fields: Vec<String> = header
            .iter()
            .enumerate()
            .filter(|(_, name)| *name == c.name.as_bytes())
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        match &fields[..] {
            [init @ .., last] if !init.is_empty() => {
                return Err(source_error(
                    spec,
                    location,
                    format!(
                        "line 1: the header names column `{}` in fields {} and {last}; keep \
                         one, or rename the others",
                        c.name,
                        init.join(", ")
                    ),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The lines records start on. The `csv` crate gives a record the position
/// where reading it began: before the blank lines it skipped, and before
/// the `\n` of the `\r\n` that ended the record before it (so one line
/// short in a CRLF file). The newlines between that position and the
/// record's first byte are counted here, from the file.
struct Lines {
    file: BufReader<std::fs::File>,
    /// The byte offset `file` is at.
    at: u64,
}

impl Lines {
    fn open(file: &SourceFile) -> std::io::Result<Lines> {
        Ok(Lines {
            file: BufReader::new(std::fs::File::open(file.path())?),
            at: 0,
        })
    }

    /// The line the record read from `position` starts on.
    fn start(&mut self, position: &Position) -> std::io::Result<u64> {
        let (newlines, _) = self.skip_to_record(position)?;
        Ok(position.line() + newlines)
    }

    /// The byte the record read from `position` starts at.
    fn first_byte(&mut self, position: &Position) -> std::io::Result<u64> {
        Ok(self.skip_to_record(position)?.1)
    }

    /// Moves past the line ends before the record read from `position`:
    /// how many newlines they hold, and the record's first byte.
    fn skip_to_record(&mut self, position: &Position) -> std::io::Result<(u64, u64)> {
        let target = position.byte();
        // Records are looked up in order: move forward within the buffer.
        match target.checked_sub(self.at).map(i64::try_from) {
            Some(Ok(ahead)) => self.file.seek_relative(ahead)?,
            _ => {
                self.file.seek(SeekFrom::Start(target))?;
            }
        }
        self.at = target;
        let mut newlines = 0;
        loop {
            let buf = self.file.fill_buf()?;
            let skipped = buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            newlines += buf[..skipped].iter().filter(|&&b| b == b'\n').count() as u64;
            let done = skipped < buf.len() || buf.is_empty();
            self.file.consume(skipped);
            self.at += skipped as u64;
            if done {
                return Ok((newlines, self.at));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{plainly_whole, Plain};

    /// What the `csv` crate makes of the text: every record after the
    /// header has `width` fields of UTF-8, and no field holds a quote.
    fn walk_finds_nothing(text: &[u8], width: usize) -> bool {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text);
        reader.byte_records().all(|r| {
            r.is_ok_and(|r| {
                r.len() == width
                    && r.iter()
                        .all(|f| std::str::from_utf8(f).is_ok() && !f.contains(&b'"'))
            })
        })
    }

    #[test]
    fn plain_files_are_told_apart_from_those_the_walk_must_look_at() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        let cases: &[(&[u8], bool)] = &[
            (b"a,b,c\n1,2,3\n4,5,6\n", true),
            (b"a,b,c\n1,2,3\n4,5,6", true),
            (b"a,b,c\n1,,\n,,\n", true),
            (b"a,b,c\n", true),
            (b"a,b,c", true),
            (b"a,b,c\n1,2\n4,5,6\n", false),
            (b"a,b,c\n1,2,3,4\n", false),
            (b"a,b,c\n1,2,3\n\n4,5,6\n", false),
            (b"a,b,c\r\n1,2,3\r\n", false),
            (b"a,b,c\n1,\"2\",3\n", false),
            (b"a,b,c\n1,x\"y,3\n", false),
            (b"a,b,c\n1,\xff,3\n", false),
            (b"\"a\",b,c\n1,2,3\n", false),
        ];
        for (text, plain) in cases {
            std::fs::write(&path, text).unwrap();
            let found = plainly_whole(&path, 3, &mut |_, _| true).unwrap() == Plain::Whole;
            assert_eq!(found, *plain, "{}", String::from_utf8_lossy(text));
            // Plain is only ever said of text the walk finds nothing in.
            if found {
                assert!(walk_finds_nothing(text, 3));
            }
        }
    }

    #[test]
    fn lines_across_the_read_buffer_and_longer_than_it_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        // 5 MiB of rows (the buffer is 4 MiB), one field of 6 MiB, and a
        // short row after them: it must still be found.
        let mut text = b"a,b\n".to_vec();
        while text.len() < 5 << 20 {
            text.extend_from_slice("1234567,\u{e9}t\u{e9}\n".as_bytes());
        }
        text.extend(std::iter::repeat_n(b'x', 6 << 20));
        text.extend_from_slice(b",y\n");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            plainly_whole(&path, 2, &mut |_, _| true).unwrap(),
            Plain::Whole
        );
        text.extend_from_slice(b"short\n");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            plainly_whole(&path, 2, &mut |_, _| true).unwrap(),
            Plain::Not
        );
    }
}
