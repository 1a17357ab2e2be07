//! Keys and timestamps: times written as epoch milliseconds, as text in a
//! declared format and as dates; entities of two key columns of different
//! types, through both stores and a dataset. Every expected row is worked
//! out by hand from the events in `EVENTS`.

use chrono::{NaiveDate, NaiveDateTime};
use featurestore_runtime::config::Config;
use featurestore_runtime::pipeline::{execute, execute_dataset, DatasetOutput, FeatureRows};
use featurestore_runtime::source::{read, scan, SourceLocations};
use featurestore_runtime::store::online::cql::create_table;
use featurestore_runtime::store::online::{get_row, Value};
use featurestore_runtime::{
    compute, dataset, feature_set, source, Dataset, DateRange, FeatureSet, Source,
};
use tests::{frame_rows, run_rows, stores};

/// Events with their time in epoch milliseconds.
#[derive(Debug)]
#[source(path = "epoch.csv")]
pub struct EpochEvents {
    pub user: String,
    pub account: i64,
    /// When the event happened.
    #[column(epoch = "ms")]
    pub at: i64,
    pub amount: Option<i64>,
}

/// The same events, their time as day/month/year text.
#[derive(Debug)]
#[source(path = "masked.csv")]
pub struct MaskedEvents {
    pub user: String,
    pub account: i64,
    #[column(format = "%d/%m/%Y %H:%M")]
    pub at: String,
    pub amount: Option<i64>,
}

/// The same events, their time a date (midnight UTC).
#[derive(Debug)]
#[source(path = "dated.csv")]
pub struct DatedEvents {
    pub user: String,
    pub account: i64,
    pub at: NaiveDate,
    pub amount: Option<i64>,
}

/// Seconds and microseconds since the epoch, possibly missing.
#[derive(Debug)]
#[source(path = "units.ndjson")]
pub struct Units {
    pub id: String,
    #[column(epoch = "s")]
    pub s: Option<i64>,
    #[column(epoch = "us")]
    pub us: i64,
}

macro_rules! windowed {
    ($name:ident, $source:ident) => {
        #[derive(Debug)]
        #[feature_set(entity = "user,account", window = "1d,2d", source = $source, timestamp = at)]
        pub struct $name {
            #[feature(count(amount), sum(amount))]
            pub amount: i64,
        }
    };
}
windowed!(EpochAmounts, EpochEvents);
windowed!(MaskedAmounts, MaskedEvents);
windowed!(DatedAmounts, DatedEvents);

/// Events per key and exact time.
#[derive(Debug)]
#[feature_set(entity = "user,account", source = EpochEvents, timestamp = at)]
pub struct AmountsPerInstant {
    #[feature(count(amount), sum(amount))]
    pub amount: i64,
}

/// Each event with the windowed amounts of its user and account, as of its
/// own time.
#[derive(Debug)]
#[dataset(spine = MaskedEvents, key = "user,account", timestamp = at,
          features(EpochAmounts))]
pub struct AmountsAtEvents;

/// (user, account, time, amount). `a`/1 has two events at the same time
/// (one without an amount) on the day after one at 23:59; `a`/2 ties with
/// them; `b`/1 comes a day later.
const EVENTS: [(&str, i64, &str, Option<i64>); 5] = [
    ("a", 1, "2024-01-01 23:59", Some(10)),
    ("a", 1, "2024-01-02 00:00", None),
    ("a", 2, "2024-01-02 00:00", Some(5)),
    ("b", 1, "2024-01-03 12:00", Some(7)),
    ("a", 1, "2024-01-02 00:00", Some(1)),
];

