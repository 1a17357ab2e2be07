//! Bad input through the public API: every kind gets an error naming the
//! file, the line and the column, and no store changes; the `on_bad_rows`
//! policies; duplicate and late events. Expected values are worked out by
//! hand from the few rows each test writes.

use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};
use features::UserOrders;
use featurestore_runtime::config::Config;
use featurestore_runtime::pipeline::{self, RunReport, Stores};
use featurestore_runtime::source::{read, Rejected, SourceLocations};
use featurestore_runtime::spec::OnBadRows;
use featurestore_runtime::{feature_set, source, DateRange, FeatureSet, Source};
use polars::prelude::*;
use tests::{frame_rows, run_rows, temp_config};

const HEADER: &str = "order_id,order_timestamp,cpf,chargeback_timestamp\n";

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn range(end: &str) -> DateRange {
    DateRange {
        start: None,
        end: Some(day(end)),
    }
}

/// Both stores, as far as a reader can tell.
fn snapshot(st: &Stores) -> (DataFrame, Vec<featurestore_runtime::store::online::Record>) {
    let mut online = st.online.scan(&UserOrders::SPEC).unwrap();
    online.sort_by_key(|r| r.key[0].to_string());
    (st.historical.read(&UserOrders::SPEC, None).unwrap(), online)
}

/// Stores holding a good run of user_orders on the example's input; then
/// `input` as the source: the run must fail with every one of `needles` in
/// its message (and the file's path), leaving both stores as they were.
fn fails_leaving_stores_untouched(file_name: &str, input: &[u8], needles: &[&str]) -> String {
    let (dir, mut config) = temp_config();
    let st = tests::stores(&config);
    pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        range("2020-07-17"),
        &|_| {},
    )
    .expect("the good run");
    let before = snapshot(&st);
    assert_eq!(before.1.len(), 3);

    let bad = dir.path().join(file_name);
    std::fs::write(&bad, input).unwrap();
    config
        .sources
        .insert("order_events".into(), bad.to_string_lossy().into_owned());
    let err = pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        range("2020-07-17"),
        &|_| {},
    )
    .expect_err("a run on bad input fails")
    .to_string();
    assert!(err.contains(&*bad.to_string_lossy()), "no file in: {err}");
    for needle in needles {
        assert!(err.contains(needle), "expected {needle:?} in: {err}");
    }
    let after = snapshot(&st);
    assert!(
        before.0.equals_missing(&after.0),
        "historical store changed"
    );
    assert_eq!(before.1, after.1, "online store changed");
    err
}

#[test]
fn a_row_with_too_few_fields_is_named_by_its_line() {
    fails_leaving_stores_untouched(
        "short.csv",
        format!("{HEADER}a,2020-05-01 10:00:00,x,\nb,2020-05-02 10:00:00,y\n").as_bytes(),
        &["line 3: 3 field(s), expected 4 as in the header"],
    );
}

#[test]
fn a_row_with_too_many_fields_is_named_by_its_line() {
    fails_leaving_stores_untouched(
        "long.csv",
        format!("{HEADER}a,2020-05-01 10:00:00,x,\nb,2020-05-02 10:00:00,y,,extra\n").as_bytes(),
        &["line 3: 5 field(s), expected 4 as in the header"],
    );
}

#[test]
fn an_unclosed_quote_is_named_by_the_line_it_opens_on() {
    // The quote opened on line 3 swallows the rest of the file into one field.
    fails_leaving_stores_untouched(
        "quote.csv",
        format!(
            "{HEADER}a,2020-05-01 10:00:00,x,\nb,2020-05-02 10:00:00,\"y,\nc,2020-05-03 10:00:00,z,\n"
        )
        .as_bytes(),
        &["line 3: 3 field(s), expected 4", "unclosed quote"],
    );
}

#[test]
fn an_unparsable_timestamp_names_line_column_and_format() {
    fails_leaving_stores_untouched(
        "time.csv",
        format!(
            "{HEADER}a,2020-05-01 10:00:00,x,\nb,2020-05-02 10:00:00,y,\nc,yesterday noon,z,\n"
        )
        .as_bytes(),
        &[
            "line 4: column `order_timestamp`: `yesterday noon` is not a timestamp (YYYY-MM-DD HH:MM:SS",
            "on_bad_rows",
        ],
    );
}

