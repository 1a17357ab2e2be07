//! The chargeback example's dataset: each order with both feature sets as of
//! its own time, built by one call that runs the feature sets first; and a
//! dataset joining feature sets of two entities onto one spine.

use chrono::{NaiveDate, NaiveDateTime};
use features::AwesomeDataset;
use featurestore_runtime::pipeline::{
    execute_dataset, DatasetOutput, DatasetReport, FeatureRows, Stores,
};
use featurestore_runtime::{dataset, feature_set, source, Dataset, DateRange, FeatureSet};
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

/// Payments of users at merchants, for a dataset of two entities.
#[source(path = "payments.csv")]
pub struct Payments {
    pub payment_id: String,
    pub paid_at: NaiveDateTime,
    pub user_id: String,
    pub merchant_id: String,
    pub amount: f64,
}

/// What each user spent the day before.
#[feature_set(entity = "user_id", window = "1d", source = Payments, timestamp = paid_at)]
pub struct UserSpend {
    #[feature(sum(amount))]
    pub spent: f64,
    /// The mean payment, truncated to an integer on purpose.
    #[feature(avg(amount), truncate)]
    pub whole: i64,
}

/// How many payments each merchant had the day before.
#[feature_set(entity = "merchant_id", window = "1d", source = Payments, timestamp = paid_at)]
pub struct MerchantPayments {
    #[feature(count(payment_id))]
    pub payments: i64,
}

/// Each payment with its user's and its merchant's features.
#[dataset(spine = Payments, key = user_id, timestamp = paid_at,
          features(UserSpend, MerchantPayments(key = merchant_id)),
          keep(payment_id, paid_at, user_id, merchant_id))]
pub struct PaymentsAtMerchants;

/// Each feature with its own fill value: a count and a text cannot share one.
#[feature_set(entity = "user_id", window = "1d", source = Payments, timestamp = paid_at)]
pub struct UserMerchants {
    #[feature(count(payment_id), fill_null = 0)]
    pub payments: i64,
    #[feature(last(merchant_id), fill_null = "none")]
    pub merchant: String,
    /// Not filled: null for an empty window.
    #[feature(max(amount))]
    pub largest: f64,
}

/// The payments fixture in a fresh directory, and a configuration there.
fn payments() -> (tempfile::TempDir, featurestore_runtime::config::Config) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("payments.csv"),
        "payment_id,paid_at,user_id,merchant_id,amount\n\
         p1,2024-01-01 10:00:00,u1,m1,10.5\n\
         p2,2024-01-01 12:00:00,u2,m1,20.25\n\
         p3,2024-01-02 09:00:00,u1,m2,-5.75\n\
         p4,2024-01-02 18:00:00,u2,m1,7\n\
         p5,2024-01-03 08:00:00,u1,m1,1\n",
    )
    .unwrap();
    let mut config = featurestore_runtime::config::Config::defaults(dir.path());
    config.historical_root = dir.path().join("historical").to_string_lossy().into_owned();
    config.online_url = format!("redb://{}", dir.path().join("online.redb").display());
    (dir, config)
}

#[test]
fn describe_says_which_value_fills_each_feature() {
    let text = featurestore_runtime::catalog::feature_set_text(&UserMerchants::SPEC, &|_| None);
    let line = |column: &str| {
        text.lines()
            .find(|l| l.contains(column))
            .unwrap_or_else(|| panic!("no line for {column} in\n{text}"))
            .to_string()
    };
    assert!(
        line("payments__count_over_1_day").contains("null filled with 0"),
        "{text}"
    );
    assert!(
        line("merchant__last_over_1_day").contains("null filled with \"none\""),
        "{text}"
    );
    assert!(
        !line("largest__max_over_1_day").contains("null filled with"),
        "{text}"
    );
    assert!(!text.contains("\nfill_null"), "no feature-set fill: {text}");
}

#[test]
fn each_feature_fills_its_nulls_with_its_own_value() {
    let (_dir, config) = payments();
    let st = stores(&config);
    let report = featurestore_runtime::pipeline::execute(
        &UserMerchants::SPEC,
        &config,
        &st,
        DateRange {
            start: None,
            end: NaiveDate::from_ymd_opt(2024, 1, 3),
        },
        &|_| {},
    )
    .expect("the feature set runs");
    let (header, mut got) = frame_rows(&report.rows);
    assert_eq!(
        header,
        [
            "user_id",
            "timestamp",
            "payments__count_over_1_day_rolling_windows",
            "merchant__last_over_1_day_rolling_windows",
            "largest__max_over_1_day_rolling_windows",
        ]
    );
    got.sort();
    // By hand: the first day's windows are empty, so the count is 0 and the
    // merchant "none" but the unfilled maximum null; then each day holds the
    // day before's payment of the user.
    let expected: Vec<Vec<String>> = [
        ["u1", "2024-01-01 00:00:00", "0", "none", ""],
        ["u1", "2024-01-02 00:00:00", "1", "m1", "10.5"],
        ["u1", "2024-01-03 00:00:00", "1", "m2", "-5.75"],
        ["u2", "2024-01-01 00:00:00", "0", "none", ""],
        ["u2", "2024-01-02 00:00:00", "1", "m1", "20.25"],
        ["u2", "2024-01-03 00:00:00", "1", "m1", "7.0"],
    ]
    .iter()
    .map(|r| r.iter().map(|c| c.to_string()).collect())
    .collect();
    assert_eq!(got, expected);
    let nullable: Vec<bool> = UserMerchants::SPEC
        .outputs
        .iter()
        .map(|o| o.nullable)
        .collect();
    assert_eq!(nullable, [false, false, true]);
}

