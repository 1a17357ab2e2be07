//! The historical store: Parquet partitioned by day, through `object_store`.
//!
//! Layout: `{root}/{entity}/{feature_set}/year=Y/month=M/day=D/part-00000.parquet`
//! with `year`, `month`, `day` in the path only (as Hive and Spark write them);
//! [`HistoricalStore::read`] adds them back as columns.
//!
//! A run replaces exactly the day partitions of its range. Every new partition
//! is first written as `_staging/{run id}/{day}.parquet`, then moved over the old file
//! with one rename each (atomic on a file system, a copy of one object on an
//! object store), so a partition is always either entirely old or entirely new;
//! partitions of the range that now have no rows are deleted last. A run that
//! fails before the swap leaves every partition as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{Datelike, NaiveDate};
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use polars::prelude::*;

use crate::error::{Error, PolarsContext, Result};
use crate::spec::{FeatureSetSpec, TIMESTAMP_COLUMN};
use crate::time::{day_to_date, DAY_US};

const PART_FILE: &str = "part-00000.parquet";
const STAGING: &str = "_staging";
/// Partitions encoded and staged together.
const STAGE_BATCH: usize = 64;
/// Object-store requests in flight at once.
const IO_CONCURRENCY: usize = 16;

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoricalWrite {
    /// Rows written.
    pub rows: usize,
    /// Day partitions written (replaced or new).
    pub partitions_written: usize,
    /// Day partitions of the range deleted because the run has no rows for them.
    pub partitions_deleted: usize,
}

/// A historical store rooted at a local directory or object-store URL.
#[derive(Debug, Clone)]
pub struct HistoricalStore {
    store: Arc<dyn ObjectStore>,
    location: String,
    /// The directory of a local store: renames leave empty staging
    /// directories behind, which only the file system can remove.
    local_root: Option<std::path::PathBuf>,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl HistoricalStore {
    /// Opens the store at `location`: a local directory (created if missing)
    /// or a `file://` URL.
    pub fn open(location: &str) -> Result<Self> {
        let local = location.strip_prefix("file://").unwrap_or(location);
        if local.contains("://") {
            return Err(Error::Historical {
                location: location.to_string(),
                message: "this build supports local paths and file:// URLs".to_string(),
            });
        }
        std::fs::create_dir_all(local).map_err(|e| Error::Io {
            context: format!("creating the historical store directory {local}"),
            source: e,
        })?;
        let store = LocalFileSystem::new_with_prefix(local)
            .map_err(|e| store_error(location, e))?
            .with_automatic_cleanup(true);
        let mut opened = Self::with_store(Arc::new(store), location)?;
        opened.local_root = Some(std::path::PathBuf::from(local));
        Ok(opened)
    }

    /// A store over any `object_store` implementation (S3, GCS, Azure, memory…).
    pub fn with_store(store: Arc<dyn ObjectStore>, location: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::Io {
                context: "starting the I/O runtime".to_string(),
                source: e,
            })?;
        Ok(HistoricalStore {
            store,
            location: location.to_string(),
            local_root: None,
            runtime: Arc::new(runtime),
        })
    }

    /// Where the store is.
    pub fn location(&self) -> &str {
        &self.location
    }

    fn table(spec: &FeatureSetSpec) -> StorePath {
        StorePath::from_iter([spec.entity().as_str(), spec.name])
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        store_error(&self.location, e)
    }