#[test]
fn a_bad_timestamp_in_a_nullable_column_is_not_taken_for_a_null() {
    fails_leaving_stores_untouched(
        "chargeback.csv",
        format!("{HEADER}a,2020-05-01 10:00:00,x,2020-05-03\nb,2020-05-02 10:00:00,y,soon\n")
            .as_bytes(),
        &["line 3: column `chargeback_timestamp`: `soon` is not a timestamp"],
    );
}

#[test]
fn a_null_key_names_line_and_column() {
    fails_leaving_stores_untouched(
        "nullkey.csv",
        format!("{HEADER}a,2020-05-01 10:00:00,x,\nb,2020-05-02 10:00:00,,\n").as_bytes(),
        &["line 3: column `cpf` is empty, expected text (the field is not an `Option`)"],
    );
}

#[test]
fn bytes_that_are_not_utf8_name_line_and_field() {
    let mut input = format!("{HEADER}a,2020-05-01 10:00:00,x,\n").into_bytes();
    input.extend_from_slice(b"b,2020-05-02 10:00:00,\xff\xfe,\n");
    fails_leaving_stores_untouched(
        "latin1.csv",
        &input,
        &["line 3: field 3 is not valid UTF-8 text"],
    );
}

#[test]
fn a_missing_column_lists_the_columns_found() {
    fails_leaving_stores_untouched(
        "columns.csv",
        b"order_id,when,cpf,chargeback_timestamp\na,2020-05-01 10:00:00,x,\n",
        &[
            "missing column `order_timestamp`",
            "order_id, when, cpf, chargeback_timestamp",
        ],
    );
}

#[test]
fn an_empty_file_and_a_header_without_rows_are_refused() {
    fails_leaving_stores_untouched(
        "empty.csv",
        b"",
        &[
            "the file is empty (0 bytes)",
            "order_id, order_timestamp, cpf",
        ],
    );
    // Running on no rows would empty every partition of the range.
    fails_leaving_stores_untouched(
        "header.csv",
        HEADER.as_bytes(),
        &["no rows: the file has no data"],
    );
}

#[test]
fn a_missing_file_and_a_directory_are_named() {
    let (dir, mut config) = temp_config();
    let st = tests::stores(&config);
    // A directory is read as its data files (`many_files.rs`); one with none is named.
    let empty = dir.path().join("empty-export");
    std::fs::create_dir(&empty).unwrap();
    for (path, needle) in [
        (dir.path().join("nowhere.csv"), "no such file"),
        (empty, "holds no data file"),
    ] {
        config
            .sources
            .insert("order_events".into(), path.to_string_lossy().into_owned());
        let err = pipeline::execute(
            &UserOrders::SPEC,
            &config,
            &st,
            range("2020-07-17"),
            &|_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(&*path.to_string_lossy()), "{err}");
        assert!(err.contains(needle), "{err}");
    }
    assert_eq!(
        st.historical
            .read(&UserOrders::SPEC, None)
            .unwrap()
            .height(),
        0
    );
}

/// Clicks with an integer column, in CSV and Parquet.
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

/// The same file, with bad rows written to a quarantine file.
#[derive(Debug)]
#[source(path = "clicks.csv", name = "clicks", on_bad_rows = "quarantine")]
pub struct QuarantinedClicks {
    pub uid: String,
    pub at: NaiveDateTime,
    pub ms: Option<i64>,
}

#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Clicks, timestamp = at)]
pub struct ClickTime {
    #[feature(count(ms), sum(ms))]
    pub ms: i64,
}

const CLICKS: &str = "uid,at,ms\nu1,2024-01-01 10:00:00,5\nu1,2024-01-02 10:00:00,3\n";

fn clicks_config(dir: &Path) -> Config {
    let mut config = Config::defaults(dir);
    config.historical_root = dir.join("historical").to_string_lossy().into_owned();
    config.online_url = format!("redb://{}", dir.join("online.redb").display());
    config
}