#[test]
fn a_dataset_joins_each_entity_on_its_own_spine_column() {
    let (_dir, config) = payments();
    let st = stores(&config);
    let report = execute_dataset(
        &PaymentsAtMerchants::SPEC,
        &config,
        &st,
        DateRange {
            start: None,
            end: NaiveDate::from_ymd_opt(2024, 1, 3),
        },
        FeatureRows::Run,
        DatasetOutput {
            csv: false,
            parquet: false,
        },
        &|_| {},
    )
    .expect("dataset builds");
    let (header, got) = frame_rows(&report.rows);
    assert_eq!(
        header,
        [
            "payment_id",
            "timestamp",
            "user_id",
            "merchant_id",
            "spent__sum_over_1_day_rolling_windows",
            "whole__avg_over_1_day_rolling_windows",
            "payments__count_over_1_day_rolling_windows",
        ]
    );
    // By hand: a day's row holds the day before. Each payment sees its
    // user's row and its merchant's row of the latest day <= its time; the
    // first day's rows are empty (null). p4 sees m1's 2 payments of 01-01
    // (on user keys it would see nothing: no merchant is named `u2`), p3
    // sees m2 empty until 01-03, p5 sees m1's one payment of 01-02. The
    // truncated means keep the whole part, towards zero (-5.75 is -5).
    let expected: Vec<Vec<String>> = [
        ["p1", "2024-01-01 10:00:00", "u1", "m1", "", "", ""],
        ["p2", "2024-01-01 12:00:00", "u2", "m1", "", "", ""],
        ["p3", "2024-01-02 09:00:00", "u1", "m2", "10.5", "10", ""],
        ["p4", "2024-01-02 18:00:00", "u2", "m1", "20.25", "20", "2"],
        ["p5", "2024-01-03 08:00:00", "u1", "m1", "-5.75", "-5", "1"],
    ]
    .iter()
    .map(|r| r.iter().map(|c| c.to_string()).collect())
    .collect();
    assert_eq!(got, expected);
    assert_eq!(PaymentsAtMerchants::SPEC.joins[1].keys, ["merchant_id"]);
    assert_eq!(PaymentsAtMerchants::SPEC.joins[0].keys, ["user_id"]);
}

#[test]
fn const_messages_join_their_parts_and_cut_whole_characters() {
    use featurestore_runtime::__private::ConstMessage;
    const M: ConstMessage = ConstMessage::concat(&["`a` is keyed by `", "merchant_id", "`"]);
    assert_eq!(M.as_str(), "`a` is keyed by `merchant_id`");
    let long = "é".repeat(ConstMessage::CAPACITY);
    let cut = ConstMessage::concat(&["x", &long]);
    // 1 + 2·511 bytes fit in 1024, the next `é` would not.
    assert_eq!(cut.as_str().len(), 1 + 2 * 511);
    assert!(cut.as_str().starts_with("xé"));
}

#[test]
fn an_unknown_column_is_named_with_the_closest_column() {
    use featurestore_runtime::__private::{column_code, unknown_column, NO_COLUMN};
    use featurestore_runtime::Source;
    let spec = &Payments::SPEC;
    assert!(unknown_column(spec, "Payments", "amount", "").is_none());
    let message = unknown_column(spec, "Payments", "amout", " (in `filter`)").unwrap();
    assert_eq!(
        message.as_str(),
        "no column `amout` in the source `Payments` (in `filter`): did you mean `amount`? its \
         columns are `payment_id`, `paid_at`, `user_id`, `merchant_id`, `amount`"
    );
    // Nothing close: no suggestion.
    let message = unknown_column(spec, "Payments", "zzz", "").unwrap();
    assert!(message
        .as_str()
        .contains("`Payments`: its columns are `payment_id`"));
    // Codes by hand: `String` is 5, `f64` 4, and an absent name none.
    assert_eq!(column_code(spec, "user_id"), 5);
    assert_eq!(column_code(spec, "amount"), 4);
    assert_eq!(column_code(spec, "zzz"), NO_COLUMN);
}