fn time(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

/// The events as three CSV files, one per way of writing their time.
fn setup() -> (tempfile::TempDir, SourceLocations) {
    let dir = tempfile::tempdir().unwrap();
    let mut epoch = String::from("user,account,at,amount\n");
    let mut masked = epoch.clone();
    let mut dated = epoch.clone();
    for (user, account, at, amount) in EVENTS {
        let amount = amount.map_or(String::new(), |a| a.to_string());
        let at = time(at);
        let ms = at.and_utc().timestamp_millis();
        epoch.push_str(&format!("{user},{account},{ms},{amount}\n"));
        let text = at.format("%d/%m/%Y %H:%M");
        masked.push_str(&format!("{user},{account},{text},{amount}\n"));
        let day = at.date();
        dated.push_str(&format!("{user},{account},{day},{amount}\n"));
    }
    for (name, text) in [
        ("epoch.csv", epoch),
        ("masked.csv", masked),
        ("dated.csv", dated),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let locations = SourceLocations::new(dir.path());
    (dir, locations)
}

fn rows(r: &[&[&str]]) -> Vec<Vec<String>> {
    r.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

fn until(end: &str) -> DateRange {
    DateRange {
        start: None,
        end: NaiveDate::parse_from_str(end, "%Y-%m-%d").ok(),
    }
}

fn run<F: FeatureSet>(locations: &SourceLocations, range: DateRange) -> Vec<Vec<String>> {
    let events = scan(F::SPEC.source, locations).expect("source scans");
    frame_rows(&compute(&F::SPEC, events, range).expect("computes").frame).1
}

/// Windows `[T − W, T)` for each day `T` from 2024-01-01, changes only.
/// Columns: count 1d, count 2d, sum 1d, sum 2d.
fn windowed_rows() -> Vec<Vec<String>> {
    rows(&[
        // a/1: 10 on 01-01; null and 1 on 01-02.
        &["a", "1", "2024-01-01 00:00:00", "", "", "", ""],
        &["a", "1", "2024-01-02 00:00:00", "1", "1", "10", "10"],
        &["a", "1", "2024-01-03 00:00:00", "1", "2", "1", "11"],
        &["a", "1", "2024-01-04 00:00:00", "", "1", "", "1"],
        // a/2: 5 on 01-02; its 1d window empties on 01-04.
        &["a", "2", "2024-01-01 00:00:00", "", "", "", ""],
        &["a", "2", "2024-01-03 00:00:00", "1", "1", "5", "5"],
        &["a", "2", "2024-01-04 00:00:00", "", "1", "", "5"],
        // b/1: 7 on 01-03.
        &["b", "1", "2024-01-01 00:00:00", "", "", "", ""],
        &["b", "1", "2024-01-04 00:00:00", "1", "1", "7", "7"],
    ])
}

#[test]
fn epoch_milliseconds_text_and_dates_give_the_same_windowed_rows() {
    let (_dir, loc) = setup();
    assert_eq!(
        run::<EpochAmounts>(&loc, until("2024-01-04")),
        windowed_rows()
    );
    assert_eq!(
        run::<MaskedAmounts>(&loc, until("2024-01-04")),
        windowed_rows()
    );
    // Dates are midnight: the 23:59 event is on the same day either way.
    assert_eq!(
        run::<DatedAmounts>(&loc, until("2024-01-04")),
        windowed_rows()
    );
    assert_eq!(
        EpochAmounts::SPEC.column_names(),
        [
            "user",
            "account",
            "timestamp",
            "amount__count_over_1_day_rolling_windows",
            "amount__count_over_2_days_rolling_windows",
            "amount__sum_over_1_day_rolling_windows",
            "amount__sum_over_2_days_rolling_windows",
        ]
    );
}

#[test]
fn without_windows_two_keys_group_by_exact_time() {
    let (_dir, loc) = setup();
    assert_eq!(
        run::<AmountsPerInstant>(&loc, DateRange::default()),
        rows(&[
            &["a", "1", "2024-01-01 23:59:00", "1", "10"],
            &["a", "1", "2024-01-02 00:00:00", "1", "1"],
            &["a", "2", "2024-01-02 00:00:00", "1", "5"],
            &["b", "1", "2024-01-03 12:00:00", "1", "7"],
        ])
    );
}

/// The `at` column of `MaskedEvents`/`EpochEvents` read from `text`, as
/// microseconds since the epoch.
fn read_at(
    spec: &featurestore_runtime::SourceSpec,
    file: &str,
    text: &str,
) -> featurestore_runtime::Result<Vec<Option<i64>>> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file), text).unwrap();
    let df = read(spec, &SourceLocations::new(dir.path()))?
        .frame
        .collect()
        .unwrap();
    Ok(df
        .column("at")
        .unwrap()
        .datetime()
        .unwrap()
        .physical()
        .iter()
        .collect())
}

