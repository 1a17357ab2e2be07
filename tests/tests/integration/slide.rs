//! Rolling windows with an hourly slide, declared with the macros, on small
//! inputs whose every expected row is worked out by hand below: a window
//! that empties mid-day, events exactly on a slide boundary and in its last
//! microsecond, null values, two keys, and the start and end dates.

use chrono::{NaiveDate, NaiveDateTime};
use featurestore_runtime::{compute, feature_set, source, DateRange, FeatureSet};
use polars::prelude::*;
use tests::frame_rows;

#[derive(Debug)]
#[source(path = "logins.csv")]
pub struct Logins {
    pub uid: String,
    pub at: NaiveDateTime,
    pub amount: Option<i64>,
}

/// Hourly counts and sums.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "1h,3h", slide = "1h", source = Logins, timestamp = at)]
pub struct LoginStats {
    #[feature(count(amount), sum(amount))]
    pub amount: i64,
}

/// Minutes and days under one slide.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "30m,1d", slide = "30m", source = Logins, timestamp = at)]
pub struct HalfHourly {
    #[feature(count(amount))]
    pub logins: i64,
}

const DAY_1: &str = "2024-01-01";

/// (key, time, amount).
const LOGINS: [(&str, &str, Option<i64>); 5] = [
    ("u1", "2024-01-01 10:15:00", Some(5)),
    // Exactly on a boundary: in the windows that start at 11:00.
    ("u1", "2024-01-01 11:00:00", None),
    ("u1", "2024-01-01 12:30:00", Some(7)),
    // The last microsecond of the 09:00 slide: the earliest event.
    ("u2", "2024-01-01 09:59:59.999999", Some(1)),
    // Its windows end on the next day.
    ("u2", "2024-01-01 23:30:00", Some(2)),
];

fn at(s: &str) -> i64 {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn logins() -> LazyFrame {
    let at = Int64Chunked::from_vec("at".into(), LOGINS.iter().map(|e| at(e.1)).collect())
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column();
    DataFrame::new(
        LOGINS.len(),
        vec![
            Column::new("uid".into(), LOGINS.iter().map(|e| e.0).collect::<Vec<_>>()),
            at,
            Column::new(
                "amount".into(),
                LOGINS.iter().map(|e| e.2).collect::<Vec<_>>(),
            ),
        ],
    )
    .unwrap()
    .lazy()
}

/// The rows of a run, cells joined by ` | `.
fn rows<F: FeatureSet>(start: Option<&str>, end: &str) -> Vec<String> {
    let range = DateRange {
        start: start.map(day),
        end: Some(day(end)),
    };
    let computed = compute(&F::SPEC, logins(), range).expect("computes");
    let (_, rows) = frame_rows(&computed.frame);
    rows.iter().map(|r| r.join(" | ")).collect()
}

#[test]
fn names_say_minutes_hours_and_days() {
    let names: Vec<&str> = LoginStats::SPEC.outputs.iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        [
            "amount__count_over_1_hour_rolling_windows",
            "amount__count_over_3_hours_rolling_windows",
            "amount__sum_over_1_hour_rolling_windows",
            "amount__sum_over_3_hours_rolling_windows",
        ]
    );
    let names: Vec<&str> = HalfHourly::SPEC.outputs.iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        [
            "logins__count_over_30_minutes_rolling_windows",
            "logins__count_over_1_day_rolling_windows",
        ]
    );
    assert_eq!(LoginStats::SPEC.slide.to_string(), "1 hour");
}

#[test]
fn a_row_wherever_a_value_changes_including_when_a_window_empties() {
    // Columns: uid | timestamp | count 1h | count 3h | sum 1h | sum 3h. The
    // row at T holds the events of [T − 1h, T) and [T − 3h, T). Rows run
    // from 09:00, the slide of the earliest event (u2's, 09:59:59.999999),
    // for every key, to 23:00, the last slide of the end date.
    let expected = [
        // Nothing before 09:00.
        "u1 | 2024-01-01 09:00:00 |  |  |  | ",
        // 10:00 unchanged. 11:00: 10:15 (5) in both windows.
        "u1 | 2024-01-01 11:00:00 | 1 | 1 | 5 | 5",
        // 12:00: [11:00, 12:00) holds the 11:00 event, whose amount is null:
        // a count of 0 and no sum. [09:00, 12:00) holds 5 and the null.
        "u1 | 2024-01-01 12:00:00 | 0 | 1 |  | 5",
        // 13:00: 12:30 (7); three hours back, 5, null and 7.
        "u1 | 2024-01-01 13:00:00 | 1 | 2 | 7 | 12",
        // 14:00: the last hour is empty; [11:00, 14:00) holds null and 7.
        "u1 | 2024-01-01 14:00:00 |  | 1 |  | 7",
        // 15:00 unchanged ([12:00, 15:00) holds 7 alone). 16:00: every
        // window has emptied, mid-day: a row of nulls.
        "u1 | 2024-01-01 16:00:00 |  |  |  | ",
        "u2 | 2024-01-01 09:00:00 |  |  |  | ",
        // 10:00: the event of 09:59:59.999999 is in [09:00, 10:00).
        "u2 | 2024-01-01 10:00:00 | 1 | 1 | 1 | 1",
        "u2 | 2024-01-01 11:00:00 |  | 1 |  | 1",
        // 12:00 unchanged; 13:00: [10:00, 13:00) is empty. The 23:30 event
        // counts from the next day's 00:00, after the end date.
        "u2 | 2024-01-01 13:00:00 |  |  |  | ",
    ];
    assert_eq!(rows::<LoginStats>(None, DAY_1), expected);
}

