//! The command line of a feature crate: `list-pipelines`, `describe`,
//! `execute`, `get`. A feature crate's binary is one line:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     featurestore_runtime::cli::main(features::registry(), featurestore_runtime::app!())
//! }
//! ```
//!
//! [`app!`](crate::app) names the binary after the feature crate (its name,
//! version and description in `--help`); with
//! `.embed_config(include_str!("../featurestore.toml"))` the binary carries
//! its configuration, used where no `featurestore.toml` is found at run time.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::NaiveDate;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use polars::prelude::*;

use crate::catalog;
use crate::config::Config;
use crate::engine::EngineKind;
use crate::error::{Error, Result};
use crate::location::OnlineLocation;
use crate::pipeline::{self, DatasetOutput, FeatureRows, Stores};
use crate::registry::{Pipeline, Registry};
use crate::spec::{DataType as Dt, FeatureSetSpec, SourceKind, SourceSpec};
use crate::store::online::{self, BlockingOnlineStore, OpenMode, Value};
use crate::transform::DateRange;

/// Runs and inspects the feature sets of this crate.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Configuration file [default: ./featurestore.toml, else the one built into the binary]
    #[arg(long, global = true, env = crate::config::ENV_CONFIG)]
    pub config: Option<PathBuf>,
    /// Read source NAME from PATH instead of its configured location (repeatable)
    #[arg(long = "source", value_name = "NAME=PATH", global = true)]
    pub sources: Vec<String>,
    /// Read source NAME as csv, parquet or ndjson, whatever its path says (repeatable) [env: FEATURESTORE_FORMAT_{NAME}]
    #[arg(long = "source-format", value_name = "NAME=FORMAT", global = true)]
    pub source_formats: Vec<String>,
    /// Historical store root: a directory or file:// URL [env: FEATURESTORE_HISTORICAL_ROOT]
    #[arg(long, global = true)]
    pub historical_root: Option<String>,
    /// Online store URL: sqlite://PATH, redb://PATH or memory:// [env: FEATURESTORE_ONLINE_URL]
    #[arg(long, global = true)]
    pub online_url: Option<String>,
    /// Directory datasets are written under [env: FEATURESTORE_DATASETS_ROOT]
    #[arg(long, global = true)]
    pub datasets_root: Option<String>,
    /// Engine computing feature sets: polars (here) or spark (a Spark Connect cluster)
    #[arg(long, global = true, value_parser = parse_engine, env = "FEATURESTORE_ENGINE")]
    pub engine: Option<EngineKind>,
    /// Spark Connect endpoint, sc://HOST:PORT[/;token=…] [env: FEATURESTORE_SPARK_REMOTE]
    #[arg(long, global = true)]
    pub spark_remote: Option<String>,
    /// Memory a run may use (4GiB, 512MiB…): a run whose events would need
    /// more is split by key and spilled to the disk [default: half the
    /// machine's memory] [env: FEATURESTORE_MEMORY_BUDGET]
    #[arg(long, global = true, value_parser = crate::config::parse_size)]
    pub memory_budget: Option<u64>,
    /// Where a run split by key spills its parts [default: the temporary directory]
    #[arg(long, global = true)]
    pub spill_dir: Option<PathBuf>,
    /// More logging (-v: info, -vv: debug); RUST_LOG overrides
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// How rows are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// CSV with a header.
    Csv,
    /// One JSON object per row.
    Json,
}