#[test]
fn a_value_of_the_wrong_type_names_line_column_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let config = clicks_config(dir.path());
    let st = tests::stores(&config);
    std::fs::write(dir.path().join("clicks.csv"), CLICKS).unwrap();
    let good =
        pipeline::execute(&ClickTime::SPEC, &config, &st, range("2024-01-03"), &|_| {}).unwrap();
    assert_eq!(good.rows.height(), 3);
    let before = st.historical.read(&ClickTime::SPEC, None).unwrap();

    std::fs::write(
        dir.path().join("clicks.csv"),
        format!("{CLICKS}u2,2024-01-02 11:00:00,12ms\n"),
    )
    .unwrap();
    let err = pipeline::execute(&ClickTime::SPEC, &config, &st, range("2024-01-03"), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("clicks.csv"), "{err}");
    assert!(
        err.contains("line 4: column `ms`: `12ms` is not an integer"),
        "{err}"
    );
    let after = st.historical.read(&ClickTime::SPEC, None).unwrap();
    assert!(before.equals_missing(&after));
    assert_eq!(st.online.scan(&ClickTime::SPEC).unwrap().len(), 1);
}

#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = ClicksParquet, timestamp = at)]
pub struct ParquetClickTime {
    #[feature(sum(ms))]
    pub ms: i64,
}

#[test]
fn a_parquet_file_of_another_schema_names_the_columns_that_differ() {
    let dir = tempfile::tempdir().unwrap();
    let config = clicks_config(dir.path());
    let st = tests::stores(&config);
    let write = |mut df: DataFrame| {
        let f = std::fs::File::create(dir.path().join("clicks.parquet")).unwrap();
        ParquetWriter::new(f).finish(&mut df).unwrap();
    };
    let at = Int64Chunked::from_vec("at".into(), vec![1_704_103_200_000_000])
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column();
    write(
        DataFrame::new(
            1,
            vec![
                Column::new("uid".into(), ["u1"]),
                at,
                Column::new("ms".into(), [5i64]),
            ],
        )
        .unwrap(),
    );
    let run = || {
        pipeline::execute(
            &ParquetClickTime::SPEC,
            &config,
            &st,
            range("2024-01-03"),
            &|_| {},
        )
    };
    run().expect("the good file runs");
    let before = st.historical.read(&ParquetClickTime::SPEC, None).unwrap();
    let online_before = st.online.scan(&ParquetClickTime::SPEC).unwrap();
    assert_eq!(before.height(), 2);

    // The producer changed: `ms` is now text, `at` too.
    write(
        df!(
            "uid" => ["u1"],
            "at" => [true],
            "ms" => ["5"],
        )
        .unwrap(),
    );
    let err = run().unwrap_err().to_string();
    assert!(err.contains("clicks.parquet"), "{err}");
    assert!(
        err.contains(
            "the Parquet schema differs from the declaration: column `at` is bool in the file, \
             declared NaiveDateTime; column `ms` is str in the file, declared i64"
        ),
        "{err}"
    );
    assert!(before.equals_missing(&st.historical.read(&ParquetClickTime::SPEC, None).unwrap()));
    assert_eq!(
        st.online.scan(&ParquetClickTime::SPEC).unwrap(),
        online_before
    );
}

#[test]
fn a_write_failure_while_staging_leaves_every_partition_as_it_was() {
    let (_dir, config) = temp_config();
    let st = tests::stores(&config);
    pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        range("2020-07-17"),
        &|_| {},
    )
    .unwrap();
    let before = snapshot(&st);
    // A file where the staging directory goes: every staged write fails, as
    // on a full disk.
    let staging = Path::new(&config.historical_location()).join("cpf/user_orders/_staging");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::write(&staging, "in the way").unwrap();
    let err = pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        range("2020-09-01"),
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("historical store at"), "{err}");
    let after = snapshot(&st);
    assert!(
        before.0.equals_missing(&after.0),
        "historical store changed"
    );
    assert_eq!(before.1, after.1, "online store changed");
    // Once the disk is fixed, the run goes through.
    std::fs::remove_file(&staging).unwrap();
    pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        range("2020-09-01"),
        &|_| {},
    )
    .unwrap();
    // By September every window of every key has emptied: new rows.
    assert!(snapshot(&st).0.height() > before.0.height());
}

