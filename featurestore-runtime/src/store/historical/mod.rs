//! The historical store: Parquet partitioned by day, at any
//! [`FileLocation`]: a local directory, `memory://`, `s3://`, `gs://`, `az://`.
//!
//! Layout: `{root}/{entity}/{feature_set}/year=Y/month=M/day=D/part-00000.parquet`
//! with `year`, `month`, `day` in the path only (as Hive and Spark write them);
//! [`HistoricalStore::read`] adds them back as columns.
//!
//! A run replaces exactly the day partitions of its range. Every new
//! partition is staged first, then moved over the old file, one object per
//! partition (`staging.rs` says how on a disk and in an object store), so a
//! partition is always either entirely old or entirely new; partitions of
//! the range that now have no rows are deleted last. A run that fails
//! before the swap leaves every partition as it was.
//!
//! The store owns only what it writes: in each day partition, the file
//! `part-00000.parquet` (and its own `_staging/`). Any other file below a
//! table, even another Parquet file of a day it writes, is never replaced
//! nor deleted; those in the days of a run are listed in
//! [`HistoricalWrite::foreign`] for the run to report. Other Parquet files
//! of a day partition (Spark's) are read as the day's data, as Hive readers
//! read them.
//!
//! The methods are synchronous, and safe to call from inside an async
//! runtime: the I/O runs on the process's I/O runtime ([`crate::io`]).

mod partition;
mod spill;
mod staging;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::ObjectStoreExt;
use polars::prelude::*;

use crate::error::{Error, PolarsContext, Result};
use crate::io::block_on;
use crate::location::FileLocation;
use crate::spec::{FeatureSetSpec, TIMESTAMP_COLUMN};
pub(crate) use partition::by_day_in_chunks;
use partition::{classify, split_by_day, Entry};
pub use spill::DaySpill;
use staging::{run_dir, staging_root, STAGING};

/// The store's name in errors.
const STORE: &str = "historical store";
/// Object-store requests in flight at once.
const IO_CONCURRENCY: usize = 16;

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoricalWrite {
    /// Rows written.
    pub rows: usize,
    /// Day partitions written (replaced or new).
    pub partitions_written: usize,
    /// Day partitions of the range deleted because the run has no rows for
    /// them: days whose file this store wrote was deleted.
    pub partitions_deleted: usize,
    /// Files in the days of the run that this store did not write, left
    /// alone: URLs (or paths on disk), sorted.
    pub foreign: Vec<String>,
}

/// The files below a table, by what they are to the store.
#[derive(Debug, Default)]
struct Listing {
    /// The file this store wrote for each day.
    owned: BTreeMap<NaiveDate, StorePath>,
    /// Other Parquet files of day partitions: read, never touched.
    data: BTreeMap<NaiveDate, Vec<StorePath>>,
    /// Everything else, with the days its path lies in.
    foreign: Vec<(StorePath, Option<(NaiveDate, NaiveDate)>)>,
}

/// A historical store rooted at a local directory or an object-store location.
#[derive(Debug, Clone)]
pub struct HistoricalStore {
    root: FileLocation,
    /// `root` for messages.
    location: String,
}

