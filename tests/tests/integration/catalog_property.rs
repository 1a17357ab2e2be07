//! The aggregations beyond counts and sums (distinct counts, variances,
//! first/last/mode, percentiles) against a naive reading of their
//! definitions: a dense keys × days grid, each cell computed by scanning
//! every event, then change-point dedup. Integer and string columns, with
//! nulls, repeated values and events at the same instant, so ties happen.
//!
//! Ties follow Butterfree (Spark): `first`/`last` take the earliest/latest
//! event, among events of one instant the first/last read, and are null
//! when its value is null (`ignorenulls = false`); the `ignore_nulls`
//! variants take the earliest/latest non-null value. `most_frequent_set`
//! orders equally frequent values by first appearance (time, then read
//! order); `mode` keeps the smallest; `max_by`/`min_by` keep the latest of
//! equal orderings, as Spark's update rule does.

use featurestore_runtime::spec::{
    Aggregation, ColumnSpec, DataType, DistinctSpec, FeatureSetSpec, FeatureSpec, Format, Frame,
    Keep, OutputColumn, Percentage, SourceKind, SourceSpec, Window, WindowUnit,
};
use featurestore_runtime::{compute, DateRange};
use polars::prelude::*;
use proptest::prelude::*;

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;
const BASE_DAY: i64 = 19_000; // 2022-01-08

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
struct Event {
    key: &'static str,
    ts: Option<i64>,
    vi: Option<i64>,
    vs: Option<&'static str>,
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop::sample::select(vec!["a", "b", "c"]),
        // Six-hour steps over 20 days: several events share an instant.
        prop::option::weighted(0.95, 0..(20 * 4i64)),
        prop::option::weighted(0.8, -3i64..4),
        prop::option::weighted(0.8, prop::sample::select(vec!["w", "x", "y", "z"])),
    )
        .prop_map(|(key, step, vi, vs)| Event {
            key,
            ts: step.map(|s| BASE_DAY * DAY + s * 6 * HOUR),
            vi,
            vs,
        })
}

#[derive(Debug, Clone)]
struct Case {
    events: Vec<Event>,
    windows: Vec<i64>,
    end: i64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(event(), 0..40),
        prop::collection::btree_set(1i64..6, 1..3),
        0i64..24,
    )
        .prop_map(|(events, windows, end)| Case {
            events,
            windows: windows.into_iter().collect(),
            end: BASE_DAY + end,
        })
}

const fn p(millionths: u32) -> Aggregation {
    Aggregation::Percentile(Percentage { millionths })
}

