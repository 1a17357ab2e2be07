//! The aggregations beyond counts and sums, declared with the macros, on
//! small inputs whose every expected row is worked out by hand below:
//! nulls, ties at the same instant, empty windows, events on both sides of
//! midnight.

use chrono::{NaiveDate, NaiveDateTime};
use featurestore_runtime::{compute, feature_set, source, DateRange, FeatureSet};
use polars::prelude::*;
use tests::frame_rows;

#[derive(Debug)]
#[source(path = "payments.csv")]
pub struct Payments {
    pub uid: String,
    pub at: NaiveDateTime,
    pub amount: Option<i64>,
    pub method: Option<String>,
    pub paid_on: Option<NaiveDate>,
}

#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Payments, timestamp = at)]
pub struct PaymentStats {
    #[feature(count_distinct(amount), approx_count_distinct(amount, 0.05))]
    pub amounts: i64,
    #[feature(
        var_pop(amount),
        var_samp(amount),
        stddev_samp(amount),
        percentile(amount, 0.5),
        percentile(amount, 0.25)
    )]
    pub spread: f64,
    #[feature(first(method), last(method), mode(method))]
    pub method: String,
    #[feature(last(paid_on))]
    pub paid: NaiveDate,
    #[feature(most_frequent_set(method))]
    pub methods: Vec<String>,
}

fn at(s: &str) -> i64 {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

fn date(s: &str) -> i32 {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .unwrap()
        .signed_duration_since(NaiveDate::default())
        .num_days() as i32
}

type Payment = (
    &'static str,
    &'static str,
    Option<i64>,
    Option<&'static str>,
    Option<&'static str>,
);

const PAYMENTS: [Payment; 5] = [
    (
        "u1",
        "2024-01-01 00:00:00",
        Some(10),
        Some("pix"),
        Some("2023-12-31"),
    ),
    // The last microsecond of Jan 1: still in Jan 1's bucket.
    (
        "u1",
        "2024-01-01 23:59:59.999999",
        Some(30),
        Some("card"),
        None,
    ),
    // Two events at the same instant, the first of Jan 2.
    (
        "u1",
        "2024-01-02 00:00:00",
        None,
        Some("boleto"),
        Some("2024-01-01"),
    ),
    (
        "u1",
        "2024-01-02 00:00:00",
        Some(10),
        Some("card"),
        Some("2024-01-02"),
    ),
    // An event whose every value is null.
    ("u2", "2024-01-01 12:00:00", None, None, None),
];

fn payments() -> LazyFrame {
    let p = &PAYMENTS;
    let at = Int64Chunked::from_vec("at".into(), p.iter().map(|e| at(e.1)).collect())
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column();
    let paid_on =
        Int32Chunked::from_iter_options("paid_on".into(), p.iter().map(|e| e.4.map(date)))
            .into_date()
            .into_column();
    DataFrame::new(
        p.len(),
        vec![
            Column::new("uid".into(), p.iter().map(|e| e.0).collect::<Vec<_>>()),
            at,
            Column::new("amount".into(), p.iter().map(|e| e.2).collect::<Vec<_>>()),
            Column::new("method".into(), p.iter().map(|e| e.3).collect::<Vec<_>>()),
            paid_on,
        ],
    )
    .unwrap()
    .lazy()
}

#[test]
fn columns_and_types_follow_the_declaration() {
    let spec = &PaymentStats::SPEC;
    let names: Vec<&str> = spec.outputs.iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        [
            "amounts__count_distinct_over_2_days_rolling_windows",
            "amounts__approx_count_distinct_over_2_days_rolling_windows",
            "spread__var_pop_over_2_days_rolling_windows",
            "spread__var_samp_over_2_days_rolling_windows",
            "spread__stddev_samp_over_2_days_rolling_windows",
            "spread__percentile_50_over_2_days_rolling_windows",
            "spread__percentile_25_over_2_days_rolling_windows",
            "method__first_over_2_days_rolling_windows",
            "method__last_over_2_days_rolling_windows",
            "method__mode_over_2_days_rolling_windows",
            "paid__last_over_2_days_rolling_windows",
            "methods__most_frequent_set_over_2_days_rolling_windows",
        ]
    );
    assert_eq!(
        PaymentStats::METHOD__MODE_OVER_2_DAYS_ROLLING_WINDOWS,
        "method__mode_over_2_days_rolling_windows"
    );
    // The typed row holds the declared types.
    let row = PaymentStatsRow {
        uid: "u1".into(),
        timestamp: NaiveDateTime::default(),
        amounts__count_distinct_over_2_days_rolling_windows: Some(2_i64),
        amounts__approx_count_distinct_over_2_days_rolling_windows: Some(2_i64),
        spread__var_pop_over_2_days_rolling_windows: Some(100.0_f64),
        spread__var_samp_over_2_days_rolling_windows: None,
        spread__stddev_samp_over_2_days_rolling_windows: None,
        spread__percentile_50_over_2_days_rolling_windows: None,
        spread__percentile_25_over_2_days_rolling_windows: None,
        method__first_over_2_days_rolling_windows: Some(String::from("pix")),
        method__last_over_2_days_rolling_windows: None,
        method__mode_over_2_days_rolling_windows: None,
        paid__last_over_2_days_rolling_windows: Some(NaiveDate::default()),
        methods__most_frequent_set_over_2_days_rolling_windows: Some(vec![String::from("pix")]),
    };
    assert_eq!(row.uid, "u1");
}