fn micros(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32, milli: u32) -> Option<i64> {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_milli_opt(h, min, s, milli))
        .map(|t| t.and_utc().timestamp_micros())
}

#[test]
fn epoch_milliseconds_at_a_day_boundary() {
    // 1704153600 s is 2024-01-02 00:00:00 UTC: 19724 days × 86400 s.
    assert_eq!(19_724 * 86_400, 1_704_153_600);
    let got = read_at(
        &EpochEvents::SPEC,
        "epoch.csv",
        "user,account,at,amount\na,1,1704153599999,\na,1,1704153600000,\na,1,0,\na,1,-1,\n",
    )
    .unwrap();
    assert_eq!(
        got,
        vec![
            micros(2024, 1, 1, 23, 59, 59, 999),
            micros(2024, 1, 2, 0, 0, 0, 0),
            micros(1970, 1, 1, 0, 0, 0, 0),
            micros(1969, 12, 31, 23, 59, 59, 999),
        ]
    );
}

#[test]
fn a_format_mask_reads_day_first_text_at_a_day_boundary() {
    let got = read_at(
        &MaskedEvents::SPEC,
        "masked.csv",
        "user,account,at,amount\na,1,31/12/2023 23:59,\na,1,01/01/2024 00:00,\n",
    )
    .unwrap();
    assert_eq!(
        got,
        vec![
            micros(2023, 12, 31, 23, 59, 0, 0),
            micros(2024, 1, 1, 0, 0, 0, 0)
        ]
    );
}

#[test]
fn seconds_and_microseconds_with_nulls() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("units.ndjson"),
        "{\"id\":\"x\",\"s\":86399,\"us\":86400000000}\n{\"id\":\"y\",\"s\":null,\"us\":1}\n",
    )
    .unwrap();
    let df = scan(&Units::SPEC, &SourceLocations::new(dir.path()))
        .unwrap()
        .collect()
        .unwrap();
    let column = |name: &str| -> Vec<Option<i64>> {
        let c = df.column(name).unwrap().datetime().unwrap();
        c.physical().iter().collect()
    };
    assert_eq!(column("s"), [micros(1970, 1, 1, 23, 59, 59, 0), None]);
    assert_eq!(column("us"), [micros(1970, 1, 2, 0, 0, 0, 0), Some(1)]);
}

#[test]
fn a_time_not_in_the_declared_format_names_file_line_column_and_format() {
    let err = read_at(
        &MaskedEvents::SPEC,
        "masked.csv",
        "user,account,at,amount\na,1,01/01/2024 00:00,\na,1,2024-01-01 00:00,\n",
    )
    .expect_err("a time in another format");
    let text = err.to_string();
    assert!(text.contains("masked.csv"), "{text}");
    assert!(text.contains("line 3"), "{text}");
    assert!(text.contains("column `at`"), "{text}");
    assert!(text.contains("`%d/%m/%Y %H:%M`"), "{text}");
}

#[test]
fn an_epoch_that_is_no_integer_names_file_line_column_and_unit() {
    let err = read_at(
        &EpochEvents::SPEC,
        "epoch.csv",
        "user,account,at,amount\na,1,1704153600000,\na,1,1704153600000.5,\n",
    )
    .expect_err("a fraction of a millisecond");
    let text = err.to_string();
    assert!(text.contains("epoch.csv"), "{text}");
    assert!(text.contains("line 3"), "{text}");
    assert!(text.contains("column `at`"), "{text}");
    assert!(text.contains("milliseconds"), "{text}");
}

