//! The rolling-window engine against a naive, obviously-correct reading of
//! the same semantics: a dense keys × days grid, each cell aggregated by
//! scanning every event, then change-point dedup, then fill. Values are
//! compared as exact rationals where possible, so the naive side shares no
//! arithmetic shortcut with the engine.

use featurestore_runtime::spec::{
    Aggregation, ColumnSpec, DataType, FeatureSetSpec, FeatureSpec, FillValue, Format,
    OutputColumn, SourceKind, SourceSpec, Window, WindowUnit,
};
use featurestore_runtime::{compute, DateRange};
use polars::prelude::*;
use proptest::prelude::*;

pub(crate) const DAY: i64 = 86_400_000_000;
pub(crate) const BASE_DAY: i64 = 18_000; // 2019-04-14

static SOURCE: SourceSpec = SourceSpec {
    name: "events",
    description: "",
    kind: SourceKind::File {
        path: "unused.csv",
        format: Format::Csv,
    },
    columns: &[],
    on_bad_rows: featurestore_runtime::spec::OnBadRows::Fail,
    time_columns: &[],
    derived: &[],
    preprocess: featurestore_runtime::spec::Preprocessing::NONE,
};

#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub key: &'static str,
    pub ts: Option<i64>,
    pub vi: Option<i64>,
    /// Quarter units: the float column holds `vq / 4`, exact in binary.
    pub vq: Option<i64>,
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop::sample::select(vec!["a", "b", "c", "d"]),
        prop::option::weighted(0.95, 0..(40 * DAY)),
        prop::option::weighted(0.85, -5i64..6),
        prop::option::weighted(0.85, -8i64..9),
    )
        .prop_map(|(key, ts, vi, vq)| Event {
            key,
            ts: ts.map(|t| BASE_DAY * DAY + t),
            vi,
            vq,
        })
}

#[derive(Debug, Clone)]
struct Case {
    events: Vec<Event>,
    windows: Vec<i64>,
    start: Option<i64>,
    end: i64,
    fill: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(event(), 0..50),
        prop::collection::btree_set(1i64..12, 1..4),
        prop::option::of(-3i64..45),
        -3i64..48,
        any::<bool>(),
    )
        .prop_map(|(events, windows, start, end, fill)| {
            // A start after the end is refused by the engine (tested elsewhere).
            let (start, end) = match start {
                Some(s) if s > end => (Some(end), s),
                other => (other, end),
            };
            Case {
                events,
                windows: windows.into_iter().collect(),
                start: start.map(|s| BASE_DAY + s),
                end: BASE_DAY + end,
                fill,
            }
        })
}

/// Features: (name, column, aggregations, declared type).
pub(crate) const FEATURES: &[(&str, &str, &[Aggregation], DataType)] = &[
    (
        "fi",
        "vi",
        &[
            Aggregation::Count,
            Aggregation::Sum,
            Aggregation::Min,
            Aggregation::Max,
        ],
        DataType::Int64,
    ),
    (
        "gi",
        "vi",
        &[Aggregation::Avg, Aggregation::StddevPop],
        DataType::Float64,
    ),
    ("cf", "vf", &[Aggregation::Count], DataType::Int64),
    (
        "ff",
        "vf",
        &[
            Aggregation::Sum,
            Aggregation::Min,
            Aggregation::Max,
            Aggregation::Avg,
        ],
        DataType::Float64,
    ),
];

/// A column only counted: its windows are read from running counts alone,
/// into a narrower declared type.
const COUNTED: &[(&str, &str, &[Aggregation], DataType)] =
    &[("ci", "vi", &[Aggregation::Count], DataType::Int32)];

fn spec_for(case: &Case) -> FeatureSetSpec {
    spec_for_features(case, FEATURES)
}

fn spec_for_features(
    case: &Case,
    features: &'static [(&'static str, &'static str, &'static [Aggregation], DataType)],
) -> FeatureSetSpec {
    let windows: Vec<Window> = case
        .windows
        .iter()
        .map(|&d| Window {
            amount: d as u32,
            unit: WindowUnit::Days,
        })
        .collect();
    spec_of(features, windows, Window::DAY, case.fill)
}

/// A feature set of [`FEATURES`] over `windows`, rows `slide` apart.
pub(crate) fn spec_with(windows: Vec<Window>, slide: Window, fill: bool) -> FeatureSetSpec {
    spec_of(FEATURES, windows, slide, fill)
}

