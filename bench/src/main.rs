//! `featurestore-bench`: generates order events and measures the engine on
//! them. See BENCHMARKS.md for the command and the recorded results.
//!
//! ```text
//! cargo run --release -p featurestore-bench -- run            # 100k, 1M, 10M
//! cargo run --release -p featurestore-bench -- run --sizes 1m
//! cargo run --release -p featurestore-bench -- generate --events 1m --out events.csv
//! ```
//!
//! Every measurement runs in a child process of its own (this binary,
//! `measure …`), so the peak memory reported is that measurement's alone.

mod baseline;
mod generate;
// The allocator of the feature crate's binary (see `features/src/main.rs`),
// so the engine is measured as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod measure;
mod online;
mod stream;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use comfy_table::{presets, Table};
use serde::de::DeserializeOwned;

use generate::{format_count, parse_count, Shape};
use measure::Work;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks of the featurestore engine on generated order events")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Write order events as CSV (deterministic for a seed).
    Generate {
        /// Number of orders, e.g. 100k, 1m, 10m
        #[arg(long, value_parser = parse_count)]
        events: usize,
        /// Days the orders are spread over
        #[arg(long, default_value_t = 120)]
        days: u32,
        /// Random seed
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output CSV file
        #[arg(long)]
        out: PathBuf,
    },
    /// Run every measurement and print the tables.
    Run {
        /// Event counts for the end-to-end runs
        #[arg(long, value_delimiter = ',', value_parser = parse_count, default_value = "100k,1m,10m")]
        sizes: Vec<usize>,
        /// Event count of the dataset, lookup, baseline and date-span runs
        #[arg(long, value_parser = parse_count, default_value = "1m")]
        reference: usize,
        /// Random seed of the generated events
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Where generated events (kept between runs) and stores go
        /// [default: $CARGO_TARGET_DIR/featurestore-bench, else target/featurestore-bench]
        #[arg(long)]
        data: Option<PathBuf>,
        /// Print the tables as Markdown
        #[arg(long)]
        markdown: bool,
        /// A Python with the `duckdb` package (`bench/duckdb/setup.sh`
        /// installs one): each size is then also computed by
        /// `bench/duckdb/rows.sql`, checked equal, and timed beside the engine
        #[arg(long, env = "FEATURESTORE_BENCH_DUCKDB")]
        duckdb: Option<PathBuf>,
    },
    /// Streaming from Kafka: events per second of `features stream` into
    /// the embedded store (the example's windows), then produce-to-`get`
    /// freshness of a plain feature set at a steady rate. Prints JSON.
    Stream {
        /// The broker, HOST:PORT [env: FEATURESTORE_TEST_KAFKA]
        #[arg(long, env = "FEATURESTORE_TEST_KAFKA")]
        broker: String,
        /// Orders for the throughput run
        #[arg(long, value_parser = parse_count, default_value = "1m")]
        events: usize,
        /// Messages per second of the freshness run
        #[arg(long, default_value_t = 10_000)]
        rate: u32,
        /// Seconds of the freshness run
        #[arg(long, default_value_t = 30)]
        seconds: u32,
        /// Random seed of the generated events
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The online store streamed into (e.g. redis://127.0.0.1:6379/0?prefix=bench:)
        /// [default: a new SQLite store]
        #[arg(long)]
        online_url: Option<String>,
    },
    /// An online store through the API runs and the server use: rows
    /// written per second, single-key and 100-key read latency, for a
    /// generated feature set of N float features. Prints JSON.
    Online {
        /// The online store, e.g. sqlite://online.sqlite, redis://127.0.0.1:6379/0,
        /// cassandra://127.0.0.1:9042/bench (its rows are removed afterwards)
        #[arg(long)]
        online_url: String,
        /// Rows written
        #[arg(long, value_parser = parse_count, default_value = "1m")]
        rows: usize,
        /// Float features per row
        #[arg(long, default_value_t = 20)]
        features: usize,
        /// Random seed of the values and the keys read
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// A feature server over a generated feature set of N float features
    /// (`wide_N`, keys `k0`, `k1`, …) filled with KEYS rows, for wrk
    /// (`bench/serve/run.sh`); runs until SIGTERM.
    ServeWide {
        /// The online store the rows are written to and served from
        #[arg(long)]
        online_url: String,
        /// Float features per row
        #[arg(long, default_value_t = 250)]
        features: usize,
        /// Rows
        #[arg(long, value_parser = parse_count, default_value = "10k")]
        keys: usize,
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: String,
    },
    /// Both feature sets end to end on a Spark Connect server beside the
    /// polars engine, on the same generated events.
    Spark {
        /// The Spark Connect endpoint, e.g. sc://127.0.0.1:15002
        #[arg(long, env = "FEATURESTORE_SPARK_REMOTE")]
        spark_remote: String,
        /// Event counts
        #[arg(long, value_delimiter = ',', value_parser = parse_count, default_value = "1m,10m")]
        sizes: Vec<usize>,
        /// Random seed of the generated events
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Where generated events and stores go (as for `run`)
        #[arg(long)]
        data: Option<PathBuf>,
        /// Print the table as Markdown
        #[arg(long)]
        markdown: bool,
    },
    /// One measurement (used by `run`; prints JSON).
    #[command(hide = true)]
    Measure {
        #[arg(value_enum)]
        what: What,
        #[arg(long)]
        events: PathBuf,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        end: NaiveDate,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Run on this Spark Connect server instead of polars
        #[arg(long)]
        spark_remote: Option<String>,
        /// Read the events from this location (e.g. s3://bucket/orders.csv)
        /// rather than from --events (which the baseline still reads)
        #[arg(long)]
        source_url: Option<String>,
        /// The historical store's root (e.g. s3://bucket/fs) [default: DIR/historical]
        #[arg(long)]
        historical_root: Option<String>,
        /// The online store (e.g. redis://127.0.0.1:6379/0) [default: sqlite://DIR/online.sqlite]
        #[arg(long)]
        online_url: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum What {
    Pipeline,
    Baseline,
    Dataset,
    Lookups,
}

type BoxError = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    match real_main(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> Result<(), BoxError> {
    match cli.command {
        Cmd::Generate {
            events,
            days,
            seed,
            out,
        } => {
            let shape = Shape { events, days, seed };
            generate::write_csv(shape, &out)?;
            eprintln!(
                "{} orders of {} users over {} days ({} to {}) written to {}",
                events,
                shape.users(),
                days,
                Shape::first_day(),
                shape.last_day(),
                out.display()
            );
        }
        Cmd::Measure {
            what,
            events,
            dir,
            end,
            seed,
            spark_remote,
            source_url,
            historical_root,
            online_url,
        } => {
            // Relative paths would resolve against the stores' directory.
            std::fs::create_dir_all(&dir)?;
            let work = Work {
                events: std::fs::canonicalize(events)?,
                dir: std::fs::canonicalize(dir)?,
                end,
                spark_remote,
                source_url,
                historical_root,
                online_url,
            };
            let json = match what {
                What::Pipeline => serde_json::to_string(&measure::pipeline(&work)?)?,
                What::Baseline => serde_json::to_string(&measure::baseline(&work)?)?,
                What::Dataset => serde_json::to_string(&measure::dataset(&work)?)?,
                What::Lookups => serde_json::to_string(&measure::lookups(&work, seed)?)?,
            };
            println!("{json}");
        }
        Cmd::Stream {
            broker,
            events,
            rate,
            seconds,
            seed,
            online_url,
        } => {
            let shape = Shape {
                events,
                days: 120,
                seed,
            };
            let dir = tempfile::tempdir()?;
            let online_url = online_url.as_deref();
            let throughput =
                stream::throughput(&broker, shape, &dir.path().join("throughput"), online_url)?;
            println!("{}", serde_json::to_string(&throughput)?);
            let freshness = stream::freshness(
                &broker,
                rate,
                seconds,
                &dir.path().join("freshness"),
                online_url,
            )?;
            println!("{}", serde_json::to_string(&freshness)?);
        }
        Cmd::Online {
            online_url,
            rows,
            features,
            seed,
        } => {
            let result = online::measure(&online_url, rows, features, seed)?;
            println!("{}", serde_json::to_string(&result)?);
        }
        Cmd::ServeWide {
            online_url,
            features,
            keys,
            bind,
        } => online::serve(&online_url, features, keys, &bind)?,
        Cmd::Run {
            sizes,
            reference,
            seed,
            data,
            markdown,
            duckdb,
        } => run(&sizes, reference, seed, data, markdown, duckdb.as_deref())?,
        Cmd::Spark {
            spark_remote,
            sizes,
            seed,
            data,
            markdown,
        } => spark(&spark_remote, &sizes, seed, data, markdown)?,
    }
    Ok(())
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("featurestore-bench")
}

/// The events file of a shape, generated once and kept.
fn events_file(data: &Path, shape: Shape) -> Result<PathBuf, BoxError> {
    let path = data.join(format!(
        "orders-{}-{}d-seed{}.csv",
        format_count(shape.events),
        shape.days,
        shape.seed
    ));
    if !path.exists() {
        eprintln!("generating {}", path.display());
        generate::write_csv(shape, &path)?;
    }
    Ok(path)
}

/// Runs one measurement in a child process and parses its JSON.
fn child<T: DeserializeOwned>(
    what: &str,
    events: &Path,
    dir: &Path,
    end: NaiveDate,
    seed: u64,
) -> Result<T, BoxError> {
    child_with(what, events, dir, end, seed, &[])
}

/// [`child`] with more arguments for the measurement.
fn child_with<T: DeserializeOwned>(
    what: &str,
    events: &Path,
    dir: &Path,
    end: NaiveDate,
    seed: u64,
    extra: &[&str],
) -> Result<T, BoxError> {
    let out = Command::new(std::env::current_exe()?)
        .args(["measure", what, "--events"])
        .arg(events)
        .arg("--dir")
        .arg(dir)
        .args(["--end", &end.to_string(), "--seed", &seed.to_string()])
        .args(extra)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "measurement `{what}` on {} failed ({})",
            events.display(),
            out.status
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Reads `events` through once, so that each engine starts with the file in
/// the page cache: otherwise the first engine measured reads it from disk
/// for both whenever it was evicted since it was written.
fn warm(events: &Path) -> Result<(), BoxError> {
    std::io::copy(&mut std::fs::File::open(events)?, &mut std::io::sink())?;
    Ok(())
}

/// A fresh directory for the stores of one measurement.
fn fresh(dir: PathBuf) -> Result<PathBuf, BoxError> {
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn table(markdown: bool, header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(if markdown {
        presets::ASCII_MARKDOWN
    } else {
        presets::UTF8_FULL_CONDENSED
    });
    t.set_header(header.iter().copied());
    t
}

fn secs(s: f64) -> String {
    format!("{s:.3}")
}

fn mib(m: Option<f64>) -> String {
    m.map_or_else(|| "n/a".to_string(), |m| format!("{m:.0}"))
}

/// What `bench/duckdb/run.py` prints.
#[derive(Debug, serde::Deserialize)]
struct DuckDbResult {
    secs: f64,
    cpu_secs: f64,
    peak_mib: f64,
    rows: usize,
    same_rows: bool,
    same_latest: bool,
}

/// `bench/duckdb/run.py` over `events`, its rows checked against the
/// engine's historical store in `dir`.
fn duckdb_run(
    python: &Path,
    events: &Path,
    dir: &Path,
    end: NaiveDate,
) -> Result<DuckDbResult, BoxError> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("duckdb/run.py");
    let out = Command::new(python)
        .arg(&script)
        .arg("--events")
        .arg(events)
        .args(["--end", &end.to_string(), "--out"])
        .arg(dir.join("duckdb"))
        .arg("--engine")
        .arg(dir.join("historical"))
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed ({}); bench/duckdb/setup.sh installs a Python with duckdb",
            python.display(),
            script.display(),
            out.status
        )
        .into());
    }
    let result: DuckDbResult = serde_json::from_slice(&out.stdout)?;
    // Timing DuckDB against other rows would compare nothing.
    if !(result.same_rows && result.same_latest) {
        return Err(format!(
            "DuckDB's rows differ from the engine's on {} (kept in {})",
            events.display(),
            dir.display()
        )
        .into());
    }
    Ok(result)
}

fn stage<'a>(stages: &'a [measure::Stage], name: &str) -> Option<&'a measure::Stage> {
    stages.iter().find(|s| s.name == name)
}