/// Features: (name, column, aggregations, declared type).
const FEATURES: &[(&str, &str, &[Aggregation], DataType)] = &[
    (
        "di",
        "vi",
        &[
            Aggregation::CountDistinct,
            Aggregation::ApproxCountDistinct,
            Aggregation::First,
            Aggregation::Last,
            Aggregation::FirstIgnoreNulls,
            Aggregation::LastIgnoreNulls,
            Aggregation::Mode,
        ],
        DataType::Int64,
    ),
    (
        "si",
        "vi",
        &[
            Aggregation::VarPop,
            Aggregation::VarSamp,
            Aggregation::StddevSamp,
            p(0),
            p(250_000),
            p(500_000),
            p(900_000),
            p(1_000_000),
            Aggregation::Mean,
            Aggregation::Stddev,
            Aggregation::Variance,
            Aggregation::Median,
            Aggregation::PercentileApprox(Percentage { millionths: 0 }),
            Aggregation::PercentileApprox(Percentage {
                millionths: 100_000,
            }),
            Aggregation::PercentileApprox(Percentage {
                millionths: 500_000,
            }),
            Aggregation::ApproxPercentile(Percentage {
                millionths: 900_000,
            }),
            Aggregation::ApproxPercentile(Percentage {
                millionths: 1_000_000,
            }),
            Aggregation::Product,
            Aggregation::Skewness,
            Aggregation::Kurtosis,
            Aggregation::SumDistinct,
        ],
        DataType::Float64,
    ),
    ("cb", "vb", &[Aggregation::CountIf], DataType::Int64),
    // `count_if` of a SQL condition (`FeatureSpec::condition`): a null
    // `vi` makes it null, which Spark does not count.
    ("cc", CONDITION, &[Aggregation::CountIf], DataType::Int64),
    (
        "bb",
        "vb",
        &[Aggregation::BoolAnd, Aggregation::BoolOr],
        DataType::Bool,
    ),
    (
        "ls",
        "vs",
        &[Aggregation::CollectList, Aggregation::CollectSet],
        DataType::List(&DataType::String),
    ),
    (
        "li",
        "vi",
        &[Aggregation::CollectList, Aggregation::CollectSet],
        DataType::List(&DataType::Int64),
    ),
    ("ds", "vs", &[Aggregation::CountDistinct], DataType::Int64),
    (
        "ss",
        "vs",
        &[
            Aggregation::First,
            Aggregation::Last,
            Aggregation::FirstIgnoreNulls,
            Aggregation::LastIgnoreNulls,
            Aggregation::Mode,
        ],
        DataType::String,
    ),
    (
        "ms",
        "vs",
        &[Aggregation::MostFrequentSet],
        DataType::List(&DataType::String),
    ),
    (
        "mi",
        "vi",
        &[Aggregation::MostFrequentSet],
        DataType::List(&DataType::Int64),
    ),
    (
        "bs",
        "vs",
        &[Aggregation::MaxBy("vi"), Aggregation::MinBy("vi")],
        DataType::String,
    ),
    (
        "bi",
        "vi",
        &[Aggregation::MaxBy("vs"), Aggregation::MinBy("vs")],
        DataType::Int64,
    ),
];

/// The SQL condition of the `count_if` feature `cc`.
const CONDITION: &str = "vi * 2 >= 1";

/// Spark's `max_by(x, ord)` / `min_by(x, ord)` (`MaxMinBy`): events with a
/// null `ord` are skipped; each other event replaces the kept one unless
/// the kept ordering is strictly better (`old > new` for `max_by`), so of
/// equal orderings the last processed wins, here the latest by time, then
/// read order; the result is that event's `x`, null or not.
fn by_ordering<K: Ord>(
    largest: bool,
    events: &[&Event],
    ord: impl Fn(&Event) -> Option<K>,
    x: impl Fn(&Event) -> Value,
) -> Value {
    let mut kept: Option<(K, &Event)> = None;
    for e in events {
        let Some(o) = ord(e) else { continue };
        let keep_old = kept
            .as_ref()
            .is_some_and(|(k, _)| if largest { *k > o } else { *k < o });
        if !keep_old {
            kept = Some((o, e));
        }
    }
    kept.map_or(Value::Null, |(_, e)| x(e))
}

/// Under `distinct(vs)`: functions of `vi` (a float output holds them all).
const DISTINCT_FEATURES: &[(&str, &str, &[Aggregation], DataType)] = &[(
    "dv",
    "vi",
    &[
        Aggregation::Count,
        Aggregation::Sum,
        Aggregation::Max,
        Aggregation::CountDistinct,
        Aggregation::Mode,
        p(500_000),
    ],
    DataType::Float64,
)];

fn spec_for(case: &Case) -> FeatureSetSpec {
    spec_with(case, FEATURES, None)
}

fn spec_with(
    case: &Case,
    features: &'static [(&'static str, &'static str, &'static [Aggregation], DataType)],
    distinct: Option<DistinctSpec>,
) -> FeatureSetSpec {
    let windows: Vec<Window> = case
        .windows
        .iter()
        .map(|&d| Window {
            amount: d as u32,
            unit: WindowUnit::Days,
        })
        .collect();
    let windows: &'static [Window] = Box::leak(windows.into_boxed_slice());
    let specs: Vec<FeatureSpec> = features
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
            condition: *column == CONDITION,
        })
        .collect();
    let mut outputs = Vec::new();
    for (fi, (name, _, aggs, dtype)) in features.iter().enumerate() {
        for agg in aggs.iter() {
            for w in windows {
                outputs.push(OutputColumn {
                    name: Box::leak(
                        format!("{name}__{}_{}", agg.label(), w.amount).into_boxed_str(),
                    ),
                    feature: fi,
                    aggregation: *agg,
                    window: Some(*w),
                    dtype: *dtype,
                    nullable: true,
                    pivot: None,
                });
            }
        }
    }
    FeatureSetSpec {
        name: "catalog",
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
        slide: Window::DAY,
        ttl: None,
        fill_null: None,
        features: Box::leak(specs.into_boxed_slice()),
        outputs: Box::leak(outputs.into_boxed_slice()),
        pivot: None,
        distinct,
        pre_hooks: &[],
        post_hooks: &[],
    }
}

