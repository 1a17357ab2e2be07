//! Source pre-processing (`filter`, `replace`, `pivot`, `explode_json`,
//! `forward_fill` in `#[source]`), through declarations. Every expected row
//! is worked out by hand from the few rows written in each test; the pivot
//! rows are those of Butterfree's `pivot` docstring example.

use chrono::NaiveDateTime;
use featurestore_runtime::pipeline::{execute, Stores};
use featurestore_runtime::source::{read, scan, SourceLocations};
use featurestore_runtime::spec::OnBadRows;
use featurestore_runtime::store::online::Value;
use featurestore_runtime::{feature_set, source, DateRange, FeatureSet, Source};
use tests::frame_rows;

/// Orders: only paid ones, with readable statuses.
#[source(
    path = "orders.csv",
    filter = "amount > 0",
    replace(status, {"a": "approved", "r": "refused"}),
    replace(amount, {10: 100, -1: 1}),
)]
pub struct Orders {
    pub id: String,
    pub at: NaiveDateTime,
    pub status: Option<String>,
    pub amount: i64,
}

/// The same orders, the filter written after the replacement it reads.
#[source(
    path = "orders.csv",
    name = "orders",
    replace(status, {"a": "approved"}),
    filter = "status = 'approved'",
)]
pub struct ApprovedOrders {
    pub id: String,
    pub at: NaiveDateTime,
    pub status: Option<String>,
    pub amount: i64,
}

/// Butterfree's pivot example: one row per house and time, a column per
/// amenity.
#[source(
    path = "amenities.csv",
    pivot(
        on = amenity,
        value = first(has),
        keys(id),
        timestamp = ts,
        columns(balcony: Option<bool>, fridge: Option<bool>, oven: Option<bool>, pool: Option<bool>),
    ),
)]
pub struct Amenities {
    pub id: String,
    pub ts: NaiveDateTime,
    pub amenity: String,
    pub has: Option<bool>,
}

/// The same, forward filled.
#[source(
    path = "amenities.csv",
    name = "amenities",
    pivot(
        on = amenity,
        value = first(has),
        keys(id),
        timestamp = ts,
        columns(balcony: Option<bool>, fridge: Option<bool>, oven: Option<bool>, pool: Option<bool>),
        forward_fill,
    ),
)]
pub struct FilledAmenities {
    pub id: String,
    pub ts: NaiveDateTime,
    pub amenity: String,
    pub has: Option<bool>,
}

/// Payments per method: sums, and the last value of a group.
#[source(
    path = "payments.csv",
    pivot(on = method, value = sum(amount), keys(uid), timestamp = at,
          columns(pix: Option<i64>, card: Option<i64>), forward_fill),
)]
pub struct PaymentSums {
    pub uid: String,
    pub at: NaiveDateTime,
    pub method: String,
    pub amount: Option<i64>,
}

#[source(
    path = "payments.csv",
    name = "payments",
    pivot(on = method, value = last(amount), keys(uid), timestamp = at,
          columns(pix: Option<i64>, card: Option<i64>)),
)]
pub struct LastPayments {
    pub uid: String,
    pub at: NaiveDateTime,
    pub method: String,
    pub amount: Option<i64>,
}

/// Events whose details are a JSON object.
#[source(
    path = "events.csv",
    explode_json(payload, columns(a: Option<i32>, b: Option<String>, c: Option<i64>, ok: Option<bool>)),
)]
pub struct Events {
    pub id: String,
    pub at: NaiveDateTime,
    pub payload: Option<String>,
}

/// Sensors, as in Butterfree's `forward_fill` example.
#[source(
    path = "sensors.csv",
    forward_fill(columns(temperature), keys(sensor_type, location), timestamp = ts),
)]
pub struct Sensors {
    pub sensor_type: i64,
    pub ts: NaiveDateTime,
    pub location: String,
    pub temperature: Option<f64>,
}

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn rows_of(spec: &featurestore_runtime::SourceSpec, loc: &SourceLocations) -> Vec<Vec<String>> {
    frame_rows(&scan(spec, loc).unwrap().collect().unwrap()).1
}

fn header_of(spec: &featurestore_runtime::SourceSpec, loc: &SourceLocations) -> Vec<String> {
    frame_rows(&scan(spec, loc).unwrap().collect().unwrap()).0
}

