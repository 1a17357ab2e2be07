//! The point-in-time join against the obvious implementation: for each spine
//! row, scan every feature row for the same key and keep the latest one not
//! after the spine row (and not older than the TTL).

use std::collections::BTreeSet;

use featurestore_runtime::pipeline::dataset::build;
use featurestore_runtime::spec::{
    Aggregation, ColumnOrigin, ColumnSpec, DataType, DatasetColumn, DatasetSpec, FeatureSetSpec,
    FeatureSpec, Format, JoinSpec, OutputColumn, SourceKind, SourceSpec, Window, WindowUnit,
};
use polars::prelude::*;
use proptest::prelude::*;

const HOUR: i64 = 3_600_000_000;

static SPINE: SourceSpec = SourceSpec {
    name: "spine",
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

const KEY: &[ColumnSpec] = &[ColumnSpec {
    name: "k",
    dtype: DataType::String,
    nullable: false,
    description: "",
}];

fn feature_set(name: &'static str, column: &'static str) -> FeatureSetSpec {
    let outputs = vec![OutputColumn {
        name: column,
        feature: 0,
        aggregation: Aggregation::Sum,
        window: None,
        dtype: DataType::Int64,
        nullable: true,
        pivot: None,
    }];
    FeatureSetSpec {
        name,
        description: "",
        keys: KEY,
        timestamp: "ts",
        source: &SPINE,
        filter: None,
        query: None,
        windows: &[],
        slide: Window::DAY,
        ttl: None,
        fill_null: None,
        features: Box::leak(Box::new([FeatureSpec {
            name: column,
            column,
            aggregations: &[Aggregation::Sum],
            dtype: DataType::Int64,
            description: "",
            plain: None,
            frame: None,
            condition: false,
            filter: None,
            fill_null: None,
        }])),
        outputs: Box::leak(outputs.into_boxed_slice()),
        pivot: None,
        distinct: None,
        pre_hooks: &[],
        post_hooks: &[],
    }
}

#[derive(Debug, Clone)]
struct Case {
    /// (key, hour)
    spine: Vec<(&'static str, i64)>,
    /// Per feature set: (key, hour, value), unique per (key, hour).
    features: [Vec<(&'static str, i64, i64)>; 2],
    ttl_hours: [Option<u32>; 2],
}

fn rows() -> impl Strategy<Value = Vec<(&'static str, i64, i64)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["a", "b", "c"]),
            0i64..40,
            -9i64..10,
        ),
        0..25,
    )
    .prop_map(|v| {
        let mut seen = BTreeSet::new();
        v.into_iter()
            .filter(|(k, h, _)| seen.insert((*k, *h)))
            .collect()
    })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(
            (prop::sample::select(vec!["a", "b", "c", "d"]), 0i64..45),
            0..30,
        ),
        rows(),
        rows(),
        prop::option::of(1u32..10),
        prop::option::of(1u32..10),
    )
        .prop_map(|(spine, f0, f1, t0, t1)| Case {
            spine,
            features: [f0, f1],
            ttl_hours: [t0, t1],
        })
}

fn spec_for(case: &Case) -> DatasetSpec {
    let fs: [&'static FeatureSetSpec; 2] = [
        Box::leak(Box::new(feature_set("first", "v0"))),
        Box::leak(Box::new(feature_set("second", "v1"))),
    ];
    let joins: Vec<JoinSpec> = (0..2)
        .map(|i| JoinSpec {
            feature_set: fs[i],
            ttl: case.ttl_hours[i].map(|h| Window {
                amount: h,
                unit: WindowUnit::Hours,
            }),
            prefix: "",
            keys: &["k"],
        })
        .collect();
    let column = |name, dtype, origin| DatasetColumn {
        name,
        dtype,
        nullable: true,
        origin,
    };
    let columns = vec![
        column("id", DataType::Int64, ColumnOrigin::Spine { column: "id" }),
        column("k", DataType::String, ColumnOrigin::Spine { column: "k" }),
        column(
            "timestamp",
            DataType::Timestamp,
            ColumnOrigin::Timestamp { column: "ts" },
        ),
    ];
    DatasetSpec {
        name: "property",
        description: "",
        spine: &SPINE,
        filter: None,
        query: None,
        keys: &["k"],
        timestamp: "ts",
        joins: Box::leak(joins.into_boxed_slice()),
        fill_null: None,
        spine_columns: Box::leak(columns.into_boxed_slice()),
    }
}

fn datetime(name: &str, hours: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), hours.into_iter().map(|h| h * HOUR).collect())
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column()
}

fn engine(case: &Case, spec: &DatasetSpec) -> Vec<(i64, Option<i64>, Option<i64>)> {
    let n = case.spine.len();
    let spine = DataFrame::new(
        n,
        vec![
            Column::new("id".into(), (0..n as i64).collect::<Vec<_>>()),
            Column::new(
                "k".into(),
                case.spine.iter().map(|s| s.0).collect::<Vec<_>>(),
            ),
            datetime("ts", case.spine.iter().map(|s| s.1).collect()),
        ],
    )
    .unwrap();
    let features = case
        .features
        .iter()
        .enumerate()
        .map(|(i, rows)| {
            DataFrame::new(
                rows.len(),
                vec![
                    Column::new("k".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
                    datetime("timestamp", rows.iter().map(|r| r.1).collect()),
                    Column::new(
                        format!("v{i}").into(),
                        rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                    ),
                ],
            )
            .unwrap()
            .lazy()
        })
        .collect();
    let out = build(spec, spine.lazy(), features).expect("join runs");
    let id = out.column("id").unwrap().i64().unwrap().clone();
    let v0 = out.column("v0").unwrap().i64().unwrap().clone();
    let v1 = out.column("v1").unwrap().i64().unwrap().clone();
    (0..out.height())
        .map(|i| (id.get(i).unwrap(), v0.get(i), v1.get(i)))
        .collect()
}

fn naive(case: &Case) -> Vec<(i64, Option<i64>, Option<i64>)> {
    let lookup = |j: usize, key: &str, at: i64| -> Option<i64> {
        case.features[j]
            .iter()
            .filter(|(k, h, _)| *k == key && *h <= at)
            .filter(|(_, h, _)| case.ttl_hours[j].is_none_or(|t| *h >= at - i64::from(t)))
            .max_by_key(|(_, h, _)| *h)
            .map(|(_, _, v)| *v)
    };
    case.spine
        .iter()
        .enumerate()
        .map(|(i, (k, at))| (i as i64, lookup(0, k, *at), lookup(1, k, *at)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn as_of_join_matches_a_scan_of_every_feature_row(case in case()) {
        let spec = spec_for(&case);
        prop_assert_eq!(engine(&case, &spec), naive(&case));
    }
}
