//! Running a feature set end to end: extract, transform, load both stores.

use std::path::Path;
use std::time::{Duration, Instant};

use polars::prelude::*;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::location::FileLocation;
pub mod dataset;
pub mod lock;
mod overlap;
pub mod quality;
pub mod split;
pub mod status;

use crate::location::OnlineLocation;
use crate::source;
use crate::spec::{DatasetSpec, FeatureSetSpec};
use crate::store::historical::{HistoricalStore, HistoricalWrite};
use crate::store::online::{
    self, BlockingOnlineStore, OnlineWrite, OpenMode, RunWrite, WriteOrder,
};
use crate::transform::{self, DateRange};
use lock::RunLock;

/// The stores a run writes to.
#[derive(Debug)]
pub struct Stores {
    /// Partitioned Parquet.
    pub historical: HistoricalStore,
    /// Latest row per key, opened for writing. `&*stores.online` is the
    /// async store.
    pub online: BlockingOnlineStore,
}

impl Stores {
    /// Opens the stores named by a configuration.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(Stores {
            historical: HistoricalStore::open(&config.historical_root_location()?)?,
            online: BlockingOnlineStore::open_with(
                &OnlineLocation::parse(&config.online_url, &config.base_dir)?,
                OpenMode::Write,
                &config.online_options,
            )?,
        })
    }

    /// Opens stores at explicit locations (relative paths against `base_dir`).
    pub fn at(historical_root: &str, online_url: &str, base_dir: &Path) -> Result<Self> {
        Ok(Stores {
            historical: HistoricalStore::open(&FileLocation::parse(historical_root, base_dir)?)?,
            online: BlockingOnlineStore::open(
                &OnlineLocation::parse(online_url, base_dir)?,
                OpenMode::Write,
            )?,
        })
    }
}

/// Time spent in each stage of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    /// Reading and parsing the source into memory. Feature sets of one
    /// [`execute_all`] that share a source share this read; each reports it.
    pub read: Duration,
    /// Computing the rows from the events in memory.
    pub compute: Duration,
    /// Writing the historical store.
    pub historical: Duration,
    /// Upserting the online store.
    pub online: Duration,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The feature set's name.
    pub feature_set: &'static str,
    /// Every row of the run (keys, `timestamp`, outputs), in blocks of keys
    /// (in key order), each block's rows by day and then by key: the order
    /// the day files are written from. Sort them by key and `timestamp` for
    /// each key's history. No row, only the columns, for a run split by key
    /// ([`split`](Self::split)), whose rows are never all in memory: they are
    /// in the historical store.
    pub rows: DataFrame,
    /// The days the run covered: the partitions it replaced.
    pub days: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    /// What the historical write did.
    pub historical: HistoricalWrite,
    /// What the online upsert did.
    pub online: OnlineWrite,
    /// The latest row of each key of the run, sorted by key: what the run
    /// offered the online store (no row for a run split by key).
    pub latest: DataFrame,
    /// Stage timings.
    pub times: StageTimes,
    /// Source rows left out by an `on_bad_rows` policy.
    pub rejected: Vec<source::Rejected>,
    /// Events (after `query`/`filter`) dated after the end date: in no
    /// window of this run.
    pub events_after_end: usize,
    /// Events dated after the time of the run.
    pub events_in_future: usize,
    /// The online store was behind the historical store when the run began
    /// (an earlier run failed between the two writes): the run re-wrote
    /// the online rows of those days first.
    pub repaired: Option<status::OnlineBehind>,
    /// The run was split by key to fit its memory budget.
    pub split: Option<split::SplitRun>,
}

impl RunReport {
    /// Rows the run computed ([`rows`](Self::rows) holds them unless the
    /// run was split by key).
    pub fn row_count(&self) -> usize {
        self.split.as_ref().map_or(self.rows.height(), |s| s.rows)
    }
}

/// Locks the feature sets a run of pipeline `names` writes (see [`RunLock`]).
pub fn lock(config: &Config, names: &[&str]) -> Result<RunLock> {
    RunLock::acquire(&config.historical_root_location()?, names)
}