#[test]
fn distinct_counts_variances_percentiles_first_last_mode() {
    let range = DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 1, 5),
    };
    let computed = compute(&PaymentStats::SPEC, payments(), range).expect("computes");
    let (_, rows) = frame_rows(&computed.frame);
    // Columns: uid | timestamp | count_distinct | approx_count_distinct |
    // var_pop | var_samp | stddev_samp | percentile 0.5 | percentile 0.25 |
    // first | last | mode (method) | last (paid_on) | most_frequent_set.
    let expected = [
        // Window [Dec 30, Jan 1): no event.
        "u1 | 2024-01-01 00:00:00 |  |  |  |  |  |  |  |  |  |  |  | ",
        // [Dec 31, Jan 2): 10 (pix) at 00:00 and 30 (card) at 23:59:59.999999.
        // Mean 20, Σ(x − mean)² = 200: var_pop 100, var_samp 200, stddev_samp
        // √200. Percentiles at positions 0.5 and 0.25 of [10, 30]: 20 and 15.
        // Mode: pix and card once each, the smaller wins: card. The most
        // frequent set lists them as they first appear: pix, card. Last
        // paid_on: the later event has none, so null (Spark's `last`).
        "u1 | 2024-01-02 00:00:00 | 2 | 2 | 100.0 | 200.0 | 14.142136 | 20.0 | 15.0 \
         | pix | card | card |  | [pix, card]",
        // [Jan 1, Jan 3): amounts 10, 30, null, 10: 2 distinct; n = 3, Σx = 50,
        // Σx² = 1100, Σ(x − mean)² = 800/3: var_pop 800/9, var_samp 400/3,
        // stddev_samp √(400/3). Sorted [10, 10, 30]: position 1 → 10,
        // position 0.5 → 10. The last instant holds boleto then card, in
        // read order: card is last; card is also the mode (twice), then pix
        // and boleto once each, in order of appearance. Last paid_on: card's,
        // read last at the last instant.
        "u1 | 2024-01-03 00:00:00 | 2 | 2 | 88.888889 | 133.333333 | 11.547005 | 10.0 | 10.0 \
         | pix | card | card | 2024-01-02 | [card, pix, boleto]",
        // [Jan 2, Jan 4): the two events of Jan 2 00:00 only. One amount (10):
        // var_pop 0, the sample statistics of one value are null. First: of
        // boleto and card at the same instant, the first read; mode: a tie,
        // the smaller.
        "u1 | 2024-01-04 00:00:00 | 1 | 1 | 0.0 |  |  | 10.0 | 10.0 \
         | boleto | card | boleto | 2024-01-02 | [boleto, card]",
        // [Jan 3, Jan 5): empty again.
        "u1 | 2024-01-05 00:00:00 |  |  |  |  |  |  |  |  |  |  |  | ",
        "u2 | 2024-01-01 00:00:00 |  |  |  |  |  |  |  |  |  |  |  | ",
        // One event, every value null: no distinct value (0), an empty most
        // frequent set, every other function null. Unchanged on Jan 3, so no
        // row then.
        "u2 | 2024-01-02 00:00:00 | 0 | 0 |  |  |  |  |  |  |  |  |  | []",
        "u2 | 2024-01-04 00:00:00 |  |  |  |  |  |  |  |  |  |  |  | ",
    ];
    let rounded: Vec<String> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| match c.parse::<f64>() {
                    // Floats to 6 decimals: the expected values are rounded by hand.
                    Ok(f) if c.contains('.') && c.len() > 9 => format!("{f:.6}"),
                    _ => c.clone(),
                })
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    assert_eq!(rounded, expected);
}

