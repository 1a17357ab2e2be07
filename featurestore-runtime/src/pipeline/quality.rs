//! Per-run data-quality reports: what each run of a feature set wrote,
//! column by column, and how it moved from the run before.
//!
//! After a run, [`record`] computes for every output column the rows,
//! nulls and null rate, min, max and mean (numeric columns), the number of
//! distinct values (exact: the rows are in memory), and a histogram of ten
//! equal-width bins; and for the run its days, rows, partitions, online
//! rows written, duration and the source rows left out. It compares them
//! with the previous report of the feature set: the change of null rate,
//! the relative change of the mean, and the population-stability index
//! (PSI) of this run's values over the previous run's bins, and flags a
//! column whose PSI or null-rate change passes [`Thresholds`].
//!
//! Reports are JSON objects next to the historical store,
//! `{historical root}/_reports/{feature_set}/{recorded at}-{id}.json`,
//! one per run; `features report NAME [--runs N]` shows the latest.

use object_store::{ObjectStoreExt, PutPayload};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::RunReport;
use crate::error::{Error, Result};
use crate::io::block_on;
use crate::location::FileLocation;
use crate::spec::FeatureSetSpec;

/// The folder of the reports, below the historical store's root.
const REPORTS_DIR: &str = "_reports";

/// Bins of a column's histogram.
const BINS: usize = 10;

/// When a column's change is flagged (`[quality]` in `featurestore.toml`
/// sets them, for every feature set or one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Population-stability index over the previous run's bins: 0.1 is
    /// commonly read as a moderate shift, 0.2 as a significant one.
    pub psi: f64,
    /// Change of the null rate, as a fraction of rows (0.1: ten points).
    pub null_rate: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            psi: 0.2,
            null_rate: 0.1,
        }
    }
}

/// Bins of equal width over `[edges[0], edges[BINS]]`; `counts[i]` holds
/// the values in `[edges[i], edges[i + 1])`, the last bin its upper edge too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// `BINS + 1` edges, ascending.
    pub edges: Vec<f64>,
    /// Values per bin.
    pub counts: Vec<u64>,
}

/// One output column of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnQuality {
    /// The column.
    pub name: String,
    /// Rows.
    pub rows: usize,
    /// Null values.
    pub nulls: usize,
    /// `nulls / rows` (0 without rows).
    pub null_rate: f64,
    /// Smallest value (numeric columns).
    pub min: Option<f64>,
    /// Largest value (numeric columns).
    pub max: Option<f64>,
    /// Mean of the values that are not null (numeric columns).
    pub mean: Option<f64>,
    /// Distinct values, null included.
    pub distinct: usize,
    /// The values' histogram (numeric columns with a value).
    pub histogram: Option<Histogram>,
    /// How the column moved from the previous run, if there was one.
    pub drift: Option<Drift>,
}

/// A column's change from the previous run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// This run's null rate minus the previous one's.
    pub null_rate_change: f64,
    /// `(mean − previous mean) / |previous mean|`, when both exist and the
    /// previous one is not 0.
    pub mean_change: Option<f64>,
    /// Population-stability index of this run's values over the previous
    /// run's bins, when both have values.
    pub psi: Option<f64>,
    /// Whether a threshold was passed.
    pub flagged: bool,
}

/// What one run of a feature set wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunQuality {
    /// The feature set.
    pub feature_set: String,
    /// When the report was recorded (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub recorded_at: String,
    /// The days the run covered.
    pub days: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    /// Rows the run computed.
    pub rows: usize,
    /// Historical partitions written.
    pub partitions: usize,
    /// Online rows written.
    pub online_rows: usize,
    /// The run's duration, in milliseconds.
    pub duration_ms: u64,
    /// Source rows left out by `on_bad_rows`.
    pub rejected_rows: usize,
    /// Events dated after the run's end date (late for it).
    pub events_after_end: usize,
    /// Events dated after the time of the run.
    pub events_in_future: usize,
    /// The thresholds the columns were flagged with.
    pub thresholds: Thresholds,
    /// Every output column, in declaration order.
    pub columns: Vec<ColumnQuality>,
}

