//! Readers, SQL queries and the no-window mode, through declarations. Every
//! expected row below is worked out by hand from the four events in `setup`.

use chrono::NaiveDateTime;
use featurestore_runtime::source::{scan, SourceLocations};
use featurestore_runtime::{compute, feature_set, source, DateRange, FeatureSet, Source};
use polars::prelude::*;
use tests::frame_rows;

#[derive(Debug)]
#[source(path = "clicks.csv")]
pub struct Clicks {
    pub uid: String,
    pub at: NaiveDateTime,
    pub ms: Option<i64>,
}

#[derive(Debug)]
#[source(path = "clicks.parquet", name = "clicks")]
pub struct ClicksParquet {
    pub uid: String,
    pub at: NaiveDateTime,
    pub ms: Option<i64>,
}

#[derive(Debug)]
#[source(path = "clicks.ndjson", name = "clicks")]
pub struct ClicksNdjson {
    pub uid: String,
    pub at: NaiveDateTime,
    pub ms: Option<i64>,
}

#[derive(Debug)]
#[source(path = "users.csv")]
pub struct Users {
    pub uid: String,
    pub country: String,
}

/// Clicks joined with the users' countries.
#[derive(Debug)]
#[source(
    query = "SELECT c.uid, c.at, c.ms, u.country FROM clicks c JOIN users u ON c.uid = u.uid",
    inputs(Clicks, Users)
)]
pub struct ClicksWithCountry {
    pub uid: String,
    pub at: NaiveDateTime,
    pub ms: Option<i64>,
    pub country: String,
}

#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Clicks, timestamp = at)]
pub struct UserClicks {
    #[feature(count(ms), sum(ms), max(ms))]
    pub clicks: i64,
}

#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Clicks, timestamp = at,
              query = "SELECT uid, at, ms * 2 AS ms FROM clicks WHERE ms > 0")]
pub struct DoubledClicks {
    #[feature(count(ms), sum(ms), max(ms))]
    pub clicks: i64,
}

#[derive(Debug)]
#[feature_set(entity = "uid", source = Clicks, timestamp = at)]
pub struct ClicksPerInstant {
    #[feature(count(ms), sum(ms))]
    pub n: i64,
}

#[derive(Debug)]
#[feature_set(entity = "country", window = "1d", source = ClicksWithCountry, timestamp = at)]
pub struct CountryClicks {
    #[feature(count(uid))]
    pub clicks: i64,
}

const EVENTS: [(&str, &str, Option<i64>); 4] = [
    ("u1", "2024-01-01 10:00:00", Some(5)),
    ("u1", "2024-01-01 10:00:00", Some(3)),
    ("u1", "2024-01-02 09:00:00", None),
    ("u2", "2024-01-02 12:00:00", Some(7)),
];

/// Writes the events as CSV, Parquet and NDJSON, and the users as CSV.
fn setup() -> (tempfile::TempDir, SourceLocations) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let mut csv = String::from("uid,at,ms\n");
    let mut ndjson = String::new();
    for (u, at, ms) in EVENTS {
        let ms_text = ms.map_or(String::new(), |m| m.to_string());
        csv.push_str(&format!("{u},{at},{ms_text}\n"));
        let ms_json = ms.map_or("null".to_string(), |m| m.to_string());
        ndjson.push_str(&format!(
            "{{\"uid\":\"{u}\",\"at\":\"{at}\",\"ms\":{ms_json}}}\n"
        ));
    }
    std::fs::write(p.join("clicks.csv"), csv).unwrap();
    std::fs::write(p.join("clicks.ndjson"), ndjson).unwrap();
    std::fs::write(p.join("users.csv"), "uid,country\nu1,BR\nu2,PT\n").unwrap();

    let at: Vec<i64> = EVENTS
        .iter()
        .map(|e| {
            NaiveDateTime::parse_from_str(e.1, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp_micros()
        })
        .collect();
    let mut df = DataFrame::new(
        EVENTS.len(),
        vec![
            Column::new("uid".into(), EVENTS.iter().map(|e| e.0).collect::<Vec<_>>()),
            Int64Chunked::from_vec("at".into(), at)
                .into_datetime(TimeUnit::Microseconds, None)
                .into_column(),
            Column::new("ms".into(), EVENTS.iter().map(|e| e.2).collect::<Vec<_>>()),
        ],
    )
    .unwrap();
    let f = std::fs::File::create(p.join("clicks.parquet")).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
    let locations = SourceLocations::new(p);
    (dir, locations)
}

