//! The chargeback example's dataset: each order with both feature sets as of
//! its own time, built by one call that runs the feature sets first.

use chrono::NaiveDate;
use features::AwesomeDataset;
use featurestore_runtime::pipeline::{
    execute_dataset, DatasetOutput, DatasetReport, FeatureRows, Stores,
};
use featurestore_runtime::{Dataset, DateRange, FeatureSet};
use tests::{fixture_csv, frame_rows, parse_csv, stores, temp_config};

fn range() -> DateRange {
    DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2020, 7, 17),
    }
}

/// Builds the dataset with stores and datasets in a fresh temporary directory.
fn build(
    range: DateRange,
    rows: FeatureRows,
    output: DatasetOutput,
) -> (tempfile::TempDir, Stores, DatasetReport) {
    let (dir, mut config) = temp_config();
    config.datasets_root = dir.path().join("datasets").to_string_lossy().into_owned();
    let st = stores(&config);
    let report = execute_dataset(
        &AwesomeDataset::SPEC,
        &config,
        &st,
        range,
        rows,
        output,
        &|_| {},
    )
    .expect("dataset builds");
    (dir, st, report)
}

#[test]
fn awesome_dataset_matches_the_point_in_time_rows() {
    let (dir, st, report) = build(
        range(),
        FeatureRows::Run,
        DatasetOutput {
            csv: true,
            parquet: true,
        },
    );

    let expected = fixture_csv("awesome_dataset.csv");
    // Order `h` gets 1,1,2: the chargeback rows as of the order's own time.
    assert_eq!(frame_rows(&report.rows), expected);
    let ran: Vec<&str> = report.feature_sets.iter().map(|r| r.feature_set).collect();
    assert_eq!(ran, ["user_orders", "user_chargebacks"]);

    let csv_path = dir
        .path()
        .join("datasets/awesome_dataset/awesome_dataset.csv");
    let written = std::fs::read_to_string(&csv_path).expect("the CSV is written");
    assert_eq!(parse_csv(&written), expected);
    assert!(dir
        .path()
        .join("datasets/awesome_dataset/awesome_dataset.parquet")
        .exists());
    // The feature sets' stores were written on the way.
    assert!(
        st.historical
            .read(&features::UserOrders::SPEC, None)
            .unwrap()
            .height()
            > 0
    );
}

#[test]
fn stored_feature_rows_are_computed_when_the_store_is_empty() {
    let (_dir, st, report) = build(
        range(),
        FeatureRows::Stored,
        DatasetOutput {
            csv: true,
            parquet: false,
        },
    );
    assert!(report.feature_sets.is_empty());
    assert_eq!(frame_rows(&report.rows), fixture_csv("awesome_dataset.csv"));
    // Nothing was stored by computing in memory.
    assert_eq!(
        st.historical
            .read(&features::UserOrders::SPEC, None)
            .unwrap()
            .height(),
        0
    );
}

#[test]
fn the_spine_is_limited_to_the_date_range() {
    let (_dir, _st, report) = build(
        DateRange {
            start: NaiveDate::from_ymd_opt(2020, 5, 11),
            end: NaiveDate::from_ymd_opt(2020, 5, 13),
        },
        FeatureRows::Stored,
        DatasetOutput {
            csv: false,
            parquet: true,
        },
    );
    let ids: Vec<String> = frame_rows(&report.rows)
        .1
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(ids, ["d", "e", "f", "g"]);
}
