//! Where a day's rows go: Hive-style day partitions
//! (`year=Y/month=M/day=D/part-00000.parquet`), rows split by day, and each
//! day encoded as one Parquet file.

use bytes::Bytes;
use chrono::{Datelike, NaiveDate};
use object_store::path::Path as StorePath;
use polars::prelude::*;

use crate::error::{Error, PolarsContext, Result};
use crate::spec::TIMESTAMP_COLUMN;
use crate::time::{day_to_date, DAY_US};

/// The one data file of a day partition.
pub(super) const PART_FILE: &str = "part-00000.parquet";

/// The directory of `day`'s partition in `table`.
pub(super) fn partition_path(table: &StorePath, day: NaiveDate) -> StorePath {
    table
        .clone()
        .join(format!("year={}", day.year()).as_str())
        .join(format!("month={}", day.month()).as_str())
        .join(format!("day={}", day.day()).as_str())
}

/// What a file below a table is, from its path below the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Entry {
    /// The one file this store writes for a day:
    /// `year=Y/month=M/day=D/part-00000.parquet`, the numbers written as
    /// [`partition_path`] writes them. Only these are replaced or deleted.
    Owned(NaiveDate),
    /// Another Parquet file of a day partition (another writer's, or
    /// Spark's `part-…-….c000.snappy.parquet`): read as the day's data, as
    /// every Hive reader does, but never replaced or deleted.
    Data(NaiveDate),
    /// Anything else (a text file, a hidden file, a folder of another
    /// layout such as `month=05/`), with the days its path lies in, when it
    /// lies in a `year=`, `month=` or `day=` folder: never read nor touched.
    Foreign(Option<(NaiveDate, NaiveDate)>),
}

/// Classifies a file of a table by its path below the table.
pub(super) fn classify(parts: &[String]) -> Entry {
    if let [y, m, d, file] = parts {
        if let Some(day) = canonical_day(y, m, d) {
            if file == PART_FILE {
                return Entry::Owned(day);
            }
            // Names starting with `_` or `.` are not data to Hive readers
            // (`_SUCCESS`, checksums, temporary files).
            if file.ends_with(".parquet") && !file.starts_with(['_', '.']) {
                return Entry::Data(day);
            }
        }
    }
    Entry::Foreign(span(parts))
}

/// The day of a partition directory written exactly as [`partition_path`]
/// writes it (`month=5`, not `month=05`).
fn canonical_day(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    let year: i32 = y.strip_prefix("year=")?.parse().ok()?;
    let month: u32 = m.strip_prefix("month=")?.parse().ok()?;
    let day: u32 = d.strip_prefix("day=")?.parse().ok()?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let canonical = [
        format!("year={year}"),
        format!("month={month}"),
        format!("day={day}"),
    ];
    (canonical == [y, m, d]).then_some(date)
}

/// The days a path lies in, read leniently from its leading `year=`,
/// `month=`, `day=` folders (`month=05` is May): a foreign file in
/// `year=2020/month=05/` lies in May 2020.
fn span(parts: &[String]) -> Option<(NaiveDate, NaiveDate)> {
    let folders = parts.get(..parts.len().saturating_sub(1))?;
    let value =
        |i: usize, key: &str| -> Option<u32> { folders.get(i)?.strip_prefix(key)?.parse().ok() };
    let year = i32::try_from(value(0, "year=")?).ok()?;
    let Some(month) = value(1, "month=") else {
        return Some((
            NaiveDate::from_ymd_opt(year, 1, 1)?,
            NaiveDate::from_ymd_opt(year, 12, 31)?,
        ));
    };
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    if let Some(day) = value(2, "day=") {
        let day = NaiveDate::from_ymd_opt(year, month, day)?;
        return Some((day, day));
    }
    let next = first.checked_add_months(chrono::Months::new(1))?;
    Some((first, next.pred_opt()?))
}

/// The rows of each day of a frame's `timestamp`, in their order within
/// the day, as [`split_by_day`] finds them.
///
/// Each piece of the column (a piece never spans two of its chunks) holds
/// its rows sorted by day, as numbers within their chunk: a day's rows are
/// the runs of that day in piece order, read where they are, not copied into
/// a list per day.
pub(super) struct DaySplit {
    first: i64,
    /// The rows of each chunk of the column.
    chunks: Vec<usize>,
    pieces: Vec<DayPiece>,
    days: Vec<(NaiveDate, usize)>,
}