/// Runs a feature set for a date range and writes both stores.
///
/// The feature set is locked for the run: a second run of it, in another
/// process, fails at once. Every source row is checked before any store is
/// written. The historical partitions of the run's days are replaced (see
/// [`HistoricalStore::write`]); then the latest row of each key is upserted
/// into the online store in the order of the run ([`run_write`]).
pub fn execute(
    spec: &FeatureSetSpec,
    config: &Config,
    stores: &Stores,
    range: DateRange,
    progress: &dyn Fn(&str),
) -> Result<RunReport> {
    let mut runs = execute_all(&[spec], config, stores, range, progress)?;
    Ok(runs.remove(0))
}

/// Runs several feature sets, in the order given, reading each distinct
/// source once: feature sets over the same events share one parse of them.
///
/// When a source is read, every feature set over it runs its hooks, `query`
/// and `filter` and keeps only the columns it reads; the source is then
/// dropped, so its memory is never held while a feature set is computed.
/// Each feature set is then computed and written (historical, then online)
/// before the next one starts, so a failure leaves the earlier ones complete.
pub fn execute_all(
    specs: &[&FeatureSetSpec],
    config: &Config,
    stores: &Stores,
    range: DateRange,
    progress: &dyn Fn(&str),
) -> Result<Vec<RunReport>> {
    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    let lock = lock(config, &names)?;
    let online_order = run_write(range, chrono::Utc::now());
    if config.engine.kind == crate::engine::EngineKind::Spark {
        return execute_on_spark(specs, config, stores, &lock, range, online_order, progress);
    }
    let locations = config.source_locations();
    let lock = &lock;
    let locations = &locations;
    std::thread::scope(|scope| {
        let writes = overlap::OnlineWrites::new(scope);
        let run = || -> Result<Vec<RunReport>> {
            // Per feature set, once its source is read: its prepared
            // events, what the read rejected, how long it took, and its
            // late-event counts.
            let mut ready: Vec<Option<Ready>> = specs.iter().map(|_| None).collect();
            let mut reports = Vec::with_capacity(specs.len());
            // Runs split by key that ran with an earlier one over the same
            // source.
            let mut done: Vec<Option<RunReport>> = specs.iter().map(|_| None).collect();
            for (i, spec) in specs.iter().enumerate() {
                if let Some(report) = done[i].take() {
                    reports.push(report);
                    continue;
                }
                if ready[i].is_none() {
                    if let Some(parts) = split::parts(spec, config, locations) {
                        // The later ones over the source with the same keys
                        // share its read.
                        let group: Vec<usize> = (i..specs.len())
                            .filter(|&j| {
                                j == i
                                    || (specs[j].source.name == spec.source.name
                                        && specs[j].key_names().eq(spec.key_names())
                                        && ready[j].is_none()
                                        && split::parts(specs[j], config, locations).is_some())
                            })
                            .collect();
                        let members: Vec<(usize, &FeatureSetSpec)> =
                            group.iter().map(|&j| (j, specs[j])).collect();
                        let runs = split::execute(
                            &members,
                            config,
                            stores,
                            lock,
                            range,
                            online_order,
                            progress,
                            parts,
                            locations,
                            &writes,
                        )?;
                        for (j, report) in group.into_iter().zip(runs) {
                            done[j] = Some(report);
                        }
                        reports.push(done[i].take().expect("run with its group"));
                        continue;
                    }
                    progress(&format!("reading `{}`", spec.source.name));
                    let t = Instant::now();
                    let extract = source::read(spec.source, locations)?;
                    let elapsed = t.elapsed();
                    tracing::info!(
                        source = spec.source.name,
                        rejected = extract.rejected.iter().map(|r| r.rows).sum::<usize>(),
                        elapsed_ms = elapsed.as_millis() as u64,
                        "source read and checked"
                    );
                    crate::fail::point(|| "source:read".to_string());
                    // Every feature set of this run over the source takes
                    // what it reads now; the source itself is dropped before
                    // any of them is computed.
                    for (j, other) in specs.iter().enumerate().skip(i) {
                        if other.source.name != spec.source.name {
                            continue;
                        }
                        let (prepared, late) =
                            transform::prepare(other, extract.frame.clone(), range)
                                .and_then(|prepared| {
                                    let late = transform::late_events(other, &prepared, range)?;
                                    Ok((prepared, late))
                                })
                                .map_err(|e| with_location(e, other, locations))?;
                        ready[j] = Some(Ready {
                            prepared,
                            late,
                            rejected: extract.rejected.clone(),
                            read: elapsed,
                        });
                    }
                }
                let ready = ready[i].take().expect("prepared when its source was read");
                let (report, pending) =
                    execute_prepared(spec, ready, stores, lock, range, progress, &|| {
                        writes.wait()
                    })
                    .map_err(|e| with_location(e, spec, locations))?;
                reports.push(report);
                progress("upserting the online store");
                writes.start(i, move || {
                    pending
                        .write(stores, lock, online_order)
                        .map_err(|e| with_location(e, spec, locations))
                })?;
            }
            Ok(reports)
        };
        // A failed online write comes first: the run stopped there before.
        let mut reports = match run() {
            Ok(reports) => reports,
            Err(e) => {
                writes.wait()?;
                return Err(e);
            }
        };
        writes.wait()?;
        writes.record(&mut reports);
        Ok(reports)
    })
}

