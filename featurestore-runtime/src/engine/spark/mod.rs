//! The Spark engine: a feature set compiled into Spark SQL ([`plan`]) and
//! run by a Spark cluster through Spark Connect ([`client`]).
//!
//! What runs where:
//! - on the cluster: reading the source files, `query`/`filter`, the
//!   windows, the change-point dedup, `fill_null`, and the write of the
//!   historical store's day partitions ([`mod@write`]);
//! - in this process: the plan, the checks' verdicts, deleting the run's
//!   days that have no rows, and the online store, filled from the latest
//!   row of each key, which comes back as Arrow.
//!
//! A declaration the plan cannot express is refused before anything runs
//! ([`plan::check`]).

// The client's `SparkError` is large (as its own crate allows); it is
// boxed into `Error::Store` as soon as it leaves a call.
#![allow(clippy::result_large_err)]

pub mod client;
pub mod dataset;
pub mod plan;
pub mod write;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{self as adt, DataType as ArrowType};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::{Error, PolarsContext, Result};
use crate::source::SourceLocations;
use crate::spec::{DatasetSpec, FeatureSetSpec, SourceKind, SourceSpec, TIMESTAMP_COLUMN};
use crate::store::historical::{HistoricalStore, HistoricalWrite};
use crate::store::online::{self, Record};
use crate::time::day_to_date;
use crate::transform::DateRange;

pub use client::SparkClient;
pub use plan::Plan;

/// What a feature set's run on Spark did.
#[derive(Debug, Clone)]
pub struct SparkRun {
    /// Every row of the run, read back from the historical store (keys,
    /// `timestamp`, outputs, sorted by key and time).
    pub rows: DataFrame,
    /// The days the run covered: the partitions it replaced.
    pub days: Option<(NaiveDate, NaiveDate)>,
    /// What the historical write did.
    pub historical: HistoricalWrite,
    /// The latest row of each key, for the online store.
    pub latest: Vec<Record>,
    /// Compiling and computing the rows on the cluster.
    pub compute: Duration,
    /// Spark's write of the partitions, and the deletion of empty days.
    pub write: Duration,
}

/// Where a source's files are for Spark, and its bad-row policy.
pub fn source_input(
    spec: &FeatureSetSpec,
    locations: &SourceLocations,
) -> Result<plan::SourceInput> {
    input_of(spec.source, locations)
}

fn input_of(source: &SourceSpec, locations: &SourceLocations) -> Result<plan::SourceInput> {
    let SourceKind::File { path, .. } = source.kind else {
        return Err(Error::Invalid(format!(
            "source `{}` is no file source",
            source.name
        )));
    };
    Ok(plan::SourceInput {
        path: write::spark_path(&locations.resolve(source, path)),
        on_bad_rows: locations.policy(source),
    })
}

/// The plan of a feature set's run, as `features describe --engine spark`
/// prints it.
pub fn describe(
    spec: &FeatureSetSpec,
    locations: &SourceLocations,
    range: DateRange,
) -> Result<Plan> {
    plan::check(spec)?;
    let end = range.end.unwrap_or_else(|| chrono::Utc::now().date_naive());
    plan::compile(spec, &source_input(spec, locations)?, range.start, end)
}

/// The plan of a dataset's join, as `features describe --engine spark`
/// prints it.
pub fn describe_dataset(
    spec: &DatasetSpec,
    locations: &SourceLocations,
    historical_root: &str,
    range: DateRange,
) -> Result<dataset::DatasetPlan> {
    let tables: Vec<String> = spec
        .joins
        .iter()
        .map(|j| write::table_path(historical_root, j.feature_set))
        .collect();
    dataset::compile(spec, &input_of(spec.spine, locations)?, &tables, range)
}

/// Builds a dataset's rows on Spark: the cluster reads the spine and the
/// joined feature sets' rows from the historical store and joins them; the
/// rows come back in the spine's order, with [`DatasetSpec::columns`].
pub fn build_dataset(
    spec: &DatasetSpec,
    client: &SparkClient,
    locations: &SourceLocations,
    historical: &HistoricalStore,
    base_dir: &Path,
    range: DateRange,
) -> Result<DataFrame> {
    dataset::check(spec)?;
    for join in spec.joins {
        if !write::table_has_rows(historical.location(), base_dir, join.feature_set)? {
            return Err(Error::Invalid(format!(
                "dataset `{}`: feature set `{}` has no rows in the historical store at {}: run it \
                 first (`features execute {}`), or build the dataset with `--engine polars`",
                spec.name,
                join.feature_set.name,
                historical.location(),
                join.feature_set.name
            )));
        }
    }
    let plan = describe_dataset(spec, locations, historical.location(), range)?;
    for view in &plan.views {
        client.sql(view)?;
    }
    let batches = client.sql(&plan.rows)?;
    let columns = spec.columns();
    let mut names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    names.push(dataset::ROW);
    let frame = frame_of(&batches, &names)?;
    frame
        .drop(dataset::ROW)
        .ctx(|| "the dataset's rows from Spark".into())
}