const DIRTY: &str = "uid,at,ms\n\
u1,2024-01-01 10:00:00,5\n\
u1,2024-01-02 10:00:00,oops\n\
u2,2024-01-02 12:00:00,7\n\
u3,2024-01-02\n\
u1,2024-01-02 13:00:00,3\n";

const CLEAN: &str = "uid,at,ms\n\
u1,2024-01-01 10:00:00,5\n\
u2,2024-01-02 12:00:00,7\n\
u1,2024-01-02 13:00:00,3\n";

#[test]
fn skip_leaves_bad_rows_out_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clicks.csv"), DIRTY).unwrap();
    std::fs::write(dir.path().join("clean.csv"), CLEAN).unwrap();
    let mut config = clicks_config(dir.path());
    config.on_bad_rows.insert("clicks".into(), OnBadRows::Skip);
    let st = tests::stores(&config);
    let report: RunReport =
        pipeline::execute(&ClickTime::SPEC, &config, &st, range("2024-01-04"), &|_| {}).unwrap();
    assert_eq!(
        report.rejected,
        [Rejected {
            source_name: "clicks".into(),
            location: dir.path().join("clicks.csv").to_string_lossy().into_owned(),
            rows: 2,
            quarantine: None,
        }]
    );
    // Exactly the rows of a run on the good rows alone.
    let clean = Config {
        sources: [(
            "clicks".to_string(),
            dir.path().join("clean.csv").to_string_lossy().into_owned(),
        )]
        .into(),
        ..config.clone()
    };
    let events =
        featurestore_runtime::source::scan(&Clicks::SPEC, &clean.source_locations()).unwrap();
    let expected = featurestore_runtime::compute(&ClickTime::SPEC, events, range("2024-01-04"))
        .unwrap()
        .frame;
    assert_eq!(run_rows(&report.rows), frame_rows(&expected));
    assert_eq!(
        run_rows(&report.rows).1[1],
        ["u1", "2024-01-02 00:00:00", "1", "5"]
    );
}

#[test]
fn quarantine_writes_the_bad_rows_with_their_reasons() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clicks.csv"), DIRTY).unwrap();
    let locations =
        SourceLocations::new(dir.path()).with_quarantine(dir.path().join("q").to_string_lossy());
    assert_eq!(QuarantinedClicks::SPEC.on_bad_rows, OnBadRows::Quarantine);
    let extract = read(&QuarantinedClicks::SPEC, &locations).unwrap();
    assert_eq!(extract.frame.collect().unwrap().height(), 3);
    let [rejected] = &extract.rejected[..] else {
        panic!("{:?}", extract.rejected)
    };
    assert_eq!(rejected.rows, 2);
    let file = rejected.quarantine.clone().expect("a quarantine file");
    assert!(
        Path::new(&file).starts_with(dir.path().join("q/clicks")),
        "{file}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let location = dir.path().join("clicks.csv").to_string_lossy().into_owned();
    assert_eq!(
        text,
        format!(
            "file,place,reason,row\n\
             {location},line 3,column `ms`: `oops` is not an integer,\"u1,2024-01-02 10:00:00,oops\"\n\
             {location},line 5,\"2 field(s), expected 3 as in the header\",\"u3,2024-01-02\"\n"
        )
    );

    // Under the default policy the same file fails: a broken record is
    // found by the first pass, before any value is parsed.
    let err = read(&Clicks::SPEC, &SourceLocations::new(dir.path()))
        .expect_err("fails")
        .to_string();
    assert!(
        err.contains("line 5: 2 field(s), expected 3 as in the header; fix the data"),
        "{err}"
    );
    // Without it, the value error is found, and every bad value counted.
    std::fs::write(
        dir.path().join("clicks.csv"),
        "uid,at,ms\nu1,2024-01-01 10:00:00,x\nu1,2024-01-02 10:00:00,5\nu2,noon,7\n",
    )
    .unwrap();
    let err = read(&Clicks::SPEC, &SourceLocations::new(dir.path()))
        .expect_err("fails")
        .to_string();
    assert!(
        err.contains(
            "line 2: column `ms`: `x` is not an integer (2 bad rows in all; the first is shown)"
        ),
        "{err}"
    );
}