// `Thresholds` is part of the stored report.
impl Serialize for Thresholds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        (self.psi, self.null_rate).serialize(s)
    }
}
impl<'de> Deserialize<'de> for Thresholds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (psi, null_rate) = <(f64, f64)>::deserialize(d)?;
        Ok(Thresholds { psi, null_rate })
    }
}

fn store_error(at: &FileLocation, doing: &str, e: impl Into<crate::error::BoxError>) -> Error {
    Error::store("historical store", at.to_string(), doing, e)
}

fn polars_error(e: PolarsError) -> Error {
    Error::Polars {
        context: "computing the run's quality report".to_string(),
        source: e,
    }
}

/// A column's statistics before they are compared with the previous run.
#[derive(Debug, Clone)]
struct Summary {
    name: String,
    rows: usize,
    nulls: usize,
    min: Option<f64>,
    max: Option<f64>,
    mean: Option<f64>,
    distinct: usize,
    histogram: Option<Histogram>,
    /// The values counted in the previous run's bins, when it has some and
    /// this run has values.
    over_previous: Option<Vec<u64>>,
}

/// A column's statistics, exact: its values are all in memory.
fn summarise(series: &Series, previous: Option<&ColumnQuality>) -> Result<Summary> {
    let distinct = series.n_unique().map_err(polars_error)?;
    let values: Option<Vec<f64>> = if series.dtype().is_primitive_numeric() {
        let floats = series.cast(&DataType::Float64).map_err(polars_error)?;
        Some(
            floats
                .f64()
                .map_err(polars_error)?
                .iter()
                .flatten()
                .collect(),
        )
    } else {
        None
    };
    let (min, max, mean, histogram) = match values.as_deref() {
        Some(v) if !v.is_empty() => {
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            (Some(min), Some(max), Some(mean), histogram(v, min, max))
        }
        _ => (None, None, None, None),
    };
    let over_previous = match (
        previous.and_then(|p| p.histogram.as_ref()),
        values.as_deref(),
    ) {
        (Some(before), Some(v)) if !v.is_empty() => Some(counts(v, &before.edges)),
        _ => None,
    };
    Ok(Summary {
        name: series.name().to_string(),
        rows: series.len(),
        nulls: series.null_count(),
        min,
        max,
        mean,
        distinct,
        histogram,
        over_previous,
    })
}

/// A column's statistics compared with `previous` (the same column of the
/// run before).
fn column_quality(
    summary: Summary,
    previous: Option<&ColumnQuality>,
    thresholds: Thresholds,
) -> ColumnQuality {
    let Summary {
        name,
        rows,
        nulls,
        min,
        max,
        mean,
        distinct,
        histogram,
        over_previous,
    } = summary;
    let null_rate = if rows == 0 {
        0.0
    } else {
        nulls as f64 / rows as f64
    };
    let drift = previous.map(|p| {
        let null_rate_change = null_rate - p.null_rate;
        let mean_change = match (mean, p.mean) {
            (Some(m), Some(pm)) if pm != 0.0 => Some((m - pm) / pm.abs()),
            _ => None,
        };
        let psi = match (&p.histogram, &over_previous) {
            (Some(before), Some(now)) => Some(psi(&before.counts, now)),
            _ => None,
        };
        let flagged = null_rate_change.abs() > thresholds.null_rate
            || psi.is_some_and(|x| x > thresholds.psi);
        Drift {
            null_rate_change,
            mean_change,
            psi,
            flagged,
        }
    });
    ColumnQuality {
        name,
        rows,
        nulls,
        null_rate,
        min,
        max,
        mean,
        distinct,
        histogram,
        drift,
    }
}

/// Ten bins of equal width from `min` to `max` (one value: one bin around it).
fn histogram(values: &[f64], min: f64, max: f64) -> Option<Histogram> {
    let edges = edges(min, max)?;
    Some(Histogram {
        counts: counts(values, &edges),
        edges,
    })
}

/// The edges of ten bins of equal width from `min` to `max` (one value:
/// one bin around it).
fn edges(min: f64, max: f64) -> Option<Vec<f64>> {
    if !min.is_finite() || !max.is_finite() {
        return None;
    }
    let (lo, hi) = if min == max {
        (min - 0.5, max + 0.5)
    } else {
        (min, max)
    };
    let width = (hi - lo) / BINS as f64;
    let mut edges: Vec<f64> = (0..=BINS).map(|i| lo + width * i as f64).collect();
    edges[BINS] = hi;
    Some(edges)
}