fn view_name(spec: &FeatureSetSpec) -> String {
    format!("__fs_rows_{}", spec.name)
}

/// Runs a feature set on Spark: the cluster computes the rows and writes
/// the historical store's day partitions of the run; the latest row of
/// each key comes back for the online store, which the caller writes.
///
/// `before_write` is called with the run's days just before Spark starts
/// replacing partitions; an error from it stops the run there.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    spec: &FeatureSetSpec,
    client: &SparkClient,
    locations: &SourceLocations,
    historical: &HistoricalStore,
    base_dir: &Path,
    range: DateRange,
    before_write: &dyn Fn((NaiveDate, NaiveDate)) -> Result<()>,
    progress: &dyn Fn(&str),
) -> Result<SparkRun> {
    plan::check(spec)?;
    let Some(end) = range.end else {
        return Err(Error::Invalid(format!(
            "feature set `{}` has rolling windows: an end date is required (`--end-date YYYY-MM-DD`)",
            spec.name
        )));
    };
    let t0 = Instant::now();
    let plan = plan::compile(spec, &source_input(spec, locations)?, range.start, end)?;
    progress(&format!("reading `{}` on Spark", spec.source.name));
    client.sql(&plan.source_view)?;
    for check in &plan.checks {
        let n = client.count(&check.sql)?;
        if n > 0 {
            return Err(Error::Data {
                feature_set: spec.name.to_string(),
                message: format!("{n} {}", check.message),
            });
        }
    }
    progress(&format!("computing `{}` on Spark", spec.name));
    let view = plan::ident(&view_name(spec));
    // Cached: the rows are written, then their latest per key collected.
    client.sql(&format!("CACHE TABLE {view} AS {}", plan.rows))?;
    let result = run_cached(
        spec,
        client,
        &view,
        historical,
        base_dir,
        end,
        t0,
        before_write,
        progress,
    );
    // Best effort: the session's cache and views go with the session anyway.
    let _ = client.sql(&format!("UNCACHE TABLE IF EXISTS {view}"));
    let _ = client.sql(&format!("DROP VIEW IF EXISTS {view}"));
    result
}

#[allow(clippy::too_many_arguments)]
fn run_cached(
    spec: &FeatureSetSpec,
    client: &SparkClient,
    view: &str,
    historical: &HistoricalStore,
    base_dir: &Path,
    end: NaiveDate,
    t0: Instant,
    before_write: &dyn Fn((NaiveDate, NaiveDate)) -> Result<()>,
    progress: &dyn Fn(&str),
) -> Result<SparkRun> {
    let day = format!(
        "CAST(datediff(CAST({} AS DATE), DATE'1970-01-01') AS BIGINT)",
        plan::ident(TIMESTAMP_COLUMN)
    );
    // What every later answer is checked against: one row, whatever the
    // view holds, so an answer without it was cut short too.
    let keys: Vec<String> = spec.key_names().map(plan::ident).collect();
    let summary_sql = format!(
        "SELECT count(*), count(DISTINCT {day}), count(DISTINCT {}) FROM {view}",
        keys.join(", ")
    );
    let summary = int_row(&client.sql(&summary_sql)?);
    let [rows_total, days_total, keys_total] = summary[..] else {
        return Err(client.cut_short("the run's row, day and key counts", 0, 1));
    };
    let days_sql = format!("SELECT DISTINCT {day} FROM {view}");
    let written: BTreeSet<NaiveDate> = int_column(&client.sql(&days_sql)?)
        .into_iter()
        .map(day_to_date)
        .collect();
    complete(client, "the run's days", written.len(), days_total)?;
    // Every key has a row on the first day of the run: the earliest row is it.
    let days = written.first().map(|first| (*first, end));
    let latest_frame = latest(spec, client, view)?;
    complete(client, "the latest rows", latest_frame.height(), keys_total)?;
    let compute = t0.elapsed();

    let t1 = Instant::now();
    let mut write = HistoricalWrite::default();
    if let Some(days) = days {
        before_write(days)?;
        progress(&format!(
            "Spark writing the historical store ({} to {})",
            days.0, days.1
        ));
        write::write_partitions(client, view, historical.location(), spec)?;
        let deleted =
            write::delete_other_days(historical.location(), base_dir, spec, days, &written)?;
        write.partitions_written = written.len();
        write.partitions_deleted = deleted;
    }
    let write_time = t1.elapsed();
    tracing::info!(
        feature_set = spec.name,
        partitions = write.partitions_written,
        deleted = write.partitions_deleted,
        elapsed_ms = write_time.as_millis() as u64,
        "historical store written by Spark"
    );

    let rows = match days {
        Some(days) => {
            let stored = historical.read(spec, Some(days))?;
            stored.drop_many(["year", "month", "day"])
        }
        None => DataFrame::empty(),
    };
    write.rows = rows.height();
    complete(
        client,
        "the rows Spark wrote to the historical store",
        rows.height(),
        rows_total,
    )?;
    let latest = if latest_frame.height() == 0 {
        Vec::new()
    } else {
        online::records_of(spec, &latest_frame)?
    };
    Ok(SparkRun {
        rows,
        days,
        historical: write,
        latest,
        compute,
        write: write_time,
    })
}