#[test]
fn unparsable_times_are_skipped_under_skip() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("masked.csv"),
        "user,account,at,amount\na,1,01/01/2024 00:00,1\na,1,yesterday,2\n",
    )
    .unwrap();
    let loc = SourceLocations::new(dir.path())
        .with_policy("masked_events", featurestore_runtime::spec::OnBadRows::Skip);
    let read = read(&MaskedEvents::SPEC, &loc).unwrap();
    assert_eq!(read.rejected.len(), 1);
    assert_eq!(read.rejected[0].rows, 1);
    let df = read.frame.collect().unwrap();
    assert_eq!(df.height(), 1);
}

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config::defaults(dir);
    config.historical_root = dir.join("historical").to_string_lossy().into_owned();
    config.online_url = format!("redb://{}", dir.join("online.redb").display());
    config.datasets_root = dir.join("datasets").to_string_lossy().into_owned();
    config
}

#[test]
fn two_keys_through_the_historical_and_online_stores() {
    let (dir, _) = setup();
    let config = config(dir.path());
    let st = stores(&config);
    let report = execute(
        &EpochAmounts::SPEC,
        &config,
        &st,
        until("2024-01-04"),
        &|_| {},
    )
    .unwrap();
    assert_eq!(run_rows(&report.rows).1, windowed_rows());
    let stored = st.historical.read(&EpochAmounts::SPEC, None).unwrap();
    let (header, stored) = frame_rows(&stored);
    assert_eq!(&header[..3], ["user", "account", "timestamp"]);
    // Stored rows carry year, month, day after the declared columns.
    let declared: Vec<Vec<String>> = stored.iter().map(|r| r[..7].to_vec()).collect();
    assert_eq!(declared, windowed_rows());
    // The entity's directory names both keys.
    assert!(dir
        .path()
        .join("historical/user_account/epoch_amounts")
        .is_dir());

    let midnight = |d: u32| {
        NaiveDate::from_ymd_opt(2024, 1, d)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap()
    };
    let a1 = get_row::<EpochAmounts>(&*st.online, &[Value::from("a"), Value::Int(1)]).unwrap();
    assert_eq!(
        a1,
        Some(EpochAmountsRow {
            user: "a".into(),
            account: 1,
            timestamp: midnight(4),
            amount__count_over_1_day_rolling_windows: None,
            amount__count_over_2_days_rolling_windows: Some(1),
            amount__sum_over_1_day_rolling_windows: None,
            amount__sum_over_2_days_rolling_windows: Some(1),
        })
    );
    let b1 = get_row::<EpochAmounts>(&*st.online, &[Value::from("b"), Value::Int(1)]).unwrap();
    assert_eq!(
        b1.map(|r| r.amount__sum_over_2_days_rolling_windows),
        Some(Some(7))
    );
    // Each key column matters: `b`/2 and `a`/3 were never seen.
    for key in [
        [Value::from("b"), Value::Int(2)],
        [Value::from("a"), Value::Int(3)],
    ] {
        assert_eq!(get_row::<EpochAmounts>(&*st.online, &key).unwrap(), None);
    }
}

#[test]
fn the_online_table_has_a_composite_partition_key() {
    assert_eq!(
        create_table(&EpochAmounts::SPEC, None),
        "CREATE TABLE IF NOT EXISTS epoch_amounts (\n    user text,\n    account bigint,\n    \
         timestamp timestamp,\n    amount__count_over_1_day_rolling_windows bigint,\n    \
         amount__count_over_2_days_rolling_windows bigint,\n    \
         amount__sum_over_1_day_rolling_windows bigint,\n    \
         amount__sum_over_2_days_rolling_windows bigint,\n    PRIMARY KEY ((user, account))\n);"
    );
}