/// Spark's `max_by` / `min_by`: the method of the largest / smallest amount.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Payments, timestamp = at)]
pub struct MethodByAmount {
    #[feature(max_by(method, amount), min_by(method, amount))]
    pub method: String,
}

#[test]
fn max_by_and_min_by_take_the_value_at_the_extreme_ordering() {
    assert_eq!(
        MethodByAmount::SPEC
            .outputs
            .iter()
            .map(|o| o.name)
            .collect::<Vec<_>>(),
        [
            "method__max_by_over_2_days_rolling_windows",
            "method__min_by_over_2_days_rolling_windows"
        ]
    );
    let range = DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 1, 5),
    };
    let computed = compute(&MethodByAmount::SPEC, payments(), range).expect("computes");
    let (_, rows) = frame_rows(&computed.frame);
    let rows: Vec<String> = rows.iter().map(|r| r.join(" | ")).collect();
    assert_eq!(
        rows,
        [
            // [Dec 30, Jan 1): no event.
            "u1 | 2024-01-01 00:00:00 |  | ",
            // [Dec 31, Jan 2): 10 (pix), 30 (card).
            "u1 | 2024-01-02 00:00:00 | card | pix",
            // [Jan 1, Jan 3): 10 (pix), 30 (card), null (boleto: no ordering,
            // left out), 10 (card). The smallest, 10, twice: Spark keeps the
            // later of equal orderings, card.
            "u1 | 2024-01-03 00:00:00 | card | card",
            // [Jan 2, Jan 4): boleto (left out) and 10 (card): unchanged, so
            // no row. [Jan 3, Jan 5): empty.
            "u1 | 2024-01-05 00:00:00 |  | ",
            // u2's one event has no amount: null throughout.
            "u2 | 2024-01-01 00:00:00 |  | ",
        ]
    );
}

#[test]
fn value_and_list_features_round_trip_through_the_online_store() {
    use featurestore_runtime::store::online::{self, BlockingOnlineStore, MemoryStore, Value};
    let range = DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 1, 4),
    };
    let computed = compute(&PaymentStats::SPEC, payments(), range).expect("computes");
    let store = BlockingOnlineStore::from(MemoryStore::default());
    let records = online::latest_records(&PaymentStats::SPEC, &computed.frame).unwrap();
    let run = online::RunWrite::every_key(online::WriteOrder { as_of: 1, run: 1 });
    store
        .write_latest(&PaymentStats::SPEC, &records, run)
        .unwrap();
    let row = online::get_row::<PaymentStats>(&*store, &[Value::from("u1")])
        .unwrap()
        .expect("u1 has a row");
    // The row of Jan 4 (see the hand-worked rows above).
    assert_eq!(
        row.timestamp,
        NaiveDate::from_ymd_opt(2024, 1, 4)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    );
    assert_eq!(
        row.method__first_over_2_days_rolling_windows.as_deref(),
        Some("boleto")
    );
    assert_eq!(
        row.paid__last_over_2_days_rolling_windows,
        NaiveDate::from_ymd_opt(2024, 1, 2)
    );
    assert_eq!(
        row.methods__most_frequent_set_over_2_days_rolling_windows,
        Some(vec!["boleto".to_string(), "card".to_string()])
    );
    assert_eq!(row.spread__var_samp_over_2_days_rolling_windows, None);
    // The store's frame view rebuilds the list column.
    let frame = online::records_frame(
        &PaymentStats::SPEC,
        &store.scan(&PaymentStats::SPEC).unwrap(),
    )
    .unwrap();
    let (_, rows) = frame_rows(&frame);
    assert_eq!(rows[0].last().map(String::as_str), Some("[boleto, card]"));
}