#[test]
fn the_policy_is_set_per_source_in_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("featurestore.toml");
    std::fs::write(&file, "[sources.order_events]\non_bad_rows = \"skip\"\n").unwrap();
    let config = Config::from_file(&file).unwrap();
    assert_eq!(config.on_bad_rows["order_events"], OnBadRows::Skip);
    assert_eq!(
        config
            .source_locations()
            .policy(&features::OrderEvents::SPEC),
        OnBadRows::Skip
    );
    std::fs::write(&file, "[sources.order_events]\non_bad_rows = \"ignore\"\n").unwrap();
    let err = Config::from_file(&file).unwrap_err().to_string();
    assert!(
        err.contains(
            "[sources.order_events] on_bad_rows = \"ignore\": expected one of \"fail\", \"skip\", \"quarantine\""
        ),
        "{err}"
    );
}

#[test]
fn duplicate_events_are_counted_as_they_come_as_spark_does() {
    let (dir, mut config) = temp_config();
    let st = tests::stores(&config);
    let input = dir.path().join("dups.csv");
    // The same order twice, then another one.
    std::fs::write(
        &input,
        format!(
            "{HEADER}a,2020-05-01 10:00:00,x,\na,2020-05-01 10:00:00,x,\nb,2020-05-02 10:00:00,x,\n"
        ),
    )
    .unwrap();
    config
        .sources
        .insert("order_events".into(), input.to_string_lossy().into_owned());
    let report = pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        range("2020-05-03"),
        &|_| {},
    )
    .unwrap();
    assert_eq!(
        run_rows(&report.rows).1,
        [
            ["x", "2020-05-01 00:00:00", "0", "0", "0"],
            ["x", "2020-05-02 00:00:00", "2", "2", "2"],
            ["x", "2020-05-03 00:00:00", "3", "3", "3"],
        ]
    );
}

#[test]
fn events_after_the_end_date_or_in_the_future_are_counted() {
    let (dir, mut config) = temp_config();
    let st = tests::stores(&config);
    let input = dir.path().join("late.csv");
    std::fs::write(
        &input,
        format!(
            "{HEADER}a,2020-05-01 10:00:00,x,\nb,2020-05-04 00:00:00,x,\nc,2020-05-09 10:00:00,y,\nd,2999-01-01 00:00:00,y,\n"
        ),
    )
    .unwrap();
    config
        .sources
        .insert("order_events".into(), input.to_string_lossy().into_owned());
    let report = pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        range("2020-05-03"),
        &|_| {},
    )
    .unwrap();
    // 05-04, 05-09 and 2999 are after 2020-05-03; 2999 is also after now.
    assert_eq!(report.events_after_end, 3);
    assert_eq!(report.events_in_future, 1);
    // They are in no window: x counts only its order of 05-01.
    let rows = run_rows(&report.rows).1;
    assert_eq!(
        rows.last().unwrap(),
        &["y", "2020-05-01 00:00:00", "0", "0", "0"]
    );
    assert!(rows.contains(&vec![
        "x".to_string(),
        "2020-05-02 00:00:00".into(),
        "1".into(),
        "1".into(),
        "1".into()
    ]));
    assert_eq!(rows.len(), 3);
}

#[test]
fn a_second_run_of_a_locked_feature_set_is_refused_with_the_holder() {
    let (_dir, config) = temp_config();
    let st = tests::stores(&config);
    // A lock held by this process is shared with its own runs...
    let held = pipeline::lock(&config, &["user_orders"]).unwrap();
    pipeline::execute(
        &UserOrders::SPEC,
        &config,
        &st,
        range("2020-07-17"),
        &|_| {},
    )
    .unwrap();
    drop(held);
    // ...and the file says who holds it, for the message another process gets.
    let path = Path::new(&config.historical_location()).join("_locks/user_orders.lock");
    let _held = pipeline::lock(&config, &["user_orders"]).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(&format!("pid {}\n", std::process::id())),
        "{text}"
    );
}

mod any_input {
    use featurestore_runtime::source::{read, SourceLocations};
    use featurestore_runtime::spec::OnBadRows;
    use featurestore_runtime::Source;
    use proptest::prelude::*;