struct DayPiece {
    chunk: usize,
    /// Where the rows of day `d` are in `order`: `starts[d]..starts[d + 1]`.
    starts: Vec<usize>,
    order: Vec<IdxSize>,
}

impl DaySplit {
    /// The days with rows, in order, and how many rows each has.
    pub(super) fn days(&self) -> &[(NaiveDate, usize)] {
        &self.days
    }

    /// The rows of `day`, chunk by chunk: each chunk's rows, numbered
    /// within it, in ascending order.
    fn by_chunk(&self, day: NaiveDate) -> Vec<(usize, Vec<IdxSize>)> {
        let Ok(d) = usize::try_from(crate::time::epoch_day(day) - self.first) else {
            return Vec::new();
        };
        let mut out: Vec<(usize, Vec<IdxSize>)> = Vec::new();
        for p in &self.pieces {
            let Some(run) = p.starts.get(d..d + 2).map(|s| &p.order[s[0]..s[1]]) else {
                continue;
            };
            if run.is_empty() {
                continue;
            }
            match out.last_mut() {
                Some((chunk, rows)) if *chunk == p.chunk => rows.extend_from_slice(run),
                _ => out.push((p.chunk, run.to_vec())),
            }
        }
        out
    }

    /// The rows of `day`, numbered in the frame, in their order.
    pub(super) fn rows(&self, day: NaiveDate) -> Vec<IdxSize> {
        let offsets = self.offsets();
        self.by_chunk(day)
            .into_iter()
            .flat_map(|(chunk, rows)| {
                let at = offsets[chunk] as IdxSize;
                rows.into_iter().map(move |r| at + r)
            })
            .collect()
    }

    fn offsets(&self) -> Vec<usize> {
        let mut at = 0;
        self.chunks
            .iter()
            .map(|len| {
                at += len;
                at - len
            })
            .collect()
    }

    /// The rows of `day` of `frame` (the frame split), each column in one
    /// chunk, column by column on the calling thread (a frame's gather fans
    /// out to polars' own pool, which parks a worker of the global pool).
    ///
    /// A column in the same chunks as the split's `timestamp` is gathered
    /// chunk by chunk, each from one chunk; the pieces are then copied into
    /// one. A gather across chunks would look up each row's chunk, several
    /// times the cost of that copy.
    pub(super) fn gather(&self, frame: &DataFrame, day: NaiveDate) -> Result<DataFrame> {
        let by_chunk = self.by_chunk(day);
        let offsets = self.offsets();
        let rows: usize = by_chunk.iter().map(|(_, r)| r.len()).sum();
        // The day's rows numbered in the frame, made once if a column needs them.
        let mut numbered: Option<Vec<IdxSize>> = None;
        let columns = frame
            .columns()
            .iter()
            .map(|c| match c.as_series() {
                Some(s) if s.chunk_lengths().eq(self.chunks.iter().copied()) => {
                    let mut gathered: Option<Series> = None;
                    for (chunk, rows) in &by_chunk {
                        let chunk_rows = s.slice(offsets[*chunk] as i64, self.chunks[*chunk]);
                        // Rows next to each other (see `by_day_in_chunks`)
                        // are a slice, copied once below.
                        let (first, last) = (rows[0], rows[rows.len() - 1]);
                        let piece = if (last - first) as usize + 1 == rows.len() {
                            chunk_rows.slice(first as i64, rows.len())
                        } else {
                            chunk_rows.take_slice(rows)?
                        };
                        match &mut gathered {
                            Some(g) => {
                                g.append_owned(piece)?;
                            }
                            None => gathered = Some(piece),
                        }
                    }
                    Ok(gathered
                        .map_or_else(|| s.clear(), |g| g.rechunk())
                        .into_column())
                }
                _ => c.take_slice(numbered.get_or_insert_with(|| self.rows(day))),
            })
            .collect::<PolarsResult<Vec<Column>>>()
            .ctx(|| format!("partitioning by day ({day})"))?;
        DataFrame::new(rows, columns).ctx(|| format!("partitioning by day ({day})"))
    }
}

