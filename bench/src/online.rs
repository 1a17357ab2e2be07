//! The online stores on their own, through the same API a run and the
//! feature server use: rows written per second, then single-key and
//! 100-key reads, for a feature set of N float features (Feast's published
//! figures are for 250), on any online store URL. And a feature server over
//! such a feature set, for `bench/serve/run.sh`.

use std::path::Path;
use std::time::{Duration, Instant};

use featurestore_runtime::config::ServerConfig;
use featurestore_runtime::location::OnlineLocation;
use featurestore_runtime::spec::{
    Aggregation, ColumnSpec, DataType, FeatureSetSpec, FeatureSpec, Format, OnBadRows,
    OutputColumn, Preprocessing, SourceKind, SourceSpec, Window,
};
use featurestore_runtime::store::online::{self, Record, RunWrite, Value, WriteOrder};
use featurestore_runtime::{io, Registry};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::measure::percentiles;
use crate::BoxError;

/// Rows per `write_latest` call: a run writes its rows in chunks too, and a
/// chunk bounds what one call holds in memory.
const CHUNK: usize = 10_000;
const SINGLE: usize = 20_000;
const BATCHES: usize = 2_000;
const BATCH: usize = 100;

static SOURCE: SourceSpec = SourceSpec {
    name: "wide_events",
    description: "Generated events of the wide benchmark feature sets.",
    kind: SourceKind::File {
        path: "wide_events.csv",
        format: Format::Csv,
    },
    columns: &[
        ColumnSpec {
            name: "id",
            dtype: DataType::String,
            nullable: false,
            description: "",
        },
        ColumnSpec {
            name: "at",
            dtype: DataType::Timestamp,
            nullable: false,
            description: "",
        },
        ColumnSpec {
            name: "value",
            dtype: DataType::Float64,
            nullable: true,
            description: "",
        },
    ],
    on_bad_rows: OnBadRows::Fail,
    time_columns: &[],
    derived: &[],
    preprocess: Preprocessing::NONE,
};

/// `wide_N`: N float features `f001`… keyed by the string `id`, each
/// stored as one column (what Feast's 250-feature figures read).
pub fn wide_spec(features: usize) -> FeatureSetSpec {
    let name = |i: usize| -> &'static str { Box::leak(format!("f{:03}", i + 1).into_boxed_str()) };
    let specs: Vec<FeatureSpec> = (0..features)
        .map(|i| FeatureSpec {
            name: name(i),
            column: "value",
            aggregations: &[Aggregation::Sum],
            dtype: DataType::Float64,
            description: "",
            plain: None,
            frame: None,
            condition: false,
            filter: None,
            fill_null: None,
        })
        .collect();
    let outputs: Vec<OutputColumn> = (0..features)
        .map(|i| OutputColumn {
            name: name(i),
            feature: i,
            aggregation: Aggregation::Sum,
            window: None,
            dtype: DataType::Float64,
            nullable: true,
            pivot: None,
        })
        .collect();
    FeatureSetSpec {
        name: Box::leak(format!("wide_{features}").into_boxed_str()),
        description: "A generated feature set of float features, for the online benchmarks.",
        keys: &[ColumnSpec {
            name: "id",
            dtype: DataType::String,
            nullable: false,
            description: "",
        }],
        timestamp: "at",
        source: &SOURCE,
        filter: None,
        query: None,
        windows: &[],
        slide: Window::DAY,
        ttl: None,
        fill_null: None,
        features: Box::leak(specs.into_boxed_slice()),
        outputs: Box::leak(outputs.into_boxed_slice()),
        pivot: None,
        distinct: None,
        pre_hooks: &[],
        post_hooks: &[],
    }
}

/// The key of row `i`: `k0`, `k1`, …
fn key(i: usize) -> Vec<Value> {
    vec![Value::Str(format!("k{i}"))]
}

/// Opens `url` and brings `spec`'s table in line (`migrate apply`), as a
/// deployment would before its first run.
fn open(url: &str, spec: &FeatureSetSpec) -> Result<online::BlockingOnlineStore, BoxError> {
    let store = online::open_url(url, Path::new("."))?;
    let inner = store.inner().clone();
    io::block_on(async {
        let steps = inner.plan(spec).await?;
        inner.apply(spec, &steps).await
    })?;
    Ok(store)
}