fn events_frame(events: &[Event]) -> LazyFrame {
    let k: Vec<&str> = events.iter().map(|e| e.key).collect();
    let ts: Vec<Option<i64>> = events.iter().map(|e| e.ts).collect();
    let vi: Vec<Option<i64>> = events.iter().map(|e| e.vi).collect();
    let vs: Vec<Option<&str>> = events.iter().map(|e| e.vs).collect();
    let vb: Vec<Option<bool>> = events.iter().map(|e| truth(e.vs)).collect();
    let ts = Int64Chunked::from_iter_options("ts".into(), ts.into_iter())
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column();
    DataFrame::new(
        events.len(),
        vec![
            Column::new("k".into(), k),
            ts,
            Column::new("vi".into(), vi),
            Column::new("vs".into(), vs),
            Column::new("vb".into(), vb),
        ],
    )
    .unwrap()
    .lazy()
}

/// The boolean column `vb`, derived from `vs` (null where it is).
fn truth(vs: Option<&str>) -> Option<bool> {
    vs.map(|s| s <= "x")
}

/// A cell: null, a number, or a string.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Num(f64),
    Str(String),
}

/// One window's events, as (time, value) pairs in time then read order.
fn aggregate<V: Ord + Clone>(
    agg: Aggregation,
    any_event: bool,
    events: &[(i64, Option<V>)],
    out: impl Fn(&V) -> Value,
    num: impl Fn(&V) -> i128,
) -> Value {
    if !any_event {
        return Value::Null;
    }
    let or_null = |v: Option<&V>| v.map_or(Value::Null, &out);
    match agg {
        // Spark's `first`/`last` (`ignorenulls = false`): the edge event's
        // value, null or not.
        Aggregation::First => return or_null(events.first().and_then(|e| e.1.as_ref())),
        Aggregation::Last => return or_null(events.last().and_then(|e| e.1.as_ref())),
        // `ignorenulls = true`: the edge non-null value.
        Aggregation::FirstIgnoreNulls => {
            return or_null(events.iter().find_map(|e| e.1.as_ref()));
        }
        Aggregation::LastIgnoreNulls => {
            return or_null(events.iter().rev().find_map(|e| e.1.as_ref()));
        }
        _ => {}
    }
    let values: Vec<(i64, V)> = events
        .iter()
        .filter_map(|(t, v)| Some((*t, v.clone()?)))
        .collect();
    let values = &values[..];
    let mut distinct: Vec<&V> = values.iter().map(|(_, v)| v).collect();
    distinct.sort();
    distinct.dedup();
    if matches!(
        agg,
        Aggregation::CountDistinct | Aggregation::ApproxCountDistinct
    ) {
        return Value::Num(distinct.len() as f64);
    }
    if agg == Aggregation::Count {
        return Value::Num(values.len() as f64);
    }
    let list = |items: Vec<&V>| {
        let texts: Vec<String> = items
            .iter()
            .map(|v| match out(v) {
                Value::Num(x) => format!("{x}"),
                Value::Str(s) => s,
                other => format!("{other:?}"),
            })
            .collect();
        Value::Str(format!("[{}]", texts.join(", ")))
    };
    // Spark's `collect_list`: every non-null value (here in time, then
    // read, order); `collect_set`: each once (here by first appearance).
    // Both are an empty array when every value is null.
    if agg == Aggregation::CollectList {
        return list(values.iter().map(|(_, v)| v).collect());
    }
    if agg == Aggregation::CollectSet {
        let mut seen: Vec<&V> = Vec::new();
        for (_, v) in values {
            if !seen.contains(&v) {
                seen.push(v);
            }
        }
        return list(seen);
    }
    // Spark's `count_if`: the number of TRUE values, 0 when there is none.
    if agg == Aggregation::CountIf {
        return Value::Num(values.iter().filter(|(_, v)| num(v) == 1).count() as f64);
    }
    if agg == Aggregation::MostFrequentSet {
        // Distinct values by descending count, then first appearance.
        let count = |d: &V| values.iter().filter(|(_, v)| v == d).count();
        let first_seen = |d: &V| values.iter().position(|(_, v)| v == d).unwrap();
        let mut by_count: Vec<(usize, usize, &V)> = distinct
            .iter()
            .map(|d| (count(d), first_seen(d), *d))
            .collect();
        by_count.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let texts: Vec<String> = by_count
            .iter()
            .map(|(_, _, v)| match out(v) {
                Value::Num(x) => format!("{x}"),
                Value::Str(s) => s,
                other => format!("{other:?}"),
            })
            .collect();
        return Value::Str(format!("[{}]", texts.join(", ")));
    }
    if values.is_empty() {
        return Value::Null;
    }
    let n = values.len() as i128;
    let sum: i128 = values.iter().map(|(_, v)| num(v)).sum();
    let sq: i128 = values.iter().map(|(_, v)| num(v) * num(v)).sum();
    // n·Σ(x − mean)², exactly.
    let n_m2 = n * sq - sum * sum;
    match agg {
        Aggregation::Mode => {
            // The first of the most frequent, in value order.
            let count = |d: &V| values.iter().filter(|(_, v)| v == d).count();
            let best = distinct
                .iter()
                .fold(None::<(&V, usize)>, |best, d| match best {
                    Some((_, c)) if c >= count(d) => best,
                    _ => Some((d, count(d))),
                });
            out(best.unwrap().0)
        }
        Aggregation::Sum => Value::Num(sum as f64),
        Aggregation::Avg => Value::Num(sum as f64 / n as f64),
        Aggregation::Max => out(values.iter().map(|(_, v)| v).max().unwrap()),
        Aggregation::VarPop => Value::Num(n_m2 as f64 / (n * n) as f64),
        Aggregation::VarSamp if n == 1 => Value::Null,
        Aggregation::StddevSamp if n == 1 => Value::Null,
        Aggregation::VarSamp => Value::Num(n_m2 as f64 / (n * (n - 1)) as f64),
        Aggregation::StddevSamp => Value::Num((n_m2 as f64 / (n * (n - 1)) as f64).sqrt()),
        // Spark's aliases: `mean` is `avg`, `stddev` is `stddev_samp`,
        // `variance` is `var_samp` (null for one value), `median` is
        // `percentile(x, 0.5)`.
        Aggregation::Mean => Value::Num(sum as f64 / n as f64),
        Aggregation::Stddev | Aggregation::Variance if n == 1 => Value::Null,
        Aggregation::Stddev => Value::Num((n_m2 as f64 / (n * (n - 1)) as f64).sqrt()),
        Aggregation::Variance => Value::Num(n_m2 as f64 / (n * (n - 1)) as f64),
        Aggregation::Median => aggregate(p(500_000), true, events, out, num),
        // Spark's `percentile_approx` with every value kept (error 0): the
        // value at 1-based rank ⌈p·n⌉ of the sorted values (the first for
        // p = 0), `p·n` in doubles as Spark's QuantileSummaries does; a value
        // of the column, never interpolated.
        Aggregation::PercentileApprox(q) | Aggregation::ApproxPercentile(q) => {
            let mut sorted: Vec<i128> = values.iter().map(|(_, v)| num(v)).collect();
            sorted.sort();
            let rank = (q.value() * n as f64).ceil() as usize;
            Value::Num(sorted[rank.max(1) - 1] as f64)
        }
        // Spark's `product`: a double, the non-null values multiplied; null
        // without one.
        Aggregation::Product => {
            Value::Num(values.iter().map(|(_, v)| num(v) as f64).product::<f64>())
        }
        // Spark's `skewness` = √n·m₃/m₂^1.5 and `kurtosis` = n·m₄/m₂² − 3 with
        // mₖ = Σ(x − mean)ᵏ; null when m₂ = 0 (Spark 3, not the legacy NaN).
        // From exact integer power sums: n·m₂ = nS₂ − S₁², n²·m₃ = n²S₃ −
        // 3nS₁S₂ + 2S₁³, n³·m₄ = n³S₄ − 4n²S₁S₃ + 6nS₁²S₂ − 3S₁⁴.
        Aggregation::Skewness | Aggregation::Kurtosis => {
            let power = |k: u32| -> i128 { values.iter().map(|(_, v)| num(v).pow(k)).sum() };
            let (s1, s2, s3, s4) = (sum, power(2), power(3), power(4));
            let n_m2 = n * s2 - s1 * s1;
            if n_m2 == 0 {
                return Value::Null;
            }
            let n2_m3 = n * n * s3 - 3 * n * s1 * s2 + 2 * s1 * s1 * s1;
            let n3_m4 =
                n * n * n * s4 - 4 * n * n * s1 * s3 + 6 * n * s1 * s1 * s2 - 3 * s1 * s1 * s1 * s1;
            let nf = n as f64;
            let (m2, m3, m4) = (
                n_m2 as f64 / nf,
                n2_m3 as f64 / (nf * nf),
                n3_m4 as f64 / (nf * nf * nf),
            );
            Value::Num(if agg == Aggregation::Skewness {
                nf.sqrt() * m3 / m2.powf(1.5)
            } else {
                nf * m4 / (m2 * m2) - 3.0
            })
        }
        // Spark's `bool_and`/`bool_or` over the non-null values; null
        // without one.
        Aggregation::BoolAnd => out(values.iter().map(|(_, v)| v).min().unwrap()),
        Aggregation::BoolOr => out(values.iter().map(|(_, v)| v).max().unwrap()),
        // Spark's `sum(DISTINCT x)`: each distinct non-null value once.
        Aggregation::SumDistinct => {
            Value::Num(distinct.iter().map(|v| num(v)).sum::<i128>() as f64)
        }
        Aggregation::Percentile(p) => {
            let mut sorted: Vec<i128> = values.iter().map(|(_, v)| num(v)).collect();
            sorted.sort();
            // Position p·(n − 1) as the fraction `q / 1e6`.
            let q = i128::from(p.millionths) * (n - 1);
            let (lower, rest) = ((q / 1_000_000) as usize, q % 1_000_000);
            let value = if rest == 0 {
                sorted[lower] as f64
            } else {
                let (lo, hi) = (sorted[lower], sorted[lower + 1]);
                lo as f64 + (hi - lo) as f64 * rest as f64 / 1e6
            };
            Value::Num(value)
        }
        other => unreachable!("{other} is not sampled here"),
    }
}