/// [`execute_all`] on a Spark cluster: every feature set is checked first
/// (one Spark cannot run is refused before any work), then each is computed
/// and its historical partitions written by Spark, and the latest rows that
/// come back are upserted into the online store here.
///
/// As on polars, the record that the online store is behind
/// ([`status`]) is written before Spark replaces the first partition and
/// removed once the online write is committed; an earlier run's record
/// makes this run re-write those online rows first.
#[cfg(feature = "spark")]
fn execute_on_spark(
    specs: &[&FeatureSetSpec],
    config: &Config,
    stores: &Stores,
    lock: &RunLock,
    range: DateRange,
    online_order: RunWrite,
    progress: &dyn Fn(&str),
) -> Result<Vec<RunReport>> {
    use crate::engine::spark;
    for spec in specs {
        spark::plan::check(spec)?;
        stores.online.check(spec)?;
    }
    progress("connecting to Spark");
    let client = spark::SparkClient::connect(config.engine.spark_remote()?)?;
    let result = spark_runs(
        specs,
        config,
        stores,
        lock,
        range,
        online_order,
        &client,
        progress,
    );
    // Best effort: the server drops an idle session on its own later.
    let _ = client.close();
    result
}

#[cfg(feature = "spark")]
#[allow(clippy::too_many_arguments)]
fn spark_runs(
    specs: &[&FeatureSetSpec],
    config: &Config,
    stores: &Stores,
    lock: &RunLock,
    range: DateRange,
    online_order: RunWrite,
    client: &crate::engine::spark::SparkClient,
    progress: &dyn Fn(&str),
) -> Result<Vec<RunReport>> {
    use crate::engine::spark;
    let locations = config.source_locations();
    let root = stores.historical.root();
    let mut reports = Vec::with_capacity(specs.len());
    for spec in specs {
        let repaired = repair_online(spec, stores, &|| Ok(()))?;
        // Spark's partition swap cannot be undone from here: once it may
        // have begun, the record stays until the online write is committed.
        let before_write = |days| {
            lock.still_held()?;
            status::write(
                root,
                &status::OnlineBehind {
                    feature_set: spec.name.to_string(),
                    days,
                    since: status::now(),
                    online: stores.online.inner().location(),
                    reason: status::NOT_FINISHED.to_string(),
                },
            )
        };
        let run = spark::execute(
            spec,
            client,
            &locations,
            &stores.historical,
            &config.base_dir,
            range,
            &before_write,
            progress,
        )?;
        progress("upserting the online store");
        let online = PendingLatest {
            spec,
            rows: online::records_frame(spec, &run.latest)?,
            latest: Some(run.latest),
            days: run.days,
        }
        .write(stores, lock, online_order)?;
        reports.push(RunReport {
            feature_set: spec.name,
            rows: run.rows,
            days: run.days,
            historical: run.historical,
            online: online.write,
            latest: online.latest.unwrap_or_default(),
            times: StageTimes {
                read: Duration::ZERO,
                compute: run.compute,
                historical: run.write,
                online: online.time,
            },
            rejected: Vec::new(),
            events_after_end: 0,
            events_in_future: 0,
            repaired,
            split: None,
        });
    }
    Ok(reports)
}

#[cfg(not(feature = "spark"))]
fn execute_on_spark(
    _: &[&FeatureSetSpec],
    _: &Config,
    _: &Stores,
    _: &RunLock,
    _: DateRange,
    _: RunWrite,
    _: &dyn Fn(&str),
) -> Result<Vec<RunReport>> {
    Err(crate::engine::spark_not_built())
}