/// The most rows [`by_day_in_chunks`] reorders at once: about 19 MB of a
/// feature set's rows of a key, a time and three counts.
const DAY_ORDER_ROWS: usize = 1 << 19;

/// `frame`'s rows with each chunk of its `timestamp` ordered by day, a
/// day's rows in their order: the chunks of a feature set's rows are blocks
/// of keys, so each day's rows, in key order, become one run per block, and
/// [`DaySplit::gather`] copies runs rather than gathering rows one by one
/// across the whole frame (a cache miss per row and column: 28% of the
/// historical write's CPU). Each chunk is reordered alone, in parts of at
/// most [`DAY_ORDER_ROWS`] rows (each part a chunk of the result), on every
/// core, while it fits in the cache, and freed once reordered. A day's file
/// is the same either way. Frames without a `timestamp`, or with a null
/// one, are returned as they are (the split refuses them).
pub(crate) fn by_day_in_chunks(frame: DataFrame) -> Result<DataFrame> {
    by_day_in_parts(frame, DAY_ORDER_ROWS)
}

/// [`by_day_in_chunks`] in parts of at most `most` rows.
fn by_day_in_parts(frame: DataFrame, most: usize) -> Result<DataFrame> {
    use rayon::prelude::*;
    let Ok(ts) = frame.column(TIMESTAMP_COLUMN).and_then(|c| c.datetime()) else {
        return Ok(frame);
    };
    if frame.height() == 0 || ts.null_count() > 0 {
        return Ok(frame);
    }
    // A longer chunk (a frame of few keys, or made one chunk) is
    // reordered in parts: on every core, each in the cache.
    let most = most.max(1);
    let mut at = 0i64;
    let mut parts: Vec<DataFrame> = Vec::new();
    for len in ts.physical().chunk_lengths() {
        for part in (0..len).step_by(most) {
            let rows = most.min(len - part);
            parts.push(frame.slice(at, rows));
            at += rows as i64;
        }
    }
    // The parts hold the chunks now: each is freed with its part.
    drop(frame);
    let parts: Vec<DataFrame> = parts
        .into_par_iter()
        .map(|part| {
            let ts = part
                .column(TIMESTAMP_COLUMN)
                .and_then(|c| c.datetime())
                .ctx(|| "timestamp column".into())?
                .physical()
                .rechunk();
            let times = ts.cont_slice().ctx(|| "timestamp column".into())?;
            let day = |t: &i64| t.div_euclid(DAY_US);
            if times.is_sorted_by_key(day) {
                return Ok(part);
            }
            let first = times.iter().map(day).min().expect("rows");
            let span = (times.iter().map(day).max().expect("rows") - first) as usize + 1;
            let (_, order) = sorted_by_day(times, first, span, 0);
            // Column by column on this thread (a frame's gather fans out to
            // polars' pool, which parks a worker of the global one).
            let columns = part
                .columns()
                .iter()
                .map(|c| c.take_slice(&order))
                .collect::<PolarsResult<Vec<Column>>>()
                .ctx(|| "rows by day".into())?;
            DataFrame::new(part.height(), columns).ctx(|| "rows by day".into())
        })
        .collect::<Result<_>>()?;
    let mut parts = parts.into_iter();
    let mut out = parts.next().expect("a chunk");
    for part in parts {
        out.vstack_mut_owned(part).ctx(|| "rows by day".into())?;
    }
    Ok(out)
}

