//! One measurement, run in a process of its own so its peak memory is its
//! own. Each prints one JSON object on stdout for the driver to tabulate.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use featurestore_runtime::config::Config;
use featurestore_runtime::pipeline::{self, DatasetOutput, FeatureRows, Stores};
use featurestore_runtime::store::online::{self, Value};
use featurestore_runtime::transform::{self, DateRange};
use featurestore_runtime::{source, Dataset, FeatureSet, FeatureSetSpec};
use polars::prelude::*;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::baseline;

type BoxError = Box<dyn std::error::Error>;

/// A stage's time and the peak resident memory of the process during it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    pub secs: f64,
    /// Peak RSS during the stage, MiB; `None` where the kernel cannot reset
    /// the peak between stages.
    pub peak_mib: Option<f64>,
}

/// The end-to-end run of both feature sets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineResult {
    pub secs: f64,
    pub stages: Vec<Stage>,
    pub rows_out: usize,
    pub partitions: usize,
    pub online_rows: usize,
    pub peak_mib: f64,
    /// CPU time of the measuring process (user + system, every thread).
    #[serde(default)]
    pub cpu_secs: f64,
}

/// The engine and the baseline query computing the same rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineResult {
    pub engine_read_secs: f64,
    pub engine_compute_secs: f64,
    pub baseline_read_secs: f64,
    pub baseline_compute_secs: f64,
    pub rows: usize,
    pub same_rows: bool,
}

/// The point-in-time dataset over the stored feature rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatasetResult {
    pub secs: f64,
    pub stages: Vec<Stage>,
    pub spine_rows: usize,
    pub peak_mib: f64,
}

/// Online lookups, in microseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LookupResult {
    pub keys: usize,
    pub single_p50_us: f64,
    pub single_p99_us: f64,
    pub batch_p50_us: f64,
    pub batch_p99_us: f64,
    pub batch_size: usize,
}

/// The stores and inputs of one measurement.
#[derive(Debug, Clone)]
pub struct Work {
    pub events: PathBuf,
    pub dir: PathBuf,
    pub end: NaiveDate,
    /// Run on this Spark Connect server instead of polars.
    pub spark_remote: Option<String>,
    /// Read the events from this location (an object-store URL, say)
    /// instead of `events`; the baseline still reads `events`.
    pub source_url: Option<String>,
    /// The historical store's root instead of `dir/historical`.
    pub historical_root: Option<String>,
    /// The online store instead of `dir/online.sqlite`.
    pub online_url: Option<String>,
}

impl Work {
    fn config(&self) -> Config {
        let mut config = Config::defaults(&self.dir);
        if let Some(remote) = &self.spark_remote {
            config.engine.kind = featurestore_runtime::engine::EngineKind::Spark;
            config.engine.spark_remote = Some(remote.clone());
        }
        config.historical_root = match &self.historical_root {
            Some(root) => root.clone(),
            None => self.dir.join("historical").display().to_string(),
        };
        // The default online store, as a user's runs write it.
        config.online_url = match &self.online_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.dir.join("online.sqlite").display()),
        };
        config.datasets_root = self.dir.join("datasets").display().to_string();
        // A budget given to the bench, as a user gives one to a run.
        if let Ok(budget) = std::env::var(featurestore_runtime::config::ENV_MEMORY_BUDGET) {
            config.engine.memory_budget = Some(
                featurestore_runtime::config::parse_size(&budget)
                    .unwrap_or_else(|e| panic!("FEATURESTORE_MEMORY_BUDGET: {e}")),
            );
        }
        config.sources.insert(
            <features::OrderEvents as featurestore_runtime::Source>::SPEC
                .name
                .to_string(),
            self.source_url
                .clone()
                .unwrap_or_else(|| self.events.display().to_string()),
        );
        config
    }

    fn range(&self) -> DateRange {
        DateRange {
            start: None,
            end: Some(self.end),
        }
    }
}

fn feature_sets() -> [&'static FeatureSetSpec; 2] {
    [
        &<features::UserOrders as FeatureSet>::SPEC,
        &<features::UserChargebacks as FeatureSet>::SPEC,
    ]
}

/// Peak resident memory of this process so far, MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The peak of a run: the largest stage peak (the process peak is reset
/// between stages), or the process peak where it cannot be reset.
fn run_peak(stages: &[Stage]) -> f64 {
    let now = peak_rss_mib().unwrap_or(f64::NAN);
    stages.iter().filter_map(|s| s.peak_mib).fold(now, f64::max)
}

/// Resets the peak RSS to the current RSS (Linux ≥ 4.0: `clear_refs` 5).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Times the stages a run reports through its progress messages, and the
/// peak memory of each.
struct Recorder {
    state: Mutex<RecorderState>,
    resettable: bool,
}