    /// Replaces the day partitions `days` (inclusive) with the rows of `frame`
    /// (keys, `timestamp`, features), leaving every other partition untouched.
    pub fn write(
        &self,
        spec: &FeatureSetSpec,
        frame: &DataFrame,
        days: (NaiveDate, NaiveDate),
    ) -> Result<HistoricalWrite> {
        let table = Self::table(spec);
        let staging = table
            .clone()
            .join(STAGING)
            .join(uuid::Uuid::new_v4().to_string().as_str());
        let partitions = split_by_day(frame)?;
        for (day, _) in &partitions {
            if *day < days.0 || *day > days.1 {
                return Err(Error::Invalid(format!(
                    "feature set `{}` produced a row dated {day}, outside the run's days {} to {}",
                    spec.name, days.0, days.1
                )));
            }
        }
        let result = self.runtime.block_on(async {
            // Staging left by a run that crashed is never read: drop it. The
            // run lock guarantees no other run of this feature set is staging.
            self.remove_prefix(&table.clone().join(STAGING)).await?;
            let existing = self.list_partitions(&table).await?;
            // Stage every partition before touching any live file. Batches
            // bound the encoded bytes held at once; within a batch, encoding
            // is parallel (CPU) and the puts are concurrent (I/O).
            let mut staged = Vec::with_capacity(partitions.len());
            for batch in partitions.chunks(STAGE_BATCH) {
                // Rows are copied out a batch of days at a time, not all at once.
                let batch: Vec<(NaiveDate, DataFrame)> = batch
                    .iter()
                    .map(|(day, rows)| {
                        let part = frame.take(rows).ctx(|| "partitioning by day".into())?;
                        Ok((*day, part))
                    })
                    .collect::<Result<_>>()?;
                let encoded = encode_partitions(batch)?;
                let puts = encoded.into_iter().map(|(day, buf)| {
                    // Flat: one directory per run, not a day tree to create and remove.
                    let path = staging.clone().join(format!("{day}.parquet").as_str());
                    async move {
                        self.store
                            .put(&path, PutPayload::from(buf))
                            .await
                            .map_err(|e| self.err(e))?;
                        Ok::<_, Error>((day, path))
                    }
                });
                let done: Vec<(NaiveDate, StorePath)> = futures::stream::iter(puts)
                    .buffer_unordered(IO_CONCURRENCY)
                    .try_collect()
                    .await?;
                staged.extend(done);
            }
            crate::fail::point(|| "historical:staged".to_string());
            // Swap: one rename per partition, each atomic.
            let swapped = std::sync::atomic::AtomicUsize::new(0);
            let renames = staged.iter().map(|(day, from)| {
                let to = partition_path(&table, *day).join(PART_FILE);
                let swapped = &swapped;
                async move {
                    self.store
                        .rename(from, &to)
                        .await
                        .map_err(|e| self.err(e))?;
                    let n = swapped.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    crate::fail::point(|| format!("historical:swapped:{n}"));
                    Ok::<_, Error>(*day)
                }
            });
            let written: BTreeSet<NaiveDate> = futures::stream::iter(renames)
                .buffer_unordered(IO_CONCURRENCY)
                .try_collect()
                .await?;
            // Other files of the range's partitions, and partitions the run has no rows for.
            let mut deleted = BTreeSet::new();
            for (day, files) in &existing {
                if *day < days.0 || *day > days.1 {
                    continue;
                }
                for f in files {
                    let keep = written.contains(day) && f.filename() == Some(PART_FILE);
                    if !keep {
                        self.store.delete(f).await.map_err(|e| self.err(e))?;
                        if !written.contains(day) {
                            deleted.insert(*day);
                        }
                    }
                }
            }
            crate::fail::point(|| "historical:deleted".to_string());
            self.remove_prefix(&staging).await?;
            Ok::<_, Error>(HistoricalWrite {
                rows: frame.height(),
                partitions_written: written.len(),
                partitions_deleted: deleted.len(),
            })
        });
        if result.is_err() {
            // Best effort: staged files are never read, but should not pile up.
            let _ = self.runtime.block_on(self.remove_prefix(&staging));
        }
        result
    }

    async fn remove_prefix(&self, prefix: &StorePath) -> Result<()> {
        let files: Vec<_> = self
            .store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(|e| self.err(e))?;
        futures::stream::iter(files.iter().map(|f| async move {
            self.store
                .delete(&f.location)
                .await
                .map_err(|e| self.err(e))
        }))
        .buffer_unordered(IO_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        if let Some(root) = &self.local_root {
            let dir = prefix.parts().fold(root.clone(), |d, p| d.join(p.as_ref()));
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(self.err(format!(
                        "removing the staging directory {}: {e}",
                        dir.display()
                    )))
                }
                _ => {}
            }
            // `_staging` itself, once no other run is staging.
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
        Ok(())
    }

    /// Data files of each day partition of a table (staging excluded).
    async fn list_partitions(
        &self,
        table: &StorePath,
    ) -> Result<BTreeMap<NaiveDate, Vec<StorePath>>> {
        let files: Vec<_> = self
            .store
            .list(Some(table))
            .try_collect()
            .await
            .map_err(|e| self.err(e))?;
        let mut out: BTreeMap<NaiveDate, Vec<StorePath>> = BTreeMap::new();
        for f in files {
            let parts: Vec<String> = f
                .location
                .prefix_match(table)
                .map(|it| it.map(|p| p.as_ref().to_string()).collect())
                .unwrap_or_default();
            if parts.first().map(String::as_str) == Some(STAGING) {
                continue;
            }
            if let Some(day) = parse_partition(&parts) {
                out.entry(day).or_default().push(f.location.clone());
            }
        }
        Ok(out)
    }