fn rows(r: &[&[&str]]) -> Vec<Vec<String>> {
    r.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

const ORDERS: &str = "id,at,status,amount\n\
    o1,2024-01-01 10:00:00,a,10\n\
    o2,2024-01-01 11:00:00,r,5\n\
    o3,2024-01-01 12:00:00,x,7\n\
    o4,2024-01-01 13:00:00,,3\n\
    o5,2024-01-01 14:00:00,a,0\n\
    o6,2024-01-01 15:00:00,a,-1\n";

#[test]
fn filter_then_replace_in_declaration_order() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "orders.csv", ORDERS);
    let loc = SourceLocations::new(dir.path());
    // o5 and o6 fail `amount > 0` before `-1` could become `1`; `x` is not
    // in the map and a null stays null.
    assert_eq!(
        rows_of(&Orders::SPEC, &loc),
        rows(&[
            &["o1", "2024-01-01 10:00:00", "approved", "100"],
            &["o2", "2024-01-01 11:00:00", "refused", "5"],
            &["o3", "2024-01-01 12:00:00", "x", "7"],
            &["o4", "2024-01-01 13:00:00", "", "3"],
        ])
    );
    // The column keeps its declared type through an `i64` replacement.
    let frame = scan(&Orders::SPEC, &loc).unwrap().collect().unwrap();
    assert_eq!(
        frame.column("amount").unwrap().dtype(),
        &polars::prelude::DataType::Int64
    );
}

#[test]
fn a_filter_after_a_replace_reads_the_replaced_values() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "orders.csv", ORDERS);
    let loc = SourceLocations::new(dir.path());
    assert_eq!(
        rows_of(&ApprovedOrders::SPEC, &loc),
        rows(&[
            &["o1", "2024-01-01 10:00:00", "approved", "10"],
            &["o5", "2024-01-01 14:00:00", "approved", "0"],
            &["o6", "2024-01-01 15:00:00", "approved", "-1"],
        ])
    );
}

const AMENITIES: &str = "id,ts,amenity,has\n\
    1,2024-01-01 00:00:01,fridge,false\n\
    1,2024-01-01 00:00:01,oven,true\n\
    1,2024-01-01 00:00:01,pool,false\n\
    2,2024-01-01 00:00:02,balcony,false\n\
    1,2024-01-01 00:00:03,balcony,\n\
    1,2024-01-01 00:00:04,oven,\n\
    1,2024-01-01 00:00:04,pool,true\n\
    1,2024-01-01 00:00:05,balcony,true\n";

#[test]
fn pivot_makes_a_column_per_value() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "amenities.csv", AMENITIES);
    let loc = SourceLocations::new(dir.path());
    assert_eq!(
        header_of(&Amenities::SPEC, &loc),
        ["id", "ts", "balcony", "fridge", "oven", "pool"]
    );
    // Butterfree's example output, ordered by key then time.
    assert_eq!(
        rows_of(&Amenities::SPEC, &loc),
        rows(&[
            &["1", "2024-01-01 00:00:01", "", "false", "true", "false"],
            &["1", "2024-01-01 00:00:03", "", "", "", ""],
            &["1", "2024-01-01 00:00:04", "", "", "", "true"],
            &["1", "2024-01-01 00:00:05", "true", "", "", ""],
            &["2", "2024-01-01 00:00:02", "false", "", "", ""],
        ])
    );
}

#[test]
fn pivot_with_forward_fill_carries_each_keys_last_value() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "amenities.csv", AMENITIES);
    let loc = SourceLocations::new(dir.path());
    // As Butterfree without a mock value: the explicit null of `oven` at 4
    // is filled too; house 2 never borrows house 1's values.
    assert_eq!(
        rows_of(&FilledAmenities::SPEC, &loc),
        rows(&[
            &["1", "2024-01-01 00:00:01", "", "false", "true", "false"],
            &["1", "2024-01-01 00:00:03", "", "false", "true", "false"],
            &["1", "2024-01-01 00:00:04", "", "false", "true", "true"],
            &["1", "2024-01-01 00:00:05", "true", "false", "true", "true"],
            &["2", "2024-01-01 00:00:02", "false", "", "", ""],
        ])
    );
}

const PAYMENTS: &str = "uid,at,method,amount\n\
    u1,2024-01-01 10:00:00,pix,10\n\
    u1,2024-01-01 10:00:00,pix,5\n\
    u1,2024-01-01 10:00:00,card,\n\
    u1,2024-01-01 11:00:00,card,3\n\
    u1,2024-01-01 11:00:00,boleto,8\n\
    u2,2024-01-01 09:00:00,boleto,1\n";