fn spec_of(
    declared: &'static [(&'static str, &'static str, &'static [Aggregation], DataType)],
    windows: Vec<Window>,
    slide: Window,
    fill: bool,
) -> FeatureSetSpec {
    let windows: &'static [Window] = Box::leak(windows.into_boxed_slice());
    let features: Vec<FeatureSpec> = declared
        .iter()
        .map(|(name, column, aggs, dtype)| FeatureSpec {
            name,
            column,
            aggregations: aggs,
            dtype: *dtype,
            description: "",
            filter: None,
            fill_null: None,
            plain: None,
            frame: None,
            condition: false,
        })
        .collect();
    let mut outputs = Vec::new();
    for (fi, (name, _, aggs, dtype)) in declared.iter().enumerate() {
        for agg in aggs.iter() {
            for w in windows {
                outputs.push(OutputColumn {
                    name: Box::leak(
                        format!("{name}__{}_{}", agg.name(), w.amount).into_boxed_str(),
                    ),
                    feature: fi,
                    aggregation: *agg,
                    window: Some(*w),
                    dtype: *dtype,
                    nullable: !fill,
                    pivot: None,
                });
            }
        }
    }
    FeatureSetSpec {
        name: "property",
        description: "",
        keys: &[ColumnSpec {
            name: "k",
            dtype: DataType::String,
            nullable: false,
            description: "",
        }],
        timestamp: "ts",
        source: &SOURCE,
        filter: None,
        query: None,
        windows,
        slide,
        ttl: None,
        fill_null: fill.then_some(FillValue::Int(0)),
        features: Box::leak(features.into_boxed_slice()),
        outputs: Box::leak(outputs.into_boxed_slice()),
        pivot: None,
        distinct: None,
        pre_hooks: &[],
        post_hooks: &[],
    }
}

pub(crate) fn events_frame(events: &[Event]) -> LazyFrame {
    let k: Vec<&str> = events.iter().map(|e| e.key).collect();
    let ts: Vec<Option<i64>> = events.iter().map(|e| e.ts).collect();
    let vi: Vec<Option<i64>> = events.iter().map(|e| e.vi).collect();
    let vf: Vec<Option<f64>> = events
        .iter()
        .map(|e| e.vq.map(|q| q as f64 / 4.0))
        .collect();
    let ts = Int64Chunked::from_iter_options("ts".into(), ts.into_iter())
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column();
    DataFrame::new(
        events.len(),
        vec![
            Column::new("k".into(), k),
            ts,
            Column::new("vi".into(), vi),
            Column::new("vf".into(), vf),
        ],
    )
    .unwrap()
    .lazy()
}

/// An exact value: null, an integer, or a rational `num / den` (den > 0).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Exact {
    Null,
    Int(i128),
    Ratio(i128, i128),
    /// A square root of a rational (standard deviation).
    Sqrt(i128, i128),
}

impl PartialEq for Exact {
    fn eq(&self, other: &Self) -> bool {
        match (*self, *other) {
            (Exact::Null, Exact::Null) => true,
            (Exact::Int(a), Exact::Int(b)) => a == b,
            (Exact::Ratio(a, b), Exact::Ratio(c, d)) | (Exact::Sqrt(a, b), Exact::Sqrt(c, d)) => {
                a * d == c * b
            }
            _ => false,
        }
    }
}

impl Exact {
    pub(crate) fn as_f64(self) -> Option<f64> {
        match self {
            Exact::Null => None,
            Exact::Int(i) => Some(i as f64),
            Exact::Ratio(n, d) => Some(n as f64 / d as f64),
            Exact::Sqrt(n, d) => Some((n as f64 / d as f64).sqrt()),
        }
    }
}

/// Aggregates values (in units of `scale`) of the events in a window.
pub(crate) fn aggregate(agg: Aggregation, any_event: bool, values: &[i128], scale: i128) -> Exact {
    if !any_event {
        return Exact::Null;
    }
    let n = values.len() as i128;
    if agg == Aggregation::Count {
        return Exact::Int(n);
    }
    if n == 0 {
        return Exact::Null;
    }
    let sum: i128 = values.iter().sum();
    match agg {
        Aggregation::Sum => Exact::Ratio(sum, scale),
        Aggregation::Avg => Exact::Ratio(sum, n * scale),
        Aggregation::Min => Exact::Ratio(*values.iter().min().unwrap(), scale),
        Aggregation::Max => Exact::Ratio(*values.iter().max().unwrap(), scale),
        Aggregation::StddevPop => {
            // Var = Σ(x − mean)² / n = (n·Σx² − (Σx)²) / n², computed exactly.
            let sq: i128 = values.iter().map(|v| v * v).sum();
            Exact::Sqrt(n * sq - sum * sum, n * n * scale * scale)
        }
        Aggregation::Count => unreachable!(),
        // Sampled by `catalog_property`.
        other => unreachable!("{other} is not sampled here"),
    }
}

pub(crate) type Row = (String, i64, Vec<Option<f64>>);