#[test]
fn the_next_day_and_a_start_date() {
    // Through Jan 2, the 23:30 event shows from Jan 2 00:00; u1 has no
    // change on Jan 2.
    let u2_on_day_2 = [
        "u2 | 2024-01-02 00:00:00 | 1 | 1 | 2 | 2",
        "u2 | 2024-01-02 01:00:00 |  | 1 |  | 2",
        // 02:00 unchanged ([23:00, 02:00) still holds 23:30).
        "u2 | 2024-01-02 03:00:00 |  |  |  | ",
    ];
    let all = rows::<LoginStats>(None, "2024-01-02");
    assert_eq!(all.len(), 10 + 3);
    assert_eq!(all[10..], u2_on_day_2);
    // Starting on Jan 2, the first row of each key is Jan 2 00:00 (the
    // events of Jan 1 still fill its windows).
    let from_day_2 = rows::<LoginStats>(Some("2024-01-02"), "2024-01-02");
    let mut expected = vec!["u1 | 2024-01-02 00:00:00 |  |  |  | "];
    expected.extend(u2_on_day_2);
    assert_eq!(from_day_2, expected);
}

#[test]
fn the_end_date_before_every_event_keeps_its_last_slide() {
    // Every event is after the end date: as with the daily slide, one row
    // per key, every window empty, at the end date's last row (23:00).
    assert_eq!(
        rows::<LoginStats>(None, "2023-12-31"),
        [
            "u1 | 2023-12-31 23:00:00 |  |  |  | ",
            "u2 | 2023-12-31 23:00:00 |  |  |  | ",
        ]
    );
    // A start date after the events: the start date's first slide.
    assert_eq!(
        rows::<LoginStats>(Some("2024-01-03"), "2024-01-03"),
        [
            "u1 | 2024-01-03 00:00:00 |  |  |  | ",
            "u2 | 2024-01-03 00:00:00 |  |  |  | ",
        ]
    );
}

#[test]
fn half_hour_slides_with_a_day_long_window() {
    // Columns: uid | timestamp | count 30m | count 1d. Rows from 09:30 (the
    // slide of 09:59:59.999999) to 23:30.
    let expected = [
        "u1 | 2024-01-01 09:30:00 |  | ",
        // [10:00, 10:30) holds 10:15.
        "u1 | 2024-01-01 10:30:00 | 1 | 1",
        "u1 | 2024-01-01 11:00:00 |  | 1",
        // 11:00 itself: in [11:00, 11:30), a null amount, counted 0.
        "u1 | 2024-01-01 11:30:00 | 0 | 1",
        "u1 | 2024-01-01 12:00:00 |  | 1",
        "u1 | 2024-01-01 13:00:00 | 1 | 2",
        "u1 | 2024-01-01 13:30:00 |  | 2",
        "u2 | 2024-01-01 09:30:00 |  | ",
        "u2 | 2024-01-01 10:00:00 | 1 | 1",
        "u2 | 2024-01-01 10:30:00 |  | 1",
    ];
    assert_eq!(rows::<HalfHourly>(None, DAY_1), expected);
}

#[test]
fn day_partitions_hold_every_slide_and_the_online_store_the_newest() {
    use featurestore_runtime::store::online::Value;
    let (dir, mut config) = tests::temp_config();
    let csv = dir.path().join("logins.csv");
    let mut text = String::from("uid,at,amount\n");
    for (uid, at, amount) in LOGINS {
        // Whole seconds, as the reader infers the format from the first
        // value; 09:59:59 is in the same slide as 09:59:59.999999.
        let at = at.split('.').next().unwrap_or(at);
        let amount = amount.map(|a| a.to_string()).unwrap_or_default();
        text.push_str(&format!("{uid},{at},{amount}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    config
        .sources
        .insert("logins".into(), csv.to_string_lossy().into_owned());
    let stores = tests::stores(&config);
    let range = DateRange {
        start: None,
        end: Some(day("2024-01-02")),
    };
    featurestore_runtime::pipeline::execute(&LoginStats::SPEC, &config, &stores, range, &|_| {})
        .expect("runs");

    let day_1 = stores
        .historical
        .read(&LoginStats::SPEC, Some((day(DAY_1), day(DAY_1))))
        .unwrap();
    let day_2 = stores
        .historical
        .read(
            &LoginStats::SPEC,
            Some((day("2024-01-02"), day("2024-01-02"))),
        )
        .unwrap();
    assert_eq!((day_1.height(), day_2.height()), (10, 3));
    let (_, rows) = frame_rows(&day_2);
    let times: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        times,
        [
            "2024-01-02 00:00:00",
            "2024-01-02 01:00:00",
            "2024-01-02 03:00:00"
        ]
    );

    // The newest row of each key: u1's emptied windows at Jan 1 16:00, u2's
    // at Jan 2 03:00.
    for (uid, newest) in [("u1", "2024-01-01 16:00:00"), ("u2", "2024-01-02 03:00:00")] {
        let row = featurestore_runtime::get_row::<LoginStats>(
            stores.online.as_ref(),
            &[Value::from(uid)],
        )
        .unwrap()
        .expect("a row per key");
        assert_eq!(row.timestamp.to_string(), newest);
        assert_eq!(row.amount__count_over_3_hours_rolling_windows, None);
    }
}

#[test]
fn the_catalog_says_the_slide() {
    let text = featurestore_runtime::catalog::feature_set_text(&LoginStats::SPEC, &|_| None);
    assert!(
        text.contains("windows      1 hour, 3 hours, sliding every 1 hour"),
        "{text}"
    );
    let json = featurestore_runtime::catalog::feature_set_json(&LoginStats::SPEC, &|_| None);
    assert_eq!(json["slide"], "1 hour");
}
