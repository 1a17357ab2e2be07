//! A run split by key, for events that do not fit in the run's memory
//! budget.
//!
//! A run in memory holds its source's rows, then its events and its output
//! rows: about [`BYTES_PER_INPUT_BYTE`] bytes per byte of CSV read (measured
//! at 10M events). When that passes the budget
//! ([`EngineConfig::memory_budget`](crate::engine::EngineConfig)), the run
//! reads the source into `n` parts by a hash of the key, on the local disk
//! ([`source::split`]), so that each part fits. The parts keep only the
//! columns the run's feature sets read, and a column only counted as
//! whether each value is null; every column as it is when a hook or a
//! `query` may read any. Then:
//!
//! 1. the earliest event of all is found: the first day of every key's
//!    rows. A feature set that reads its source's rows as they are (no
//!    hook, `query` or `filter`) takes it from the split, which noted each
//!    time column's earliest value; one with only a `filter` reads each
//!    part's time and filter columns; any other has each part's events
//!    prepared (hooks, `query`, `filter`) to find it;
//! 2. each part is prepared (again, for the last: its hooks run a second
//!    time, they are functions of the events) and computed alone (its
//!    keys' events are all in it), and its rows spilled by day, their
//!    statistics gathered, and the latest row of each key kept for the
//!    online store;
//! 3. each day's partition is assembled from the parts, sorted by key and
//!    time, and the historical store written as a run in memory writes it
//!    (staged, then swapped); then the online store, while the next feature
//!    set of the run is computed (it waits for that write before its own
//!    swap: a failed online write stops the run before another store
//!    changes).
//!
//! The rows are those of a run in memory, the day files byte for byte. What
//! a part cannot see: a `query`, `filter` or hook that reads across keys
//! (an aggregate over all events) sees only the part's events; such a
//! feature set must run in memory. A run without a start date, which
//! removes from the online store the keys it has no row for, upserts the
//! latest rows of all keys at once.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use polars::prelude::*;

use super::{online_behind, quality, repair_online, RunReport, StageTimes, Stores};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::source::split::{note_read, ColumnsRead, KeySplit};
use crate::source::{self, SourceLocations};
use crate::spec::FeatureSetSpec;
use crate::spill;
use crate::store::historical::{DaySpill, HistoricalWrite};
use crate::store::online::{self, OnlineWrite, RunWrite};
use crate::transform::{self, DateRange};

use super::lock::RunLock;
use super::overlap::{OnlineDone, OnlineWrites};

/// Peak bytes of a run in memory per byte of CSV it reads (10M events: a
/// 460 MB file, 1.27 GB at the peak), rounded up.
pub const BYTES_PER_INPUT_BYTE: u64 = 3;

/// The most parts a run is split into.
const MAX_PARTS: usize = 4096;

/// The default memory budget: half of the machine's memory.
pub fn default_budget() -> u64 {
    polars_utils::sys::total_memory() / 2
}

/// A run split by key: what differs from a run in memory.
#[derive(Debug, Clone)]
pub struct SplitRun {
    /// The parts the events were read into.
    pub parts: usize,
    /// Rows the run wrote.
    pub rows: usize,
    /// The statistics of its rows, gathered part by part.
    pub stats: quality::PartStats,
}

/// Into how many parts a run of `spec` is split to fit its memory budget,
/// or `None` when it runs in memory (it fits, or it cannot be split: the
/// log says why).
pub(super) fn parts(
    spec: &FeatureSetSpec,
    config: &Config,
    locations: &SourceLocations,
) -> Option<usize> {
    let budget = config
        .engine
        .memory_budget
        .unwrap_or_else(default_budget)
        .max(1);
    let bytes = source::split::input_bytes(spec.source, locations)?;
    let needed = bytes.saturating_mul(BYTES_PER_INPUT_BYTE);
    if needed <= budget {
        return None;
    }
    let keys: Vec<&str> = spec.key_names().collect();
    let why = if spec.is_plain() {
        Some("the feature set has no aggregation".to_string())
    } else {
        source::split::cannot_split(spec.source, locations, &keys)
    };
    if let Some(why) = why {
        tracing::warn!(
            feature_set = spec.name,
            needed_bytes = needed,
            budget_bytes = budget,
            "the run may need more than its memory budget, and runs in memory: {why}"
        );
        return None;
    }
    // Twice the parts the estimate asks for: parts are uneven, and the
    // next part is read while one is freed.
    Some((needed.div_ceil(budget) as usize * 2).clamp(2, MAX_PARTS))
}