    /// Text made of what CSV, numbers and times are made of.
    fn csv_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just(","),
            Just("\n"),
            Just("\r\n"),
            Just("\""),
            Just("u1"),
            Just("7"),
            Just("-3"),
            Just("1e3"),
            Just("2024-01-01 10:00:00"),
            Just("2024-02-30 10:00:00"),
            Just("2024-01-01T10:00"),
            Just(" "),
            Just("é"),
            Just("\u{0}"),
        ];
        (any::<bool>(), prop::collection::vec(piece, 0..40)).prop_map(|(header, pieces)| {
            let body: String = pieces.concat();
            if header {
                format!("uid,at,ms\n{body}")
            } else {
                body
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever the bytes and the policy, a read never panics: it gives
        /// rows with no null in a non-`Option` column, or an error naming
        /// the file. (The same property as the `csv_source` fuzz target.)
        #[test]
        fn any_csv_text_reads_or_fails_naming_the_file(text in csv_text(), policy in 0usize..3) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("clicks.csv"), &text).unwrap();
            let spec = featurestore_runtime::SourceSpec {
                on_bad_rows: OnBadRows::ALL[policy],
                preprocess: featurestore_runtime::spec::Preprocessing::NONE,
                ..super::Clicks::SPEC
            };
            let locations = SourceLocations::new(dir.path())
                .with_quarantine(dir.path().join("q").to_string_lossy());
            match read(&spec, &locations) {
                Ok(extract) => {
                    let df = extract.frame.collect().unwrap();
                    prop_assert!(df.height() > 0);
                    prop_assert_eq!(df.column("uid").unwrap().null_count(), 0);
                    prop_assert_eq!(df.column("at").unwrap().null_count(), 0);
                    if policy == 0 {
                        prop_assert!(extract.rejected.is_empty());
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(message.contains("clicks.csv"), "{}", message);
                }
            }
        }
    }
}

#[test]
fn skipping_a_broken_record_and_a_null_key_keeps_exactly_the_good_rows() {
    use featurestore_runtime::source::{read, SourceLocations};
    use featurestore_runtime::Source;
    // Line 2 has one field (removed before the typed read); line 3 has an
    // empty key and time. Only line 4 fits the declaration.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("clicks.csv"),
        "uid,at,ms\nu1\n,,\nu2,2024-01-01 10:00:00,7\n",
    )
    .unwrap();
    let spec = featurestore_runtime::SourceSpec {
        on_bad_rows: featurestore_runtime::spec::OnBadRows::Skip,
        preprocess: featurestore_runtime::spec::Preprocessing::NONE,
        ..Clicks::SPEC
    };
    let extract = read(&spec, &SourceLocations::new(dir.path())).unwrap();
    assert_eq!(extract.rejected.len(), 1);
    assert_eq!(extract.rejected[0].rows, 2);
    let df = extract.frame.collect().unwrap();
    let uids: Vec<Option<&str>> = df.column("uid").unwrap().str().unwrap().iter().collect();
    assert_eq!(uids, vec![Some("u2")]);
    let ms: Vec<Option<i64>> = df.column("ms").unwrap().i64().unwrap().iter().collect();
    assert_eq!(ms, vec![Some(7)]);
}

#[test]
fn a_quote_left_open_at_the_end_of_the_file_is_an_error_naming_the_file() {
    use featurestore_runtime::source::{read, SourceLocations};
    use featurestore_runtime::Source;
    // The CSV record check accepts this (the open quote runs to the end of
    // the file); polars' reader panics on it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clicks.csv");
    std::fs::write(&file, "uid,at,ms\n,u1,\"").unwrap();
    let err = read(&Clicks::SPEC, &SourceLocations::new(dir.path()))
        .expect_err("an open quote cannot be read")
        .to_string();
    assert!(err.contains(&file.display().to_string()), "{err}");
    // The stray quote is quoted back to the user.
    assert!(err.contains("`\"`"), "{err}");
}

/// Times in other ISO forms than the column's first value: `T`, `Z`, a
/// date alone. The fraction of a second stays optional.
const OTHER_FORMS: &str = "a,2020-05-01 10:00:00,x,\n\
b,2020-05-02T10:00:00,y,\n\
c,2020-05-03 10:00:00Z,x,\n\
d,2020-05-03,x,\n\
e,2020-05-03 11:00:00.5,y,\n";