/// The latest row of each key, collected as Arrow and sorted by key.
fn latest(spec: &FeatureSetSpec, client: &SparkClient, view: &str) -> Result<DataFrame> {
    let keys: Vec<String> = spec.key_names().map(plan::ident).collect();
    let columns: Vec<String> = spec.column_names().into_iter().map(plan::ident).collect();
    let sql = format!(
        "SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY {ts} DESC) AS `__fs_last` FROM {view}) WHERE `__fs_last` = 1",
        cols = columns.join(", "),
        keys = keys.join(", "),
        ts = plan::ident(TIMESTAMP_COLUMN),
    );
    let batches = client.sql(&sql)?;
    let frame = frame_of(&batches, &spec.column_names())?;
    if frame.height() == 0 {
        return Ok(frame);
    }
    let by: Vec<&str> = spec.key_names().collect();
    frame
        .sort(by, SortMultipleOptions::default())
        .ctx(|| "sorting the latest rows".into())
}

/// The first row of `batches`, as integers; empty without a row.
fn int_row(batches: &[RecordBatch]) -> Vec<i64> {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Vec::new();
    };
    (0..b.num_columns())
        .filter_map(|i| {
            b.column(i)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .and_then(|a| a.iter().next().flatten())
        })
        .collect()
}

/// Checks that an answer holds the `expected` rows the run's summary
/// counted: a response stream the server ended early gives fewer, with no
/// error from the client.
fn complete(client: &SparkClient, what: &str, got: usize, expected: i64) -> Result<()> {
    if i64::try_from(got).ok() == Some(expected) {
        return Ok(());
    }
    Err(client.cut_short(what, got, expected))
}

fn int_column(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .filter_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
        })
        .flat_map(|a| a.iter().flatten().collect::<Vec<_>>())
        .collect()
}

/// Arrow batches (Spark's result) as a polars frame with columns `names`.
fn frame_of(batches: &[RecordBatch], names: &[&str]) -> Result<DataFrame> {
    let mut columns: Vec<Column> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
        columns.push(series_of(name, &arrays)?.into_column());
    }
    let height = batches.iter().map(RecordBatch::num_rows).sum();
    DataFrame::new(height, columns).ctx(|| "the latest rows from Spark".into())
}

fn series_of(name: &str, arrays: &[&dyn Array]) -> Result<Series> {
    let name = PlSmallStr::from(name);
    let Some(first) = arrays.first() else {
        return Ok(Series::new_empty(name, &polars::prelude::DataType::Null));
    };
    macro_rules! prim {
        ($t:ty, $native:ty) => {{
            let values: Vec<Option<$native>> = arrays
                .iter()
                .flat_map(|a| a.as_primitive::<$t>().iter().collect::<Vec<_>>())
                .collect();
            Series::new(name.clone(), values)
        }};
    }
    let series = match first.data_type() {
        ArrowType::Boolean => {
            let values: Vec<Option<bool>> = arrays
                .iter()
                .flat_map(|a| a.as_boolean().iter().collect::<Vec<_>>())
                .collect();
            Series::new(name.clone(), values)
        }
        ArrowType::Int32 => prim!(adt::Int32Type, i32),
        ArrowType::Int64 => prim!(adt::Int64Type, i64),
        ArrowType::Float32 => prim!(adt::Float32Type, f32),
        ArrowType::Float64 => prim!(adt::Float64Type, f64),
        ArrowType::Utf8 => {
            let values: Vec<Option<&str>> = arrays
                .iter()
                .flat_map(|a| a.as_string::<i32>().iter().collect::<Vec<_>>())
                .collect();
            Series::new(name, values)
        }
        ArrowType::LargeUtf8 => {
            let values: Vec<Option<&str>> = arrays
                .iter()
                .flat_map(|a| a.as_string::<i64>().iter().collect::<Vec<_>>())
                .collect();
            Series::new(name, values)
        }
        ArrowType::Date32 => prim!(adt::Date32Type, i32)
            .cast(&polars::prelude::DataType::Date)
            .ctx(|| format!("column `{name}`"))?,
        ArrowType::Timestamp(adt::TimeUnit::Microsecond, _) => {
            prim!(adt::TimestampMicrosecondType, i64)
                .cast(&polars::prelude::DataType::Datetime(
                    TimeUnit::Microseconds,
                    None,
                ))
                .ctx(|| format!("column `{name}`"))?
        }
        other => {
            return Err(Error::Invalid(format!(
                "column `{name}` came back from Spark as {other}, which this engine does not read"
            )))
        }
    };
    Ok(series)
}