#[test]
fn a_dataset_joins_on_two_keys_as_of_each_event() {
    let (dir, _) = setup();
    let config = config(dir.path());
    let st = stores(&config);
    let report = execute_dataset(
        &AmountsAtEvents::SPEC,
        &config,
        &st,
        until("2024-01-04"),
        FeatureRows::Run,
        DatasetOutput {
            csv: false,
            parquet: false,
        },
        &|_| {},
    )
    .unwrap();
    let (header, got) = frame_rows(&report.rows);
    assert_eq!(
        header,
        [
            "user",
            "account",
            "timestamp",
            "amount",
            "amount__count_over_1_day_rolling_windows",
            "amount__count_over_2_days_rolling_windows",
            "amount__sum_over_1_day_rolling_windows",
            "amount__sum_over_2_days_rolling_windows",
        ]
    );
    // In the spine's order, each event sees the feature row of its own
    // (user, account) with the greatest day <= its time: a/1 at 01-02 00:00
    // sees the row of 01-02, a/2 and b/1 the empty rows of 01-01 (their
    // first values come on 01-03 and 01-04).
    assert_eq!(
        got,
        rows(&[
            &["a", "1", "2024-01-01 23:59:00", "10", "", "", "", ""],
            &["a", "1", "2024-01-02 00:00:00", "", "1", "1", "10", "10"],
            &["a", "2", "2024-01-02 00:00:00", "5", "", "", "", ""],
            &["b", "1", "2024-01-03 12:00:00", "7", "", "", "", ""],
            &["a", "1", "2024-01-02 00:00:00", "1", "1", "1", "10", "10"],
        ])
    );
}

/// Visits to places; `h3_id` holds the cell of each visit at resolutions 6
/// to 12, one row per resolution.
#[derive(Debug)]
#[source(path = "visits.csv")]
pub struct Visits {
    pub visit: String,
    pub at: NaiveDateTime,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    #[column(h3(lat = lat, lng = lng, resolutions = "6..=12"))]
    pub h3_id: String,
}

/// The same visits, one cell each at resolution 8; visits without a point
/// keep a null cell.
#[derive(Debug)]
#[source(path = "visits.csv", name = "visits_at_8")]
pub struct VisitsAt8 {
    pub visit: String,
    pub at: NaiveDateTime,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    #[column(h3(lat = lat, lng = lng, resolutions = "8"))]
    pub cell: Option<String>,
}

/// Visits per cell over a day, at every resolution.
#[derive(Debug)]
#[feature_set(entity = "h3_id", window = "1d", source = Visits, timestamp = at)]
pub struct VisitsPerCell {
    #[feature(count(visit))]
    pub visits: i64,
}

/// Butterfree's `StackTransform` example: two ids per row, stacked.
#[derive(Debug)]
#[source(path = "pairs.csv")]
pub struct Pairs {
    pub feature: i64,
    pub id_a: i64,
    pub id_b: Option<i64>,
    #[column(stack(id_a, id_b))]
    pub id: i64,
}

/// São Paulo, with Butterfree's expected cells (its H3 test fixtures).
const SAO_PAULO: (f64, f64) = (-23.554190, -46.670723);
const SAO_PAULO_CELLS: [&str; 7] = [
    "86a8100efffffff",
    "87a8100eaffffff",
    "88a8100ea1fffff",
    "89a8100ea0fffff",
    "8aa8100ea0d7fff",
    "8ba8100ea0d5fff",
    "8ca8100ea0d57ff",
];
/// The Brandenburg Gate at resolution 8, a reference value of the H3
/// library's documented examples.
const BERLIN: (f64, f64) = (52.516262, 13.377704);
const BERLIN_AT_8: &str = "881f1d4887fffff";

fn write_visits(dir: &std::path::Path) {
    let text = format!(
        "visit,at,lat,lng\n\
         v1,2024-01-01 10:00:00,{sp_lat},{sp_lng}\n\
         v2,2024-01-01 11:00:00,,{sp_lng}\n\
         v3,2024-01-01 12:00:00,{b_lat},{b_lng}\n\
         v4,2024-01-02 09:00:00,{sp_lat},{sp_lng}\n",
        sp_lat = SAO_PAULO.0,
        sp_lng = SAO_PAULO.1,
        b_lat = BERLIN.0,
        b_lng = BERLIN.1,
    );
    std::fs::write(dir.join("visits.csv"), text).unwrap();
}