/// Where a run's online write stands (see [`WriteOrder`]): as of the end of
/// its end date (of its start, without one), after the runs of the same
/// as-of that started before it. A run without a start date read every event
/// of its sources up to its as-of, so its rows are every key's: it removes
/// the stored keys it has none for.
pub fn run_write(range: DateRange, started: chrono::DateTime<chrono::Utc>) -> RunWrite {
    let run = started.timestamp_micros();
    let as_of = range
        .end
        .and_then(|end| end.succ_opt())
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .map_or(run, |t| t.and_utc().timestamp_micros());
    RunWrite {
        order: WriteOrder { as_of, run },
        covers_every_key: range.start.is_none(),
    }
}

/// A feature set's events, ready to compute once its source was read.
struct Ready {
    prepared: transform::Prepared,
    /// Events after the end date, in the future, and up to the end date.
    late: (usize, usize, usize),
    rejected: Vec<source::Rejected>,
    read: Duration,
}

/// Attributes an error of reading events to where the source was read from.
fn with_location(e: Error, spec: &FeatureSetSpec, locations: &source::SourceLocations) -> Error {
    match e {
        Error::Source {
            source_name,
            location,
            message,
        } if location.is_empty() => Error::Source {
            location: source::describe_location(spec.source, locations),
            source_name,
            message,
        },
        other => other,
    }
}

/// Computes a feature set from its prepared events and writes both stores.
fn execute_prepared<'a>(
    spec: &'a FeatureSetSpec,
    ready: Ready,
    stores: &Stores,
    lock: &RunLock,
    range: DateRange,
    progress: &dyn Fn(&str),
    online_before: &dyn Fn() -> Result<()>,
) -> Result<(RunReport, PendingLatest<'a>)> {
    let t0 = Instant::now();
    progress(&format!("computing `{}`", spec.name));
    let (events_after_end, events_in_future, events_until_end) = ready.late;
    let mut computed = transform::compute_prepared(spec, ready.prepared, range)?;
    if let (Some(end), 0) = (range.end, events_until_end) {
        // No event up to the end date: no key has a state to state. (The
        // engine, as Butterfree, would date a row of empty windows on the
        // end date for keys whose events all come later.) With a start
        // date the run still covers its days, which have no rows; without
        // one it covers none, and writes nothing.
        computed.frame = computed.frame.clear();
        computed.days = range.start.map(|start| (start, end));
    }
    if let (Some(start), Some((first, end))) = (range.start, computed.days) {
        // The days from the start date to the first event's have no rows:
        // the run covers them too, so that zero events and one event left
        // by a filter replace the same days.
        if first > start {
            computed.days = Some((start, end));
        }
    }
    let compute = t0.elapsed();
    tracing::info!(
        feature_set = spec.name,
        rows = computed.frame.height(),
        elapsed_ms = compute.as_millis() as u64,
        "computed"
    );

    // Everything that can be refused is checked before any store changes.
    let latest_rows = online::latest_rows(spec, &computed.frame)?;
    // The records themselves (a few allocations per key) are made once the
    // historical store is written, not held through its write.
    online::check_records(spec, &latest_rows)?;
    stores.online.check(spec)?;
    let repaired = repair_online(spec, stores, online_before)?;
    // Once the latest rows are found (each key's last, by key), each block
    // of keys' rows is ordered by day, which the day files are written from.
    computed.frame = crate::store::historical::by_day_in_chunks(computed.frame)?;

    let t1 = Instant::now();
    let historical = match computed.days {
        Some(days) => write_historical(
            spec,
            stores,
            lock,
            days,
            computed.frame.height(),
            progress,
            &|before_swap| {
                let before_swap = || {
                    online_before()?;
                    before_swap()
                };
                stores
                    .historical
                    .write_checked(spec, &computed.frame, days, &before_swap)
            },
        )?,
        None => HistoricalWrite::default(),
    };
    let historical_time = t1.elapsed();
    tracing::info!(
        feature_set = spec.name,
        partitions = historical.partitions_written,
        deleted = historical.partitions_deleted,
        elapsed_ms = historical_time.as_millis() as u64,
        "historical store written"
    );

    let report = RunReport {
        feature_set: spec.name,
        rows: computed.frame,
        days: computed.days,
        historical,
        // Filled in once the online write is done.
        online: OnlineWrite::default(),
        latest: DataFrame::empty(),
        times: StageTimes {
            read: ready.read,
            compute,
            historical: historical_time,
            online: Duration::ZERO,
        },
        rejected: ready.rejected,
        events_after_end,
        events_in_future,
        repaired,
        split: None,
    };
    let pending = PendingLatest {
        spec,
        rows: latest_rows,
        latest: None,
        days: computed.days,
    };
    Ok((report, pending))
}