#[test]
fn times_in_another_iso_form_are_bad_rows_named_by_line_and_column() {
    fails_leaving_stores_untouched(
        "forms.csv",
        format!("{HEADER}{OTHER_FORMS}").as_bytes(),
        &[
            "line 3: column `order_timestamp`: `2020-05-02T10:00:00` is not in the column's form YYYY-MM-DD HH:MM:SS[.fffffffff], the form of its first value (UTC)",
            "(3 bad rows in all; the first is shown)",
            "on_bad_rows",
        ],
    );
}

#[test]
fn times_in_another_iso_form_are_skipped_and_quarantined_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let (dirty, clean) = (dir.path().join("forms.csv"), dir.path().join("clean.csv"));
    std::fs::write(&dirty, format!("{HEADER}{OTHER_FORMS}")).unwrap();
    // The good rows alone: lines 2 and 6.
    std::fs::write(
        &clean,
        format!("{HEADER}a,2020-05-01 10:00:00,x,\ne,2020-05-03 11:00:00.5,y,\n"),
    )
    .unwrap();
    let locations = |path: &Path, policy| {
        let mut config = Config::defaults(dir.path());
        config
            .sources
            .insert("order_events".into(), path.to_string_lossy().into_owned());
        config.on_bad_rows.insert("order_events".into(), policy);
        config
            .source_locations()
            .with_quarantine(dir.path().join("q").to_string_lossy())
    };
    let skipped = read(
        &features::OrderEvents::SPEC,
        &locations(&dirty, OnBadRows::Skip),
    )
    .unwrap();
    assert_eq!(skipped.rejected[0].rows, 3);
    let expected = read(
        &features::OrderEvents::SPEC,
        &locations(&clean, OnBadRows::Fail),
    )
    .unwrap();
    let (got, want) = (
        skipped.frame.collect().unwrap(),
        expected.frame.collect().unwrap(),
    );
    assert!(got.equals_missing(&want), "{got}\n{want}");

    let quarantined = read(
        &features::OrderEvents::SPEC,
        &locations(&dirty, OnBadRows::Quarantine),
    )
    .unwrap();
    let file = quarantined.rejected[0].quarantine.clone().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let places: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(places, ["line 3", "line 4", "line 5"], "{text}");
    assert!(
        text.contains("`2020-05-03` is not in the column's form"),
        "{text}"
    );
}

#[test]
fn a_stray_quote_inside_a_field_is_a_bad_row_named_by_line_and_column() {
    let stray = "a,2020-05-01 10:00:00,x,\nb,2020-05-02 10:00:00,x\"y,\nc,2020-05-03 10:00:00,x,\n";
    fails_leaving_stores_untouched(
        "stray.csv",
        format!("{HEADER}{stray}").as_bytes(),
        &["line 3: column `cpf`: `x\"y` holds a quote in a field that is not quoted; quote the field and double the quote: `\"x\"\"y\"`"],
    );
    // Skipped, it leaves exactly the other rows; a quote quoted and
    // doubled is a character of the key.
    let dir = tempfile::tempdir().unwrap();
    let read_as = |name: &str, rows: &str, policy| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{HEADER}{rows}")).unwrap();
        let mut config = Config::defaults(dir.path());
        config
            .sources
            .insert("order_events".into(), path.to_string_lossy().into_owned());
        config.on_bad_rows.insert("order_events".into(), policy);
        read(&features::OrderEvents::SPEC, &config.source_locations()).unwrap()
    };
    let skipped = read_as("stray.csv", stray, OnBadRows::Skip);
    assert_eq!(skipped.rejected[0].rows, 1);
    let clean = read_as(
        "clean.csv",
        "a,2020-05-01 10:00:00,x,\nc,2020-05-03 10:00:00,x,\n",
        OnBadRows::Fail,
    );
    let (got, want) = (
        skipped.frame.collect().unwrap(),
        clean.frame.collect().unwrap(),
    );
    assert!(got.equals_missing(&want), "{got}\n{want}");
    let quoted = read_as(
        "quoted.csv",
        "b,2020-05-02 10:00:00,\"x\"\"y\",\n",
        OnBadRows::Fail,
    )
    .frame
    .collect()
    .unwrap();
    assert_eq!(
        quoted.column("cpf").unwrap().str().unwrap().get(0),
        Some("x\"y")
    );
}