/// Payments per method, and the big ones: a pivot, and a filter on one
/// feature.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Payments, timestamp = at,
              pivot(method, ["pix", "card"]))]
pub struct PaymentsByMethod {
    #[feature(count(amount), sum(amount))]
    pub paid: i64,
    #[feature(count(amount), filter = "amount > 10")]
    pub big: i64,
}

/// Without windows: one row per key and exact timestamp.
#[derive(Debug)]
#[feature_set(entity = "uid", source = Payments, timestamp = at)]
pub struct PaymentsPerInstant {
    #[feature(count_distinct(method), filter = "amount IS NOT NULL")]
    pub methods: i64,
    #[feature(last(method))]
    pub method: String,
    #[feature(percentile(amount, 0.5))]
    pub amount: f64,
}

fn joined(frame: &DataFrame) -> Vec<String> {
    frame_rows(frame)
        .1
        .into_iter()
        .map(|r| r.join(" | "))
        .collect()
}

#[test]
fn pivot_values_prefix_their_columns() {
    let names: Vec<&str> = PaymentsByMethod::SPEC
        .outputs
        .iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(
        names,
        [
            "pix_paid__count_over_2_days_rolling_windows",
            "pix_paid__sum_over_2_days_rolling_windows",
            "pix_big__count_over_2_days_rolling_windows",
            "card_paid__count_over_2_days_rolling_windows",
            "card_paid__sum_over_2_days_rolling_windows",
            "card_big__count_over_2_days_rolling_windows",
        ]
    );
}

#[test]
fn pivot_and_feature_filter() {
    let range = DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 1, 5),
    };
    let computed = compute(&PaymentsByMethod::SPEC, payments(), range).expect("computes");
    // Columns: uid | timestamp | pix: count, sum, big count | card: count,
    // sum, big count. A window without an event of a method is null under
    // it, counts included (a Spark pivot leaves absent cells null); amounts
    // not above 10 are left out of `big` as nulls, so its count is 0 in a
    // window whose events of the method are all small.
    assert_eq!(
        joined(&computed.frame),
        [
            "u1 | 2024-01-01 00:00:00 |  |  |  |  |  | ",
            // [Dec 31, Jan 2): pix 10; card 30 (above 10).
            "u1 | 2024-01-02 00:00:00 | 1 | 10 | 0 | 1 | 30 | 1",
            // [Jan 1, Jan 3): pix 10; card 30 and 10; boleto left out.
            "u1 | 2024-01-03 00:00:00 | 1 | 10 | 0 | 2 | 40 | 1",
            // [Jan 2, Jan 4): boleto (null amount) and card 10: no pix event.
            "u1 | 2024-01-04 00:00:00 |  |  |  | 1 | 10 | 0",
            "u1 | 2024-01-05 00:00:00 |  |  |  |  |  | ",
            // u2's one event has no method: no window of u2 has an event of
            // either method, so every row equals the first and is dropped.
            "u2 | 2024-01-01 00:00:00 |  |  |  |  |  | ",
        ]
    );
}

#[test]
fn without_windows_rows_are_per_exact_timestamp() {
    let computed =
        compute(&PaymentsPerInstant::SPEC, payments(), DateRange::default()).expect("computes");
    assert_eq!(
        joined(&computed.frame),
        [
            // Each instant alone: distinct methods of payments with an
            // amount, the last method (a tie at one instant: the last read),
            // the median amount.
            "u1 | 2024-01-01 00:00:00 | 1 | pix | 10.0",
            "u1 | 2024-01-01 23:59:59 | 1 | card | 30.0",
            // boleto has no amount: left out of the distinct count.
            "u1 | 2024-01-02 00:00:00 | 1 | card | 10.0",
            "u2 | 2024-01-01 12:00:00 | 0 |  | ",
        ]
    );
}

/// One payment per method in each window: the last one.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Payments, timestamp = at,
              distinct(method, keep = last))]
pub struct LastPaymentPerMethod {
    #[feature(count(amount), sum(amount))]
    pub paid: i64,
}