struct RecorderState {
    current: Option<(String, Instant)>,
    stages: Vec<Stage>,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            resettable: reset_peak(),
            state: Mutex::new(RecorderState {
                current: None,
                stages: Vec::new(),
            }),
        }
    }

    fn stage_of(message: &str) -> &'static str {
        if message.starts_with("reading") && message.contains("historical") {
            "read feature rows"
        } else if message.starts_with("reading") {
            "read"
        } else if message.starts_with("computing") {
            "compute"
        } else if message.contains("historical store") {
            "historical write"
        } else if message.starts_with("upserting") {
            "online write"
        } else if message.starts_with("joining") {
            "as-of join"
        } else if message.starts_with("writing") {
            "dataset write"
        } else {
            "other"
        }
    }

    fn enter(&self, message: &str) {
        let mut s = self.state.lock().expect("not poisoned");
        Self::close(&mut s, self.resettable);
        s.current = Some((Self::stage_of(message).to_string(), Instant::now()));
    }

    fn close(s: &mut RecorderState, resettable: bool) {
        if let Some((name, t)) = s.current.take() {
            let secs = t.elapsed().as_secs_f64();
            let peak = resettable.then(peak_rss_mib).flatten();
            match s.stages.iter_mut().find(|st| st.name == name) {
                Some(st) => {
                    st.secs += secs;
                    st.peak_mib = match (st.peak_mib, peak) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => s.stages.push(Stage {
                    name,
                    secs,
                    peak_mib: peak,
                }),
            }
            if resettable {
                reset_peak();
            }
        }
    }

    fn finish(self) -> Vec<Stage> {
        let mut s = self.state.into_inner().expect("not poisoned");
        Self::close(&mut s, self.resettable);
        s.stages
    }
}

/// Both feature sets, CSV → historical Parquet + online store, from empty stores.
pub fn pipeline(work: &Work) -> Result<PipelineResult, BoxError> {
    let config = work.config();
    let stores = Stores::open(&config)?;
    let recorder = Recorder::new();
    let t = Instant::now();
    let runs = pipeline::execute_all(&feature_sets(), &config, &stores, work.range(), &|m| {
        recorder.enter(m)
    })?;
    let secs = t.elapsed().as_secs_f64();
    let stages = recorder.finish();
    Ok(PipelineResult {
        secs,
        peak_mib: run_peak(&stages),
        stages,
        rows_out: runs.iter().map(|r| r.row_count()).sum(),
        partitions: runs.iter().map(|r| r.historical.partitions_written).sum(),
        online_rows: runs.iter().map(|r| r.online.written).sum(),
        cpu_secs: process_cpu_secs(),
    })
}

/// This process's CPU time so far, user and system, all threads: fields 14
/// and 15 of `/proc/self/stat`, in clock ticks (`USER_HZ`, 100 on Linux).
/// The run is the process's work: its setup is a few milliseconds.
fn process_cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // The command name (field 2) is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // After the name: field 3 is fields[0], so utime (14) is fields[11].
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// The engine's read + compute of both feature sets, then the baseline
/// query's, and whether their rows are equal.
pub fn baseline(work: &Work) -> Result<BaselineResult, BoxError> {
    let config = work.config();
    let locations = config.source_locations();
    let [orders, chargebacks] = feature_sets();

    let t = Instant::now();
    let events = source::read(orders.source, &locations)?.frame;
    let engine_read = t.elapsed();
    let t = Instant::now();
    let mine = [
        transform::compute(orders, events.clone(), work.range())?.frame,
        transform::compute(chargebacks, events, work.range())?.frame,
    ];
    let engine_compute = t.elapsed();

    let t = Instant::now();
    let events = baseline::read_events(&work.events.display().to_string())?;
    let baseline_read = t.elapsed();
    let end_day = i64::from(
        work.end
            .signed_duration_since(NaiveDate::default())
            .num_days() as i32,
    );
    let t = Instant::now();
    let theirs = [
        baseline::feature_rows(&events, baseline::ORDERS, end_day)?,
        baseline::feature_rows(&events, baseline::CHARGEBACKS, end_day)?,
    ];
    let baseline_compute = t.elapsed();

    let same_rows = mine.iter().zip(&theirs).all(|(a, b)| a.equals_missing(b));
    if !same_rows {
        for (a, b) in mine.iter().zip(&theirs) {
            eprintln!("engine:\n{a}\nbaseline:\n{b}");
        }
    }
    Ok(BaselineResult {
        engine_read_secs: engine_read.as_secs_f64(),
        engine_compute_secs: engine_compute.as_secs_f64(),
        baseline_read_secs: baseline_read.as_secs_f64(),
        baseline_compute_secs: baseline_compute.as_secs_f64(),
        rows: mine.iter().map(DataFrame::height).sum(),
        same_rows,
    })
}

