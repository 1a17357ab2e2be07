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

/// The rows of each day of `timestamp`, in their order within the day.
pub(super) fn split_by_day(frame: &DataFrame) -> Result<Vec<(NaiveDate, IdxCa)>> {
    if frame.height() == 0 {
        return Ok(Vec::new());
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
    // Each core sorts a piece of the rows by day with a counting sort (a
    // run spans few days and many rows, and the sort keeps each day's rows
    // in their order); a day's rows are then its runs in piece order.
    use rayon::prelude::*;
    let ts = ts.rechunk();
    let times = ts.cont_slice().expect("one chunk without nulls");
    let (first, last) = (ts.min().expect("rows"), ts.max().expect("rows"));
    let (first, last) = (first.div_euclid(DAY_US), last.div_euclid(DAY_US));
    let span = (last - first) as usize + 1;
    let piece = times.len().div_ceil(rayon::current_num_threads().max(1));
    let sorted: Vec<(Vec<usize>, Vec<IdxSize>)> = times
        .par_chunks(piece)
        .enumerate()
        .map(|(p, times)| {
            let at = p * piece;
            let mut starts = vec![0usize; span + 1];
            for t in times {
                starts[(t.div_euclid(DAY_US) - first) as usize + 1] += 1;
            }
            for i in 1..starts.len() {
                starts[i] += starts[i - 1];
            }
            let mut next = starts.clone();
            let mut order = vec![0 as IdxSize; times.len()];
            for (row, t) in times.iter().enumerate() {
                let slot = &mut next[(t.div_euclid(DAY_US) - first) as usize];
                order[*slot] = (at + row) as IdxSize;
                *slot += 1;
            }
            (starts, order)
        })
        .collect();
    Ok((0..span)
        .into_par_iter()
        .filter_map(|d| {
            let len: usize = sorted.iter().map(|(s, _)| s[d + 1] - s[d]).sum();
            (len > 0).then(|| {
                let mut rows = Vec::with_capacity(len);
                for (starts, order) in &sorted {
                    rows.extend_from_slice(&order[starts[d]..starts[d + 1]]);
                }
                (
                    day_to_date(first + d as i64),
                    IdxCa::from_vec("idx".into(), rows),
                )
            })
        })
        .collect())
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
        let got: Vec<(String, Vec<IdxSize>)> = split_by_day(&frame)
            .expect("splits")
            .into_iter()
            .map(|(day, idx)| (day.to_string(), idx.into_no_null_iter().collect()))
            .collect();
        let expected = vec![
            ("1969-12-31".to_string(), vec![3]),
            ("2020-01-01".to_string(), vec![1, 4]),
            ("2020-01-03".to_string(), vec![0, 2, 5]),
        ];
        assert_eq!(got, expected);
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