#[test]
fn distinct_keeps_one_event_per_subset_in_each_window() {
    let range = DateRange {
        start: NaiveDate::from_ymd_opt(2024, 1, 2),
        end: NaiveDate::from_ymd_opt(2024, 1, 4),
    };
    let computed = compute(&LastPaymentPerMethod::SPEC, payments(), range).expect("computes");
    assert_eq!(
        joined(&computed.frame),
        [
            // [Dec 31, Jan 2): pix 10, card 30: distinct methods already.
            "u1 | 2024-01-02 00:00:00 | 2 | 40",
            // [Jan 1, Jan 3): card twice, the last (Jan 2, 10) counts; pix 10;
            // boleto without an amount.
            "u1 | 2024-01-03 00:00:00 | 2 | 20",
            // [Jan 2, Jan 4): boleto (no amount) and card 10.
            "u1 | 2024-01-04 00:00:00 | 1 | 10",
            // One event, its method null (nulls are equal), without an amount.
            "u2 | 2024-01-02 00:00:00 | 0 | ",
            // Its window [Jan 2, Jan 4) no longer holds it.
            "u2 | 2024-01-04 00:00:00 |  | ",
        ]
    );
}

fn double_amounts(lf: LazyFrame) -> PolarsResult<LazyFrame> {
    Ok(lf.with_column(col("amount") * lit(2)))
}

fn add_one(lf: LazyFrame) -> PolarsResult<LazyFrame> {
    Ok(lf.with_column(col("amount") + lit(1)))
}

fn drop_empty_rows(lf: LazyFrame) -> PolarsResult<LazyFrame> {
    Ok(lf.filter(col("amount__sum_over_2_days_rolling_windows").is_not_null()))
}

fn drop_a_column(lf: LazyFrame) -> PolarsResult<LazyFrame> {
    Ok(lf.drop(by_name(["uid"], true, false)))
}

/// Amounts doubled then plus one (in that order), rows without a sum dropped.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Payments, timestamp = at,
              pre_hooks(double_amounts, add_one), post_hooks(drop_empty_rows))]
pub struct HookedPayments {
    #[feature(sum(amount))]
    pub amount: i64,
}

#[derive(Debug)]
#[feature_set(entity = "uid", window = "2d", source = Payments, timestamp = at,
              post_hooks(drop_a_column))]
pub struct BadPostHook {
    #[feature(sum(amount))]
    pub amount: i64,
}

#[test]
fn hooks_run_in_declaration_order() {
    let range = DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 1, 5),
    };
    let computed = compute(&HookedPayments::SPEC, payments(), range).expect("computes");
    assert_eq!(
        joined(&computed.frame),
        [
            // 10 → 21, 30 → 61 (doubled, then plus one; the other order gives 22, 62).
            "u1 | 2024-01-02 00:00:00 | 82",
            // 21 + 61 + 21 (the null amount stays null).
            "u1 | 2024-01-03 00:00:00 | 103",
            "u1 | 2024-01-04 00:00:00 | 21",
            // The rows whose windows are empty or hold only null amounts are
            // dropped by the post-hook.
        ]
    );
    assert_eq!(
        HookedPayments::SPEC
            .pre_hooks
            .iter()
            .map(|h| h.name)
            .collect::<Vec<_>>(),
        ["double_amounts", "add_one"]
    );
    let error = compute(&BadPostHook::SPEC, payments(), range).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`post_hooks` changed the columns"),
        "{error}"
    );
}

fn cents(amount: Expr) -> Expr {
    amount * lit(100)
}

/// Each payment as it is: no aggregation.
#[derive(Debug)]
#[feature_set(entity = "uid", source = Payments, timestamp = at)]
pub struct PaymentRows {
    /// The amount, as a float.
    #[feature(column = amount)]
    pub amount_f: f64,
    #[feature(sql = "amount * 2 + 1")]
    pub doubled: i64,
    #[feature(function = cents, column = amount)]
    pub cents: i64,
    #[feature(column = method)]
    pub how: String,
}