type Row = (String, i64, Vec<Value>);

/// One event per `vs` value (nulls equal): the first or last by time, then
/// by `vi` (nulls smallest).
fn dedup(events: Vec<&Event>, keep_last: bool) -> Vec<&Event> {
    let mut kept: Vec<&Event> = Vec::new();
    for e in events {
        match kept.iter().position(|k| k.vs == e.vs) {
            Some(i) => {
                let order = (e.ts, e.vi).cmp(&(kept[i].ts, kept[i].vi));
                if (keep_last && order.is_gt()) || (!keep_last && order.is_lt()) {
                    kept[i] = e;
                }
            }
            None => kept.push(e),
        }
    }
    kept
}

fn naive(case: &Case, spec: &FeatureSetSpec) -> Vec<Row> {
    let mut keys: Vec<&str> = case.events.iter().map(|e| e.key).collect();
    keys.sort();
    keys.dedup();
    let Some(min_ts) = case.events.iter().filter_map(|e| e.ts).min() else {
        return Vec::new();
    };
    let first = min_ts.div_euclid(DAY).min(case.end);
    let mut out = Vec::new();
    for key in keys {
        let mut prev: Option<Vec<Value>> = None;
        for day in first..=case.end {
            let mut row = Vec::new();
            for o in spec.outputs {
                let w = o.window.unwrap().amount as i64;
                let in_window: Vec<&Event> = case
                    .events
                    .iter()
                    .filter(|e| e.key == key)
                    .filter(|e| e.ts.is_some_and(|t| (day - w) * DAY <= t && t < day * DAY))
                    .collect();
                let mut in_window = match spec.distinct {
                    Some(d) => dedup(in_window, d.keep == Keep::Last),
                    None => in_window,
                };
                // Time, then read order.
                let read = |e: &Event| case.events.iter().position(|x| std::ptr::eq(x, e));
                in_window.sort_by_key(|e| (e.ts, read(e)));
                let any = !in_window.is_empty();
                let column = spec.features[o.feature].column;
                let largest = matches!(o.aggregation, Aggregation::MaxBy(_));
                let value = if !any && o.aggregation.ordering().is_some() {
                    Value::Null
                } else if o.aggregation.ordering() == Some("vi") {
                    by_ordering(
                        largest,
                        &in_window,
                        |e| e.vi,
                        |e| e.vs.map_or(Value::Null, |v| Value::Str(v.to_string())),
                    )
                } else if o.aggregation.ordering() == Some("vs") {
                    by_ordering(
                        largest,
                        &in_window,
                        |e| e.vs,
                        |e| e.vi.map_or(Value::Null, |v| Value::Num(v as f64)),
                    )
                } else if column == CONDITION {
                    let values: Vec<(i64, Option<bool>)> = in_window
                        .iter()
                        .map(|e| (e.ts.unwrap(), e.vi.map(|v| v * 2 >= 1)))
                        .collect();
                    aggregate(
                        o.aggregation,
                        any,
                        &values,
                        |v| Value::Num(f64::from(u8::from(*v))),
                        |v| i128::from(*v),
                    )
                } else if column == "vb" {
                    let values: Vec<(i64, Option<bool>)> = in_window
                        .iter()
                        .map(|e| (e.ts.unwrap(), truth(e.vs)))
                        .collect();
                    aggregate(
                        o.aggregation,
                        any,
                        &values,
                        |v| Value::Num(f64::from(u8::from(*v))),
                        |v| i128::from(*v),
                    )
                } else if column == "vi" {
                    let values: Vec<(i64, Option<i64>)> =
                        in_window.iter().map(|e| (e.ts.unwrap(), e.vi)).collect();
                    aggregate(
                        o.aggregation,
                        any,
                        &values,
                        |v| Value::Num(*v as f64),
                        |v| i128::from(*v),
                    )
                } else {
                    let values: Vec<(i64, Option<&str>)> =
                        in_window.iter().map(|e| (e.ts.unwrap(), e.vs)).collect();
                    aggregate(
                        o.aggregation,
                        any,
                        &values,
                        |v| Value::Str(v.to_string()),
                        |_| 0,
                    )
                };
                row.push(value);
            }
            if prev.as_ref() != Some(&row) {
                out.push((key.to_string(), day * DAY, row.clone()));
                prev = Some(row);
            }
        }
    }
    out
}