/// What is left of a feature set's run once its days are in the
/// historical store: the upsert of its latest rows.
struct PendingLatest<'a> {
    spec: &'a FeatureSetSpec,
    /// The latest rows, as [`online::latest_rows`] or
    /// [`online::records_frame`] gives them: the run's report shows them.
    rows: DataFrame,
    /// The records of `rows`; `None`: `rows` are handed to the store as
    /// their values ([`online::value_rows`]).
    latest: Option<Vec<online::Record>>,
    days: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
}

impl PendingLatest<'_> {
    fn write(
        self,
        stores: &Stores,
        lock: &RunLock,
        order: RunWrite,
    ) -> Result<overlap::OnlineDone> {
        let t = Instant::now();
        let spec = self.spec;
        lock.still_held()?;
        let write = match self.latest {
            Some(latest) => stores.online.write_latest(spec, &latest, order),
            None => online::value_rows(spec, &self.rows)
                .and_then(|rows| stores.online.write_latest_rows(spec, rows, order)),
        }
        .map_err(|e| online_behind(spec, stores, self.days, e))?;
        online_in_step(spec, stores, self.days);
        let latest = online::declared_frame(spec, &self.rows)?;
        tracing::info!(
            feature_set = spec.name,
            written = write.written,
            kept_newer = write.kept_newer,
            elapsed_ms = t.elapsed().as_millis() as u64,
            "online store upserted"
        );
        Ok(overlap::OnlineDone {
            write,
            time: t.elapsed(),
            latest: Some(latest),
        })
    }
}

/// What a historical write calls once every partition is staged.
type BeforeSwap<'a> = &'a dyn Fn() -> Result<()>;