#[test]
fn plain_features_have_one_row_per_event() {
    assert_eq!(
        PaymentRows::SPEC.column_names(),
        ["uid", "timestamp", "amount_f", "doubled", "cents", "how"]
    );
    let computed = compute(&PaymentRows::SPEC, payments(), DateRange::default()).expect("computes");
    assert_eq!(
        joined(&computed.frame),
        [
            "u1 | 2024-01-01 00:00:00 | 10.0 | 21 | 1000 | pix",
            "u1 | 2024-01-01 23:59:59 | 30.0 | 61 | 3000 | card",
            // Two events at one instant: both kept, in input order; nulls stay null.
            "u1 | 2024-01-02 00:00:00 |  |  |  | boleto",
            "u1 | 2024-01-02 00:00:00 | 10.0 | 21 | 1000 | card",
            "u2 | 2024-01-01 12:00:00 |  |  |  | ",
        ]
    );
    // The dates of a run are whole days: Jan 1 holds its last microsecond.
    let jan_1 = NaiveDate::from_ymd_opt(2024, 1, 1);
    let range = DateRange {
        start: jan_1,
        end: jan_1,
    };
    let computed = compute(&PaymentRows::SPEC, payments(), range).expect("computes");
    assert_eq!(computed.days, jan_1.zip(jan_1));
    assert_eq!(computed.frame.height(), 3);
    let row = PaymentRowsRow {
        uid: "u1".into(),
        timestamp: NaiveDateTime::default(),
        amount_f: Some(10.0),
        doubled: Some(21),
        cents: Some(1000),
        how: Some("pix".into()),
    };
    assert_eq!(row.how.as_deref(), Some("pix"));
}

/// Window functions per key over time or rows, and lag/lead: one row per
/// event (Butterfree's `SparkFunctionTransform`).
#[derive(Debug)]
#[feature_set(entity = "uid", source = Payments, timestamp = at)]
pub struct PaymentWindows {
    #[feature(sum(amount), count(amount), over = "1h")]
    pub recent: i64,
    #[feature(avg(amount), max(amount), rows = 2)]
    pub last_two: f64,
    #[feature(lag(amount), lead(amount, 2))]
    pub amount: i64,
}

#[test]
fn window_functions_over_time_and_rows_and_lag_lead() {
    assert_eq!(
        PaymentWindows::SPEC.column_names(),
        [
            "uid",
            "timestamp",
            "recent__sum_over_1_hour_fixed_windows",
            "recent__count_over_1_hour_fixed_windows",
            "last_two__avg_over_2_events_row_windows",
            "last_two__max_over_2_events_row_windows",
            "amount__lag_1",
            "amount__lead_2",
        ]
    );
    let computed =
        compute(&PaymentWindows::SPEC, payments(), DateRange::default()).expect("computes");
    // Events of u1 in time order (the two of Jan 2 00:00 in input order):
    // 10, 30, null, 10. The hour up to an event includes the events at its
    // very time; a row window is the event and the one before it.
    assert_eq!(
        joined(&computed.frame),
        [
            "u1 | 2024-01-01 00:00:00 | 10 | 1 | 10.0 | 10.0 |  | ",
            // Lead 2: the fourth event's 10.
            "u1 | 2024-01-01 23:59:59 | 30 | 1 | 20.0 | 30.0 | 10 | 10",
            // The hour up to Jan 2 00:00 holds 30 (23:59:59.999999), null and 10.
            "u1 | 2024-01-02 00:00:00 | 40 | 2 | 30.0 | 30.0 | 30 | ",
            "u1 | 2024-01-02 00:00:00 | 40 | 2 | 10.0 | 10.0 |  | ",
            // Only a null amount: no sum, a count of 0.
            "u2 | 2024-01-01 12:00:00 |  | 0 |  |  |  | ",
        ]
    );
    // The run's days select rows after the windows saw every event.
    let jan_2 = NaiveDate::from_ymd_opt(2024, 1, 2);
    let range = DateRange {
        start: jan_2,
        end: jan_2,
    };
    let computed = compute(&PaymentWindows::SPEC, payments(), range).expect("computes");
    assert_eq!(
        joined(&computed.frame),
        [
            "u1 | 2024-01-02 00:00:00 | 40 | 2 | 30.0 | 30.0 | 30 | ",
            "u1 | 2024-01-02 00:00:00 | 40 | 2 | 10.0 | 10.0 |  | ",
        ]
    );
}

#[derive(Debug)]
#[source(path = "purchases.csv")]
pub struct Purchases {
    pub uid: String,
    pub at: NaiveDateTime,
    pub amount: Option<f64>,
}