/// The rows of `times` (microseconds, numbered from `at`) sorted by day with
/// a counting sort (a run spans few days and many rows), each day's rows in
/// their order: where the rows of day `first + d` start in the order
/// (`starts[d]..starts[d + 1]`), and the order. Every time's day is in
/// `first..first + span`.
fn sorted_by_day(
    times: &[i64],
    first: i64,
    span: usize,
    at: IdxSize,
) -> (Vec<usize>, Vec<IdxSize>) {
    let mut starts = vec![0usize; span + 1];
    for t in times {
        starts[(t.div_euclid(DAY_US) - first) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut next = starts.clone();
    let mut order = vec![0 as IdxSize; times.len()];
    for (row, t) in (at..).zip(times) {
        let slot = &mut next[(t.div_euclid(DAY_US) - first) as usize];
        order[*slot] = row;
        *slot += 1;
    }
    (starts, order)
}

/// Splits the rows of `frame` by the day of their `timestamp`.
pub(super) fn split_by_day(frame: &DataFrame) -> Result<DaySplit> {
    if frame.height() == 0 {
        return Ok(DaySplit {
            first: 0,
            chunks: Vec::new(),
            pieces: Vec::new(),
            days: Vec::new(),
        });
    }
    let ts = frame
        .column(TIMESTAMP_COLUMN)
        .ctx(|| "timestamp column".into())?
        .datetime()
        .ctx(|| "timestamp column".into())?
        .physical()
        .clone();
    if ts.null_count() > 0 {
        return Err(Error::Invalid("a row has a null timestamp".to_string()));
    }
    // Each core sorts pieces of the rows by day with a counting sort (a
    // run spans few days and many rows, and the sort keeps each day's rows
    // in their order). The pieces are cut from the column's chunks, which
    // are not copied into one.
    use rayon::prelude::*;
    let (first, last) = (ts.min().expect("rows"), ts.max().expect("rows"));
    let (first, last) = (first.div_euclid(DAY_US), last.div_euclid(DAY_US));
    let span = (last - first) as usize + 1;
    let piece = ts.len().div_ceil(rayon::current_num_threads().max(1));
    let mut cut: Vec<(usize, IdxSize, &[i64])> = Vec::new();
    for (chunk, array) in ts.downcast_iter().enumerate() {
        let values = array.values().as_slice();
        for (k, times) in values.chunks(piece).enumerate() {
            cut.push((chunk, (k * piece) as IdxSize, times));
        }
    }
    let pieces: Vec<DayPiece> = cut
        .into_par_iter()
        .map(|(chunk, at, times)| {
            let (starts, order) = sorted_by_day(times, first, span, at);
            DayPiece {
                chunk,
                starts,
                order,
            }
        })
        .collect();
    let days = (0..span)
        .filter_map(|d| {
            let rows: usize = pieces.iter().map(|p| p.starts[d + 1] - p.starts[d]).sum();
            (rows > 0).then(|| (day_to_date(first + d as i64), rows))
        })
        .collect();
    Ok(DaySplit {
        first,
        chunks: ts.chunk_lengths().collect(),
        pieces,
        days,
    })
}

/// Encodes day partitions as Parquet, in parallel.
pub(super) fn encode_partitions(
    batch: Vec<(NaiveDate, DataFrame)>,
) -> Result<Vec<(NaiveDate, Bytes)>> {
    use rayon::prelude::*;
    batch
        .into_par_iter()
        .map(|(day, mut part)| {
            let mut buf = Vec::new();
            // Snappy, as Spark writes Parquet by default: several times
            // cheaper to encode than zstd on many small day files.
            ParquetWriter::new(&mut buf)
                .with_compression(ParquetCompression::Snappy)
                // Parallel over partitions already: see `read_unordered`
                // on nesting polars' pool in the global one.
                .set_parallel(false)
                .finish(&mut part)
                .ctx(|| format!("encoding the partition of {day}"))?;
            Ok((day, Bytes::from(buf)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: &str, hour: u32) -> i64 {
        NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .expect("a date")
            .and_hms_opt(hour, 0, 0)
            .expect("a time")
            .and_utc()
            .timestamp_micros()
    }

    #[test]
    fn rows_split_by_day_keep_their_order_within_each_day() {
        // Rows sorted by key then time, so the days interleave; a day
        // between them has no row, and one row is before the epoch.
        let times = [
            at("2020-01-03", 5),
            at("2020-01-01", 0),
            at("2020-01-03", 1),
            at("1969-12-31", 23),
            at("2020-01-01", 23),
            at("2020-01-03", 0),
        ];
        let frame = DataFrame::new(
            times.len(),
            vec![
                Int64Chunked::from_vec(TIMESTAMP_COLUMN.into(), times.to_vec())
                    .into_datetime(TimeUnit::Microseconds, None)
                    .into_column(),
            ],
        )
        .expect("a frame");
        let split = split_by_day(&frame).expect("splits");
        let got: Vec<(String, Vec<IdxSize>)> = split
            .days()
            .iter()
            .map(|&(day, _)| (day.to_string(), split.rows(day)))
            .collect();
        let expected = vec![
            ("1969-12-31".to_string(), vec![3]),
            ("2020-01-01".to_string(), vec![1, 4]),
            ("2020-01-03".to_string(), vec![0, 2, 5]),
        ];
        assert_eq!(got, expected);
    }

    /// A frame of 11 rows of `times`: column `k` (made by `key` from each
    /// chunk's rows) and `timestamp` in three chunks (rows 0..4, 4..9,
    /// 9..11), column `other` (`other(i)` of row `i`) in two chunks of its
    /// own (0..6, 6..11).
    fn three_chunks(
        times: &[i64],
        key: impl Fn(std::ops::Range<usize>) -> Column,
        other: impl Fn(i64) -> i64,
    ) -> DataFrame {
        let piece = |r: std::ops::Range<usize>| {
            DataFrame::new(
                r.len(),
                vec![
                    key(r.clone()),
                    Int64Chunked::from_vec(TIMESTAMP_COLUMN.into(), times[r].to_vec())
                        .into_datetime(TimeUnit::Microseconds, None)
                        .into_column(),
                ],
            )
            .expect("a frame")
        };
        let mut frame = piece(0..4);
        frame.vstack_mut_owned(piece(4..9)).expect("stacks");
        frame.vstack_mut_owned(piece(9..11)).expect("stacks");
        let column = |r: std::ops::Range<i64>| {
            Series::new("other".into(), r.map(&other).collect::<Vec<i64>>())
        };
        let mut others = column(0..6);
        others.append_owned(column(6..11)).expect("appends");
        frame.with_column(others.into_column()).expect("a column");
        frame
    }

    #[test]
    fn a_day_of_a_frame_in_chunks_is_its_rows_in_order() {
        // Rows of three days over three chunks; column `k` is in the
        // timestamp's chunks, column `other` in chunks of its own.
        let times: Vec<i64> = (0..11)
            .map(|i| at("2020-01-01", 0) + (i % 3) * DAY_US)
            .collect();
        let frame = three_chunks(
            &times,
            |r| Column::new("k".into(), r.map(|i| format!("k{i}")).collect::<Vec<_>>()),
            |i| i,
        );
        assert_eq!(frame.column("k").unwrap().n_chunks(), 3);
        assert_eq!(frame.column("other").unwrap().n_chunks(), 2);

        let split = split_by_day(&frame).expect("splits");
        let days: Vec<(String, usize)> = split
            .days()
            .iter()
            .map(|(d, n)| (d.to_string(), *n))
            .collect();
        assert_eq!(
            days,
            [("2020-01-01", 4), ("2020-01-02", 4), ("2020-01-03", 3)]
                .map(|(d, n)| (d.to_string(), n))
        );
        for (day, _) in split.days() {
            // The rows of the day, numbered by hand: every third from its
            // first.
            let first = (*day - NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()).num_days();
            let rows: Vec<IdxSize> = (first as IdxSize..11).step_by(3).collect();
            assert_eq!(split.rows(*day), rows, "{day}");
            let got = split.gather(&frame, *day).expect("gathers");
            let keys: Vec<String> = rows.iter().map(|r| format!("k{r}")).collect();
            let expected = df!(
                "k" => keys,
                TIMESTAMP_COLUMN => rows.iter().map(|&r| times[r as usize]).collect::<Vec<_>>(),
                "other" => rows.iter().map(|&r| i64::from(r)).collect::<Vec<_>>(),
            )
            .unwrap()
            .lazy()
            .with_column(
                col(TIMESTAMP_COLUMN).cast(DataType::Datetime(TimeUnit::Microseconds, None)),
            )
            .collect()
            .unwrap();
            assert!(got.equals(&expected), "{day}: {got} against {expected}");
            // Written as one chunk per column, as the whole frame's rows were.
            assert!(got.columns().iter().all(|c| c.n_chunks() == 1), "{day}");
        }
    }

    #[test]
    fn each_chunk_by_day_gives_every_day_the_same_rows() {
        // Days interleaved in every chunk; column `other` is in chunks of
        // its own.
        let times: Vec<i64> = (0..11)
            .map(|i| at("2020-01-01", 0) + ((i * 7) % 4) * DAY_US + i)
            .collect();
        let frame = three_chunks(
            &times,
            |r| Column::new("k".into(), r.map(|i| i as i64).collect::<Vec<_>>()),
            |i| 10 * i,
        );

        // Whole chunks, then parts of at most three rows.
        for (most, parts) in [
            (DAY_ORDER_ROWS, vec![0..4usize, 4..9, 9..11]),
            (3, vec![0..3, 3..4, 4..7, 7..9, 9..11]),
        ] {
            let by_day = by_day_in_parts(frame.clone(), most).expect("reorders");
            let ts = by_day
                .column(TIMESTAMP_COLUMN)
                .unwrap()
                .as_materialized_series();
            let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            assert_eq!(ts.chunk_lengths().collect::<Vec<_>>(), lengths);
            // Each part's rows sorted by day, then by their place.
            let mut expected: Vec<i64> = Vec::new();
            for part in parts {
                let mut rows: Vec<i64> = part.map(|i| i as i64).collect();
                rows.sort_by_key(|&i| (times[i as usize].div_euclid(DAY_US), i));
                expected.extend(rows);
            }
            let got: Vec<i64> = by_day
                .column("k")
                .unwrap()
                .i64()
                .unwrap()
                .into_no_null_iter()
                .collect();
            assert_eq!(got, expected);
            let other: Vec<i64> = by_day
                .column("other")
                .unwrap()
                .i64()
                .unwrap()
                .into_no_null_iter()
                .collect();
            assert_eq!(other, expected.iter().map(|i| 10 * i).collect::<Vec<_>>());

            let (before, after) = (
                split_by_day(&frame).unwrap(),
                split_by_day(&by_day).unwrap(),
            );
            assert_eq!(before.days(), after.days());
            assert_eq!(before.days().len(), 4);
            for (day, _) in before.days() {
                let (a, b) = (
                    before.gather(&frame, *day).unwrap(),
                    after.gather(&by_day, *day).unwrap(),
                );
                assert!(a.equals(&b), "{day}: {a} against {b}");
            }
        }
    }

    fn parts(path: &str) -> Vec<String> {
        path.split('/').map(str::to_string).collect()
    }

    #[test]
    fn only_the_part_file_of_a_canonical_day_partition_is_owned() {
        let may12 = NaiveDate::from_ymd_opt(2020, 5, 12).unwrap();
        let may = (
            NaiveDate::from_ymd_opt(2020, 5, 1).unwrap(),
            NaiveDate::from_ymd_opt(2020, 5, 31).unwrap(),
        );
        let year = (
            NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2020, 12, 31).unwrap(),
        );
        let cases = [
            (
                "year=2020/month=5/day=12/part-00000.parquet",
                Entry::Owned(may12),
            ),
            (
                "year=2020/month=5/day=12/part-00001-3f2a.c000.snappy.parquet",
                Entry::Data(may12),
            ),
            (
                "year=2020/month=5/day=12/NOTES.txt",
                Entry::Foreign(Some((may12, may12))),
            ),
            (
                "year=2020/month=5/day=12/.part-00000.parquet.crc",
                Entry::Foreign(Some((may12, may12))),
            ),
            (
                "year=2020/month=5/day=12/_SUCCESS",
                Entry::Foreign(Some((may12, may12))),
            ),
            // Another layout of the same day is not ours.
            (
                "year=2020/month=05/day=12/part-00000.parquet",
                Entry::Foreign(Some((may12, may12))),
            ),
            ("year=2020/month=05/data.csv", Entry::Foreign(Some(may))),
            (
                "year=2020/month=5/day=12/month=05/part-00000.parquet",
                Entry::Foreign(Some((may12, may12))),
            ),
            ("year=2020/README", Entry::Foreign(Some(year))),
            ("README", Entry::Foreign(None)),
        ];
        for (path, expected) in cases {
            assert_eq!(classify(&parts(path)), expected, "{path}");
        }
    }

    #[test]
    fn a_null_timestamp_is_refused() {
        let frame = DataFrame::new(
            2,
            vec![Int64Chunked::new(TIMESTAMP_COLUMN.into(), [Some(0), None])
                .into_datetime(TimeUnit::Microseconds, None)
                .into_column()],
        )
        .expect("a frame");
        assert!(split_by_day(&frame).is_err());
    }
}