fn run(
    sizes: &[usize],
    reference: usize,
    seed: u64,
    data: Option<PathBuf>,
    markdown: bool,
    duckdb: Option<&Path>,
) -> Result<(), BoxError> {
    let data = data.unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data)?;
    let mut e2e = table(
        markdown,
        &[
            "events",
            "users",
            "wall s",
            "read s",
            "compute s",
            "historical s",
            "online s",
            "rows out",
            "partitions",
            "online rows",
            "peak RSS MiB",
            "read/compute/hist/online peak MiB",
        ],
    );
    let mut vs_duckdb = table(
        markdown,
        &[
            "events",
            "engine wall s",
            "DuckDB wall s",
            "wall, engine / DuckDB",
            "engine CPU s",
            "DuckDB CPU s",
            "CPU, engine / DuckDB",
            "engine / DuckDB peak MiB",
            "rows",
            "same rows",
        ],
    );
    let mut stores_of_reference = None;
    for &n in sizes {
        let shape = Shape {
            events: n,
            days: 120,
            seed,
        };
        let events = events_file(&data, shape)?;
        let dir = fresh(data.join(format!("run-{}", format_count(n))))?;
        eprintln!("end to end: {} events", format_count(n));
        warm(&events)?;
        let r: measure::PipelineResult = child("pipeline", &events, &dir, shape.last_day(), seed)?;
        let get = |name: &str| stage(&r.stages, name);
        let peaks: Vec<String> = ["read", "compute", "historical write", "online write"]
            .iter()
            .map(|s| mib(get(s).and_then(|s| s.peak_mib)))
            .collect();
        e2e.add_row(vec![
            format_count(n),
            shape.users().to_string(),
            secs(r.secs),
            secs(get("read").map_or(0.0, |s| s.secs)),
            secs(get("compute").map_or(0.0, |s| s.secs)),
            secs(get("historical write").map_or(0.0, |s| s.secs)),
            secs(get("online write").map_or(0.0, |s| s.secs)),
            r.rows_out.to_string(),
            r.partitions.to_string(),
            r.online_rows.to_string(),
            format!("{:.0}", r.peak_mib),
            peaks.join(" / "),
        ]);
        if let Some(python) = duckdb {
            eprintln!("DuckDB: {} events", format_count(n));
            warm(&events)?;
            let d = duckdb_run(python, &events, &dir, shape.last_day())?;
            vs_duckdb.add_row(vec![
                format_count(n),
                secs(r.secs),
                secs(d.secs),
                format!("{:.2}", r.secs / d.secs),
                secs(r.cpu_secs),
                secs(d.cpu_secs),
                format!("{:.2}", r.cpu_secs / d.cpu_secs),
                format!("{:.0} / {:.0}", r.peak_mib, d.peak_mib),
                d.rows.to_string(),
                (d.same_rows && d.same_latest && d.rows == r.rows_out).to_string(),
            ]);
        }
        if n == reference {
            stores_of_reference = Some((events, dir, shape));
        }
    }
    println!(
        "End to end, both feature sets, CSV → historical Parquet + online store (sqlite):\n{e2e}\n"
    );
    if duckdb.is_some() {
        println!(
            "The engine vs `bench/duckdb/rows.sql` in DuckDB (the same rows into Parquet day partitions, each key's latest row into a Parquet file):\n{vs_duckdb}\n"
        );
    }

    // The reference size's stores, for the dataset and the lookups.
    let (events, dir, shape) = match stores_of_reference {
        Some(s) => s,
        None => {
            let shape = Shape {
                events: reference,
                days: 120,
                seed,
            };
            let events = events_file(&data, shape)?;
            let dir = fresh(data.join(format!("run-{}", format_count(reference))))?;
            let _: measure::PipelineResult =
                child("pipeline", &events, &dir, shape.last_day(), seed)?;
            (events, dir, shape)
        }
    };
    let end = shape.last_day();

    eprintln!("baseline: {} events", format_count(reference));
    let b: measure::BaselineResult = child("baseline", &events, &dir, end, seed)?;
    let mut bt = table(
        markdown,
        &[
            "events",
            "",
            "read s",
            "compute s",
            "read + compute s",
            "rows",
            "same rows",
        ],
    );
    let engine = b.engine_read_secs + b.engine_compute_secs;
    let base = b.baseline_read_secs + b.baseline_compute_secs;
    bt.add_row(vec![
        format_count(reference),
        "engine".into(),
        secs(b.engine_read_secs),
        secs(b.engine_compute_secs),
        secs(engine),
        b.rows.to_string(),
        b.same_rows.to_string(),
    ]);
    bt.add_row(vec![
        format_count(reference),
        "hand-written polars".into(),
        secs(b.baseline_read_secs),
        secs(b.baseline_compute_secs),
        secs(base),
        b.rows.to_string(),
        b.same_rows.to_string(),
    ]);
    println!(
        "Engine vs a hand-written polars query of the same rows (both feature sets):\n{bt}\nengine / baseline = {:.2} (compute only: {:.2})\n",
        engine / base,
        b.engine_compute_secs / b.baseline_compute_secs
    );

    eprintln!("dataset: {} spine rows", format_count(reference));
    let d: measure::DatasetResult = child("dataset", &events, &dir, end, seed)?;
    let mut dt = table(
        markdown,
        &[
            "spine rows",
            "wall s",
            "read feature rows s",
            "read spine + as-of join s",
            "write s",
            "peak RSS MiB",
        ],
    );
    let get = |name: &str| stage(&d.stages, name).map_or(0.0, |s| s.secs);
    dt.add_row(vec![
        d.spine_rows.to_string(),
        secs(d.secs),
        secs(get("read feature rows")),
        secs(get("as-of join")),
        secs(get("dataset write")),
        format!("{:.0}", d.peak_mib),
    ]);
    println!("Point-in-time dataset (AwesomeDataset: both feature sets from the historical store, Parquet out):\n{dt}\n");

    eprintln!("lookups");
    let l: measure::LookupResult = child("lookups", &events, &dir, end, seed)?;
    let mut lt = table(
        markdown,
        &[
            "keys",
            "single p50 µs",
            "single p99 µs",
            "batch size",
            "batch p50 µs",
            "batch p99 µs",
        ],
    );
    lt.add_row(vec![
        l.keys.to_string(),
        format!("{:.1}", l.single_p50_us),
        format!("{:.1}", l.single_p99_us),
        l.batch_size.to_string(),
        format!("{:.1}", l.batch_p50_us),
        format!("{:.1}", l.batch_p99_us),
    ]);
    println!(
        "Embedded online store (sqlite, the default) lookups of user_orders, in-process:\n{lt}\n"
    );

    let mut st = table(
        markdown,
        &[
            "events",
            "days",
            "wall s",
            "compute s",
            "historical s",
            "rows out",
            "partitions",
        ],
    );
    for days in [120, 1200] {
        let shape = Shape {
            events: reference,
            days,
            seed,
        };
        let events = events_file(&data, shape)?;
        let dir = fresh(data.join(format!("span-{days}d")))?;
        eprintln!("date span: {days} days");
        let r: measure::PipelineResult = child("pipeline", &events, &dir, shape.last_day(), seed)?;
        st.add_row(vec![
            format_count(reference),
            days.to_string(),
            secs(r.secs),
            secs(stage(&r.stages, "compute").map_or(0.0, |s| s.secs)),
            secs(stage(&r.stages, "historical write").map_or(0.0, |s| s.secs)),
            r.rows_out.to_string(),
            r.partitions.to_string(),
        ]);
    }
    println!("Date span ×10 at a fixed number of events:\n{st}");
    Ok(())
}