/// Butterfree's `first`/`last` (Spark's `first`/`last`, `ignorenulls =
/// false`): the earliest or latest event's value, null when it has none,
/// events of one instant in read order; and the null-skipping variants.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "1d,2d", source = Purchases, timestamp = at)]
pub struct EdgeOfTheWindow {
    #[feature(
        first(amount),
        last(amount),
        first(amount, ignore_nulls = true),
        last(amount, ignore_nulls = true)
    )]
    pub amount: f64,
}

/// One key: 09:00 `12.00`, 15:30 `30.00`, 15:30 `7.50` (read after it), and
/// 08:00 the next day without an amount.
fn edge_events() -> LazyFrame {
    let times = [
        "2024-03-01 09:00:00",
        "2024-03-01 15:30:00",
        "2024-03-01 15:30:00",
        "2024-03-02 08:00:00",
    ];
    let at = Int64Chunked::from_vec("at".into(), times.iter().map(|t| at(t)).collect())
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column();
    df!(
        "uid" => ["u1"; 4],
        "amount" => [Some(12.0), Some(30.0), Some(7.5), None],
    )
    .unwrap()
    .with_column(at)
    .unwrap()
    .clone()
    .lazy()
}

#[test]
fn first_and_last_take_the_edge_event_even_when_its_value_is_null() {
    assert_eq!(
        &EdgeOfTheWindow::SPEC.column_names()[2..6],
        [
            "amount__first_over_1_day_rolling_windows",
            "amount__first_over_2_days_rolling_windows",
            "amount__last_over_1_day_rolling_windows",
            "amount__last_over_2_days_rolling_windows",
        ]
    );
    assert_eq!(
        &EdgeOfTheWindow::SPEC.column_names()[6..],
        [
            "amount__first_ignore_nulls_over_1_day_rolling_windows",
            "amount__first_ignore_nulls_over_2_days_rolling_windows",
            "amount__last_ignore_nulls_over_1_day_rolling_windows",
            "amount__last_ignore_nulls_over_2_days_rolling_windows",
        ]
    );
    let range = DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 3, 5),
    };
    let computed = compute(&EdgeOfTheWindow::SPEC, edge_events(), range).expect("computes");
    // Columns: first 1d, 2d | last 1d, 2d | first ignoring nulls 1d, 2d |
    // last ignoring nulls 1d, 2d.
    assert_eq!(
        joined(&computed.frame),
        [
            // Mar 1: no event before.
            "u1 | 2024-03-01 00:00:00 |  |  |  |  |  |  |  | ",
            // Both windows hold the first three events: the last is 7.50,
            // read after 30.00 at the same 15:30.
            "u1 | 2024-03-02 00:00:00 | 12.0 | 12.0 | 7.5 | 7.5 | 12.0 | 12.0 | 7.5 | 7.5",
            // The day window holds only the empty amount: first and last
            // null, nothing to take ignoring nulls. The two-day window holds
            // all four: the latest event has no amount, so `last` is null;
            // ignoring nulls, 7.50.
            "u1 | 2024-03-03 00:00:00 |  | 12.0 |  |  |  | 12.0 |  | 7.5",
            // The two-day window holds only the empty amount.
            "u1 | 2024-03-04 00:00:00 |  |  |  |  |  |  |  | ",
        ]
    );
}

#[derive(Debug)]
#[source(path = "tips.csv")]
pub struct Tips {
    pub uid: String,
    pub at: NaiveDateTime,
    pub amount: Option<i64>,
    pub card: Option<bool>,
}

/// Spark's common aggregates, under Spark's names.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "1d", source = Tips, timestamp = at)]
pub struct TipStats {
    #[feature(
        mean(amount),
        stddev(amount),
        variance(amount),
        median(amount),
        percentile_approx(amount, 0.5, 10000),
        product(amount),
        sum_distinct(amount)
    )]
    pub amount: f64,
    #[feature(count_if(card))]
    pub cards: i64,
    /// Spark's `count_if` of an expression: a null amount is not counted.
    #[feature(count_if("amount >= 4"))]
    pub big: i64,
    #[feature(bool_and(card), bool_or(card))]
    pub card: bool,
    #[feature(collect_list(amount), collect_set(amount))]
    pub amounts: Vec<i64>,
}

