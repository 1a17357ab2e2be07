//! The chargeback example, from the declarations to both stores, checked
//! row for row against what Butterfree produces (the fixtures).

use chrono::{NaiveDate, NaiveDateTime};
use features::{UserChargebacks, UserChargebacksRow, UserOrders, UserOrdersRow};
use featurestore_runtime::pipeline::{self, RunReport};
use featurestore_runtime::store::online::{get_row, Value};
use featurestore_runtime::{DateRange, FeatureSet};
use tests::{fixture_csv, frame_rows, run_rows, stores, temp_config};

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn run<F: FeatureSet>(
    config: &featurestore_runtime::config::Config,
    st: &featurestore_runtime::pipeline::Stores,
    start: Option<&str>,
    end: &str,
) -> RunReport {
    pipeline::execute(
        &F::SPEC,
        config,
        st,
        DateRange {
            start: start.map(date),
            end: Some(date(end)),
        },
        &|_| {},
    )
    .expect("run succeeds")
}

pub(crate) fn historical_rows<F: FeatureSet>(
    st: &featurestore_runtime::pipeline::Stores,
) -> (Vec<String>, Vec<Vec<String>>) {
    let frame = st.historical.read(&F::SPEC, None).expect("read back");
    let (header, rows) = frame_rows(&frame);
    // year/month/day must be the timestamp's date; then compare the rest.
    let ts = header.iter().position(|h| h == "timestamp").unwrap();
    let y = header
        .iter()
        .position(|h| h == "year")
        .expect("year column");
    let m = header
        .iter()
        .position(|h| h == "month")
        .expect("month column");
    let d = header.iter().position(|h| h == "day").expect("day column");
    for r in &rows {
        let day = NaiveDateTime::parse_from_str(&r[ts], "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            (r[y].as_str(), r[m].as_str(), r[d].as_str()),
            (
                day.format("%Y").to_string().as_str(),
                day.format("%-m").to_string().as_str(),
                day.format("%-d").to_string().as_str()
            ),
            "partition columns of {r:?}"
        );
    }
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| i != y && i != m && i != d)
        .collect();
    let pick = |r: &Vec<String>| keep.iter().map(|&i| r[i].clone()).collect::<Vec<_>>();
    (pick(&header), rows.iter().map(pick).collect())
}

#[test]
fn user_orders_matches_butterfree_rows_and_online_rows() {
    let (_dir, config) = temp_config();
    let st = stores(&config);
    let report = run::<UserOrders>(&config, &st, None, "2020-07-17");

    let expected = fixture_csv("user_orders.csv");
    assert_eq!(run_rows(&report.rows), expected, "rows of the run");
    assert_eq!(
        historical_rows::<UserOrders>(&st),
        expected,
        "historical store"
    );
    assert_eq!(
        frame_rows(&report.latest),
        fixture_csv("user_orders_online.csv"),
        "online rows of the run"
    );
}

#[test]
fn user_chargebacks_matches_butterfree_rows_and_online_rows() {
    let (_dir, config) = temp_config();
    let st = stores(&config);
    let report = run::<UserChargebacks>(&config, &st, None, "2020-07-17");

    let expected = fixture_csv("user_chargebacks.csv");
    assert_eq!(run_rows(&report.rows), expected);
    assert_eq!(historical_rows::<UserChargebacks>(&st), expected);
    assert_eq!(
        frame_rows(&report.latest),
        fixture_csv("user_chargebacks_online.csv")
    );
}