#[test]
fn h3_cells_at_each_resolution_are_butterfrees() {
    let dir = tempfile::tempdir().unwrap();
    write_visits(dir.path());
    let df = scan(&Visits::SPEC, &SourceLocations::new(dir.path()))
        .unwrap()
        .collect()
        .unwrap();
    let (header, got) = frame_rows(&df);
    assert_eq!(header, ["visit", "at", "lat", "lng", "h3_id"]);
    let cells = |visit: &str| -> Vec<String> {
        got.iter()
            .filter(|r| r[0] == visit)
            .map(|r| r[4].clone())
            .collect()
    };
    // One row per resolution, in order; v2 has no latitude, so no cell and
    // (`h3_id` being no `Option`) no row.
    assert_eq!(cells("v1"), SAO_PAULO_CELLS);
    assert_eq!(cells("v4"), SAO_PAULO_CELLS);
    assert!(cells("v2").is_empty());
    assert_eq!(cells("v3")[2], BERLIN_AT_8);
    assert_eq!(got.len(), 3 * 7);
    // Rows stay in input order, each repeated once per resolution.
    let visits: Vec<&str> = got.iter().map(|r| r[0].as_str()).collect();
    let expected: Vec<&str> = ["v1", "v3", "v4"].iter().flat_map(|v| [*v; 7]).collect();
    assert_eq!(visits, expected);
}

#[test]
fn a_single_resolution_keeps_every_row_with_a_null_cell_for_no_point() {
    let dir = tempfile::tempdir().unwrap();
    write_visits(dir.path());
    let df = scan(&VisitsAt8::SPEC, &SourceLocations::new(dir.path()))
        .unwrap()
        .collect()
        .unwrap();
    let cells: Vec<String> = frame_rows(&df)
        .1
        .into_iter()
        .map(|r| r[4].clone())
        .collect();
    assert_eq!(
        cells,
        [SAO_PAULO_CELLS[2], "", BERLIN_AT_8, SAO_PAULO_CELLS[2]]
    );
}

#[test]
fn each_visit_counts_once_per_resolution_under_its_cell() {
    let dir = tempfile::tempdir().unwrap();
    write_visits(dir.path());
    let got = run::<VisitsPerCell>(&SourceLocations::new(dir.path()), until("2024-01-03"));
    // Per cell: São Paulo cells have v1 on 01-01 and v4 on 01-02, so 1d
    // windows hold one visit on 01-02 and on 01-03; Berlin's cells have v3
    // on 01-01: one visit on 01-02, none on 01-03.
    let mut expected: Vec<Vec<String>> = Vec::new();
    let row = |cell: &str, day: &str, n: &str| {
        vec![cell.to_string(), format!("{day} 00:00:00"), n.to_string()]
    };
    let mut berlin: Vec<String> = got
        .iter()
        .filter(|r| !SAO_PAULO_CELLS.contains(&r[0].as_str()))
        .map(|r| r[0].clone())
        .collect();
    berlin.dedup();
    assert_eq!(berlin.len(), 7, "one Berlin cell per resolution");
    assert!(berlin.contains(&BERLIN_AT_8.to_string()));
    for cell in SAO_PAULO_CELLS {
        expected.push(row(cell, "2024-01-01", ""));
        expected.push(row(cell, "2024-01-02", "1"));
    }
    for cell in &berlin {
        expected.push(row(cell, "2024-01-01", ""));
        expected.push(row(cell, "2024-01-02", "1"));
        expected.push(row(cell, "2024-01-03", ""));
    }
    expected.sort();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
}

#[test]
fn stacked_ids_give_one_row_per_column_as_butterfrees_example() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pairs.csv"),
        "feature,id_a,id_b\n100,1,2\n120,3,4\n130,5,\n",
    )
    .unwrap();
    let df = scan(&Pairs::SPEC, &SourceLocations::new(dir.path()))
        .unwrap()
        .collect()
        .unwrap();
    // Butterfree's rows for its two input rows; the third row's null `id_b`
    // gives no row, `id` being no `Option`.
    assert_eq!(
        frame_rows(&df).1,
        rows(&[
            &["100", "1", "2", "1"],
            &["100", "1", "2", "2"],
            &["120", "3", "4", "3"],
            &["120", "3", "4", "4"],
            &["130", "5", "", "5"],
        ])
    );
}