/// The example's dataset over every order, from the stored feature rows
/// (run [`pipeline()`] on the same work directory first). Parquet output.
pub fn dataset(work: &Work) -> Result<DatasetResult, BoxError> {
    let config = work.config();
    let stores = Stores::open(&config)?;
    let recorder = Recorder::new();
    let t = Instant::now();
    let report = pipeline::execute_dataset(
        &<features::AwesomeDataset as Dataset>::SPEC,
        &config,
        &stores,
        work.range(),
        FeatureRows::Stored,
        DatasetOutput {
            csv: false,
            parquet: true,
        },
        &|m| recorder.enter(m),
    )?;
    let secs = t.elapsed().as_secs_f64();
    let stages = recorder.finish();
    Ok(DatasetResult {
        secs,
        peak_mib: run_peak(&stages),
        stages,
        spine_rows: report.rows.height(),
    })
}

/// Single-key and batched lookups of `user_orders` in the embedded store
/// written by [`pipeline()`], over every stored key in a seeded random order.
pub fn lookups(work: &Work, seed: u64) -> Result<LookupResult, BoxError> {
    const SINGLE: usize = 100_000;
    const BATCHES: usize = 5_000;
    const BATCH: usize = 100;
    let config = work.config();
    let store = online::open_url(&config.online_url, Path::new(&work.dir))?;
    let spec = feature_sets()[0];
    let mut keys: Vec<Vec<Value>> = store.scan(spec)?.into_iter().map(|r| r.key).collect();
    if keys.is_empty() {
        return Err("the online store is empty: run the pipeline measurement first".into());
    }
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    keys.shuffle(&mut rng);

    // Warm the page cache and the allocator before timing.
    for k in keys.iter().take(1_000) {
        store.get(spec, k)?;
    }
    let mut single = Vec::with_capacity(SINGLE);
    for i in 0..SINGLE {
        let k = &keys[i % keys.len()];
        let t = Instant::now();
        let found = store.get(spec, k)?;
        single.push(t.elapsed());
        if found.is_none() {
            return Err(format!("key {k:?} was scanned but not found").into());
        }
    }
    let mut batched = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let batch: Vec<Vec<Value>> = (0..BATCH)
            .map(|_| keys[rng.random_range(0..keys.len())].clone())
            .collect();
        let t = Instant::now();
        let found = store.get_many(spec, &batch)?;
        batched.push(t.elapsed());
        if found.iter().any(Option::is_none) {
            return Err("a scanned key was not found in a batch".into());
        }
    }
    let (s50, s99) = percentiles(&mut single);
    let (b50, b99) = percentiles(&mut batched);
    Ok(LookupResult {
        keys: keys.len(),
        single_p50_us: s50,
        single_p99_us: s99,
        batch_p50_us: b50,
        batch_p99_us: b99,
        batch_size: BATCH,
    })
}

/// p50 and p99 (nearest rank) in microseconds.
pub(crate) fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let at = |p: f64| {
        let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        samples[rank - 1].as_secs_f64() * 1e6
    };
    (at(0.50), at(0.99))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{write_csv, Shape};

    #[test]
    fn the_engine_and_the_hand_written_query_compute_the_same_rows() {
        // The baseline is an independent statement of the semantics (a dense
        // keys × days grid): on generated data, the engine must agree with it.
        let dir = tempfile::tempdir().unwrap();
        // 5000 users: above the size where keys are run in parallel chunks.
        let shape = Shape {
            events: 100_000,
            days: 45,
            seed: 3,
        };
        let events = dir.path().join("events.csv");
        write_csv(shape, &events).unwrap();
        let work = Work {
            events,
            dir: dir.path().to_path_buf(),
            // Before the last day: later events and chargebacks are cut off.
            end: shape.last_day() - chrono::Duration::days(5),
            spark_remote: None,
            source_url: None,
            historical_root: None,
            online_url: None,
        };
        let r = baseline(&work).unwrap();
        assert!(r.same_rows);
        assert!(r.rows > 50_000, "{}", r.rows);
    }

    #[test]
    fn stages_and_lookups_are_measured_on_real_stores() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape {
            events: 2_000,
            days: 20,
            seed: 5,
        };
        let events = dir.path().join("events.csv");
        write_csv(shape, &events).unwrap();
        let work = Work {
            events,
            dir: dir.path().to_path_buf(),
            end: shape.last_day(),
            spark_remote: None,
            source_url: None,
            historical_root: None,
            online_url: None,
        };
        let p = pipeline(&work).unwrap();
        let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["read", "compute", "historical write", "online write"]
        );
        assert!(p.rows_out > 0 && p.partitions > 0 && p.online_rows > 0);
        let d = dataset(&work).unwrap();
        assert_eq!(d.spine_rows, 2_000);
        let l = lookups(&work, 1).unwrap();
        assert!(l.keys > 0 && l.keys <= shape.users(), "{}", l.keys);
    }
}