fn rows(text: &[[&str; 5]]) -> Vec<Vec<String>> {
    text.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// Butterfree's rows for `--start-date 2020-05-11 --end-date 2020-05-13`:
/// every key has a row on the first day of the range.
fn range_rows() -> Vec<Vec<String>> {
    rows(&[
        ["x", "2020-05-11 00:00:00", "1", "1", "1"],
        ["x", "2020-05-12 00:00:00", "2", "2", "2"],
        ["x", "2020-05-13 00:00:00", "3", "3", "3"],
        ["y", "2020-05-11 00:00:00", "0", "0", "1"],
        ["y", "2020-05-13 00:00:00", "0", "0", "0"],
        ["z", "2020-05-11 00:00:00", "0", "0", "0"],
        ["z", "2020-05-12 00:00:00", "1", "1", "1"],
    ])
}

#[test]
fn a_date_range_starts_every_key_on_its_first_day() {
    let (_dir, config) = temp_config();
    let st = stores(&config);
    let report = run::<UserOrders>(&config, &st, Some("2020-05-11"), "2020-05-13");
    let (header, got) = run_rows(&report.rows);
    assert_eq!(header, fixture_csv("user_orders.csv").0);
    assert_eq!(got, range_rows());
    assert_eq!(report.days, Some((date("2020-05-11"), date("2020-05-13"))));
    assert_eq!(report.historical.partitions_written, 3);
}

#[test]
fn rerunning_an_interval_replaces_only_its_partitions() {
    let (_dir, config) = temp_config();
    let st = stores(&config);
    run::<UserOrders>(&config, &st, None, "2020-07-17");
    run::<UserOrders>(&config, &st, Some("2020-05-11"), "2020-05-13");

    // Expected: the full run's rows outside 05-11..05-13, the range run's inside.
    let (header, full) = fixture_csv("user_orders.csv");
    let in_range = |r: &Vec<String>| {
        let d = &r[1][..10];
        ("2020-05-11"..="2020-05-13").contains(&d)
    };
    let mut expected: Vec<Vec<String>> = full.into_iter().filter(|r| !in_range(r)).collect();
    expected.extend(range_rows());
    expected.sort();
    let (got_header, mut got) = historical_rows::<UserOrders>(&st);
    got.sort();
    assert_eq!(got_header, header);
    assert_eq!(got, expected);
}

#[test]
fn an_older_interval_never_replaces_newer_online_rows() {
    let (_dir, config) = temp_config();
    let st = stores(&config);
    run::<UserOrders>(&config, &st, None, "2020-07-17");
    let older = run::<UserOrders>(&config, &st, Some("2020-05-11"), "2020-05-13");
    // Every stored row is of the later run (as of 07-17, not 05-13), also
    // y's, whose row is of the same day (05-13).
    assert_eq!(older.online.kept_newer, 3);
    assert_eq!(older.online.written, 0);
    assert_eq!(older.online.removed, 0);

    let stored = featurestore_runtime::store::online::records_frame(
        &UserOrders::SPEC,
        &st.online.scan(&UserOrders::SPEC).unwrap(),
    )
    .unwrap();
    assert_eq!(frame_rows(&stored), fixture_csv("user_orders_online.csv"));
}

#[test]
fn typed_lookups_return_the_generated_rows() {
    let (_dir, config) = temp_config();
    let st = stores(&config);
    run::<UserOrders>(&config, &st, None, "2020-07-17");
    run::<UserChargebacks>(&config, &st, None, "2020-07-17");

    let midnight = |d: &str| date(d).and_hms_opt(0, 0, 0).unwrap();
    let x = get_row::<UserOrders>(&*st.online, &[Value::from("x")]).unwrap();
    assert_eq!(
        x,
        Some(UserOrdersRow {
            cpf: "x".to_string(),
            timestamp: midnight("2020-07-17"),
            cpf_orders__count_over_3_days_rolling_windows: 2,
            cpf_orders__count_over_7_days_rolling_windows: 2,
            cpf_orders__count_over_30_days_rolling_windows: 2,
        })
    );
    let c = get_row::<UserChargebacks>(&*st.online, &[Value::from("x")]).unwrap();
    assert_eq!(
        c,
        Some(UserChargebacksRow {
            cpf: "x".to_string(),
            timestamp: midnight("2020-07-15"),
            cpf_chargebacks__count_over_3_days_rolling_windows: 1,
            cpf_chargebacks__count_over_7_days_rolling_windows: 1,
            cpf_chargebacks__count_over_30_days_rolling_windows: 2,
        })
    );
    // y never had a chargeback: the filtered source has no y.
    assert_eq!(
        get_row::<UserChargebacks>(&*st.online, &[Value::from("y")]).unwrap(),
        None
    );
    assert_eq!(
        get_row::<UserOrders>(&*st.online, &[Value::from("w")]).unwrap(),
        None
    );
}

#[test]
fn days_without_rows_are_emptied_when_their_interval_reruns() {
    let (dir, mut config) = temp_config();
    let st = stores(&config);
    run::<UserOrders>(&config, &st, None, "2020-07-17");

    // Re-run the same interval on an input holding only order `a` (x, 2018-05-12).
    let input = dir.path().join("only_a.csv");
    std::fs::write(
        &input,
        "order_id,order_timestamp,cpf,chargeback_timestamp\na,2018-05-12 00:00:01,x,\n",
    )
    .unwrap();
    config
        .sources
        .insert("order_events".into(), input.to_string_lossy().into_owned());
    let report = run::<UserOrders>(&config, &st, None, "2020-07-17");
    assert!(report.historical.partitions_deleted > 0);

    // Worked out by hand: one event on 2018-05-12, windows 3/7/30 days.
    let expected = rows(&[
        ["x", "2018-05-12 00:00:00", "0", "0", "0"],
        ["x", "2018-05-13 00:00:00", "1", "1", "1"],
        ["x", "2018-05-16 00:00:00", "0", "1", "1"],
        ["x", "2018-05-20 00:00:00", "0", "0", "1"],
        ["x", "2018-06-12 00:00:00", "0", "0", "0"],
    ]);
    assert_eq!(historical_rows::<UserOrders>(&st).1, expected);
}

#[test]
fn an_end_date_is_required_with_windows() {
    let (_dir, config) = temp_config();
    let st = stores(&config);
    let err = pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        DateRange::default(),
        &|_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("end date is required"), "{err}");
    let err = pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        DateRange {
            start: Some(date("2020-05-14")),
            end: Some(date("2020-05-13")),
        },
        &|_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("after the end date"), "{err}");
}