impl HistoricalStore {
    /// Opens the store at `root`; a local directory is created if missing.
    pub fn open(root: &FileLocation) -> Result<Self> {
        if let Some(dir) = root.local_path() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                context: format!("creating the historical store directory {}", dir.display()),
                source: e,
            })?;
        }
        Ok(HistoricalStore {
            root: root.clone(),
            location: root.to_string(),
        })
    }

    /// Opens the store at `raw`: a path (relative to the current directory)
    /// or a URL of [`crate::location`]'s grammar (`file://`, `memory://`,
    /// `s3://`…).
    pub fn open_path(raw: &str) -> Result<Self> {
        let cwd = std::env::current_dir().map_err(|e| Error::Io {
            context: "reading the current directory".to_string(),
            source: e,
        })?;
        Self::open(&FileLocation::parse(raw, &cwd)?)
    }

    /// Where the store is, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The store's root.
    pub fn root(&self) -> &FileLocation {
        &self.root
    }

    fn table(&self, spec: &FeatureSetSpec) -> StorePath {
        self.root
            .path()
            .clone()
            .join(spec.entity().as_str())
            .join(spec.name)
    }

    /// A backend error about `object`, named by its URL (or path on disk).
    fn error(&self, object: &StorePath, doing: impl Into<String>, e: object_store::Error) -> Error {
        Error::store(STORE, self.root.display_of(object), doing, e)
    }

    /// The path on disk of `prefix` (a file or a directory), when the store
    /// is local.
    fn local_path(&self, prefix: &StorePath) -> Option<PathBuf> {
        let root = self.root.local_path()?;
        let below = prefix.prefix_match(self.root.path())?;
        Some(below.fold(root.to_path_buf(), |dir, part| dir.join(part.as_ref())))
    }

    /// Replaces the day partitions `days` (inclusive) with the rows of `frame`
    /// (keys, `timestamp`, features), leaving every other partition untouched.
    pub fn write(
        &self,
        spec: &FeatureSetSpec,
        frame: &DataFrame,
        days: (NaiveDate, NaiveDate),
    ) -> Result<HistoricalWrite> {
        self.write_checked(spec, frame, days, &|| Ok(()))
    }

    /// [`write`](Self::write), calling `before_swap` once every partition is
    /// staged, just before the first live file changes: an error from it
    /// (the run lock was lost) ends the write with every partition as it
    /// was.
    pub fn write_checked(
        &self,
        spec: &FeatureSetSpec,
        frame: &DataFrame,
        days: (NaiveDate, NaiveDate),
        before_swap: &dyn Fn() -> Result<()>,
    ) -> Result<HistoricalWrite> {
        let split = split_by_day(frame)?;
        for (day, _) in split.days() {
            if *day < days.0 || *day > days.1 {
                return Err(Error::Invalid(format!(
                    "feature set `{}` produced a row dated {day}, outside the run's days {} to {}",
                    spec.name, days.0, days.1
                )));
            }
        }
        let part = |day: NaiveDate| split.gather(frame, day);
        let with_rows: Vec<NaiveDate> = split.days().iter().map(|(d, _)| *d).collect();
        self.replace_days(spec, frame.height(), &with_rows, &part, days, before_swap)
    }

    /// [`write_checked`](Self::write_checked) of rows spilled by day (a
    /// run split by key): each day's file is assembled from its parts,
    /// sorted by key and time, as a run in memory writes it.
    pub fn write_spilled(
        &self,
        spec: &FeatureSetSpec,
        spill: &DaySpill,
        days: (NaiveDate, NaiveDate),
        before_swap: &dyn Fn() -> Result<()>,
        inspect: &(dyn Fn(&DataFrame) -> Result<()> + Sync),
    ) -> Result<HistoricalWrite> {
        if let Some((first, last)) = spill.days() {
            if first < days.0 || last > days.1 {
                let day = if first < days.0 { first } else { last };
                return Err(Error::Invalid(format!(
                    "feature set `{}` produced a row dated {day}, outside the run's days {} to {}",
                    spec.name, days.0, days.1
                )));
            }
        }
        let part = |day: NaiveDate| -> Result<DataFrame> {
            let frame = spill.day(spec, day)?;
            inspect(&frame)?;
            Ok(frame)
        };
        let with_rows: Vec<NaiveDate> = spill.parts.keys().copied().collect();
        self.replace_days(spec, spill.rows, &with_rows, &part, days, before_swap)
    }

    /// Replaces the partitions `days` with the rows `part(day)` of each day
    /// of `with_rows`, `rows` in all.
    fn replace_days(
        &self,
        spec: &FeatureSetSpec,
        rows: usize,
        with_rows: &[NaiveDate],
        part: &(dyn Fn(NaiveDate) -> Result<DataFrame> + Sync),
        days: (NaiveDate, NaiveDate),
        before_swap: &dyn Fn() -> Result<()>,
    ) -> Result<HistoricalWrite> {
        let table = self.table(spec);
        let run = run_dir(&table);
        let result = self.replace(&table, &run, rows, with_rows, part, days, before_swap);
        if result.is_err() {
            // Best effort: staged files are never read, but should not pile
            // up; the next run removes what is left.
            let _ = block_on(self.remove_prefix(&run));
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn replace(
        &self,
        table: &StorePath,
        run: &StorePath,
        rows: usize,
        with_rows: &[NaiveDate],
        part: &(dyn Fn(NaiveDate) -> Result<DataFrame> + Sync),
        days: (NaiveDate, NaiveDate),
        before_swap: &dyn Fn() -> Result<()>,
    ) -> Result<HistoricalWrite> {
        // Staging left by a run that died is never read: drop it. The run
        // lock guarantees no other run of this feature set is staging.
        block_on(self.remove_prefix(&staging_root(table)))?;
        let existing = block_on(self.list(table))?;
        // Every partition is staged before any live file is touched.
        let staged = self.stage(run, with_rows, part, rows)?;
        crate::fail::point(|| "historical:staged".to_string());
        before_swap()?;
        let written = if self.root.is_local() {
            self.swap_local(table, &staged)?
        } else {
            block_on(self.swap(table, &staged))?
        };
        let deleted = block_on(self.delete_unwritten(&existing, &written, days))?;
        crate::fail::point(|| "historical:deleted".to_string());
        block_on(self.remove_prefix(run))?;
        let mut foreign: Vec<String> = existing
            .foreign
            .iter()
            .filter(|(_, span)| span.is_some_and(|(s, e)| s <= days.1 && days.0 <= e))
            .map(|(f, _)| f)
            .chain(
                existing
                    .data
                    .range(days.0..=days.1)
                    .flat_map(|(_, files)| files),
            )
            .map(|f| self.root.display_of(f))
            .collect();
        foreign.sort();
        Ok(HistoricalWrite {
            rows,
            partitions_written: written.len(),
            partitions_deleted: deleted.len(),
            foreign,
        })
    }

    /// Deletes this store's file of each day of the range that the swap did
    /// not write; returns the days emptied. No other file is touched.
    async fn delete_unwritten(
        &self,
        existing: &Listing,
        written: &BTreeSet<NaiveDate>,
        days: (NaiveDate, NaiveDate),
    ) -> Result<BTreeSet<NaiveDate>> {
        let mut deleted = BTreeSet::new();
        for (day, f) in existing.owned.range(days.0..=days.1) {
            if written.contains(day) {
                continue;
            }
            self.root
                .store()
                .delete(f)
                .await
                .map_err(|e| self.error(f, format!("deleting the partition of {day}"), e))?;
            deleted.insert(*day);
        }
        Ok(deleted)
    }

    /// Every file below a table (staging excluded), by what it is to the
    /// store.
    async fn list(&self, table: &StorePath) -> Result<Listing> {
        let files: Vec<_> = self
            .root
            .store()
            .list(Some(table))
            .try_collect()
            .await
            .map_err(|e| self.error(table, "listing the partitions", e))?;
        let mut out = Listing::default();
        for f in files {
            let parts: Vec<String> = f
                .location
                .prefix_match(table)
                .map(|it| it.map(|p| p.as_ref().to_string()).collect())
                .unwrap_or_default();
            if parts.first().map(String::as_str) == Some(STAGING) {
                continue;
            }
            match classify(&parts) {
                Entry::Owned(day) => {
                    out.owned.insert(day, f.location);
                }
                Entry::Data(day) => out.data.entry(day).or_default().push(f.location),
                Entry::Foreign(span) => out.foreign.push((f.location, span)),
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
        // Eager: polars' lazy engine blocks on its own async runtime, which
        // panics when the caller runs on a current-thread tokio runtime.
        rows.sort(sort_by, SortMultipleOptions::default())
            .ctx(|| format!("reading feature set `{}`", spec.name))
    }

    /// [`read`](Self::read), with the rows in no particular order: for
    /// consumers that sort them their own way, such as the as-of join.
    pub fn read_unordered(
        &self,
        spec: &FeatureSetSpec,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<DataFrame> {
        let table = self.table(spec);
        let fetched = block_on(async {
            let listing = self.list(&table).await?;
            let files = listing
                .owned
                .into_iter()
                .chain(
                    listing
                        .data
                        .into_iter()
                        .flat_map(|(day, files)| files.into_iter().map(move |f| (day, f))),
                )
                .filter(|(day, _)| !range.is_some_and(|(s, e)| *day < s || *day > e));
            let gets = files.map(|(day, f)| async move {
                let bytes = async { self.root.store().get(&f).await?.bytes().await }
                    .await
                    .map_err(|e| self.error(&f, format!("reading the partition of {day}"), e))?;
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
                    // One file per task, each decoded on its task's thread:
                    // a reader that fanned out to polars' own thread pool
                    // would park this worker of the global pool, which then
                    // runs the next file's task on the same stack, and so on
                    // for every file (a stack overflow on a few hundred
                    // days).
                    let df = ParquetReader::new(std::io::Cursor::new(bytes))
                        .read_parallel(ParallelStrategy::None)
                        .finish()
                        .ctx(|| format!("reading {}", self.root.display_of(&f)))?;
                    Ok((day, df))
                })
                .collect::<Result<_>>()?
        };
        // Eager, as in `read`.
        let context = || format!("reading feature set `{}`", spec.name);
        let mut rows: Option<DataFrame> = None;
        for (day, mut df) in frames {
            let n = df.height();
            let parts = [
                ("year", day.year()),
                ("month", day.month() as i32),
                ("day", day.day() as i32),
            ];
            for (name, value) in parts {
                df.with_column(Int32Chunked::full(name.into(), value, n).into_column())
                    .ctx(context)?;
            }
            match &mut rows {
                None => rows = Some(df),
                Some(all) => {
                    all.vstack_mut_owned(df).ctx(context)?;
                }
            }
        }
        let mut rows = rows.unwrap_or_else(DataFrame::empty);
        rows.rechunk_mut_par();
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use futures::TryStreamExt;
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;
    use crate::spec::{ColumnSpec, DataType};

    const KEYS: &[ColumnSpec] = &[ColumnSpec {
        name: "id",
        dtype: DataType::String,
        nullable: false,
        description: "",
    }];
    pub(super) const SPEC: FeatureSetSpec = FeatureSetSpec {
        name: "amounts",
        keys: KEYS,
        ..crate::__private::FALLBACK_FEATURE_SET
    };

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 1, d).expect("a day of January")
    }

    /// Rows `(id, day of January, hour, value)`.
    pub(super) fn frame(rows: &[(&str, u32, u32, i64)]) -> DataFrame {
        let ts: Vec<i64> = rows
            .iter()
            .map(|(_, d, h, _)| {
                day(*d)
                    .and_hms_opt(*h, 0, 0)
                    .expect("an hour")
                    .and_utc()
                    .timestamp_micros()
            })
            .collect();
        DataFrame::new(
            rows.len(),
            vec![
                Column::new("id".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
                Int64Chunked::from_vec(TIMESTAMP_COLUMN.into(), ts)
                    .into_datetime(TimeUnit::Microseconds, None)
                    .into_column(),
                Column::new("value".into(), rows.iter().map(|r| r.3).collect::<Vec<_>>()),
            ],
        )
        .expect("a frame")
    }

    fn memory(name: &str) -> HistoricalStore {
        let root = FileLocation::parse(&format!("memory://{name}/historical"), Path::new("/"))
            .expect("a memory location");
        HistoricalStore::open(&root).expect("opens")
    }

    /// Every object under the store's root, relative to it.
    fn objects(store: &HistoricalStore) -> Vec<String> {
        let root = store.root();
        let mut out: Vec<String> =
            block_on(root.store().list(Some(root.path())).try_collect::<Vec<_>>())
                .expect("lists")
                .into_iter()
                .map(|m| {
                    m.location
                        .prefix_match(root.path())
                        .expect("below the root")
                        .map(|p| p.as_ref().to_string())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .collect();
        out.sort();
        out
    }

    /// `(id, day, value)` of each stored row, sorted.
    fn stored(store: &HistoricalStore) -> Vec<(String, u32, i64)> {
        let rows = store.read(&SPEC, None).expect("reads");
        if rows.height() == 0 {
            return Vec::new();
        }
        let ids = rows.column("id").unwrap().str().unwrap();
        let days = rows.column("day").unwrap().i32().unwrap();
        let values = rows.column("value").unwrap().i64().unwrap();
        (0..rows.height())
            .map(|i| {
                let id = ids.get(i).unwrap().to_string();
                (id, days.get(i).unwrap() as u32, values.get(i).unwrap())
            })
            .collect()
    }

    pub(super) const FIRST: &[(&str, u32, u32, i64)] = &[
        ("a", 1, 10, 1),
        ("b", 1, 11, 2),
        ("a", 2, 9, 3),
        ("a", 3, 8, 4),
        ("b", 4, 7, 5),
        ("b", 5, 6, 6),
    ];

    #[test]
    fn a_rerun_in_an_object_store_replaces_exactly_its_range() {
        let store = memory("historical-rerun");
        let first = store
            .write(&SPEC, &frame(FIRST), (day(1), day(5)))
            .expect("writes");
        assert_eq!(
            (
                first.rows,
                first.partitions_written,
                first.partitions_deleted
            ),
            (6, 5, 0)
        );
        // Days 3 and 4 again: new rows on the 3rd, none on the 4th.
        let second = store
            .write(
                &SPEC,
                &frame(&[("c", 3, 1, 7), ("a", 3, 2, 8)]),
                (day(3), day(4)),
            )
            .expect("writes");
        assert_eq!(
            (
                second.rows,
                second.partitions_written,
                second.partitions_deleted
            ),
            (2, 1, 1)
        );
        let expected: Vec<(String, u32, i64)> = [
            ("a", 1, 1),
            ("a", 2, 3),
            ("a", 3, 8),
            ("b", 1, 2),
            ("b", 5, 6),
            ("c", 3, 7),
        ]
        .iter()
        .map(|(i, d, v)| (i.to_string(), *d, *v))
        .collect();
        assert_eq!(stored(&store), expected);
        // Only part files are left: one per day with rows, no staging.
        assert_eq!(
            objects(&store),
            [1, 2, 3, 5]
                .map(|d| format!("id/amounts/year=2020/month=1/day={d}/part-00000.parquet"))
        );
        let ranged = store.read(&SPEC, Some((day(2), day(3)))).expect("reads");
        assert_eq!(ranged.height(), 3);
    }

    #[test]
    fn the_same_rows_are_stored_in_memory_as_on_disk() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let local =
            HistoricalStore::open(&FileLocation::local(&dir.path().join("h"))).expect("opens");
        let memory = memory("historical-same");
        for store in [&local, &memory] {
            store
                .write(&SPEC, &frame(FIRST), (day(1), day(5)))
                .expect("writes");
        }
        let (on_disk, in_memory) = (
            local.read(&SPEC, None).unwrap(),
            memory.read(&SPEC, None).unwrap(),
        );
        assert_eq!(on_disk.height(), FIRST.len());
        assert!(on_disk.equals_missing(&in_memory), "{on_disk}\n{in_memory}");
        // And the same files, byte for byte.
        let on_disk_files: Vec<String> = objects(&local);
        assert_eq!(on_disk_files, objects(&memory));
        for f in &on_disk_files {
            let path = |s: &HistoricalStore| {
                f.split('/')
                    .fold(s.root().path().clone(), |p, part| p.join(part))
            };
            let bytes = |s: &HistoricalStore| {
                block_on(async { s.root().store().get(&path(s)).await?.bytes().await })
                    .expect("reads")
            };
            assert_eq!(bytes(&local), bytes(&memory), "{f}");
        }
    }

    /// Writes `bytes` at `path` below the store's root.
    fn put(store: &HistoricalStore, path: &str, bytes: &'static [u8]) {
        let at = path
            .split('/')
            .fold(store.root().path().clone(), |p, part| p.join(part));
        block_on(
            store
                .root()
                .store()
                .put(&at, PutPayload::from_static(bytes)),
        )
        .expect("puts");
    }

    fn get(store: &HistoricalStore, path: &str) -> Vec<u8> {
        let at = path
            .split('/')
            .fold(store.root().path().clone(), |p, part| p.join(part));
        block_on(async { store.root().store().get(&at).await?.bytes().await })
            .expect("reads")
            .to_vec()
    }

    /// Files under a table that the store did not write survive a run over
    /// their days, are reported, and do not count as emptied partitions.
    fn foreign_files_are_left_alone_and_reported(store: &HistoricalStore) {
        store
            .write(&SPEC, &frame(FIRST), (day(1), day(5)))
            .expect("writes");
        let table = "id/amounts/year=2020";
        let foreign = [
            // Beside a partition the run replaces, and beside ones it empties.
            format!("{table}/month=1/day=3/NOTES.txt"),
            format!("{table}/month=1/day=4/.hidden"),
            // Another layout of day 2's folder, and a folder inside a day.
            format!("{table}/month=01/day=2/part-00000.parquet"),
            format!("{table}/month=1/day=5/month=05/part-00000.parquet"),
        ];
        for f in &foreign {
            put(store, f, b"not written by the store");
        }
        // Outside the second run's days: neither touched nor reported.
        let outside = format!("{table}/month=1/day=1/NOTES.txt");
        put(store, &outside, b"a note");

        let second = store
            .write(&SPEC, &frame(&[("c", 3, 1, 7)]), (day(2), day(5)))
            .expect("writes");
        // Days 2, 4 and 5 had a part file of the store and now have no row.
        assert_eq!(
            (second.partitions_written, second.partitions_deleted),
            (1, 3)
        );
        let mut reported: Vec<String> = foreign
            .iter()
            .map(|f| format!("{}/{f}", store.location().trim_end_matches('/')))
            .collect();
        reported.sort();
        assert_eq!(second.foreign, reported);
        for f in foreign.iter().chain([&outside]) {
            assert!(!get(store, f).is_empty(), "{f} is left as it was");
        }
        assert_eq!(get(store, &foreign[0]), b"not written by the store");
        // Only the store's files are read: day 1's rows and the new row.
        let expected: Vec<(String, u32, i64)> = [("a", 1, 1), ("b", 1, 2), ("c", 3, 7)]
            .iter()
            .map(|(i, d, v)| (i.to_string(), *d, *v))
            .collect();
        assert_eq!(stored(store), expected);
    }

    #[test]
    fn foreign_files_in_an_object_store_are_left_alone_and_reported() {
        foreign_files_are_left_alone_and_reported(&memory("historical-foreign"));
    }

    #[test]
    fn foreign_files_on_disk_are_left_alone_and_reported() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store =
            HistoricalStore::open(&FileLocation::local(&dir.path().join("h"))).expect("opens");
        foreign_files_are_left_alone_and_reported(&store);
    }

    #[test]
    fn staging_left_by_a_dead_run_is_removed_by_the_next() {
        let store = memory("historical-leftover");
        let dead = StorePath::from("historical/id/amounts/_staging/dead-run/2020-01-02.parquet");
        block_on(
            store
                .root()
                .store()
                .put(&dead, PutPayload::from_static(b"half a file")),
        )
        .expect("puts");
        store
            .write(&SPEC, &frame(FIRST), (day(1), day(5)))
            .expect("writes");
        assert!(
            objects(&store).iter().all(|o| !o.contains(STAGING)),
            "{:?}",
            objects(&store)
        );
        assert_eq!(stored(&store).len(), FIRST.len());
    }

    #[test]
    fn a_refused_swap_leaves_every_partition_as_it_was() {
        let store = memory("historical-refused");
        store
            .write(&SPEC, &frame(FIRST), (day(1), day(5)))
            .expect("writes");
        let before = objects(&store);
        let rows_before = stored(&store);
        let err = store
            .write_checked(&SPEC, &frame(&[("z", 2, 0, 99)]), (day(1), day(5)), &|| {
                Err(Error::Invalid("the run lock was lost".to_string()))
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "the run lock was lost");
        assert_eq!(
            objects(&store),
            before,
            "staging removed, partitions untouched"
        );
        assert_eq!(stored(&store), rows_before);
    }

    #[test]
    fn a_partition_that_cannot_be_read_is_named_by_its_url() {
        let store = memory("historical-corrupt");
        let part =
            StorePath::from("historical/id/amounts/year=2020/month=1/day=2/part-00000.parquet");
        block_on(
            store
                .root()
                .store()
                .put(&part, PutPayload::from_static(b"not parquet")),
        )
        .expect("puts");
        let err = store.read(&SPEC, None).unwrap_err().to_string();
        assert!(
            err.contains(
                "reading memory://historical-corrupt/historical/id/amounts/year=2020/month=1/day=2/part-00000.parquet"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_url_of_a_backend_not_compiled_in_names_the_feature_to_enable() {
        if cfg!(feature = "s3") {
            return;
        }
        let err = HistoricalStore::open_path("s3://bucket/historical").unwrap_err();
        assert!(
            err.to_string().contains("needs the `s3` cargo feature"),
            "{err}"
        );
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    }

    /// The synchronous API from async code: a server handler or a stream
    /// loop calls it on a runtime's thread.
    fn write_and_read_on(runtime: tokio::runtime::Runtime, name: &str) {
        let store = memory(name);
        let rows = runtime.block_on(async {
            store
                .write(&SPEC, &frame(FIRST), (day(1), day(5)))
                .expect("writes");
            stored(&store)
        });
        assert_eq!(rows.len(), FIRST.len());
    }

    #[test]
    fn writes_and_reads_from_inside_a_current_thread_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        write_and_read_on(rt, "historical-current-thread");
    }

    #[test]
    fn writes_and_reads_from_inside_a_multi_thread_runtime() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        write_and_read_on(rt, "historical-multi-thread");
    }
}

/// Against a server speaking the S3 API (`scripts/servers.sh start s3`),
/// with the `s3` feature (`scripts/test.sh` runs them); without the server's
/// variables they fail, saying how to start it.
#[cfg(all(test, feature = "s3"))]
mod s3 {
    use super::tests::{frame, FIRST, SPEC};
    use super::*;

    #[test]
    fn a_rerun_on_s3_replaces_exactly_its_range() {
        let bucket = std::env::var("FEATURESTORE_TEST_S3_BUCKET")
            .expect("set the S3 server's variables: eval \"$(scripts/servers.sh start s3)\"");
        let root = FileLocation::parse(
            &format!("s3://{bucket}/historical-{}", uuid::Uuid::new_v4()),
            std::path::Path::new("/"),
        )
        .unwrap();
        let store = HistoricalStore::open(&root).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2020, 1, d).unwrap();
        store.write(&SPEC, &frame(FIRST), (day(1), day(5))).unwrap();
        let second = store
            .write(&SPEC, &frame(&[("c", 3, 1, 7)]), (day(3), day(4)))
            .unwrap();
        assert_eq!(
            (second.partitions_written, second.partitions_deleted),
            (1, 1)
        );
        let rows = store.read(&SPEC, None).unwrap();
        assert_eq!(rows.height(), FIRST.len() - 2 + 1);
        let listed: Vec<_> =
            block_on(root.store().list(Some(root.path())).try_collect::<Vec<_>>()).unwrap();
        assert_eq!(listed.len(), 4, "{listed:?}");
    }
}