/// The statistics of a run's output columns gathered part by part, for a
/// run whose rows are never all in memory (split by key): rows, nulls,
/// min, max and mean as a run in memory gives them (the mean up to the
/// rounding of its sum), the distinct values estimated by a HyperLogLog
/// sketch (within a few percent), and the histogram counted in a second
/// pass over the rows, once the first has found the bins.
#[derive(Debug, Clone)]
pub struct PartStats {
    columns: Vec<PartColumn>,
}

#[derive(Clone)]
struct PartColumn {
    name: &'static str,
    rows: usize,
    nulls: usize,
    /// Numeric columns: non-null values, their sum, min and max.
    numeric: bool,
    values: usize,
    sum: f64,
    min: f64,
    max: f64,
    sketch: polars_utils::cardinality_sketch::CardinalitySketch,
    /// This run's bins, once the first pass is over, and their counts.
    edges: Option<Vec<f64>>,
    counts: Vec<u64>,
    /// The previous run's bins and this run's counts in them.
    previous: Option<Vec<f64>>,
    over_previous: Vec<u64>,
}

impl std::fmt::Debug for PartColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartColumn")
            .field("name", &self.name)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl PartStats {
    /// Statistics of `spec`'s outputs, whose previous run is `previous`.
    pub fn new(spec: &FeatureSetSpec, previous: Option<&RunQuality>) -> Self {
        Self::of(spec.outputs.iter().map(|o| {
            let edges = previous
                .and_then(|p| p.columns.iter().find(|c| c.name == o.name))
                .and_then(|c| c.histogram.as_ref())
                .map(|h| h.edges.clone());
            (o.name, edges)
        }))
    }

    /// Statistics of the columns named, each with its previous run's bins.
    fn of(columns: impl Iterator<Item = (&'static str, Option<Vec<f64>>)>) -> Self {
        let columns = columns
            .map(|(name, previous)| PartColumn {
                name,
                rows: 0,
                nulls: 0,
                numeric: false,
                values: 0,
                sum: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                sketch: Default::default(),
                edges: None,
                counts: vec![0; BINS],
                over_previous: vec![0; previous.as_ref().map_or(0, |e| e.len().saturating_sub(1))],
                previous,
            })
            .collect();
        PartStats { columns }
    }

    /// First pass: the rows of one part.
    pub fn add(&mut self, frame: &DataFrame) -> Result<()> {
        let hasher = PlSeedableRandomStateQuality::seed_from_u64(0);
        for c in &mut self.columns {
            let series = frame
                .column(c.name)
                .map_err(polars_error)?
                .as_materialized_series();
            c.rows += series.len();
            c.nulls += series.null_count();
            let mut hashes = Vec::new();
            series
                .drop_nulls()
                .vec_hash(hasher.clone(), &mut hashes)
                .map_err(polars_error)?;
            for h in hashes {
                c.sketch.insert(h);
            }
            if series.dtype().is_primitive_numeric() {
                c.numeric = true;
                let floats = float_values(series)?;
                if series.dtype().is_integer() {
                    // Whole numbers: polars' kernels give the same sum in
                    // any order (exact below 2^53) and skip the nulls, at a
                    // fraction of a loop over each value.
                    let values = floats.len() - floats.null_count();
                    if values > 0 {
                        c.values += values;
                        c.sum += floats.sum().unwrap_or(0.0);
                        c.min = c.min.min(floats.min().unwrap_or(f64::INFINITY));
                        c.max = c.max.max(floats.max().unwrap_or(f64::NEG_INFINITY));
                    }
                } else {
                    // The order a run in memory sums in, NaN as it counts it.
                    for v in floats.iter().flatten() {
                        c.values += 1;
                        c.sum += v;
                        c.min = c.min.min(v);
                        c.max = c.max.max(v);
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the first pass: the bins are set.
    pub fn bin(&mut self) {
        for c in &mut self.columns {
            if c.numeric && c.values > 0 {
                c.edges = edges(c.min, c.max);
            }
        }
    }

    /// Second pass: the rows of one part (a day) counted in the bins.
    pub fn count(&mut self, frame: &DataFrame) -> Result<()> {
        for c in &mut self.columns {
            if !c.numeric {
                continue;
            }
            let series = frame
                .column(c.name)
                .map_err(polars_error)?
                .as_materialized_series();
            let floats = float_values(series)?;
            for arr in floats.downcast_iter() {
                let values = arr.values().as_slice();
                let validity = arr.validity();
                let valid = |i: usize| validity.is_none_or(|v| v.get_bit(i));
                if let Some(edges) = &c.edges {
                    count_into(&mut c.counts, values, valid, edges);
                }
                if let Some(edges) = &c.previous {
                    count_into(&mut c.over_previous, values, valid, edges);
                }
            }
        }
        Ok(())
    }

    fn summaries(&self) -> Vec<Summary> {
        self.columns
            .iter()
            .map(|c| {
                let with_values = c.numeric && c.values > 0;
                Summary {
                    name: c.name.to_string(),
                    rows: c.rows,
                    nulls: c.nulls,
                    min: with_values.then_some(c.min),
                    max: with_values.then_some(c.max),
                    mean: with_values.then(|| c.sum / c.values as f64),
                    distinct: c.sketch.estimate() + usize::from(c.nulls > 0),
                    histogram: c
                        .edges
                        .clone()
                        .filter(|_| with_values)
                        .map(|edges| Histogram {
                            edges,
                            counts: c.counts.clone(),
                        }),
                    over_previous: (with_values && c.previous.is_some())
                        .then(|| c.over_previous.clone()),
                }
            })
            .collect()
    }
}

fn float_values(series: &Series) -> Result<Float64Chunked> {
    Ok(series
        .cast(&DataType::Float64)
        .map_err(polars_error)?
        .f64()
        .map_err(polars_error)?
        .clone())
}

/// The values in each bin of `edges`; values outside them count in the
/// first or last bin, so two runs' histograms cover the same values.
fn counts(values: &[f64], edges: &[f64]) -> Vec<u64> {
    let mut out = vec![0u64; edges.len().saturating_sub(1)];
    count_into(&mut out, values, |_| true, edges);
    out
}

/// Adds to `out` the values of `values` for which `valid(i)` holds, each
/// in its bin of `edges` as [`counts`] places it.
fn count_into(out: &mut [u64], values: &[f64], valid: impl Fn(usize) -> bool, edges: &[f64]) {
    // Fewer than two edges (a report edited by hand) make no bin.
    let Some(inner) = edges.get(1..edges.len().saturating_sub(1)) else {
        return;
    };
    for (i, &v) in values.iter().enumerate() {
        if v.is_nan() || !valid(i) {
            continue;
        }
        // The inner edges at or below the value: its bin. They are
        // ascending, so this is the search's answer without its branches.
        out[inner.iter().filter(|e| **e <= v).count()] += 1;
    }
}

/// Population-stability index `Σ (a − e) · ln(a / e)` of the shares `a`
/// (actual) against `e` (expected), each share floored at 0.0001 so an
/// empty bin does not make it infinite.
fn psi(expected: &[u64], actual: &[u64]) -> f64 {
    let share = |counts: &[u64]| -> Vec<f64> {
        let total = counts.iter().sum::<u64>().max(1) as f64;
        counts
            .iter()
            .map(|c| (*c as f64 / total).max(0.0001))
            .collect()
    };
    let (e, a) = (share(expected), share(actual));
    e.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum()
}

fn reports_dir(root: &FileLocation, feature_set: &str) -> FileLocation {
    root.join(&format!("{REPORTS_DIR}/{feature_set}"))
}

/// Computes the report of a finished run of `spec`, compares it with the
/// previous one, and stores it under the historical store at `root`.
pub fn record(
    root: &FileLocation,
    spec: &FeatureSetSpec,
    run: &RunReport,
    duration: std::time::Duration,
    thresholds: Thresholds,
) -> Result<RunQuality> {
    let previous = latest(root, spec.name, 1)?.pop();
    let before = |name: &str| {
        previous
            .as_ref()
            .and_then(|p| p.columns.iter().find(|c| c.name == name))
    };
    let summaries = match &run.split {
        Some(split) => split.stats.summaries(),
        None => spec
            .outputs
            .iter()
            .map(|output| {
                let series = run
                    .rows
                    .column(output.name)
                    .map_err(polars_error)?
                    .as_materialized_series();
                summarise(series, before(output.name))
            })
            .collect::<Result<_>>()?,
    };
    let columns = summaries
        .into_iter()
        .map(|s| {
            let previous = before(&s.name);
            column_quality(s, previous, thresholds)
        })
        .collect();
    let now = chrono::Utc::now();
    let quality = RunQuality {
        feature_set: spec.name.to_string(),
        recorded_at: now.format("%Y-%m-%d %H:%M:%S").to_string(),
        days: run.days,
        rows: run.row_count(),
        partitions: run.historical.partitions_written,
        online_rows: run.online.written,
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        rejected_rows: run.rejected.iter().map(|r| r.rows).sum(),
        events_after_end: run.events_after_end,
        events_in_future: run.events_in_future,
        thresholds,
        columns,
    };
    // Names sort by time: the listing's order is the runs' order.
    let name = format!(
        "{}-{}.json",
        now.format("%Y%m%dT%H%M%S%.6fZ"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let at = reports_dir(root, spec.name).join(&name);
    let doing = "writing the run's quality report";
    let bytes = serde_json::to_vec_pretty(&quality).map_err(|e| store_error(&at, doing, e))?;
    block_on(at.store().put(at.path(), PutPayload::from(bytes)))
        .map_err(|e| store_error(&at, doing, e))?;
    Ok(quality)
}

/// The last `n` reports of `feature_set`, oldest first.
pub fn latest(root: &FileLocation, feature_set: &str, n: usize) -> Result<Vec<RunQuality>> {
    let dir = reports_dir(root, feature_set);
    let listed = block_on(async {
        use futures::TryStreamExt;
        dir.store()
            .list(Some(dir.path()))
            .try_collect::<Vec<_>>()
            .await
    });
    let mut paths: Vec<object_store::path::Path> = match listed {
        Ok(objects) => objects
            .into_iter()
            .map(|o| o.location)
            .filter(|p| p.as_ref().ends_with(".json"))
            .collect(),
        Err(object_store::Error::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(store_error(&dir, "listing the quality reports", e)),
    };
    paths.sort();
    let skip = paths.len().saturating_sub(n);
    paths
        .into_iter()
        .skip(skip)
        .map(|path| {
            let at = format!("{dir}/{}", path.filename().unwrap_or_default());
            let bytes =
                block_on(async { dir.store().get(&path).await?.bytes().await }).map_err(|e| {
                    Error::store(
                        "historical store",
                        at.clone(),
                        "reading a quality report",
                        e,
                    )
                })?;
            serde_json::from_slice(&bytes).map_err(|e| {
                Error::store(
                    "historical store",
                    at,
                    "reading a quality report (delete it if it is damaged)",
                    e,
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quality_of(
        series: &Series,
        previous: Option<&ColumnQuality>,
        thresholds: Thresholds,
    ) -> Result<ColumnQuality> {
        Ok(column_quality(
            summarise(series, previous)?,
            previous,
            thresholds,
        ))
    }

    #[test]
    fn histograms_and_psi() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let h = histogram(&v, 0.0, 10.0).unwrap();
        assert_eq!(h.edges.len(), BINS + 1);
        // 10.0 falls in the last bin, with 9.0.
        assert_eq!(h.counts, [1, 1, 1, 1, 1, 1, 1, 1, 1, 2]);
        // Out of range values land in the end bins.
        assert_eq!(
            counts(&[-5.0, 50.0], &h.edges),
            [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(psi(&h.counts, &h.counts), 0.0);
        // Everything moved into one bin: far past 0.2.
        let moved = counts(&[10.0; 11], &h.edges);
        assert!(psi(&h.counts, &moved) > 1.0);
        // Edges that make no bin (a report edited by hand) count nothing.
        assert!(counts(&[1.0], &[0.0]).is_empty());
        assert!(counts(&[1.0], &[]).is_empty());
        // One value: one bin around it.
        let one = histogram(&[3.0, 3.0], 3.0, 3.0).unwrap();
        assert_eq!(one.counts.iter().sum::<u64>(), 2);
        assert_eq!((one.edges[0], one.edges[BINS]), (2.5, 3.5));
    }

    /// Statistics gathered part by part are those of the whole column,
    /// nulls and NaN included, over several chunks, against this run's
    /// bins and the previous run's.
    #[test]
    fn statistics_part_by_part_are_those_of_the_whole_column() {
        let ints: Vec<Option<i32>> = (0..300)
            .map(|i| (i % 7 != 3).then_some((i * 37) % 101 - 20))
            .collect();
        let floats: Vec<Option<f64>> = (0..300)
            .map(|i| match i % 11 {
                4 => None,
                9 => Some(f64::NAN),
                _ => Some(f64::from(i) * 0.37 - 30.0),
            })
            .collect();
        let whole = df!("ints" => &ints, "floats" => &floats).unwrap();
        // The previous run's bins: narrower than this run's values.
        let before_ints = Series::new("ints".into(), [0i32, 10, 20, 30]);
        let before_floats = Series::new("floats".into(), [-5.0f64, 0.0, 5.0]);
        let previous = [
            quality_of(&before_ints, None, Thresholds::default()).unwrap(),
            quality_of(&before_floats, None, Thresholds::default()).unwrap(),
        ];
        let mut stats = PartStats::of(
            ["ints", "floats"]
                .into_iter()
                .zip(&previous)
                .map(|(n, p)| (n, p.histogram.as_ref().map(|h| h.edges.clone()))),
        );
        // Three parts, the middle one of two chunks.
        let mut middle = whole.slice(100, 50);
        middle.vstack_mut(&whole.slice(150, 50)).unwrap();
        let parts = [whole.slice(0, 100), middle, whole.slice(200, 100)];
        assert_eq!(parts[1].first_col_n_chunks(), 2);
        for part in &parts {
            stats.add(part).unwrap();
        }
        stats.bin();
        for part in &parts {
            stats.count(part).unwrap();
        }
        for (got, previous) in stats.summaries().into_iter().zip(&previous) {
            let want = summarise(
                whole.column(&got.name).unwrap().as_materialized_series(),
                Some(previous),
            )
            .unwrap();
            assert_eq!(
                (got.rows, got.nulls, got.min, got.max),
                (want.rows, want.nulls, want.min, want.max),
                "{}",
                got.name
            );
            assert_eq!(got.histogram, want.histogram, "{}", got.name);
            assert_eq!(got.over_previous, want.over_previous, "{}", got.name);
            let (m, w) = (got.mean.unwrap(), want.mean.unwrap());
            assert!(m == w || (m.is_nan() && w.is_nan()), "{m} vs {w}");
        }
    }

    #[test]
    fn a_column_is_flagged_when_its_null_rate_or_distribution_moves() {
        let before = Series::new("c".into(), [Some(1i64), Some(2), Some(3), Some(4)]);
        let first = quality_of(&before, None, Thresholds::default()).unwrap();
        assert_eq!((first.rows, first.nulls, first.distinct), (4, 0, 4));
        assert_eq!(
            (first.min, first.max, first.mean),
            (Some(1.0), Some(4.0), Some(2.5))
        );
        assert!(first.drift.is_none());

        let same = quality_of(&before, Some(&first), Thresholds::default()).unwrap();
        let d = same.drift.unwrap();
        assert_eq!(
            (d.null_rate_change, d.mean_change, d.psi, d.flagged),
            (0.0, Some(0.0), Some(0.0), false)
        );

        let nulls = Series::new("c".into(), [Some(1i64), None, None, Some(4)]);
        let d = quality_of(&nulls, Some(&first), Thresholds::default())
            .unwrap()
            .drift
            .unwrap();
        assert_eq!(d.null_rate_change, 0.5);
        assert!(d.flagged);

        let shifted = Series::new("c".into(), [Some(4i64), Some(4), Some(4), Some(4)]);
        let d = quality_of(&shifted, Some(&first), Thresholds::default())
            .unwrap()
            .drift
            .unwrap();
        assert_eq!(d.mean_change, Some(0.6));
        assert!(d.psi.unwrap() > 0.2 && d.flagged, "{d:?}");
    }
}