#[test]
fn pivot_sums_and_ties() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "payments.csv", PAYMENTS);
    let loc = SourceLocations::new(dir.path());
    // The sum of only nulls is null (then filled); a value not declared
    // (`boleto`) makes no column, but its rows keep their key and time.
    assert_eq!(
        rows_of(&PaymentSums::SPEC, &loc),
        rows(&[
            &["u1", "2024-01-01 10:00:00", "15", ""],
            &["u1", "2024-01-01 11:00:00", "15", "3"],
            &["u2", "2024-01-01 09:00:00", "", ""],
        ])
    );
    // Of rows at one time, `last` takes the last in input order.
    assert_eq!(
        rows_of(&LastPayments::SPEC, &loc),
        rows(&[
            &["u1", "2024-01-01 10:00:00", "5", ""],
            &["u1", "2024-01-01 11:00:00", "", "3"],
            &["u2", "2024-01-01 09:00:00", "", ""],
        ])
    );
}

/// A CSV field quoted, its quotes doubled.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn events_csv(payloads: &[&str]) -> String {
    let mut csv = String::from("id,at,payload\n");
    for (i, p) in payloads.iter().enumerate() {
        let field = if p.is_empty() {
            String::new()
        } else {
            quoted(p)
        };
        csv.push_str(&format!("e{},2024-01-01 10:00:0{i},{field}\n", i + 1));
    }
    csv
}

#[test]
fn explode_json_extracts_typed_fields() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "events.csv",
        &events_csv(&[
            r#"{"a": 123, "b": "abc", "c": "123", "ok": true, "extra": [1]}"#,
            r#"{"a": null}"#,
            r#"{"b": 5, "ok": "false"}"#,
            "",
            r#"{"b": {"x": [1, 2]}}"#,
        ]),
    );
    let loc = SourceLocations::new(dir.path());
    assert_eq!(
        header_of(&Events::SPEC, &loc),
        ["id", "at", "payload", "a", "b", "c", "ok"]
    );
    let got: Vec<Vec<String>> = rows_of(&Events::SPEC, &loc)
        .into_iter()
        .map(|r| [&r[..1], &r[3..]].concat())
        .collect();
    // A text field in JSON reads into a number (Spark's cast of
    // `get_json_object`); a number or an object into text is its JSON.
    assert_eq!(
        got,
        rows(&[
            &["e1", "123", "abc", "123", "true"],
            &["e2", "", "", "", ""],
            &["e3", "", "5", "", "false"],
            &["e4", "", "", "", ""],
            &["e5", "", r#"{"x":[1,2]}"#, "", ""],
        ])
    );
}

#[test]
fn malformed_json_follows_on_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "events.csv",
        &events_csv(&[
            r#"{"a": 1}"#,
            "{broken",
            r#"{"a": "x"}"#,
            r#"[1]"#,
            r#"{"a": 4}"#,
        ]),
    );
    let loc = SourceLocations::new(dir.path());
    let err = read(&Events::SPEC, &loc).unwrap_err().to_string();
    assert!(err.contains("row 2"), "{err}");
    assert!(err.contains("column `payload`"), "{err}");
    assert!(err.contains("`{broken` is not JSON"), "{err}");
    assert!(err.contains("3 such rows"), "{err}");

    let loc = SourceLocations::new(dir.path()).with_policy("events", OnBadRows::Skip);
    let extract = read(&Events::SPEC, &loc).unwrap();
    assert_eq!(extract.rejected.len(), 1);
    assert_eq!(extract.rejected[0].rows, 3);
    let frame = extract.frame.collect().unwrap();
    let got: Vec<Vec<String>> = frame_rows(&frame)
        .1
        .into_iter()
        .map(|r| vec![r[0].clone(), r[3].clone()])
        .collect();
    assert_eq!(got, rows(&[&["e1", "1"], &["e5", "4"]]));

    let loc = SourceLocations::new(dir.path()).with_policy("events", OnBadRows::Quarantine);
    let extract = read(&Events::SPEC, &loc).unwrap();
    let file = extract.rejected[0].quarantine.clone().expect("quarantined");
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("field `a`: `\"\"x\"\"` is not a 32-bit integer"),
        "{text}"
    );
    assert!(text.contains("is not a JSON object"), "{text}");
}