/// Replaces a run's `days` in the historical store by `write`, which calls
/// its argument once every partition is staged: a run that lost its lock
/// to another replaces nothing, and until the online write is committed,
/// the record says the online store is behind.
fn write_historical(
    spec: &FeatureSetSpec,
    stores: &Stores,
    lock: &RunLock,
    days: (chrono::NaiveDate, chrono::NaiveDate),
    rows: usize,
    progress: &dyn Fn(&str),
    write: &dyn Fn(BeforeSwap<'_>) -> Result<HistoricalWrite>,
) -> Result<HistoricalWrite> {
    progress(&format!(
        "writing {rows} rows to the historical store ({} to {})",
        days.0, days.1
    ));
    let behind = status::OnlineBehind {
        feature_set: spec.name.to_string(),
        days,
        since: status::now(),
        online: stores.online.inner().location(),
        reason: status::NOT_FINISHED.to_string(),
    };
    let root = stores.historical.root();
    write(&|| {
        lock.still_held()?;
        status::write(root, &behind)
    })
}

/// After the online write of a run that wrote `days` to the historical
/// store: the stores are in step, and the record that the online store is
/// behind goes. A record left by a failure here only makes the next run
/// re-write rows the online store has.
fn online_in_step(
    spec: &FeatureSetSpec,
    stores: &Stores,
    days: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) {
    if days.is_none() {
        return;
    }
    if let Err(e) = status::clear(stores.historical.root(), spec.name) {
        tracing::warn!(feature_set = spec.name, error = %e, "the online store's status was not cleared");
    }
}

/// The error of an online write that failed after the historical write of
/// `days`: it says which store changed, and the record says why.
fn online_behind(
    spec: &FeatureSetSpec,
    stores: &Stores,
    days: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    e: Error,
) -> Error {
    let Some((from, to)) = days else { return e };
    let root = stores.historical.root();
    // Best effort: the record written before the swap already says the
    // online store is behind; this only adds why.
    if let Ok(Some(mut behind)) = status::read(root, spec.name) {
        behind.reason = e.to_string();
        let _ = status::write(root, &behind);
    }
    Error::OnlineBehind {
        feature_set: spec.name.to_string(),
        historical: stores.historical.location().to_string(),
        online: stores.online.inner().location(),
        from,
        to,
        source: Box::new(e),
    }
}

/// Re-writes into the online store the latest rows of the days an earlier
/// run wrote to the historical store only, when the record says so; returns
/// that record.
/// `before_write` is called first when there is something to re-write.
fn repair_online(
    spec: &FeatureSetSpec,
    stores: &Stores,
    before_write: &dyn Fn() -> Result<()>,
) -> Result<Option<status::OnlineBehind>> {
    let root = stores.historical.root();
    let Some(behind) = status::read(root, spec.name)? else {
        return Ok(None);
    };
    before_write()?;
    let repair = || -> Result<()> {
        let mut rows = stores.historical.read(spec, Some(behind.days))?;
        for partition_column in ["year", "month", "day"] {
            if rows.get_column_index(partition_column).is_some() {
                rows = rows.drop(partition_column).map_err(|e| Error::Polars {
                    context: "reading the rows to re-write".to_string(),
                    source: e,
                })?;
            }
        }
        let latest = online::latest_records(spec, &rows)?;
        // In the failed run's place in the order of runs: as of its end date,
        // started no later than it began replacing partitions. Runs after it
        // (each repaired first) come later, so a row they wrote is kept. It
        // writes the rows of some keys only: keys that run would have removed
        // are removed by the next run without a start date.
        let began = chrono::NaiveDateTime::parse_from_str(&behind.since, "%Y-%m-%d %H:%M:%S")
            .map_err(|e| Error::Invalid(format!("the recorded time `{}`: {e}", behind.since)))?
            .and_utc();
        let order = run_write(
            DateRange {
                start: Some(behind.days.0),
                end: Some(behind.days.1),
            },
            began,
        );
        stores.online.write_latest(spec, &latest, order)?;
        status::clear(root, spec.name)
    };
    repair().map_err(|e| {
        Error::Invalid(format!(
            "feature set `{}`: {behind}; re-writing its online rows from the historical store failed: {e}",
            spec.name
        ))
    })?;
    tracing::info!(feature_set = spec.name, "online store repaired");
    Ok(Some(behind))
}

/// How a dataset gets its feature rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureRows {
    /// Run every joined feature set first (writing both stores), then read
    /// their rows back from the historical store.
    Run,
    /// Read the historical store; a feature set with no stored rows is
    /// computed in memory instead (and no store is written).
    Stored,
}

/// Which files a dataset is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetOutput {
    /// `{name}.csv`
    pub csv: bool,
    /// `{name}.parquet`
    pub parquet: bool,
}

/// What building a dataset did.
#[derive(Debug, Clone)]
pub struct DatasetReport {
    /// The dataset's name.
    pub dataset: &'static str,
    /// The runs of its feature sets, in the order they ran.
    pub feature_sets: Vec<RunReport>,
    /// The dataset's rows.
    pub rows: DataFrame,
    /// The files written: paths on a disk, or objects of an object store.
    pub files: Vec<FileLocation>,
}