/// The files a dataset is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetFiles {
    /// `{name}.csv`
    Csv,
    /// `{name}.parquet`
    Parquet,
    /// Both.
    Both,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the pipelines that can be executed.
    ListPipelines,
    /// Show a pipeline's declaration: keys, windows, columns, online table.
    Describe {
        /// Pipeline name, e.g. feature_store.user_orders
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Compute a feature set for a date range and write both stores; or build
    /// a dataset, running the feature sets it joins first.
    Execute {
        /// Pipeline name, e.g. feature_store.user_orders or dataset.awesome_dataset;
        /// several feature sets run together, each source read once
        #[arg(required_unless_present = "all", num_args = 1..)]
        names: Vec<String>,
        /// Run every feature set, each source read once
        #[arg(long, conflicts_with = "names")]
        all: bool,
        /// First day of the rows to write (YYYY-MM-DD) [default: the earliest event's day]
        #[arg(long, value_parser = parse_date)]
        start_date: Option<NaiveDate>,
        /// Last day of the rows to write (YYYY-MM-DD); required with windows
        #[arg(long, value_parser = parse_date)]
        end_date: Option<NaiveDate>,
        /// How to print the run's latest rows [default: table]; a dataset's
        /// rows are printed only when this is given (they are in its files)
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// For a dataset: the files to write under the datasets root.
        #[arg(long, value_enum, default_value_t = DatasetFiles::Both)]
        output: DatasetFiles,
    },
    /// Bring the online store's tables in line with the declarations:
    /// `plan` prints what `apply` would do.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Say whether each feature set's online store is in step with its
    /// historical store (exit 1 when one is behind).
    Status {
        /// Feature set or dataset name [default: every feature set]
        name: Option<String>,
    },
    /// Show the data-quality reports of a feature set's last runs: per
    /// column rows, nulls, min/max/mean, distinct values, and the drift from
    /// the run before (flagged past the thresholds).
    Report {
        /// Feature set name, e.g. feature_store.user_orders (not with --html)
        #[arg(required_unless_present = "html")]
        name: Option<String>,
        /// How many of the latest runs to show.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Print the reports as JSON (one object per run) instead of text.
        #[arg(long)]
        json: bool,
        /// Write the catalog page of every feature set (what `serve` shows
        /// at `/`) as DIR/index.html instead.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["name", "json"])]
        html: Option<PathBuf>,
    },
    /// Serve the online store over HTTP: Feast's `/get-online-features`,
    /// the catalog and typed rows under `/v1/`, `/health`, `/metrics`.
    Serve {
        /// Address and port to listen on [default: server.bind in featurestore.toml, else 127.0.0.1:6566]
        #[arg(long)]
        bind: Option<String>,
        /// File holding the bearer token requests must carry [default: server.token_file in featurestore.toml, else none]
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Most entity keys per request [default: server.max_keys in featurestore.toml, else 1000]
        #[arg(long)]
        max_keys: Option<usize>,
        /// Largest request body in bytes [default: server.max_body_bytes in featurestore.toml, else 1 MiB]
        #[arg(long)]
        max_body_bytes: Option<usize>,
        /// Time a request may take, in milliseconds [default: server.request_timeout_ms in featurestore.toml, else 5000]
        #[arg(long)]
        request_timeout_ms: Option<u64>,
        /// Requests answered at once [default: server.max_concurrency in featurestore.toml, else 256]
        #[arg(long)]
        max_concurrency: Option<usize>,
    },
    /// Compute feature sets continuously from their sources' Kafka topics
    /// into the online store, until stopped (Ctrl-C or SIGTERM: drain,
    /// commit, exit 0).
    Stream {
        /// Feature set names, e.g. feature_store.user_orders
        #[arg(required = true)]
        names: Vec<String>,
        /// Without committed offsets, start at the topic's earliest messages
        /// rather than at its end (committed offsets always win)
        #[arg(long)]
        from_beginning: bool,
        /// Stop after this many seconds without a message
        #[arg(long, value_name = "SECS")]
        exit_when_idle: Option<u64>,
        /// Close every slide up to the end of this day (YYYY-MM-DD), then stop
        #[arg(long, value_parser = parse_date)]
        end_date: Option<NaiveDate>,
    },
    /// Look up the online row of a key.
    Get {
        /// Pipeline name, e.g. feature_store.user_orders
        name: String,
        /// Key values, one per key column.
        #[arg(required = true)]
        key: Vec<String>,
        /// How to print the row.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// What `features migrate` does.
#[derive(Debug, Clone, Subcommand)]
pub enum MigrateAction {
    /// Print the steps each feature set's online table needs, changing nothing.
    Plan {
        /// Feature sets to plan for [default: every one]
        names: Vec<String>,
    },
    /// Take the steps `plan` prints.
    Apply {
        /// Feature sets to migrate [default: every one]
        names: Vec<String>,
        /// Take steps that lose rows (a removed output or a changed type).
        #[arg(long)]
        allow_destructive: bool,
    },
}

pub use crate::date_arg::parse_date;

fn parse_engine(s: &str) -> std::result::Result<EngineKind, String> {
    EngineKind::from_name(s).map_err(|e| e.to_string())
}

/// What a feature crate's binary says about itself (`--help`,
/// `--version`) and the configuration it carries. [`app!`](crate::app)
/// makes one at the feature crate's compile time.
#[derive(Debug, Clone, Copy, Default)]
pub struct App {
    /// The binary's name in `--help` (the feature crate's package name).
    pub name: &'static str,
    /// Its version.
    pub version: &'static str,
    /// What it is: the first line of `--help`.
    pub about: &'static str,
    /// The text of a `featurestore.toml` embedded at build time, used when
    /// no configuration file is found at run time.
    pub config: Option<&'static str>,
}

impl App {
    /// A binary named `name`, with no embedded configuration.
    pub const fn new(name: &'static str, version: &'static str, about: &'static str) -> Self {
        App {
            name,
            version,
            about,
            config: None,
        }
    }

    /// Embeds configuration text (`include_str!("../featurestore.toml")`),
    /// used when neither `--config`, `$FEATURESTORE_CONFIG` nor
    /// `./featurestore.toml` gives one; its relative paths are taken from the
    /// current directory.
    pub const fn embed_config(self, text: &'static str) -> Self {
        App {
            config: Some(text),
            ..self
        }
    }

    /// The command line's grammar, under this binary's name.
    pub fn command(&self) -> clap::Command {
        let mut command = Cli::command();
        if !self.name.is_empty() {
            command = command.name(self.name).bin_name(self.name);
        }
        if !self.version.is_empty() {
            command = command.version(self.version);
        }
        if !self.about.is_empty() {
            command = command.about(self.about);
        }
        command
    }
}

/// The [`App`] of the crate this is written in, from its `Cargo.toml`
/// (`name`, `version`, `description`), read when that crate compiles.
///
/// ```ignore
/// fn main() -> std::process::ExitCode {
///     let app = featurestore_runtime::app!().embed_config(include_str!("../featurestore.toml"));
///     featurestore_runtime::cli::main(my_features::registry(), app)
/// }
/// ```
#[macro_export]
macro_rules! app {
    () => {
        $crate::cli::App::new(
            ::core::env!("CARGO_PKG_NAME"),
            ::core::env!("CARGO_PKG_VERSION"),
            ::core::env!("CARGO_PKG_DESCRIPTION"),
        )
    };
}

/// Parses the arguments of the process and runs; the exit code reports success.
pub fn main(registry: Registry, app: App) -> ExitCode {
    let cli = match Cli::from_arg_matches(&app.command().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_tracing(cli.verbose);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(&registry, cli, app.config, &mut out) {
        Ok(code) => code,
        Err(e) => {
            let _ = out.flush();
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Resolves the configuration of a CLI invocation: file (or `embedded`,
/// the configuration the binary carries), environment, options.
pub fn resolve_config(registry: &Registry, cli: &Cli, embedded: Option<&str>) -> Result<Config> {
    let mut config = Config::discover(cli.config.as_deref(), embedded)?;
    // Paths given on the command line or in the environment are relative to
    // where the user is, not to the configuration file.
    let cwd = std::env::current_dir().map_err(|e| Error::Io {
        context: "reading the current directory".to_string(),
        source: e,
    })?;
    config.apply_env(std::env::vars(), &cwd)?;
    let absolute = |p: &str| crate::location::absolute(&cwd, p);
    if let Some(root) = &cli.historical_root {
        config.historical_root = absolute(root);
    }
    if let Some(root) = &cli.datasets_root {
        config.datasets_root = absolute(root);
    }
    if let Some(url) = &cli.online_url {
        config.online_url = crate::location::absolute(&cwd, url);
    }
    if let Some(kind) = cli.engine {
        config.engine.kind = kind;
    }
    if let Some(remote) = &cli.spark_remote {
        config.engine.spark_remote = Some(remote.clone());
    }
    if let Some(budget) = cli.memory_budget {
        config.engine.memory_budget = Some(budget);
    }
    if let Some(dir) = &cli.spill_dir {
        config.engine.spill_dir = Some(cwd.join(dir));
    }
    for s in &cli.sources {
        let Some((name, path)) = s.split_once('=') else {
            return Err(Error::Invalid(format!(
                "`--source {s}`: expected NAME=PATH, e.g. --source order_events=/data/events.csv"
            )));
        };
        registry.check_source(name)?;
        config.sources.insert(name.to_string(), absolute(path));
    }
    for name in config.quality.feature_sets.keys() {
        registry.find_feature_set(name).map_err(|e| Error::Config {
            path: config.file.clone().unwrap_or_default(),
            message: format!("[quality.feature_sets.{name}]: {e}"),
        })?;
    }
    for s in &cli.source_formats {
        let Some((name, format)) = s.split_once('=') else {
            return Err(Error::Invalid(format!(
                "`--source-format {s}`: expected NAME=FORMAT, e.g. --source-format order_events=parquet"
            )));
        };
        registry.check_source(name)?;
        let format = crate::config::parse_format(format)
            .map_err(|e| Error::Invalid(format!("`--source-format {s}`: {e}")))?;
        config.formats.insert(name.to_string(), format);
    }
    Ok(config)
}

/// The Spark SQL a run of pipeline `name` sends (ending today).
#[cfg(feature = "spark")]
fn spark_plan(registry: &Registry, name: &str, config: &Config) -> Result<String> {
    let range = DateRange::default();
    let script = match registry.find(name)? {
        Pipeline::FeatureSet(spec) => {
            crate::engine::spark::describe(spec, &config.source_locations(), range)?.script()
        }
        Pipeline::Dataset(spec) => crate::engine::spark::describe_dataset(
            spec,
            &config.source_locations(),
            &config.historical_root_location()?.to_string(),
            range,
        )?
        .script(),
    };
    Ok(format!(
        "\nSpark plan (Spark SQL sent through Spark Connect; `execute` uses its own dates):\n\n{script}"
    ))
}

#[cfg(not(feature = "spark"))]
fn spark_plan(_: &Registry, _: &str, _: &Config) -> Result<String> {
    Err(crate::engine::spark_not_built())
}

fn source_location(config: &Config) -> impl Fn(&SourceSpec) -> Option<String> + '_ {
    move |s: &SourceSpec| match s.kind {
        SourceKind::File { path, .. } => Some(config.source_locations().resolve(s, path)),
        SourceKind::Query { .. } => None,
    }
}

/// Runs a parsed command, writing its output to `out`; `embedded` is the
/// configuration the binary carries ([`App::embed_config`]).
pub fn run(
    registry: &Registry,
    cli: Cli,
    embedded: Option<&str>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let io = |e: std::io::Error| Error::Io {
        context: "writing the output".to_string(),
        source: e,
    };
    let config = resolve_config(registry, &cli, embedded)?;
    if !matches!(
        cli.command,
        Command::ListPipelines | Command::Describe { .. }
    ) {
        if let Some(former) = config.former_default_online_store() {
            eprintln!(
                "warning: {} is an online store of the former default (redb), and is not read: \
                 the online store is now {}; re-run the feature sets to fill it, or give \
                 `--online-url redb://{}` to keep using the old file",
                former.display(),
                OnlineLocation::parse(&config.online_url, &config.base_dir)?,
                former.display()
            );
        }
    }
    match cli.command {
        Command::ListPipelines => {
            for name in registry.pipeline_names() {
                writeln!(out, "{name}").map_err(io)?;
            }
        }
        Command::Describe { name, json } => {
            let loc = source_location(&config);
            let (value, text) = match registry.find(&name)? {
                Pipeline::FeatureSet(spec) => (
                    catalog::feature_set_json(spec, &loc),
                    catalog::feature_set_text(spec, &loc),
                ),
                Pipeline::Dataset(spec) => (
                    catalog::dataset_json(spec, &loc),
                    catalog::dataset_text(spec, &loc),
                ),
            };
            if json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                )
                .map_err(io)?;
            } else {
                write!(out, "{text}").map_err(io)?;
            }
            if config.engine.kind == EngineKind::Spark {
                write!(out, "{}", spark_plan(registry, &name, &config)?).map_err(io)?;
            }
        }
        Command::Execute {
            names,
            all,
            start_date,
            end_date,
            format,
            output,
        } => {
            let range = DateRange {
                start: start_date,
                end: end_date,
            };
            if let (Some(s), Some(e)) = (start_date, end_date) {
                if s > e {
                    return Err(Error::Invalid(format!(
                        "the start date {s} is after the end date {e}"
                    )));
                }
            }
            if all || names.len() > 1 {
                let specs: Vec<&crate::spec::FeatureSetSpec> = if all {
                    registry.feature_sets().iter().collect()
                } else {
                    names
                        .iter()
                        .map(|n| match registry.find(n)? {
                            Pipeline::FeatureSet(spec) => Ok(spec),
                            Pipeline::Dataset(spec) => Err(Error::Invalid(format!(
                                "`{}` is a dataset: run it on its own (`execute {}`); several \
                                 names are feature sets run together",
                                spec.name, n
                            ))),
                        })
                        .collect::<Result<_>>()?
                };
                let locked: Vec<&str> = specs.iter().map(|s| s.name).collect();
                let _lock = pipeline::lock(&config, &locked)?;
                let stores = Stores::open(&config)?;
                let bar = spinner();
                let started = std::time::Instant::now();
                let reports = pipeline::execute_all(&specs, &config, &stores, range, &|msg| {
                    bar.set_message(msg.to_string())
                });
                bar.finish_and_clear();
                let reports = reports?;
                // The runs share their sources' reads: each report records
                // the command's whole time.
                for (spec, report) in specs.iter().zip(&reports) {
                    record_quality(&config, spec, report, started.elapsed());
                }
                let format = format.unwrap_or(Format::Table);
                for (i, report) in reports.iter().enumerate() {
                    if i > 0 {
                        writeln!(out).map_err(io)?;
                    }
                    // Each table of rows says whose it is, as a title line
                    // (CSV and JSON readers take one table per feature set).
                    writeln!(out, "# {}", report.feature_set).map_err(io)?;
                    report_run(report, &stores, range, format, out)?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let name = names.into_iter().next().expect("one name, or --all");
            // Locked before the stores are opened, so a second run is told
            // who holds the feature set rather than that a file is busy.
            let _lock = match registry.find(&name)? {
                Pipeline::FeatureSet(spec) => pipeline::lock(&config, &[spec.name])?,
                Pipeline::Dataset(spec) => {
                    let names: Vec<&str> = spec.joins.iter().map(|j| j.feature_set.name).collect();
                    pipeline::lock(&config, &names)?
                }
            };
            let stores = Stores::open(&config)?;
            let spec = match registry.find(&name)? {
                Pipeline::FeatureSet(spec) => spec,
                Pipeline::Dataset(spec) => {
                    let bar = spinner();
                    let report = pipeline::execute_dataset(
                        spec,
                        &config,
                        &stores,
                        range,
                        FeatureRows::Run,
                        DatasetOutput {
                            csv: output != DatasetFiles::Parquet,
                            parquet: output != DatasetFiles::Csv,
                        },
                        &|msg| bar.set_message(msg.to_string()),
                    );
                    bar.finish_and_clear();
                    let report = report?;
                    for run in &report.feature_sets {
                        eprintln!("{}: {} rows", run.feature_set, run.row_count());
                        warn_run(run, range);
                    }
                    let files: Vec<String> = report.files.iter().map(ToString::to_string).collect();
                    let summary = format!(
                        "{}: {} rows, {} columns, written to {}",
                        spec.name,
                        report.rows.height(),
                        report.rows.width(),
                        files.join(", ")
                    );
                    // A training set is often millions of rows: they are in
                    // its files, and printed only on request.
                    match format {
                        Some(format) => {
                            eprintln!("{summary}");
                            print_frame(&report.rows, format, out)?;
                        }
                        None => {
                            writeln!(out, "{summary}").map_err(io)?;
                            writeln!(out, "(print the rows with --format table|csv|json)")
                                .map_err(io)?;
                        }
                    }
                    return Ok(ExitCode::SUCCESS);
                }
            };
            let bar = spinner();
            let started = std::time::Instant::now();
            let report = pipeline::execute(spec, &config, &stores, range, &|msg| {
                bar.set_message(msg.to_string())
            });
            bar.finish_and_clear();
            let report = report?;
            record_quality(&config, spec, &report, started.elapsed());
            report_run(
                &report,
                &stores,
                range,
                format.unwrap_or(Format::Table),
                out,
            )?;
        }
        Command::Migrate { action } => {
            let (names, apply, allow_destructive) = match action {
                MigrateAction::Plan { names } => (names, false, false),
                MigrateAction::Apply {
                    names,
                    allow_destructive,
                } => (names, true, allow_destructive),
            };
            let specs: Vec<&crate::spec::FeatureSetSpec> = if names.is_empty() {
                registry.feature_sets().iter().collect()
            } else {
                names
                    .iter()
                    .map(|n| registry.find_feature_set(n))
                    .collect::<Result<_>>()?
            };
            let location = OnlineLocation::parse(&config.online_url, &config.base_dir)?;
            // `plan` changes nothing, and never creates a store; `apply`
            // holds the feature sets' run locks, so no run writes meanwhile.
            let (mode, _lock) = if apply {
                let locked: Vec<&str> = specs.iter().map(|s| s.name).collect();
                (OpenMode::Write, Some(pipeline::lock(&config, &locked)?))
            } else {
                (OpenMode::Read, None)
            };
            let store = BlockingOnlineStore::open_with(&location, mode, &config.online_options)?;
            writeln!(
                out,
                "online store {} ({})",
                store.location(),
                store.backend()
            )
            .map_err(io)?;
            for spec in specs {
                let steps =
                    crate::io::block_on(online::migrate(&*store, spec, apply, allow_destructive))?;
                if steps.is_empty() {
                    writeln!(
                        out,
                        "{}: nothing to do ({})",
                        spec.name,
                        nothing_to_do(store.backend())
                    )
                    .map_err(io)?;
                }
                for step in steps {
                    let mark = if step.destructive {
                        " [loses rows]"
                    } else {
                        ""
                    };
                    let done = if apply { "done: " } else { "" };
                    writeln!(out, "{}: {done}{}{mark}", spec.name, step.statement).map_err(io)?;
                }
            }
        }
        Command::Status { name } => {
            let specs: Vec<&FeatureSetSpec> = match name {
                None => registry.feature_sets().iter().collect(),
                Some(name) => match registry.find(&name)? {
                    Pipeline::FeatureSet(spec) => vec![spec],
                    Pipeline::Dataset(spec) => spec.joins.iter().map(|j| j.feature_set).collect(),
                },
            };
            let root = config.historical_root_location()?;
            let mut behind = false;
            for spec in specs {
                match pipeline::status::read(&root, spec.name)? {
                    Some(record) => {
                        behind = true;
                        writeln!(
                            out,
                            "{}: behind: {record}; the next run of `{}` re-writes those rows first",
                            spec.name, spec.name
                        )
                        .map_err(io)?;
                    }
                    None => writeln!(
                        out,
                        "{}: in step: no run left the online store behind the historical store at {root}",
                        spec.name
                    )
                    .map_err(io)?,
                }
            }
            if behind {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Report {
            name,
            runs,
            json,
            html,
        } => {
            let root = config.historical_root_location()?;
            if let Some(dir) = html {
                let page =
                    crate::page::render(registry, &crate::page::reports(registry, Some(&root)));
                let file = dir.join("index.html");
                std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(&file, page))
                    .map_err(|e| Error::Io {
                        context: format!("writing {}", file.display()),
                        source: e,
                    })?;
                writeln!(out, "{}", file.display()).map_err(io)?;
                return Ok(ExitCode::SUCCESS);
            }
            let Some(name) = name else {
                return Err(Error::Invalid(
                    "`features report` needs a feature set name, or --html DIR".to_string(),
                ));
            };
            let spec = registry.find_feature_set(&name)?;
            let reports = pipeline::quality::latest(&root, spec.name, runs.max(1))?;
            if reports.is_empty() {
                eprintln!(
                    "{}: no quality report under {root}: every `features execute {}` records one",
                    spec.name, spec.name
                );
                return Ok(ExitCode::from(1));
            }
            for r in &reports {
                if json {
                    writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default())
                        .map_err(io)?;
                } else {
                    write!(out, "{}", quality_text(r)).map_err(io)?;
                }
            }
        }
        Command::Serve {
            bind,
            token_file,
            max_keys,
            max_body_bytes,
            request_timeout_ms,
            max_concurrency,
        } => {
            let mut options = config.server.clone();
            if let Some(bind) = bind {
                options.bind = bind;
            }
            if let Some(path) = token_file {
                options.token_file = Some(path);
            }
            options.max_keys = max_keys.unwrap_or(options.max_keys);
            options.max_body_bytes = max_body_bytes.unwrap_or(options.max_body_bytes);
            options.request_timeout_ms = request_timeout_ms.unwrap_or(options.request_timeout_ms);
            options.max_concurrency = max_concurrency.unwrap_or(options.max_concurrency);
            serve(registry, &config, &options, out)?;
        }
        Command::Stream {
            names,
            from_beginning,
            exit_when_idle,
            end_date,
        } => {
            let specs = names
                .iter()
                .map(|n| registry.find_feature_set(n))
                .collect::<Result<Vec<_>>>()?;
            stream(
                &specs,
                &config,
                from_beginning,
                exit_when_idle,
                end_date,
                out,
            )?;
        }
        Command::Get { name, key, format } => {
            let spec = registry.find_feature_set(&name)?;
            let key = parse_key(spec, &key)?;
            // For reading: a mistyped path is an error, not a new empty store.
            let location = OnlineLocation::parse(&config.online_url, &config.base_dir)?;
            let store =
                BlockingOnlineStore::open_with(&location, OpenMode::Read, &config.online_options)?;
            match store.get(spec, &key)? {
                Some(record) => {
                    let frame = online::records_frame(spec, &[record])?;
                    print_frame(&frame, format, out)?;
                }
                None => {
                    let shown: Vec<String> = key.iter().map(|v| v.to_string()).collect();
                    eprintln!("no online row for {} = {}", spec.entity(), shown.join(", "));
                    return Ok(ExitCode::from(1));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Records the quality report of a run that wrote its stores; a report
/// that cannot be written is a warning, not a failed run: the stores are
/// written already.
fn record_quality(
    config: &Config,
    spec: &FeatureSetSpec,
    report: &pipeline::RunReport,
    took: Duration,
) {
    if report.days.is_none() {
        return;
    }
    let (psi, null_rate) = config.quality.thresholds(spec.name);
    let thresholds = pipeline::quality::Thresholds { psi, null_rate };
    let recorded = config
        .historical_root_location()
        .and_then(|root| pipeline::quality::record(&root, spec, report, took, thresholds));
    match recorded {
        Ok(quality) => {
            for c in &quality.columns {
                if let Some(d) = c.drift.as_ref().filter(|d| d.flagged) {
                    eprintln!(
                        "warning: {}: `{}` moved from the previous run: null rate {:+.3}, PSI {} (thresholds: null rate ±{}, PSI {}); `features report {} --runs 2` shows both",
                        spec.name,
                        c.name,
                        d.null_rate_change,
                        d.psi.map_or_else(|| "n/a".to_string(), |p| format!("{p:.3}")),
                        quality.thresholds.null_rate,
                        quality.thresholds.psi,
                        spec.name
                    );
                }
            }
        }
        Err(e) => eprintln!(
            "warning: {}: the run's quality report was not recorded: {e}",
            spec.name
        ),
    }
}

/// A quality report for people.
fn quality_text(r: &pipeline::quality::RunQuality) -> String {
    let days = r
        .days
        .map_or_else(|| "no days".to_string(), |(a, b)| format!("{a} to {b}"));
    let mut text = format!(
        "{} run recorded {} UTC: days {days}, {} rows, {} partitions, {} online rows written, {} ms, {} source rows left out, {} events after the end date, {} in the future\n",
        r.feature_set,
        r.recorded_at,
        r.rows,
        r.partitions,
        r.online_rows,
        r.duration_ms,
        r.rejected_rows,
        r.events_after_end,
        r.events_in_future
    );
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::ASCII_FULL_CONDENSED);
    table.set_header([
        "column",
        "rows",
        "nulls",
        "null rate",
        "min",
        "max",
        "mean",
        "distinct",
        "null rate change",
        "mean change",
        "PSI",
        "flag",
    ]);
    let num = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{x:.4}"));
    for c in &r.columns {
        let d = c.drift.as_ref();
        table.add_row([
            c.name.clone(),
            c.rows.to_string(),
            c.nulls.to_string(),
            format!("{:.4}", c.null_rate),
            num(c.min),
            num(c.max),
            num(c.mean),
            c.distinct.to_string(),
            num(d.map(|d| d.null_rate_change)),
            num(d.and_then(|d| d.mean_change)),
            num(d.and_then(|d| d.psi)),
            if d.is_some_and(|d| d.flagged) {
                "DRIFT"
            } else {
                ""
            }
            .to_string(),
        ]);
    }
    text.push_str(&format!("{table}\n"));
    text
}

/// Runs the HTTP feature server until it is told to stop.
#[cfg(feature = "server")]
fn serve(
    registry: &Registry,
    config: &Config,
    options: &crate::config::ServerConfig,
    out: &mut dyn Write,
) -> Result<()> {
    let loc = source_location(config);
    let catalog = registry
        .feature_sets()
        .iter()
        .map(|spec| catalog::feature_set_json(spec, &loc))
        .collect();
    let location = OnlineLocation::parse(&config.online_url, &config.base_dir)?;
    let shown = location.to_string();
    let server = crate::serve::bind(
        registry.clone(),
        catalog,
        location,
        config.online_options.clone(),
        config.historical_root_location().ok(),
        options,
        env!("CARGO_PKG_VERSION"),
    )?;
    // The first line says where, so a script (or a test) that asked for
    // port 0 learns the port.
    writeln!(
        out,
        "serving {} feature set(s) from {shown} on http://{}",
        registry.feature_sets().len(),
        server.address()
    )
    .and_then(|()| out.flush())
    .map_err(|e| Error::Io {
        context: "writing the output".to_string(),
        source: e,
    })?;
    server.run()
}

#[cfg(not(feature = "server"))]
fn serve(
    _: &Registry,
    _: &Config,
    _: &crate::config::ServerConfig,
    _: &mut dyn Write,
) -> Result<()> {
    Err(Error::Invalid(
        "this binary was built without the HTTP server: enable the `server` feature of \
         featurestore-runtime"
            .to_string(),
    ))
}

/// What a user must know about a run that succeeded: rows left out, and
/// events no window of the run holds.
/// Why a backend has nothing to migrate for a feature set that matches.
fn nothing_to_do(backend: &str) -> &'static str {
    match backend {
        "sqlite" | "redb" | "memory" => {
            "its table is made by its first run; every run checks its columns"
        }
        "redis" => "Redis has no tables: rows are hashes made by the first run; every run checks the recorded columns",
        "cassandra" => "the keyspace and table match the declaration",
        _ => "the table matches the declaration",
    }
}

/// Says what a feature set's run wrote (on stderr) and prints its latest rows.
fn report_run(
    report: &pipeline::RunReport,
    stores: &Stores,
    range: DateRange,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    let name = report.feature_set;
    let Some((first, last)) = report.days else {
        // Exit 0: an interval without data is a fact, not a fault.
        let before = range
            .end
            .map_or_else(String::new, |e| format!(" on or before the end date {e}"));
        eprintln!(
            "{name}: nothing to write: no event (after the feature set's query and filter) is dated{before}; no store was changed"
        );
        warn_run(report, range);
        return print_frame(&report.latest, format, out);
    };
    let days = format!("{first} to {last}");
    if let Some(split) = &report.split {
        eprintln!(
            "{name}: split into {} parts by key to fit the memory budget (`--memory-budget`): its latest rows are in the online store, not printed",
            split.parts
        );
    }
    if report.row_count() == 0 {
        eprintln!(
            "{name}: no event (after the feature set's query and filter) is dated from {first} to {last}: those days have no rows"
        );
    }
    eprintln!(
        "{name}: {} rows for {days}; historical: {} partitions written, {} emptied at {}; online: {} rows upserted, {} not replacing rows of later runs, {} removed",
        report.row_count(),
        report.historical.partitions_written,
        report.historical.partitions_deleted,
        stores.historical.location(),
        report.online.written,
        report.online.kept_newer,
        report.online.removed,
    );
    warn_run(report, range);
    print_frame(&report.latest, format, out)
}

/// Runs `features stream`: one consumer per feature set, each on a thread
/// of its own, all stopped by the first Ctrl-C or SIGTERM.
#[cfg(feature = "kafka")]
fn stream(
    specs: &[&FeatureSetSpec],
    config: &Config,
    from_beginning: bool,
    exit_when_idle: Option<u64>,
    end_date: Option<NaiveDate>,
    out: &mut dyn Write,
) -> Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static STOP: AtomicBool = AtomicBool::new(false);
    crate::io::runtime().spawn(async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!(error = %e, "SIGTERM is not handled");
                    let _ = tokio::signal::ctrl_c().await;
                    STOP.store(true, Ordering::SeqCst);
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("stopping: the streams drain, commit and exit");
        STOP.store(true, Ordering::SeqCst);
    });
    let online = BlockingOnlineStore::open(
        &crate::location::OnlineLocation::parse(&config.online_url, &config.base_dir)?,
        OpenMode::Write,
    )?;
    let options = crate::stream::StreamOptions {
        from_beginning,
        exit_when_idle: exit_when_idle.map(std::time::Duration::from_secs),
        end_date,
        stop: &STOP,
    };
    let reports = std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .iter()
            .map(|spec| {
                let (online, options) = (&online, &options);
                s.spawn(move || {
                    let report = crate::stream::run(spec, config, online, options);
                    if report.is_err() {
                        // One failed stream stops the others cleanly.
                        STOP.store(true, Ordering::SeqCst);
                    }
                    report
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect::<Vec<_>>()
    });
    for report in reports {
        let r = report?;
        writeln!(
            out,
            "{}: {} messages, {} rows upserted, {} bad, {} late, {} commits",
            r.feature_set, r.messages, r.rows_written, r.bad, r.late, r.commits
        )
        .map_err(|e| Error::Io {
            context: "writing the output".to_string(),
            source: e,
        })?;
    }
    Ok(())
}

#[cfg(not(feature = "kafka"))]
fn stream(
    _: &[&FeatureSetSpec],
    _: &Config,
    _: bool,
    _: Option<u64>,
    _: Option<NaiveDate>,
    _: &mut dyn Write,
) -> Result<()> {
    Err(Error::Invalid(
        "`stream` needs the `kafka` cargo feature of featurestore-runtime, which this build \
         does not have: enable it in the feature crate's Cargo.toml"
            .to_string(),
    ))
}

fn warn_run(report: &pipeline::RunReport, range: DateRange) {
    if let Some(behind) = &report.repaired {
        eprintln!(
            "warning: {}: {behind}; this run re-wrote those online rows from the historical store first",
            report.feature_set
        );
    }
    let foreign = &report.historical.foreign;
    if !foreign.is_empty() {
        eprintln!(
            "warning: {}: {} file(s) in the partitions of this run were not written by the historical store and were left as they are (other Parquet files there are read as data): {}",
            report.feature_set,
            foreign.len(),
            foreign.join(", ")
        );
    }
    for r in &report.rejected {
        match &r.quarantine {
            Some(file) => eprintln!(
                "warning: {}: {} bad row(s) of {} left out and quarantined to {}",
                r.source_name, r.rows, r.location, file
            ),
            None => eprintln!(
                "warning: {}: {} bad row(s) of {} skipped (on_bad_rows = \"skip\")",
                r.source_name, r.rows, r.location
            ),
        }
    }
    if report.events_after_end > 0 {
        let end = range.end.map_or_else(String::new, |e| e.to_string());
        eprintln!(
            "warning: {}: {} event(s) dated after the end date {end} are in no window of this run",
            report.feature_set, report.events_after_end
        );
    }
    if report.events_in_future > 0 {
        eprintln!(
            "warning: {}: {} event(s) are dated in the future (after {} UTC); check the clock of their producer",
            report.feature_set,
            report.events_in_future,
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")
        );
    }
}

fn spinner() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn parse_key(spec: &FeatureSetSpec, raw: &[String]) -> Result<Vec<Value>> {
    if raw.len() != spec.keys.len() {
        return Err(Error::Invalid(format!(
            "`{}` has {} key column(s) ({}), got {} value(s)",
            spec.name,
            spec.keys.len(),
            spec.key_names().collect::<Vec<_>>().join(", "),
            raw.len()
        )));
    }
    spec.keys
        .iter()
        .zip(raw)
        .map(|(k, v)| {
            let bad = |what: &str| Error::Invalid(format!("key `{}`: `{v}` is not {what}", k.name));
            Ok(match k.dtype {
                Dt::String => Value::Str(v.clone()),
                Dt::Int32 | Dt::Int64 => Value::Int(v.parse().map_err(|_| bad("an integer"))?),
                Dt::Bool => Value::Bool(v.parse().map_err(|_| bad("true or false"))?),
                Dt::Date => {
                    let d = parse_date(v).map_err(Error::Invalid)?;
                    Value::Date(d.signed_duration_since(NaiveDate::default()).num_days() as i32)
                }
                other => {
                    return Err(bad(&format!(
                        "a valid key ({other} keys are not supported)"
                    )))
                }
            })
        })
        .collect()
}

/// Prints rows as a table, CSV or JSON lines; timestamps as `YYYY-MM-DD HH:MM:SS`.
pub fn print_frame(frame: &DataFrame, format: Format, out: &mut dyn Write) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        context: "writing the output".to_string(),
        source: e,
    };
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let rows = frame_strings(frame)?;
    match format {
        Format::Table => {
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::ASCII_FULL_CONDENSED);
            table.set_header(names);
            for r in rows {
                table.add_row(r.into_iter().map(|c| c.unwrap_or_else(|| "null".into())));
            }
            writeln!(out, "{table}").map_err(io)?;
        }
        Format::Csv => {
            writeln!(out, "{}", names.join(",")).map_err(io)?;
            for r in rows {
                let cells: Vec<String> = r
                    .into_iter()
                    .map(|c| csv_cell(c.unwrap_or_default()))
                    .collect();
                writeln!(out, "{}", cells.join(",")).map_err(io)?;
            }
        }
        Format::Json => {
            let columns: Vec<Vec<serde_json::Value>> = frame
                .columns()
                .iter()
                .enumerate()
                .map(|(i, c)| json_values(c.as_materialized_series(), &rows, i))
                .collect();
            for row in 0..frame.height() {
                let obj: serde_json::Map<String, serde_json::Value> = names
                    .iter()
                    .cloned()
                    .zip(columns.iter().map(|c| c[row].clone()))
                    .collect();
                writeln!(out, "{}", serde_json::Value::Object(obj)).map_err(io)?;
            }
        }
    }
    Ok(())
}

/// A column's values as JSON: numbers and booleans as themselves, lists as
/// arrays; times, dates and the rest as the text the other formats print
/// (`texts[row][column]`). A float that is not finite (NaN, infinity), which
/// JSON cannot hold as a number, is its text (`"NaN"`).
fn json_values(s: &Series, texts: &[Vec<Option<String>>], column: usize) -> Vec<serde_json::Value> {
    use serde_json::Value as J;
    let text = |row: usize| texts[row][column].clone().map_or(J::Null, J::String);
    (0..s.len())
        .map(|row| match s.get(row) {
            Ok(AnyValue::Null) => J::Null,
            Ok(AnyValue::Boolean(b)) => J::Bool(b),
            Ok(AnyValue::Int8(v)) => J::from(v),
            Ok(AnyValue::Int16(v)) => J::from(v),
            Ok(AnyValue::Int32(v)) => J::from(v),
            Ok(AnyValue::Int64(v)) => J::from(v),
            Ok(AnyValue::UInt8(v)) => J::from(v),
            Ok(AnyValue::UInt16(v)) => J::from(v),
            Ok(AnyValue::UInt32(v)) => J::from(v),
            Ok(AnyValue::UInt64(v)) => J::from(v),
            Ok(AnyValue::Float32(v)) => {
                serde_json::Number::from_f64(f64::from(v)).map_or_else(|| text(row), J::Number)
            }
            Ok(AnyValue::Float64(v)) => {
                serde_json::Number::from_f64(v).map_or_else(|| text(row), J::Number)
            }
            Ok(AnyValue::List(items)) => {
                let inner = DataFrame::new(items.len(), vec![items.clone().into_column()])
                    .ok()
                    .and_then(|f| frame_strings(&f).ok());
                match inner {
                    Some(inner) => J::Array(json_values(&items, &inner, 0)),
                    None => text(row),
                }
            }
            _ => text(row),
        })
        .collect()
}

fn csv_cell(s: String) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Every cell of a frame as text (`None` for null).
/// A list column as text: `[a, b]`, its items formatted as columns are.
fn list_strings(s: &Series) -> PolarsResult<Series> {
    let mut out: Vec<Option<String>> = Vec::with_capacity(s.len());
    let list = s.list()?;
    for item in (0..list.len()).map(|i| list.get_as_series(i)) {
        out.push(match item {
            Some(items) => {
                let frame = DataFrame::new(items.len(), vec![items.into_column()])?;
                let texts = frame_strings(&frame).map_err(|e| polars_err!(ComputeError: "{e}"))?;
                let texts: Vec<String> = texts
                    .into_iter()
                    .map(|r| {
                        r.into_iter()
                            .next()
                            .flatten()
                            .unwrap_or_else(|| "null".into())
                    })
                    .collect();
                Some(format!("[{}]", texts.join(", ")))
            }
            None => None,
        });
    }
    Ok(Series::new(s.name().clone(), out))
}

pub fn frame_strings(frame: &DataFrame) -> Result<Vec<Vec<Option<String>>>> {
    let formatted: Vec<Series> = frame
        .columns()
        .iter()
        .map(|c| {
            let s = c.as_materialized_series();
            match s.dtype() {
                DataType::Datetime(_, _) => s
                    .datetime()
                    .and_then(|d| d.to_string("%Y-%m-%d %H:%M:%S").map(|c| c.into_series())),
                DataType::List(_) => list_strings(s),
                _ => s.cast(&DataType::String),
            }
        })
        .collect::<PolarsResult<_>>()
        .map_err(|e| Error::Polars {
            context: "formatting rows".to_string(),
            source: e,
        })?;
    let strs: Vec<&StringChunked> = formatted
        .iter()
        .map(|s| s.str())
        .collect::<PolarsResult<_>>()
        .map_err(|e| Error::Polars {
            context: "formatting rows".to_string(),
            source: e,
        })?;
    Ok((0..frame.height())
        .map(|i| strs.iter().map(|s| s.get(i).map(str::to_string)).collect())
        .collect())
}