/// Runs the feature sets `group`, all over one source and with the same
/// keys, split into `n` parts by key (see the module): the source is read
/// once for all of them, then each is computed and written in turn.
#[allow(clippy::too_many_arguments)]
pub(super) fn execute<'scope, 'env>(
    group: &[(usize, &'env FeatureSetSpec)],
    config: &Config,
    stores: &'env Stores,
    lock: &'env RunLock,
    range: DateRange,
    online_order: RunWrite,
    progress: &dyn Fn(&str),
    n: usize,
    locations: &'env SourceLocations,
    writes: &OnlineWrites<'scope, 'env>,
) -> Result<Vec<RunReport>> {
    let spec = group[0].1;
    let budget = config.engine.memory_budget.unwrap_or_else(default_budget);
    let spill_root = config
        .engine
        .spill_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    // Removed when the last online write of the group is done with it.
    let dir = std::sync::Arc::new(
        tempfile::Builder::new()
            .prefix("featurestore-spill-")
            .tempdir_in(&spill_root)
            .map_err(|e| Error::Io {
                context: format!("creating a spill directory in {}", spill_root.display()),
                source: e,
            })?,
    );
    progress(&format!(
        "reading `{}` in {n} parts by key (the run would not fit its memory budget of {} MiB)",
        spec.source.name,
        budget >> 20
    ));
    let keys: Vec<&str> = spec.key_names().collect();
    // A file is read whole when it fits a part's share of the budget.
    let piece = budget / BYTES_PER_INPUT_BYTE / 2;
    let read = columns_read(group);
    let split = source::split::split_by_key(
        spec.source,
        locations,
        &keys,
        n,
        &dir.path().join("events"),
        piece,
        read.as_ref(),
    )
    .map_err(|e| super::with_location(e, spec, locations))?;
    crate::fail::point(|| "source:read".to_string());
    // Each feature set's online write runs while the next is computed
    // (`overlap`).
    let mut reports = Vec::with_capacity(group.len());
    for (i, &(index, spec)) in group.iter().enumerate() {
        let spilled = dir.path().join(spec.name);
        let (report, pending) = execute_one(
            spec,
            &split,
            &spilled,
            stores,
            lock,
            range,
            progress,
            locations,
            n,
            i + 1 == group.len(),
            &|| writes.wait(),
        )
        .map_err(|e| super::with_location(e, spec, locations))?;
        reports.push(report);
        progress("upserting the online store");
        let dir = dir.clone();
        writes.start(index, move || {
            let done = pending
                .write(stores, lock, online_order)
                .map_err(|e| super::with_location(e, spec, locations));
            drop(dir);
            done
        })?;
    }
    Ok(reports)
}

/// What the parts keep of each column of the source of `group`: what any of
/// its feature sets reads of it ([`transform::source_columns_read`]);
/// `None`, every column as it is, when one of them may read any.
fn columns_read(group: &[(usize, &FeatureSetSpec)]) -> Option<ColumnsRead> {
    let mut all = ColumnsRead::new();
    for (_, spec) in group {
        for (name, how) in transform::source_columns_read(spec)? {
            note_read(&mut all, &name, how);
        }
    }
    Some(all)
}

/// One feature set of [`execute`], from the parts of its source.
#[allow(clippy::too_many_arguments)]
fn execute_one<'a>(
    spec: &'a FeatureSetSpec,
    split: &KeySplit,
    dir: &std::path::Path,
    stores: &Stores,
    lock: &RunLock,
    range: DateRange,
    progress: &dyn Fn(&str),
    locations: &SourceLocations,
    n: usize,
    last_of_group: bool,
    online_before: &dyn Fn() -> Result<()>,
) -> Result<(RunReport, PendingOnline<'a>)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Io {
        context: format!("creating the spill directory {}", dir.display()),
        source: e,
    })?;
    let spilled = |name: &str| dir.join(name);
    let KeySplit {
        buckets,
        rejected,
        read,
        ..
    } = split;
    let (read, rejected) = (*read, rejected.clone());

    // 1. Find the earliest event of all: the first day of every key's rows.
    let t0 = Instant::now();
    progress(&format!(
        "computing `{}` in {} parts",
        spec.name,
        buckets.len()
    ));
    // Events after the end date, in the future, up to the end date.
    let mut late = (0, 0, 0);
    let mut count_late = |(a, f, u): (usize, usize, usize)| {
        late = (late.0 + a, late.1 + f, late.2 + u);
    };
    // Each part is prepared again where it is computed: preparing costs
    // less than writing the prepared events and reading them back. The
    // whole part is read (its buffers copied, nothing decoded); `prepare`
    // drops the columns the feature set does not read.
    let prepare = |bucket: &PathBuf| -> Result<transform::Prepared> {
        let events = spill::read(bucket)?.lazy();
        transform::prepare(spec, events, range)
            .map_err(|e| super::with_location(e, spec, locations))
    };
    // Events read as the source has them: the split saw their earliest
    // time, and the parts are read once, their late events counted as
    // they are computed. Else each part is read twice: first its time and
    // `filter` columns alone, or with a hook or a `query` prepared whole.
    let seen = split
        .first_times
        .get(spec.timestamp)
        .filter(|_| transform::reads_source_as_is(spec));
    let (first, count_as_computed) = match seen {
        Some(&first) => (first, true),
        None => {
            let columns = transform::time_and_filter_columns(spec);
            let mut first: Option<i64> = None;
            for bucket in buckets {
                // A column missing from the events is named by `prepare`.
                let projected = columns.as_deref().and_then(|columns| {
                    let events = spill::read_columns(bucket, Some(columns)).ok()?;
                    transform::first_and_late_events(spec, events.lazy(), range).ok()
                });
                let (t, counts) = match projected {
                    Some(found) => found,
                    None => transform::first_and_late_prepared(spec, &prepare(bucket)?, range)?,
                };
                count_late(counts);
                if let Some(t) = t {
                    first = Some(first.map_or(t, |f| f.min(t)));
                }
            }
            (first, false)
        }
    };
    // No event up to the end date: the rows are computed (their late
    // events counted) but none is kept.
    let none_until_end =
        range.end.is_some() && first.is_none_or(|f| f >= transform::after_end(range));

    // 2. Compute each part alone.
    let root = stores.historical.root();
    let previous = quality::latest(root, spec.name, 1)?.pop();
    let mut stats = quality::PartStats::new(spec, previous.as_ref());
    let mut spill = DaySpill::new(&spilled("days"))?;
    let mut latest_files: Vec<PathBuf> = Vec::new();
    let mut days: Option<(chrono::NaiveDate, chrono::NaiveDate)> = None;
    let mut empty: Option<DataFrame> = None;
    // A part's rows are spilled on a thread of their own while the next
    // part is computed: the compute has stretches on one core, and the
    // spill is splitting by day and writes.
    beside(
        |spill_part| {
            for (i, bucket) in buckets.iter().enumerate() {
                let prepared = prepare(bucket)?;
                if last_of_group {
                    // Read for the last time: its disk space, and its pages
                    // in the page cache, go to the rows spilled next. (The
                    // spill directory is removed at the end in any case.)
                    let _ = std::fs::remove_file(bucket);
                }
                if count_as_computed {
                    count_late(transform::late_events(spec, &prepared, range)?);
                }
                let computed = transform::compute_prepared_from(spec, prepared, range, first)?;
                days = days.or(computed.days);
                if empty.is_none() {
                    empty = Some(computed.frame.clear());
                }
                if none_until_end {
                    continue;
                }
                if !spill_part((i, computed.frame)) {
                    break;
                }
            }
            Ok(())
        },
        |(i, frame): (usize, DataFrame)| {
            stats.add(&frame)?;
            spill.add(&frame)?;
            let latest = online::latest_rows(spec, &frame)?;
            if latest.height() > 0 {
                let path = spilled(&format!("latest-{i:04}.arrow"));
                spill::write(&path, &online::declared_frame(spec, &latest)?)?;
                latest_files.push(path);
            }
            Ok(())
        },
    )?;
    // As a run in memory: no event up to the end date leaves no state to
    // state; the days from the start date to the first event's are covered.
    let (after_end, in_future, until_end) = late;
    if let (Some(end), 0) = (range.end, until_end) {
        days = range.start.map(|start| (start, end));
    }
    if let (Some(start), Some((first_day, end))) = (range.start, days) {
        if first_day > start {
            days = Some((start, end));
        }
    }
    stats.bin();
    let compute = t0.elapsed();

    stores.online.check(spec)?;
    let repaired = repair_online(spec, stores, online_before)?;
    let t1 = Instant::now();
    let historical = match days {
        Some(days) => {
            let counting = Mutex::new(&mut stats);
            let inspect = |frame: &DataFrame| -> Result<()> {
                counting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .count(frame)
            };
            super::write_historical(
                spec,
                stores,
                lock,
                days,
                spill.rows(),
                progress,
                &|before_swap| {
                    let before_swap = || {
                        online_before()?;
                        before_swap()
                    };
                    stores
                        .historical
                        .write_spilled(spec, &spill, days, &before_swap, &inspect)
                },
            )?
        }
        None => HistoricalWrite::default(),
    };
    let historical_time = t1.elapsed();

    let rows = spill.rows();
    drop(spill);
    // The rows by day are in the historical store now: their files go
    // before the next feature set spills its own.
    let _ = std::fs::remove_dir_all(spilled("days"));
    let report = RunReport {
        feature_set: spec.name,
        rows: empty.unwrap_or_default(),
        days,
        historical,
        // Filled in once the online write is done.
        online: OnlineWrite::default(),
        latest: online::records_frame(spec, &[])?,
        times: StageTimes {
            read,
            compute,
            historical: historical_time,
            online: std::time::Duration::ZERO,
        },
        rejected,
        events_after_end: after_end,
        events_in_future: in_future,
        repaired,
        split: Some(SplitRun {
            parts: n,
            rows,
            stats,
        }),
    };
    let pending = PendingOnline {
        spec,
        latest_files,
        days,
        dir: dir.to_path_buf(),
    };
    Ok((report, pending))
}