/// A condition that is a number, not true or false: only the run can tell.
#[derive(Debug)]
#[feature_set(entity = "uid", window = "1d", source = Tips, timestamp = at)]
pub struct NotACondition {
    #[feature(count_if("amount + 1"))]
    pub counted: i64,
}

#[test]
fn a_count_if_condition_that_is_not_boolean_is_refused_at_the_run() {
    let range = DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 5, 4),
    };
    let Err(err) = compute(&NotACondition::SPEC, tips(), range) else {
        panic!("a number is not a condition");
    };
    let err = err.to_string();
    assert!(
        err.contains("the condition \"amount + 1\" of `count_if` is not true or false"),
        "{err}"
    );
}

/// One key: May 1 10:00 (4, card), 12:00 (2, not card), 12:00 (4, card
/// unknown, read after); May 2 09:00 (no amount, card).
fn tips() -> LazyFrame {
    let times = [
        "2024-05-01 10:00:00",
        "2024-05-01 12:00:00",
        "2024-05-01 12:00:00",
        "2024-05-02 09:00:00",
    ];
    let at = Int64Chunked::from_vec("at".into(), times.iter().map(|t| at(t)).collect())
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column();
    df!(
        "uid" => ["u1"; 4],
        "amount" => [Some(4i64), Some(2), Some(4), None],
        "card" => [Some(true), Some(false), None, Some(true)],
    )
    .unwrap()
    .with_column(at)
    .unwrap()
    .clone()
    .lazy()
}

#[test]
fn spark_aggregates_by_their_spark_names() {
    assert_eq!(
        &TipStats::SPEC.column_names()[2..],
        [
            "amount__mean_over_1_day_rolling_windows",
            "amount__stddev_over_1_day_rolling_windows",
            "amount__variance_over_1_day_rolling_windows",
            "amount__median_over_1_day_rolling_windows",
            "amount__percentile_approx_50_over_1_day_rolling_windows",
            "amount__product_over_1_day_rolling_windows",
            "amount__sum_distinct_over_1_day_rolling_windows",
            "cards__count_if_over_1_day_rolling_windows",
            "big__count_if_over_1_day_rolling_windows",
            "card__bool_and_over_1_day_rolling_windows",
            "card__bool_or_over_1_day_rolling_windows",
            "amounts__collect_list_over_1_day_rolling_windows",
            "amounts__collect_set_over_1_day_rolling_windows",
        ]
    );
    let range = DateRange {
        start: None,
        end: NaiveDate::from_ymd_opt(2024, 5, 4),
    };
    let computed = compute(&TipStats::SPEC, tips(), range).expect("computes");
    let rounded: Vec<String> = frame_rows(&computed.frame)
        .1
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| match c.parse::<f64>() {
                    Ok(f) if c.contains('.') && c.len() > 9 => format!("{f:.6}"),
                    _ => c.clone(),
                })
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    // Columns: mean | stddev | variance | median | percentile_approx 0.5 |
    // product | sum_distinct | count_if | count_if (expression) | bool_and | bool_or | collect_list
    // | collect_set.
    assert_eq!(
        rounded,
        [
            "u1 | 2024-05-01 00:00:00 |  |  |  |  |  |  |  |  |  |  |  |  | ",
            // May 1: 4, 2, 4. Mean 10/3; squared deviations 4/9 + 16/9 + 4/9
            // = 8/3, over n − 1: variance 4/3, stddev √(4/3). Sorted 2, 4, 4:
            // the median (position 1) is 4; percentile_approx takes rank
            // ⌈0.5·3⌉ = 2: 4. Product 32; distinct 2 and 4 sum to 6. Cards:
            // true, false, null: one true, not all, some. Two amounts of at
            // least 4. The list in time then read order; the set by first
            // appearance.
            "u1 | 2024-05-02 00:00:00 | 3.333333 | 1.154701 | 1.333333 | 4.0 | 4.0 | 32.0 | 6.0 \
             | 1 | 2 | false | true | [4, 2, 4] | [4, 2]",
            // May 2: no amount, a card: the amount functions are null, the
            // lists empty; no amount of at least 4.
            "u1 | 2024-05-03 00:00:00 |  |  |  |  |  |  |  | 1 | 0 | true | true | [] | []",
            "u1 | 2024-05-04 00:00:00 |  |  |  |  |  |  |  |  |  |  |  |  | ",
        ]
    );
}