/// Builds a dataset: its feature sets first (with [`FeatureRows::Run`]),
/// then the point-in-time join, then the files under the datasets root.
///
/// Spine rows are kept when their time falls in `range` (inclusive days;
/// either bound may be open).
pub fn execute_dataset(
    spec: &DatasetSpec,
    config: &Config,
    stores: &Stores,
    range: DateRange,
    rows: FeatureRows,
    output: DatasetOutput,
    progress: &dyn Fn(&str),
) -> Result<DatasetReport> {
    let locations = config.source_locations();
    let mut runs = Vec::new();
    let names: Vec<&str> = spec.joins.iter().map(|j| j.feature_set.name).collect();
    let _lock = lock(config, &names)?;
    // A dataset Spark cannot build is refused before its feature sets run.
    #[cfg(feature = "spark")]
    if config.engine.kind == crate::engine::EngineKind::Spark {
        crate::engine::spark::dataset::check(spec)?;
    }
    if rows == FeatureRows::Run {
        // Declaration order is a valid dependency order: feature sets depend
        // only on sources. A feature set joined twice runs once.
        let mut specs: Vec<&FeatureSetSpec> = Vec::new();
        for join in spec.joins {
            if !specs.iter().any(|s| s.name == join.feature_set.name) {
                specs.push(join.feature_set);
            }
        }
        runs = execute_all(&specs, config, stores, range, progress)?;
    }
    if config.engine.kind == crate::engine::EngineKind::Spark {
        let frame = dataset_on_spark(spec, config, stores, range, progress)?;
        let dir = config.dataset_location(spec.name)?;
        progress(&format!("writing {} rows to {dir}", frame.height()));
        let files = dataset::write(spec, &frame, &dir, output.csv, output.parquet)?;
        return Ok(DatasetReport {
            dataset: spec.name,
            feature_sets: runs,
            rows: frame,
            files,
        });
    }
    let mut features = Vec::with_capacity(spec.joins.len());
    for join in spec.joins {
        let fs = join.feature_set;
        progress(&format!("reading `{}` from the historical store", fs.name));
        let stored = stores
            .historical
            .read_unordered(fs, range.end.map(|e| (chrono::NaiveDate::MIN, e)))?;
        let frame = if stored.height() > 0 {
            stored.lazy()
        } else {
            progress(&format!(
                "computing `{}` in memory (nothing stored)",
                fs.name
            ));
            tracing::info!(feature_set = fs.name, "no stored rows: computing in memory");
            let events = source::scan(fs.source, &locations)?;
            transform::compute(fs, events, range)?.frame.lazy()
        };
        features.push(frame);
    }
    progress(&format!(
        "joining {} feature set(s) onto `{}`",
        spec.joins.len(),
        spec.spine.name
    ));
    let spine = source::scan(spec.spine, &locations)?;
    let spine = match spine_range(spec, range) {
        Some(pred) => spine.filter(pred),
        None => spine,
    };
    let frame = dataset::build(spec, spine, features)?;
    let dir = config.dataset_location(spec.name)?;
    progress(&format!("writing {} rows to {dir}", frame.height()));
    let files = dataset::write(spec, &frame, &dir, output.csv, output.parquet)?;
    Ok(DatasetReport {
        dataset: spec.name,
        feature_sets: runs,
        rows: frame,
        files,
    })
}

/// The rows of a dataset, joined by a Spark cluster from the spine's files
/// and the feature sets' stored rows.
#[cfg(feature = "spark")]
fn dataset_on_spark(
    spec: &DatasetSpec,
    config: &Config,
    stores: &Stores,
    range: DateRange,
    progress: &dyn Fn(&str),
) -> Result<DataFrame> {
    use crate::engine::spark;
    spark::dataset::check(spec)?;
    progress("connecting to Spark");
    let client = spark::SparkClient::connect(config.engine.spark_remote()?)?;
    progress(&format!(
        "joining {} feature set(s) onto `{}` on Spark",
        spec.joins.len(),
        spec.spine.name
    ));
    let frame = spark::build_dataset(
        spec,
        &client,
        &config.source_locations(),
        &stores.historical,
        &config.base_dir,
        range,
    );
    // Best effort: the server drops an idle session on its own later.
    let _ = client.close();
    frame
}

#[cfg(not(feature = "spark"))]
fn dataset_on_spark(
    _: &DatasetSpec,
    _: &Config,
    _: &Stores,
    _: DateRange,
    _: &dyn Fn(&str),
) -> Result<DataFrame> {
    Err(crate::engine::spark_not_built())
}

fn spine_range(spec: &DatasetSpec, range: DateRange) -> Option<polars::prelude::Expr> {
    use polars::prelude::*;
    let ts = || col(spec.timestamp).cast(DataType::Datetime(TimeUnit::Microseconds, None));
    let micros = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_micros())
    };
    let lower = range
        .start
        .map(|s| ts().gt_eq(lit(micros(s)).cast(DataType::Datetime(TimeUnit::Microseconds, None))));
    let upper = range
        .end
        .and_then(|e| e.succ_opt())
        .map(|e| ts().lt(lit(micros(e)).cast(DataType::Datetime(TimeUnit::Microseconds, None))));
    match (lower, upper) {
        (Some(l), Some(u)) => Some(l.and(u)),
        (l, u) => l.or(u),
    }
}