/// What is left of a feature set's run once its days are in the
/// historical store: its online write, from the latest rows of its parts.
struct PendingOnline<'a> {
    spec: &'a FeatureSetSpec,
    latest_files: Vec<PathBuf>,
    days: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    /// The feature set's spill directory, removed once written.
    dir: PathBuf,
}

impl PendingOnline<'_> {
    fn write(self, stores: &Stores, lock: &RunLock, order: RunWrite) -> Result<OnlineDone> {
        let t = Instant::now();
        let spec = self.spec;
        lock.still_held()?;
        let written = write_online(spec, stores, &self.latest_files, order)
            .map_err(|e| online_behind(spec, stores, self.days, e))?;
        super::online_in_step(spec, stores, self.days);
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(OnlineDone {
            write: written,
            time: t.elapsed(),
            latest: None,
        })
    }
}

/// Runs `produce` here and `consume` on a thread of its own, each item
/// handed over as it is produced (at most one waiting). `produce` hands an
/// item over with its argument, which answers false once `consume` has
/// failed: it then stops, and `consume`'s error is the call's; an error of
/// `produce` comes first.
fn beside<T: Send>(
    produce: impl FnOnce(&mut dyn FnMut(T) -> bool) -> Result<()>,
    mut consume: impl FnMut(T) -> Result<()> + Send,
) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<T>(1);
    std::thread::scope(|s| {
        let consumer = s.spawn(move || -> Result<()> {
            for item in rx {
                consume(item)?;
            }
            Ok(())
        });
        let produced = produce(&mut |item| tx.send(item).is_ok());
        drop(tx);
        let consumed = consumer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        produced.and(consumed)
    })
}

/// Upserts the spilled latest rows, part by part; a run that covers every
/// key (and so removes the keys it has none for) in one write.
fn write_online(
    spec: &FeatureSetSpec,
    stores: &Stores,
    latest_files: &[PathBuf],
    order: RunWrite,
) -> Result<OnlineWrite> {
    let mut total = OnlineWrite::default();
    let mut add = |records: &[online::Record], order: RunWrite| -> Result<()> {
        let w = stores.online.write_latest(spec, records, order)?;
        total.written += w.written;
        total.kept_newer += w.kept_newer;
        total.removed += w.removed;
        Ok(())
    };
    if order.covers_every_key {
        let mut all = Vec::new();
        for path in latest_files {
            all.extend(online::latest_records(spec, &spill::read(path)?)?);
        }
        add(&all, order)?;
    } else {
        for path in latest_files {
            add(&online::latest_records(spec, &spill::read(path)?)?, order)?;
        }
    }
    Ok(total)
}
