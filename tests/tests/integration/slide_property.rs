//! Rolling windows at random slides against the naive grid: every key × every
//! slide of the run, each cell aggregated by scanning every event, then
//! change-point dedup, then fill. The daily slide is one of the slides drawn.

use featurestore_runtime::spec::{FeatureSetSpec, Window, WindowUnit};
use featurestore_runtime::DateRange;
use proptest::prelude::*;

use super::rolling_property::{
    close, day_date, engine_rows, row_at, spec_with, Event, Exact, Row, BASE_DAY, DAY,
};

const MINUTE: i64 = 60_000_000;
/// Slides in minutes: each divides a day.
const SLIDES: &[i64] = &[15, 30, 60, 120, 180, 360, 480, 720, 1440];
/// Events fall in the first this many slides from the base day.
const SPAN: i64 = 60;

#[derive(Debug, Clone)]
struct Case {
    slide: i64,
    events: Vec<Event>,
    /// Window lengths in slides.
    windows: Vec<i64>,
    /// Days since the epoch.
    start: Option<i64>,
    end: i64,
    fill: bool,
}

fn event(slide: i64) -> impl Strategy<Value = Event> {
    (
        prop::sample::select(vec!["a", "b", "c"]),
        prop::option::weighted(0.95, (0..SPAN, any::<bool>(), 0..slide)),
        prop::option::weighted(0.85, -5i64..6),
        prop::option::weighted(0.85, -8i64..9),
    )
        .prop_map(move |(key, ts, vi, vq)| Event {
            key,
            // Often exactly on a boundary, where an event enters a row's window.
            ts: ts.map(|(n, on_boundary, offset)| {
                BASE_DAY * DAY + n * slide + if on_boundary { 0 } else { offset }
            }),
            vi,
            vq,
        })
}

fn case() -> impl Strategy<Value = Case> {
    prop::sample::select(SLIDES).prop_flat_map(|minutes| {
        let slide = minutes * MINUTE;
        // The days the events cover, and one either side.
        let days = (SPAN * slide + DAY - 1) / DAY;
        (
            prop::collection::vec(event(slide), 0..40),
            prop::collection::btree_set(1i64..30, 1..4),
            prop::option::of(-1..=days + 1),
            -1..=days + 1,
            any::<bool>(),
        )
            .prop_map(move |(events, windows, start, end, fill)| {
                let (start, end) = match start {
                    Some(s) if s > end => (Some(end), s),
                    other => (other, end),
                };
                Case {
                    slide,
                    events,
                    windows: windows.into_iter().collect(),
                    start: start.map(|s| BASE_DAY + s),
                    end: BASE_DAY + end,
                    fill,
                }
            })
    })
}

fn minutes(micros: i64) -> Window {
    Window {
        amount: (micros / MINUTE) as u32,
        unit: WindowUnit::Minutes,
    }
}

fn spec_for(case: &Case) -> FeatureSetSpec {
    let windows = case
        .windows
        .iter()
        .map(|k| minutes(k * case.slide))
        .collect();
    spec_with(windows, minutes(case.slide), case.fill)
}

/// The dense grid: rows from the first event's slide (or the start date's
/// first) to the end date's last slide, deduplicated.
fn naive(case: &Case, spec: &FeatureSetSpec) -> Vec<Row> {
    let mut keys: Vec<&str> = case.events.iter().map(|e| e.key).collect();
    keys.sort();
    keys.dedup();
    let Some(min_ts) = case.events.iter().filter_map(|e| e.ts).min() else {
        return Vec::new();
    };
    let per_day = DAY / case.slide;
    let last = (case.end + 1) * per_day - 1;
    let mut first = min_ts.div_euclid(case.slide);
    if let Some(s) = case.start {
        first = first.max(s * per_day);
    }
    first = first.min(last);
    let mut out = Vec::new();
    for key in keys {
        let mut prev: Option<Vec<Exact>> = None;
        for row in first..=last {
            let at = row * case.slide;
            let exact = row_at(&case.events, key, spec, at);
            if prev.as_ref() != Some(&exact) {
                let values = exact
                    .iter()
                    .map(|e| e.as_f64().or(case.fill.then_some(0.0)))
                    .collect();
                out.push((key.to_string(), at, values));
                prev = Some(exact);
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn slides_match_the_naive_grid(case in case()) {
        let spec = spec_for(&case);
        let want = naive(&case, &spec);
        let range = DateRange {
            start: case.start.map(day_date),
            end: Some(day_date(case.end)),
        };
        let got = engine_rows(&spec, &case.events, range);
        prop_assert_eq!(got.len(), want.len(), "rows: engine {:?}\nnaive {:?}", got, want);
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(&g.0, &w.0);
            prop_assert_eq!(g.1, w.1, "timestamps of key {}", g.0);
            for (i, (a, b)) in g.2.iter().zip(&w.2).enumerate() {
                prop_assert!(close(*a, *b), "{} at {}: engine {:?}, naive {:?}", spec.outputs[i].name, g.1, a, b);
            }
        }
    }
}