fn engine(case: &Case, spec: &FeatureSetSpec) -> Vec<Row> {
    let computed = compute(
        spec,
        events_frame(&case.events),
        DateRange {
            start: None,
            end: Some(day_date(case.end)),
        },
    )
    .expect("engine runs");
    rows_of(&computed.frame, spec)
}

/// A frame's rows: key, time and every output as a [`Value`].
fn rows_of(f: &DataFrame, spec: &FeatureSetSpec) -> Vec<Row> {
    let k = f.column("k").unwrap().str().unwrap().clone();
    let ts = f
        .column("timestamp")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .clone();
    let values: Vec<Vec<Value>> = spec
        .outputs
        .iter()
        .map(|o| {
            let c = f.column(o.name).unwrap();
            if let DataType::List(_) = o.dtype {
                let list = c.list().unwrap();
                (0..list.len())
                    .map(|i| match list.get_as_series(i) {
                        None => Value::Null,
                        Some(items) => {
                            let items = items.cast(&polars::prelude::DataType::String).unwrap();
                            let texts: Vec<&str> = items.str().unwrap().iter().flatten().collect();
                            Value::Str(format!("[{}]", texts.join(", ")))
                        }
                    })
                    .collect()
            } else if o.dtype == DataType::String {
                c.str()
                    .unwrap()
                    .iter()
                    .map(|v| v.map_or(Value::Null, |s| Value::Str(s.to_string())))
                    .collect()
            } else {
                c.cast(&polars::prelude::DataType::Float64)
                    .unwrap()
                    .f64()
                    .unwrap()
                    .iter()
                    .map(|v| v.map_or(Value::Null, Value::Num))
                    .collect()
            }
        })
        .collect();
    (0..f.height())
        .map(|i| {
            (
                k.get(i).unwrap().to_string(),
                ts.get(i).unwrap(),
                values.iter().map(|v| v[i].clone()).collect(),
            )
        })
        .collect()
}