    /// Reads a feature set's rows, optionally only the days in `range`, with
    /// `year`, `month`, `day` columns, sorted by key and time.
    pub fn read(
        &self,
        spec: &FeatureSetSpec,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<DataFrame> {
        let rows = self.read_unordered(spec, range)?;
        if rows.height() == 0 {
            return Ok(rows);
        }
        let mut sort_by: Vec<&str> = spec.key_names().collect();
        sort_by.push(TIMESTAMP_COLUMN);
        rows.lazy()
            .sort(sort_by, SortMultipleOptions::default())
            .collect()
            .ctx(|| format!("reading feature set `{}`", spec.name))
    }

    /// [`read`](Self::read), with the rows in no particular order: for
    /// consumers that sort them their own way, such as the as-of join.
    pub fn read_unordered(
        &self,
        spec: &FeatureSetSpec,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<DataFrame> {
        let table = Self::table(spec);
        let fetched = self.runtime.block_on(async {
            let partitions = self.list_partitions(&table).await?;
            let files = partitions
                .into_iter()
                .filter(|(day, _)| !range.is_some_and(|(s, e)| *day < s || *day > e))
                .flat_map(|(day, files)| files.into_iter().map(move |f| (day, f)));
            let gets = files.map(|(day, f)| async move {
                let bytes = self
                    .store
                    .get(&f)
                    .await
                    .map_err(|e| self.err(e))?
                    .bytes()
                    .await
                    .map_err(|e| self.err(e))?;
                Ok::<_, Error>((day, f, bytes))
            });
            futures::stream::iter(gets)
                .buffered(IO_CONCURRENCY)
                .try_collect::<Vec<_>>()
                .await
        })?;
        let frames: Vec<(NaiveDate, DataFrame)> = {
            use rayon::prelude::*;
            fetched
                .into_par_iter()
                .map(|(day, f, bytes)| {
                    let df = ParquetReader::new(std::io::Cursor::new(bytes))
                        .finish()
                        .ctx(|| format!("reading {f}"))?;
                    Ok((day, df))
                })
                .collect::<Result<_>>()?
        };
        let mut lazy = Vec::with_capacity(frames.len());
        for (day, df) in frames {
            lazy.push(df.lazy().with_columns([
                lit(day.year()).alias("year"),
                lit(day.month() as i32).alias("month"),
                lit(day.day() as i32).alias("day"),
            ]));
        }
        if lazy.is_empty() {
            return Ok(DataFrame::empty());
        }
        concat(lazy, UnionArgs::default())
            .and_then(LazyFrame::collect)
            .ctx(|| format!("reading feature set `{}`", spec.name))
    }
}

/// Encodes day partitions as Parquet, in parallel.
fn encode_partitions(batch: Vec<(NaiveDate, DataFrame)>) -> Result<Vec<(NaiveDate, Bytes)>> {
    use rayon::prelude::*;
    batch
        .into_par_iter()
        .map(|(day, mut part)| {
            let mut buf = Vec::new();
            // Snappy, as Spark writes Parquet by default: several times
            // cheaper to encode than zstd on many small day files.
            ParquetWriter::new(&mut buf)
                .with_compression(ParquetCompression::Snappy)
                .finish(&mut part)
                .ctx(|| format!("encoding the partition of {day}"))?;
            Ok((day, Bytes::from(buf)))
        })
        .collect()
}

fn store_error(location: &str, e: impl std::fmt::Display) -> Error {
    Error::Historical {
        location: location.to_string(),
        message: e.to_string(),
    }
}

fn partition_path(table: &StorePath, day: NaiveDate) -> StorePath {
    table
        .clone()
        .join(format!("year={}", day.year()).as_str())
        .join(format!("month={}", day.month()).as_str())
        .join(format!("day={}", day.day()).as_str())
}

fn parse_partition(parts: &[String]) -> Option<NaiveDate> {
    let [y, m, d, _file] = parts else { return None };
    let y = y.strip_prefix("year=")?.parse().ok()?;
    let m = m.strip_prefix("month=")?.parse().ok()?;
    let d = d.strip_prefix("day=")?.parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The rows of each day of `timestamp`, in their order within the day.
fn split_by_day(frame: &DataFrame) -> Result<Vec<(NaiveDate, IdxCa)>> {
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
    let days: Vec<i64> = ts
        .into_no_null_iter()
        .map(|t| t.div_euclid(DAY_US))
        .collect();
    // A counting sort: a run spans few days and many rows, and it keeps
    // each day's rows in their order.
    let (first, last) = days
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &d| (lo.min(d), hi.max(d)));
    let mut starts = vec![0 as IdxSize; (last - first) as usize + 2];
    for &d in &days {
        starts[(d - first) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut next = starts.clone();
    let mut order = vec![0 as IdxSize; days.len()];
    for (row, &d) in days.iter().enumerate() {
        let slot = &mut next[(d - first) as usize];
        order[*slot as usize] = row as IdxSize;
        *slot += 1;
    }
    let mut out = Vec::new();
    for (i, bounds) in starts.windows(2).enumerate() {
        let (start, end) = (bounds[0] as usize, bounds[1] as usize);
        if start < end {
            let idx = IdxCa::from_vec("idx".into(), order[start..end].to_vec());
            out.push((day_to_date(first + i as i64), idx));
        }
    }
    Ok(out)
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