fn online_rows(st: &featurestore_runtime::pipeline::Stores) -> (Vec<String>, Vec<Vec<String>>) {
    let stored = featurestore_runtime::store::online::records_frame(
        &UserOrders::SPEC,
        &st.online.scan(&UserOrders::SPEC).unwrap(),
    )
    .unwrap();
    frame_rows(&stored)
}

/// A corrected re-run of an interval reaches the online store even when it
/// moves a key's last change earlier: without order `i` (x, 2020-07-16),
/// x's last change is 2020-07-16 with one order in each window (only `h`,
/// 2020-07-15 02:00, is left in them), not 2020-07-17 with two.
#[test]
fn a_corrected_rerun_replaces_rows_it_moves_earlier() {
    let (dir, mut config) = temp_config();
    let st = stores(&config);
    run::<UserOrders>(&config, &st, None, "2020-07-17");
    tests::without_orders(&mut config, dir.path(), &["i"]);
    let corrected = run::<UserOrders>(&config, &st, None, "2020-07-17");
    assert_eq!((corrected.online.written, corrected.online.removed), (3, 0));

    let x = get_row::<UserOrders>(&*st.online, &[Value::from("x")])
        .unwrap()
        .expect("x has a row");
    let july_16 = date("2020-07-16").and_hms_opt(0, 0, 0).unwrap();
    assert_eq!(
        (
            x.timestamp,
            x.cpf_orders__count_over_3_days_rolling_windows,
            x.cpf_orders__count_over_7_days_rolling_windows,
            x.cpf_orders__count_over_30_days_rolling_windows
        ),
        (july_16, 1, 1, 1)
    );

    // The same as a clean run on the corrected events.
    let clean_dir = tempfile::tempdir().unwrap();
    let mut clean_config = config.clone();
    clean_config.historical_root = clean_dir.path().join("historical").display().to_string();
    clean_config.online_url = format!("redb://{}", clean_dir.path().join("online.redb").display());
    let clean_stores = stores(&clean_config);
    run::<UserOrders>(&clean_config, &clean_stores, None, "2020-07-17");
    let corrected_rows = online_rows(&st);
    assert_eq!(corrected_rows, online_rows(&clean_stores));

    // An earlier as-of afterwards changes nothing: every row is of a later run.
    let earlier = run::<UserOrders>(&config, &st, None, "2020-06-01");
    assert_eq!(
        (
            earlier.online.written,
            earlier.online.kept_newer,
            earlier.online.removed
        ),
        (0, 3, 0)
    );
    assert_eq!(online_rows(&st), corrected_rows);
}

/// A key whose events are all gone is removed by a run that read every
/// event (no start date), never by a run of an interval.
#[test]
fn a_key_without_events_is_removed_by_a_run_of_every_event() {
    let (dir, mut config) = temp_config();
    let st = stores(&config);
    run::<UserOrders>(&config, &st, None, "2020-07-17");
    // z's only order.
    tests::without_orders(&mut config, dir.path(), &["d"]);
    let interval = run::<UserOrders>(&config, &st, Some("2020-07-01"), "2020-07-17");
    assert_eq!(interval.online.removed, 0);
    let z_row = |rows: (Vec<String>, Vec<Vec<String>>)| rows.1.into_iter().find(|r| r[0] == "z");
    assert_eq!(
        z_row(online_rows(&st)),
        z_row(fixture_csv("user_orders_online.csv"))
    );

    let every = run::<UserOrders>(&config, &st, None, "2020-07-17");
    assert_eq!(every.online.removed, 1);
    let (header, mut expected) = fixture_csv("user_orders_online.csv");
    expected.retain(|r| r[0] != "z");
    assert_eq!(online_rows(&st), (header, expected));
    assert!(get_row::<UserOrders>(&*st.online, &[Value::from("z")])
        .unwrap()
        .is_none());
}