/// Writes `rows` rows of `spec` (values from `seed`), `CHUNK` per call;
/// returns the seconds taken.
fn fill(
    store: &online::BlockingOnlineStore,
    spec: &FeatureSetSpec,
    rows: usize,
    seed: u64,
) -> Result<f64, BoxError> {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    let order = WriteOrder {
        as_of: chrono::Utc::now().timestamp_micros(),
        run: chrono::Utc::now().timestamp_micros(),
    };
    let timestamp = order.as_of;
    let mut seconds = 0.0;
    let mut start = 0;
    while start < rows {
        let end = (start + CHUNK).min(rows);
        // Generated outside the clock: the store's work is what is timed.
        let records: Vec<Record> = (start..end)
            .map(|i| Record {
                key: key(i),
                timestamp,
                values: (0..spec.outputs.len())
                    .map(|_| Value::Float(rng.random_range(0.0..1000.0)))
                    .collect(),
            })
            .collect();
        let t = Instant::now();
        store.write_latest(spec, &records, RunWrite::some_keys(order))?;
        seconds += t.elapsed().as_secs_f64();
        start = end;
    }
    Ok(seconds)
}

#[derive(Debug, Serialize)]
pub struct OnlineResult {
    pub backend: String,
    pub features: usize,
    pub rows: usize,
    pub write_rows_per_s: f64,
    pub single_p50_us: f64,
    pub single_p99_us: f64,
    pub batch_size: usize,
    pub batch_p50_us: f64,
    pub batch_p99_us: f64,
}

/// Writes `rows` rows of a `features`-feature set to the store at `url`,
/// then reads single keys and batches of 100 at random.
pub fn measure(
    url: &str,
    rows: usize,
    features: usize,
    seed: u64,
) -> Result<OnlineResult, BoxError> {
    let spec = wide_spec(features);
    let store = open(url, &spec)?;
    let write_seconds = fill(&store, &spec, rows, seed)?;

    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(&mut rng);
    // Warm connections, caches and the allocator before timing.
    for &i in order.iter().take(500) {
        store.get(&spec, &key(i))?;
    }
    let mut single: Vec<Duration> = Vec::with_capacity(SINGLE);
    for n in 0..SINGLE {
        let k = key(order[n % rows]);
        let t = Instant::now();
        let found = store.get(&spec, &k)?;
        single.push(t.elapsed());
        if found.is_none() {
            return Err(format!("key {k:?} was written but not found").into());
        }
    }
    let mut batched: Vec<Duration> = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let keys: Vec<Vec<Value>> = (0..BATCH).map(|_| key(rng.random_range(0..rows))).collect();
        let t = Instant::now();
        let found = store.get_many(&spec, &keys)?;
        batched.push(t.elapsed());
        if found.iter().any(Option::is_none) {
            return Err("a written key was not found in a batch".into());
        }
    }
    // The benchmark's rows go, so a shared server is left as it was.
    let inner = store.inner().clone();
    io::block_on(inner.drop_rows(&spec))?;
    let (s50, s99) = percentiles(&mut single);
    let (b50, b99) = percentiles(&mut batched);
    Ok(OnlineResult {
        backend: store.inner().backend().to_string(),
        features,
        rows,
        write_rows_per_s: rows as f64 / write_seconds,
        single_p50_us: s50,
        single_p99_us: s99,
        batch_size: BATCH,
        batch_p50_us: b50,
        batch_p99_us: b99,
    })
}

/// Fills the store at `url` with `keys` rows of a `features`-feature set
/// and serves it on `bind` until SIGTERM, printing the address first.
pub fn serve(url: &str, features: usize, keys: usize, bind: &str) -> Result<(), BoxError> {
    let spec = wide_spec(features);
    let store = open(url, &spec)?;
    fill(&store, &spec, keys, 42)?;
    drop(store);
    let options = ServerConfig {
        bind: bind.to_string(),
        ..ServerConfig::default()
    };
    let server = featurestore_runtime::serve::bind(
        Registry::new().feature_set_spec(spec),
        Vec::new(),
        OnlineLocation::parse(url, Path::new("."))?,
        Default::default(),
        None,
        &options,
        env!("CARGO_PKG_VERSION"),
    )?;
    // The line run.sh waits for, as `features serve` prints it.
    println!("serving on http://{}", server.address());
    server.run()?;
    Ok(())
}