#[test]
fn forward_fill_per_key_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    // Butterfree's example, rows shuffled; then a tie at one time (input
    // order decides) and a leading null, which stays null.
    write(
        dir.path(),
        "sensors.csv",
        "sensor_type,ts,location,temperature\n\
         2,2017-09-09 14:00:00,sun,\n\
         1,2017-09-09 12:00:00,shade,18.83018\n\
         1,2017-09-09 12:00:00,sun,\n\
         2,2017-09-09 12:00:00,shade,18.61258\n\
         2,2017-09-09 12:00:00,sun,25.4986\n\
         1,2017-09-09 13:00:00,shade,18.78458\n\
         1,2017-09-09 13:00:00,sun,25.68457\n\
         2,2017-09-09 13:00:00,shade,\n\
         2,2017-09-09 13:00:00,sun,\n\
         1,2017-09-09 14:00:00,shade,17.98115\n\
         1,2017-09-09 14:00:00,sun,24.15754\n\
         2,2017-09-09 14:00:00,shade,18.61258\n\
         3,2017-09-09 12:00:00,roof,\n\
         3,2017-09-09 13:00:00,roof,1.5\n\
         3,2017-09-09 13:00:00,roof,\n",
    );
    let loc = SourceLocations::new(dir.path());
    // Rows keep their input order.
    assert_eq!(
        rows_of(&Sensors::SPEC, &loc),
        rows(&[
            &["2", "2017-09-09 14:00:00", "sun", "25.4986"],
            &["1", "2017-09-09 12:00:00", "shade", "18.83018"],
            &["1", "2017-09-09 12:00:00", "sun", ""],
            &["2", "2017-09-09 12:00:00", "shade", "18.61258"],
            &["2", "2017-09-09 12:00:00", "sun", "25.4986"],
            &["1", "2017-09-09 13:00:00", "shade", "18.78458"],
            &["1", "2017-09-09 13:00:00", "sun", "25.68457"],
            &["2", "2017-09-09 13:00:00", "shade", "18.61258"],
            &["2", "2017-09-09 13:00:00", "sun", "25.4986"],
            &["1", "2017-09-09 14:00:00", "shade", "17.98115"],
            &["1", "2017-09-09 14:00:00", "sun", "24.15754"],
            &["2", "2017-09-09 14:00:00", "shade", "18.61258"],
            &["3", "2017-09-09 12:00:00", "roof", ""],
            &["3", "2017-09-09 13:00:00", "roof", "1.5"],
            &["3", "2017-09-09 13:00:00", "roof", "1.5"],
        ])
    );
}

/// Houses with a pool, over two days: the pivoted, forward-filled rows of
/// `FilledAmenities` feed a windowed feature set.
#[feature_set(entity = "id", window = "2d", source = FilledAmenities, timestamp = ts,
              filter = "pool")]
pub struct PoolHouses {
    /// Rows of the house with a pool.
    #[feature(count(pool))]
    pub pool_rows: i64,
}

#[test]
fn a_preprocessed_source_feeds_a_windowed_feature_set_end_to_end() {
    let (dir, mut config) = tests::temp_config();
    config.base_dir = dir.path().to_path_buf();
    write(
        dir.path(),
        "amenities.csv",
        "id,ts,amenity,has\n\
         1,2024-01-01 08:00:00,pool,true\n\
         1,2024-01-01 09:00:00,oven,true\n\
         1,2024-01-02 08:00:00,oven,false\n\
         2,2024-01-01 10:00:00,pool,false\n\
         2,2024-01-03 10:00:00,pool,true\n",
    );
    let stores = Stores::open(&config).unwrap();
    let range = DateRange {
        start: None,
        end: chrono::NaiveDate::from_ymd_opt(2024, 1, 5),
    };
    execute(&PoolHouses::SPEC, &config, &stores, range, &|_| {}).unwrap();
    // Pivoted and filled, house 1 has a pool at 01-01 08:00, 09:00 and
    // 01-02 08:00; house 2 only at 01-03 10:00. Counts over [T-2d, T), from
    // the first day of the events, rows only where a value changes.
    let historical = stores.historical.read(&PoolHouses::SPEC, None).unwrap();
    let mut got: Vec<Vec<String>> = frame_rows(&historical)
        .1
        .into_iter()
        .map(|r| r[..3].to_vec())
        .collect();
    got.sort();
    assert_eq!(
        got,
        rows(&[
            &["1", "2024-01-01 00:00:00", ""],
            &["1", "2024-01-02 00:00:00", "2"],
            &["1", "2024-01-03 00:00:00", "3"],
            &["1", "2024-01-04 00:00:00", "1"],
            &["1", "2024-01-05 00:00:00", ""],
            &["2", "2024-01-01 00:00:00", ""],
            &["2", "2024-01-04 00:00:00", "1"],
        ])
    );
    let online = stores
        .online
        .get(&PoolHouses::SPEC, &[Value::from("1")])
        .unwrap()
        .expect("house 1 is online");
    assert_eq!(online.values, vec![Value::Null]);
    let online = stores
        .online
        .get(&PoolHouses::SPEC, &[Value::from("2")])
        .unwrap()
        .expect("house 2 is online");
    assert_eq!(online.values, vec![Value::Int(1)]);
    assert_eq!(PoolHouses::SPEC.source.name, FilledAmenities::SPEC.name);
}