fn naive(case: &Case, spec: &FeatureSetSpec) -> Vec<Row> {
    let mut keys: Vec<&str> = case.events.iter().map(|e| e.key).collect();
    keys.sort();
    keys.dedup();
    let Some(min_ts) = case.events.iter().filter_map(|e| e.ts).min() else {
        return Vec::new();
    };
    let mut first = min_ts.div_euclid(DAY);
    if let Some(s) = case.start {
        first = first.max(s);
    }
    // All events after the end: one row per key on the end date (Spark's
    // backwards day sequence, deduplicated).
    first = first.min(case.end);
    let mut out = Vec::new();
    for key in keys {
        let mut prev: Option<Vec<Exact>> = None;
        for day in first..=case.end {
            let exact = row_at(&case.events, key, spec, day * DAY);
            if prev.as_ref() != Some(&exact) {
                let values = exact
                    .iter()
                    .map(|e| e.as_f64().or(case.fill.then_some(0.0)))
                    .collect();
                out.push((key.to_string(), day * DAY, values));
                prev = Some(exact);
            }
        }
    }
    out
}

/// The exact values of the row of `key` at `at` (microseconds): each window
/// aggregates the key's events in `[at − window, at)` by scanning them all.
pub(crate) fn row_at(events: &[Event], key: &str, spec: &FeatureSetSpec, at: i64) -> Vec<Exact> {
    let mut exact = Vec::new();
    for o in spec.outputs {
        let w = o.window.unwrap().micros();
        let in_window: Vec<&Event> = events
            .iter()
            .filter(|e| e.key == key)
            .filter(|e| e.ts.is_some_and(|t| at - w <= t && t < at))
            .collect();
        let column = spec.features[o.feature].column;
        let (values, scale): (Vec<i128>, i128) = if column == "vi" {
            (
                in_window
                    .iter()
                    .filter_map(|e| e.vi.map(i128::from))
                    .collect(),
                1,
            )
        } else {
            (
                in_window
                    .iter()
                    .filter_map(|e| e.vq.map(i128::from))
                    .collect(),
                4,
            )
        };
        exact.push(aggregate(
            o.aggregation,
            !in_window.is_empty(),
            &values,
            scale,
        ));
    }
    exact
}

fn engine(case: &Case, spec: &FeatureSetSpec) -> Vec<Row> {
    let range = DateRange {
        start: case.start.map(day_date),
        end: Some(day_date(case.end)),
    };
    engine_rows(spec, &case.events, range)
}

/// The engine's rows, values as floats.
pub(crate) fn engine_rows(spec: &FeatureSetSpec, events: &[Event], range: DateRange) -> Vec<Row> {
    let computed = compute(spec, events_frame(events), range).expect("engine runs");
    let f = computed.frame;
    let k = f.column("k").unwrap().str().unwrap().clone();
    let ts = f
        .column("timestamp")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .clone();
    let values: Vec<Vec<Option<f64>>> = spec
        .outputs
        .iter()
        .map(|o| {
            f.column(o.name)
                .unwrap()
                .cast(&polars::prelude::DataType::Float64)
                .unwrap()
                .f64()
                .unwrap()
                .iter()
                .collect()
        })
        .collect();
    (0..f.height())
        .map(|i| {
            (
                k.get(i).unwrap().to_string(),
                ts.get(i).unwrap(),
                values.iter().map(|v| v[i]).collect(),
            )
        })
        .collect()
}

pub(crate) fn day_date(day: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::default() + chrono::Duration::days(day)
}

pub(crate) fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_naive_grid(case in case()) {
        let spec = spec_for(&case);
        check_against_naive(&case, &spec)?;
    }

    #[test]
    fn counts_alone_match_the_naive_grid(case in case()) {
        let spec = spec_for_features(&case, COUNTED);
        check_against_naive(&case, &spec)?;
    }
}

/// The engine's rows of `case` equal the naive grid's.
fn check_against_naive(case: &Case, spec: &FeatureSetSpec) -> Result<(), TestCaseError> {
    let want = naive(case, spec);
    let got = engine(case, spec);
    prop_assert_eq!(
        got.len(),
        want.len(),
        "rows: engine {:?}\nnaive {:?}",
        got,
        want
    );
    for (g, w) in got.iter().zip(&want) {
        prop_assert_eq!(&g.0, &w.0);
        prop_assert_eq!(g.1, w.1, "timestamps of key {}", g.0);
        for (i, (a, b)) in g.2.iter().zip(&w.2).enumerate() {
            prop_assert!(
                close(*a, *b),
                "{} at {}: engine {:?}, naive {:?}",
                spec.outputs[i].name,
                g.1,
                a,
                b
            );
        }
    }
    Ok(())
}