fn day(d: &str) -> Option<chrono::NaiveDate> {
    Some(chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap())
}

fn run<F: FeatureSet>(locations: &SourceLocations, end: Option<&str>) -> Vec<Vec<String>> {
    let events = scan(F::SPEC.source, locations).expect("source scans");
    let range = DateRange {
        start: None,
        end: end.and_then(day),
    };
    frame_rows(&compute(&F::SPEC, events, range).expect("computes").frame).1
}

fn rows(r: &[&[&str]]) -> Vec<Vec<String>> {
    r.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[test]
fn csv_parquet_and_ndjson_read_the_same_typed_rows() {
    let (_dir, loc) = setup();
    let read = |spec: &featurestore_runtime::SourceSpec| {
        scan(spec, &loc)
            .unwrap()
            .collect()
            .unwrap_or_else(|e| panic!("{}: {e}", spec.name))
    };
    let csv = read(&Clicks::SPEC);
    assert_eq!(
        csv.dtypes(),
        [
            DataType::String,
            DataType::Datetime(TimeUnit::Microseconds, None),
            DataType::Int64
        ]
    );
    assert_eq!(csv.height(), 4);
    assert!(csv.equals_missing(&read(&ClicksParquet::SPEC)), "parquet");
    assert!(csv.equals_missing(&read(&ClicksNdjson::SPEC)), "ndjson");
}

#[test]
fn windowed_count_sum_max_with_null_values() {
    let (_dir, loc) = setup();
    assert_eq!(
        run::<UserClicks>(&loc, Some("2024-01-04")),
        rows(&[
            &["u1", "2024-01-01 00:00:00", "", "", ""],
            &["u1", "2024-01-02 00:00:00", "2", "8", "5"],
            // Window [01-02, 01-04) holds only the event without `ms`: count 0, sum null.
            &["u1", "2024-01-04 00:00:00", "0", "", ""],
            &["u2", "2024-01-01 00:00:00", "", "", ""],
            &["u2", "2024-01-03 00:00:00", "1", "7", "7"],
        ])
    );
}

#[test]
fn a_feature_set_query_shapes_the_events() {
    let (_dir, loc) = setup();
    assert_eq!(
        run::<DoubledClicks>(&loc, Some("2024-01-04")),
        rows(&[
            &["u1", "2024-01-01 00:00:00", "", "", ""],
            &["u1", "2024-01-02 00:00:00", "2", "16", "10"],
            &["u1", "2024-01-04 00:00:00", "", "", ""],
            &["u2", "2024-01-01 00:00:00", "", "", ""],
            &["u2", "2024-01-03 00:00:00", "1", "14", "14"],
        ])
    );
}

#[test]
fn without_windows_rows_group_by_key_and_exact_timestamp() {
    let (_dir, loc) = setup();
    assert_eq!(
        run::<ClicksPerInstant>(&loc, None),
        rows(&[
            &["u1", "2024-01-01 10:00:00", "2", "8"],
            &["u1", "2024-01-02 09:00:00", "0", ""],
            &["u2", "2024-01-02 12:00:00", "1", "7"],
        ])
    );
    assert_eq!(
        ClicksPerInstant::SPEC
            .outputs
            .iter()
            .map(|o| o.name)
            .collect::<Vec<_>>(),
        ["n__count", "n__sum"]
    );
}

#[test]
fn a_derived_source_joins_other_sources_with_sql() {
    let (_dir, loc) = setup();
    assert_eq!(
        run::<CountryClicks>(&loc, Some("2024-01-03")),
        rows(&[
            &["BR", "2024-01-01 00:00:00", ""],
            &["BR", "2024-01-02 00:00:00", "2"],
            &["BR", "2024-01-03 00:00:00", "1"],
            &["PT", "2024-01-01 00:00:00", ""],
            &["PT", "2024-01-03 00:00:00", "1"],
        ])
    );
}

#[test]
fn every_event_after_the_end_date_gives_one_empty_row_per_key() {
    let (_dir, loc) = setup();
    assert_eq!(
        run::<UserClicks>(&loc, Some("2023-12-30")),
        rows(&[
            &["u1", "2023-12-30 00:00:00", "", "", ""],
            &["u2", "2023-12-30 00:00:00", "", "", ""],
        ])
    );
}

#[test]
fn a_missing_column_names_the_file_and_the_columns_it_has() {
    let (dir, loc) = setup();
    std::fs::write(
        dir.path().join("clicks.csv"),
        "uid,when,ms\nu1,2024-01-01 10:00:00,1\n",
    )
    .unwrap();
    let Err(err) = scan(&Clicks::SPEC, &loc) else {
        panic!("a source without its timestamp column scanned")
    };
    let err = err.to_string();
    assert!(err.contains("clicks.csv"), "{err}");
    assert!(err.contains("missing column `at`"), "{err}");
    assert!(err.contains("uid, when, ms"), "{err}");
}

/// The `at` column of `clicks.csv` written with `times`, as microseconds.
fn read_times(times: &[&str]) -> featurestore_runtime::Result<Vec<Option<i64>>> {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("uid,at,ms\n");
    for t in times {
        text.push_str(&format!("u,{t},1\n"));
    }
    std::fs::write(dir.path().join("clicks.csv"), text).unwrap();
    let df = source::read(&Clicks::SPEC, &SourceLocations::new(dir.path()))?
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

fn micros(s: &str, fmt: &str) -> Option<i64> {
    Some(
        NaiveDateTime::parse_from_str(s, fmt)
            .unwrap()
            .and_utc()
            .timestamp_micros(),
    )
}

#[test]
fn text_times_parse_in_each_common_format() {
    let plain = "%Y-%m-%d %H:%M:%S";
    assert_eq!(
        read_times(&["2020-05-10 00:00:01", "2020-05-11 12:30:00"]).unwrap(),
        vec![
            micros("2020-05-10 00:00:01", plain),
            micros("2020-05-11 12:30:00", plain)
        ]
    );
    assert_eq!(
        read_times(&["2020-05-10T00:00:01"]).unwrap(),
        vec![micros("2020-05-10 00:00:01", plain)]
    );
    // 1.25 s and 0.000001 s after midnight.
    let midnight = micros("2020-05-10 00:00:00", plain).unwrap();
    assert_eq!(
        read_times(&["2020-05-10 00:00:01.250", "2020-05-10 00:00:00.000"]).unwrap(),
        vec![Some(midnight + 1_250_000), Some(midnight)]
    );
    assert_eq!(
        read_times(&["2020-05-10T00:00:00.000001"]).unwrap(),
        vec![Some(midnight + 1)]
    );
}

#[test]
fn a_time_in_another_format_than_the_column_is_an_error_not_a_null() {
    let err = read_times(&["2020-05-10 00:00:01", "10/05/2020 00:00:02"]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("clicks"), "{text}");
    assert!(text.contains("10/05/2020"), "{text}");
}

#[test]
fn whole_seconds_then_fractions_in_one_column_read_exactly() {
    // As Spark writes them: a fraction only when it is not zero, here first
    // after the sampled rows' whole seconds.
    let midnight = micros("2020-05-10 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
    assert_eq!(
        read_times(&[
            "2020-05-10 00:00:01",
            "2020-05-10 00:00:02.5",
            "2020-05-10 00:00:03",
            "2020-05-10 23:59:59.999999",
        ])
        .unwrap(),
        vec![
            Some(midnight + 1_000_000),
            Some(midnight + 2_500_000),
            Some(midnight + 3_000_000),
            Some(midnight + 86_400_000_000 - 1),
        ]
    );
    let t = "2020-05-10T00:00:01";
    assert_eq!(
        read_times(&[t, "2020-05-10T00:00:01.000002"]).unwrap(),
        vec![Some(midnight + 1_000_000), Some(midnight + 1_000_002)]
    );
    // Still strict: another format among them is an error naming it.
    let err = read_times(&["2020-05-10 00:00:01", "2020-05-10 00:00:02.5", "10/05/2020"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("10/05/2020"), "{err}");
}

/// The rows of source `Clicks` (declared CSV at `clicks.csv`) read with
/// `locations`, or the error's message.
fn read_clicks(locations: &SourceLocations) -> Result<DataFrame, String> {
    scan(&Clicks::SPEC, locations)
        .and_then(|lf| {
            lf.collect()
                .map_err(|e| featurestore_runtime::Error::Polars {
                    context: "collecting".to_string(),
                    source: e,
                })
        })
        .map_err(|e| e.to_string())
}

#[test]
fn a_csv_source_pointed_at_parquet_reads_it_whatever_the_file_is_called() {
    let (dir, loc) = setup();
    let expected = read_clicks(&loc).expect("the CSV file reads");
    // The same events, written by polars as Parquet, under three names: the
    // extension says Parquet, says nothing, or says CSV (content wins).
    for name in ["clicks.parquet", "clicks-export", "misnamed.csv"] {
        let path = dir.path().join(name);
        if name != "clicks.parquet" {
            std::fs::copy(dir.path().join("clicks.parquet"), &path).unwrap();
        }
        let overridden = loc
            .clone()
            .with_override("clicks", path.display().to_string());
        let read = read_clicks(&overridden).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(read.equals_missing(&expected), "{name}: {read}");
    }
}

#[test]
fn an_overriding_path_s_extension_gives_the_format() {
    let (dir, loc) = setup();
    let expected = read_clicks(&loc).expect("the CSV file reads");
    let path = dir.path().join("clicks.ndjson");
    let read = read_clicks(
        &loc.clone()
            .with_override("clicks", path.display().to_string()),
    )
    .expect("read as NDJSON by its extension");
    assert!(read.equals_missing(&expected), "{read}");

    // Without a telling extension, the configured format is the one read.
    let bare = dir.path().join("clicks-lines");
    std::fs::copy(&path, &bare).unwrap();
    let by_name = loc
        .clone()
        .with_override("clicks", bare.display().to_string());
    let err = read_clicks(&by_name).expect_err("JSON lines read as CSV, the declared format");
    assert!(err.contains("clicks-lines"), "{err}");
    let configured = by_name.with_format("clicks", featurestore_runtime::spec::Format::NdJson);
    let read = read_clicks(&configured).expect("read as the configured NDJSON");
    assert!(read.equals_missing(&expected), "{read}");
}

#[test]
fn parquet_configured_as_csv_is_an_error_saying_it_is_parquet() {
    let (dir, loc) = setup();
    let path = dir.path().join("clicks.parquet");
    let configured = loc
        .with_override("clicks", path.display().to_string())
        .with_format("clicks", featurestore_runtime::spec::Format::Csv);
    let err = read_clicks(&configured).expect_err("the configured format is kept");
    assert!(err.contains("the file is Parquet"), "{err}");
    assert!(err.contains("--source-format clicks=parquet"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(!err.contains("UTF-8"), "{err}");
}