fn day_date(day: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::default() + chrono::Duration::days(day)
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn catalog_aggregations_match_the_naive_grid(case in case()) {
        let spec = spec_for(&case);
        let want = naive(&case, &spec);
        let got = engine(&case, &spec);
        prop_assert_eq!(got.len(), want.len(), "rows: engine {:?}\nnaive {:?}", got, want);
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(&g.0, &w.0);
            prop_assert_eq!(g.1, w.1, "timestamps of key {}", g.0);
            for (i, (a, b)) in g.2.iter().zip(&w.2).enumerate() {
                prop_assert!(close(a, b), "{} at {}: engine {:?}, naive {:?}", spec.outputs[i].name, g.1, a, b);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn distinct_windows_match_the_naive_grid(case in case(), keep_last in any::<bool>()) {
        let keep = if keep_last { Keep::Last } else { Keep::First };
        let spec = spec_with(&case, DISTINCT_FEATURES, Some(DistinctSpec { subset: &["vs"], keep }));
        let want = naive(&case, &spec);
        let got = engine(&case, &spec);
        prop_assert_eq!(got.len(), want.len(), "rows: engine {:?}\nnaive {:?}", got, want);
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(&g.0, &w.0);
            prop_assert_eq!(g.1, w.1, "timestamps of key {}", g.0);
            for (i, (a, b)) in g.2.iter().zip(&w.2).enumerate() {
                prop_assert!(close(a, b), "{} at {}: engine {:?}, naive {:?}", spec.outputs[i].name, g.1, a, b);
            }
        }
    }
}

/// Plain window functions: (name, aggregation, frame); all over `vi`.
fn window_spec(
    frames: &[(Frame, &'static [Aggregation])],
    shifts: &'static [Aggregation],
) -> FeatureSetSpec {
    let mut features = Vec::new();
    let mut outputs = Vec::new();
    for (fi, (frame, aggs)) in frames.iter().enumerate() {
        features.push(FeatureSpec {
            name: Box::leak(format!("w{fi}").into_boxed_str()),
            column: "vi",
            aggregations: aggs,
            dtype: DataType::Float64,
            description: "",
            plain: None,
            frame: Some(*frame),
            condition: false,
            filter: None,
            fill_null: None,
        });
        for agg in aggs.iter() {
            outputs.push(OutputColumn {
                name: Box::leak(format!("w{fi}__{}", agg.label()).into_boxed_str()),
                feature: fi,
                aggregation: *agg,
                window: None,
                dtype: DataType::Float64,
                nullable: true,
                pivot: None,
            });
        }
    }
    features.push(FeatureSpec {
        name: "s",
        column: "vi",
        aggregations: shifts,
        dtype: DataType::Int64,
        description: "",
        plain: None,
        frame: None,
        condition: false,
        filter: None,
        fill_null: None,
    });
    for agg in shifts {
        outputs.push(OutputColumn {
            name: Box::leak(format!("s__{}", agg.label()).into_boxed_str()),
            feature: frames.len(),
            aggregation: *agg,
            window: None,
            dtype: DataType::Int64,
            nullable: true,
            pivot: None,
        });
    }
    FeatureSetSpec {
        name: "windows",
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
        windows: &[],
        slide: Window::DAY,
        ttl: None,
        fill_null: None,
        features: Box::leak(features.into_boxed_slice()),
        outputs: Box::leak(outputs.into_boxed_slice()),
        pivot: None,
        distinct: None,
        pre_hooks: &[],
        post_hooks: &[],
    }
}

/// Each event's functions over its frame, scanning every event.
fn naive_windows(events: &[Event], spec: &FeatureSetSpec) -> Vec<Row> {
    let mut sorted: Vec<&Event> = events.iter().filter(|e| e.ts.is_some()).collect();
    // Stable: events of one key and time stay in input order.
    sorted.sort_by(|a, b| (a.key, a.ts).cmp(&(b.key, b.ts)));
    let mut out = Vec::new();
    for (i, e) in sorted.iter().enumerate() {
        let key_events: Vec<(usize, &&Event)> = sorted
            .iter()
            .enumerate()
            .filter(|(_, x)| x.key == e.key)
            .collect();
        let position = key_events.iter().position(|(j, _)| *j == i).unwrap();
        let mut row = Vec::new();
        for o in spec.outputs {
            let feature = &spec.features[o.feature];
            let value = match (feature.frame, o.aggregation) {
                (None, Aggregation::Lag(n)) => position
                    .checked_sub(n as usize)
                    .and_then(|p| key_events[p].1.vi)
                    .map_or(Value::Null, |v| Value::Num(v as f64)),
                (None, Aggregation::Lead(n)) => key_events
                    .get(position + n as usize)
                    .and_then(|(_, x)| x.vi)
                    .map_or(Value::Null, |v| Value::Num(v as f64)),
                (Some(frame), agg) => {
                    let in_frame: Vec<&Event> = match frame {
                        Frame::Range(w) => key_events
                            .iter()
                            .map(|(_, x)| **x)
                            .filter(|x| {
                                let (t, at) = (x.ts.unwrap(), e.ts.unwrap());
                                at - w.micros() <= t && t <= at
                            })
                            .collect(),
                        Frame::Rows(n) => key_events
                            [(position + 1).saturating_sub(n as usize)..=position]
                            .iter()
                            .map(|(_, x)| **x)
                            .collect(),
                    };
                    let values: Vec<(i64, Option<i64>)> =
                        in_frame.iter().map(|x| (x.ts.unwrap(), x.vi)).collect();
                    aggregate(
                        agg,
                        true,
                        &values,
                        |v| Value::Num(*v as f64),
                        |v| i128::from(*v),
                    )
                }
                (None, other) => unreachable!("{other} is not sampled here"),
            };
            row.push(value);
        }
        out.push((e.key.to_string(), e.ts.unwrap(), row));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn window_functions_match_a_scan(case in case(), hours in 1u32..30, rows in 1u32..4) {
        const FUNCTIONS: &[Aggregation] = &[
            Aggregation::Count,
            Aggregation::Sum,
            Aggregation::Max,
            Aggregation::Avg,
            Aggregation::VarSamp,
            p(500_000),
        ];
        let spec = window_spec(
            &[
                (Frame::Range(Window { amount: hours, unit: WindowUnit::Hours }), FUNCTIONS),
                (Frame::Rows(rows), FUNCTIONS),
            ],
            &[Aggregation::Lag(1), Aggregation::Lead(2)],
        );
        let want = naive_windows(&case.events, &spec);
        let computed = compute(&spec, events_frame(&case.events), DateRange::default())
            .expect("engine runs");
        let got = rows_of(&computed.frame, &spec);
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(&g.0, &w.0);
            prop_assert_eq!(g.1, w.1);
            for (i, (a, b)) in g.2.iter().zip(&w.2).enumerate() {
                prop_assert!(close(a, b), "{} at {}: engine {:?}, naive {:?}", spec.outputs[i].name, g.1, a, b);
            }
        }
    }
}