/// Both feature sets end to end, polars then Spark, for each size: the
/// Spark engine's time and how it grows with the events.
fn spark(
    remote: &str,
    sizes: &[usize],
    seed: u64,
    data: Option<PathBuf>,
    markdown: bool,
) -> Result<(), BoxError> {
    let data = data.unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data)?;
    let mut t = table(
        markdown,
        &[
            "events",
            "engine",
            "wall s",
            "compute s",
            "historical s",
            "online s",
            "rows out",
            "partitions",
            "online rows",
        ],
    );
    for &n in sizes {
        let shape = Shape {
            events: n,
            days: 120,
            seed,
        };
        let events = events_file(&data, shape)?;
        for engine in ["polars", "spark"] {
            let dir = fresh(data.join(format!("{engine}-{}", format_count(n))))?;
            eprintln!("{engine}: {} events", format_count(n));
            let extra: Vec<&str> = if engine == "spark" {
                vec!["--spark-remote", remote]
            } else {
                Vec::new()
            };
            let r: measure::PipelineResult =
                child_with("pipeline", &events, &dir, shape.last_day(), seed, &extra)?;
            let get = |name: &str| stage(&r.stages, name).map_or(0.0, |s| s.secs);
            t.add_row(vec![
                format_count(n),
                engine.to_string(),
                secs(r.secs),
                // On Spark, reading the source is part of the cluster's work.
                secs(get("read") + get("compute")),
                secs(get("historical write")),
                secs(get("online write")),
                r.rows_out.to_string(),
                r.partitions.to_string(),
                r.online_rows.to_string(),
            ]);
        }
    }
    println!("End to end, both feature sets, polars and a Spark Connect server at {remote}:\n{t}");
    Ok(())
}
