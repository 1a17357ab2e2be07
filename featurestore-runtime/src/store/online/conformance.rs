//! The checks every [`OnlineStore`] backend must pass (cargo feature
//! `test-util`), in the manner of `object_store`'s `integration` module.
//!
//! Each case is a public async function taking the store under test and
//! returning `Err` with a description of what broke, never panicking, so a
//! backend's test can run them all and report every failure at once.
//! Each case writes only feature sets of its own (named `conformance_…`),
//! and expects them empty: give it a fresh store, or one in which nothing
//! of this suite was written. [`run_all`] runs every case, each on a fresh
//! store from a factory:
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread")]
//! async fn redis_conforms() {
//!     conformance::run_all(|| async {
//!         Ok(Arc::new(RedisStore::connect(&fresh_database()).await?) as Arc<dyn OnlineStore>)
//!     })
//!     .await
//!     .unwrap();
//! }
//! ```
//!
//! The cases only use the trait's primitives, so they hold for any backend:
//! the order of runs (a write of an equal or later [`WriteOrder`] replaces,
//! whatever the rows' own times; an earlier one never does and is counted; a
//! run that covers every key removes the others), batched reads that keep the order of the
//! keys, refusal of a changed declaration before anything is written,
//! concurrent writers, a large batch, scans, isolation of feature sets, and
//! every kind of [`Value`]. Expected rows are compared in the form the
//! backend says it keeps ([`OnlineStore::stored_form`]: CQL keeps times to
//! the millisecond), and a row it says it refuses must be refused.
//!
//! A backend whose tables are made by a migration rather than by the first
//! write (Cassandra) migrates [`feature_sets`] before the cases run.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::TryStreamExt;

use super::{OnlineStore, OnlineStoreExt, Record, RunWrite, Value, WriteOrder};
use crate::error::{Error, ErrorKind};
use crate::spec::{
    Aggregation, ColumnSpec, DataType, FeatureSetSpec, FeatureSpec, Format, OnBadRows,
    OutputColumn, Preprocessing, SourceKind, SourceSpec, Window,
};

/// A case of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Case {
    /// [`later_run_replaces`]
    LaterRunReplaces,
    /// [`same_run_replaces`]
    SameRunReplaces,
    /// [`earlier_run_never_replaces`]
    EarlierRunNeverReplaces,
    /// [`complete_run_removes_absent_keys`]
    CompleteRunRemovesAbsentKeys,
    /// [`get_many_keeps_order`]
    GetManyKeepsOrder,
    /// [`changed_declaration_is_refused`]
    ChangedDeclarationIsRefused,
    /// [`concurrent_writers_converge`]
    ConcurrentWritersConverge,
    /// [`large_batch_round_trips`]
    LargeBatchRoundTrips,
    /// [`rows_as_values_round_trip`]
    RowsAsValuesRoundTrip,
    /// [`scan_streams_every_row`]
    ScanStreamsEveryRow,
    /// [`feature_sets_are_isolated`]
    FeatureSetsAreIsolated,
    /// [`values_round_trip`]
    ValuesRoundTrip,
    /// [`expired_rows_read_as_missing`]
    ExpiredRowsReadAsMissing,
}

impl Case {
    /// Every case, in the order [`run_all`] runs them.
    pub const ALL: [Case; 13] = [
        Case::LaterRunReplaces,
        Case::SameRunReplaces,
        Case::EarlierRunNeverReplaces,
        Case::CompleteRunRemovesAbsentKeys,
        Case::GetManyKeepsOrder,
        Case::ChangedDeclarationIsRefused,
        Case::ConcurrentWritersConverge,
        Case::LargeBatchRoundTrips,
        Case::RowsAsValuesRoundTrip,
        Case::ScanStreamsEveryRow,
        Case::FeatureSetsAreIsolated,
        Case::ValuesRoundTrip,
        Case::ExpiredRowsReadAsMissing,
    ];

    /// The case's function name.
    pub fn name(self) -> &'static str {
        match self {
            Case::LaterRunReplaces => "later_run_replaces",
            Case::SameRunReplaces => "same_run_replaces",
            Case::EarlierRunNeverReplaces => "earlier_run_never_replaces",
            Case::CompleteRunRemovesAbsentKeys => "complete_run_removes_absent_keys",
            Case::GetManyKeepsOrder => "get_many_keeps_order",
            Case::ChangedDeclarationIsRefused => "changed_declaration_is_refused",
            Case::ConcurrentWritersConverge => "concurrent_writers_converge",
            Case::LargeBatchRoundTrips => "large_batch_round_trips",
            Case::RowsAsValuesRoundTrip => "rows_as_values_round_trip",
            Case::ScanStreamsEveryRow => "scan_streams_every_row",
            Case::FeatureSetsAreIsolated => "feature_sets_are_isolated",
            Case::ValuesRoundTrip => "values_round_trip",
            Case::ExpiredRowsReadAsMissing => "expired_rows_read_as_missing",
        }
    }

    /// Runs the case against `store`.
    pub async fn run(self, store: &dyn OnlineStore) -> Result<(), String> {
        match self {
            Case::LaterRunReplaces => later_run_replaces(store).await,
            Case::SameRunReplaces => same_run_replaces(store).await,
            Case::EarlierRunNeverReplaces => earlier_run_never_replaces(store).await,
            Case::CompleteRunRemovesAbsentKeys => complete_run_removes_absent_keys(store).await,
            Case::GetManyKeepsOrder => get_many_keeps_order(store).await,
            Case::ChangedDeclarationIsRefused => changed_declaration_is_refused(store).await,
            Case::ConcurrentWritersConverge => concurrent_writers_converge(store).await,
            Case::LargeBatchRoundTrips => large_batch_round_trips(store).await,
            Case::RowsAsValuesRoundTrip => rows_as_values_round_trip(store).await,
            Case::ScanStreamsEveryRow => scan_streams_every_row(store).await,
            Case::FeatureSetsAreIsolated => feature_sets_are_isolated(store).await,
            Case::ValuesRoundTrip => values_round_trip(store).await,
            Case::ExpiredRowsReadAsMissing => expired_rows_read_as_missing(store).await,
        }
    }
}

/// Runs every case, each on a fresh store from `fresh`; `Err` lists every
/// case that failed, with what broke.
pub async fn run_all<F, Fut>(mut fresh: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::Result<Arc<dyn OnlineStore>>>,
{
    let mut failed = Vec::new();
    for case in Case::ALL {
        let outcome = match fresh().await {
            Ok(store) => case.run(&*store).await,
            Err(e) => Err(format!("opening a fresh store failed: {}", chain(&e))),
        };
        if let Err(what) = outcome {
            failed.push(format!("{}: {what}", case.name()));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} online store conformance cases failed:\n{}",
            failed.len(),
            Case::ALL.len(),
            failed.join("\n")
        ))
    }
}

// ---------------------------------------------------------------------------
// The declarations the cases write: plain `'static` data, as the macros emit.

const fn column(name: &'static str, dtype: DataType) -> ColumnSpec {
    ColumnSpec {
        name,
        dtype,
        nullable: true,
        description: "",
    }
}

const fn feature(name: &'static str, dtype: DataType) -> FeatureSpec {
    FeatureSpec {
        name,
        column: name,
        aggregations: &[Aggregation::Last],
        dtype,
        description: "",
        plain: None,
        frame: None,
        condition: false,
        filter: None,
        fill_null: None,
    }
}

const fn output(name: &'static str, feature: usize, dtype: DataType) -> OutputColumn {
    OutputColumn {
        name,
        feature,
        aggregation: Aggregation::Last,
        window: None,
        dtype,
        nullable: true,
        pivot: None,
    }
}

const fn feature_set(
    name: &'static str,
    keys: &'static [ColumnSpec],
    features: &'static [FeatureSpec],
    outputs: &'static [OutputColumn],
) -> FeatureSetSpec {
    FeatureSetSpec {
        name,
        description: "A feature set of the online store conformance suite.",
        keys,
        timestamp: "event_time",
        source: &EVENTS,
        filter: None,
        query: None,
        windows: &[],
        slide: Window::DAY,
        ttl: None,
        fill_null: None,
        features,
        outputs,
        pivot: None,
        distinct: None,
        pre_hooks: &[],
        post_hooks: &[],
    }
}

static EVENTS: SourceSpec = SourceSpec {
    name: "conformance_events",
    description: "The events the conformance feature sets are declared over.",
    kind: SourceKind::File {
        path: "conformance_events.csv",
        format: Format::Csv,
    },
    columns: &[
        column("id", DataType::String),
        column("shop", DataType::Int64),
        column("event_time", DataType::Timestamp),
        column("orders", DataType::Int64),
        column("refunds", DataType::Int64),
        column("chargebacks", DataType::Int64),
        column("note", DataType::String),
        column("flag", DataType::Bool),
        column("small", DataType::Int32),
        column("ratio", DataType::Float64),
        column("share", DataType::Float32),
        column("day", DataType::Date),
        column("seen", DataType::Timestamp),
        column("tags", DataType::List(&DataType::String)),
        column("amounts", DataType::List(&DataType::Int64)),
    ],
    on_bad_rows: OnBadRows::Fail,
    time_columns: &[],
    derived: &[],
    preprocess: Preprocessing::NONE,
};

const ID: &[ColumnSpec] = &[column("id", DataType::String)];

const COUNT_FEATURES: &[FeatureSpec] = &[
    feature("orders", DataType::Int64),
    feature("refunds", DataType::Int64),
    feature("chargebacks", DataType::Int64),
];

const COUNTS: &[OutputColumn] = &[
    output("orders__last", 0, DataType::Int64),
    output("refunds__last", 1, DataType::Int64),
    output("chargebacks__last", 2, DataType::Int64),
];

/// Three counts per `id`: the shape most cases write.
const fn counts(name: &'static str) -> FeatureSetSpec {
    feature_set(name, ID, COUNT_FEATURES, COUNTS)
}

static LATER: FeatureSetSpec = counts("conformance_later");
static SAME: FeatureSetSpec = counts("conformance_same");
static EARLIER: FeatureSetSpec = counts("conformance_earlier");
static COMPLETE: FeatureSetSpec = counts("conformance_complete");
static GET_MANY: FeatureSetSpec = counts("conformance_get_many");
static CHANGED: FeatureSetSpec = counts("conformance_changed");
/// [`CHANGED`] declared again with a column fewer.
static CHANGED_FEWER: FeatureSetSpec = feature_set(
    "conformance_changed",
    ID,
    COUNT_FEATURES,
    COUNTS.split_at(2).0,
);
/// [`CHANGED`] declared again with a column renamed.
static CHANGED_RENAMED: FeatureSetSpec = feature_set(
    "conformance_changed",
    ID,
    COUNT_FEATURES,
    &[
        output("orders__last", 0, DataType::Int64),
        output("refunds__last", 1, DataType::Int64),
        output("chargebacks__first", 2, DataType::Int64),
    ],
);
static CONCURRENT: FeatureSetSpec = counts("conformance_concurrent");
static LARGE: FeatureSetSpec = counts("conformance_large");
static ROWS: FeatureSetSpec = counts("conformance_rows");
static SCAN: FeatureSetSpec = counts("conformance_scan");
static ISOLATED: FeatureSetSpec = counts("conformance_isolated");
/// A name that extends [`ISOLATED`]'s: a prefix match must not mix them.
static ISOLATED_EXTENDED: FeatureSetSpec = counts("conformance_isolated_extended");
/// The key of [`ISOLATED`] with other columns.
static ISOLATED_OTHER: FeatureSetSpec = feature_set(
    "conformance_isolated_other",
    ID,
    &[feature("note", DataType::String)],
    &[output("note__last", 0, DataType::String)],
);
/// Counts whose rows expire 30 days after their time.
static TTL: FeatureSetSpec = FeatureSetSpec {
    ttl: Some(Window {
        amount: 30,
        unit: featurestore_core::WindowUnit::Days,
    }),
    ..counts("conformance_ttl")
};
/// A column of every type, under a key of two columns.
static VALUES: FeatureSetSpec = feature_set(
    "conformance_values",
    &[
        column("id", DataType::String),
        column("shop", DataType::Int64),
    ],
    &[
        feature("flag", DataType::Bool),
        feature("small", DataType::Int32),
        feature("orders", DataType::Int64),
        feature("ratio", DataType::Float64),
        feature("share", DataType::Float32),
        feature("note", DataType::String),
        feature("day", DataType::Date),
        feature("seen", DataType::Timestamp),
        feature("tags", DataType::List(&DataType::String)),
        feature("amounts", DataType::List(&DataType::Int64)),
    ],
    &[
        output("flag__last", 0, DataType::Bool),
        output("small__last", 1, DataType::Int32),
        output("orders__last", 2, DataType::Int64),
        output("ratio__last", 3, DataType::Float64),
        output("share__last", 4, DataType::Float32),
        output("note__last", 5, DataType::String),
        output("day__last", 6, DataType::Date),
        output("seen__last", 7, DataType::Timestamp),
        output("tags__last", 8, DataType::List(&DataType::String)),
        output("amounts__last", 9, DataType::List(&DataType::Int64)),
    ],
);

/// Every feature set the cases write, under their own names.
pub fn feature_sets() -> [&'static FeatureSetSpec; 15] {
    [
        &LATER,
        &SAME,
        &EARLIER,
        &COMPLETE,
        &GET_MANY,
        &CHANGED,
        &CONCURRENT,
        &LARGE,
        &ROWS,
        &SCAN,
        &ISOLATED,
        &ISOLATED_EXTENDED,
        &ISOLATED_OTHER,
        &VALUES,
        &TTL,
    ]
}

// ---------------------------------------------------------------------------
// Helpers.

/// `record` as `store` reads it back ([`OnlineStore::stored_form`]).
fn stored(store: &dyn OnlineStore, record: &Record) -> Result<Record, String> {
    store.stored_form(record.clone()).ok_or_else(|| {
        format!(
            "the `{}` backend says it cannot store {record:?}",
            store.backend()
        )
    })
}

/// The stored forms of `records`.
fn stored_all(store: &dyn OnlineStore, records: &[Record]) -> Result<Vec<Record>, String> {
    records.iter().map(|r| stored(store, r)).collect()
}

macro_rules! ensure {
    ($cond:expr, $($what:tt)+) => {
        if !$cond {
            return Err(format!($($what)+));
        }
    };
}

/// An error with its causes, for a failure description.
fn chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn failed(doing: &str) -> impl FnOnce(Error) -> String + '_ {
    move |e| format!("{doing} failed: {}", chain(&e))
}

/// The as-of of the cases' runs: 2020-07-18T00:00:00Z, the end of the
/// chargeback example's end date.
const AS_OF: i64 = 1_595_030_400_000_000;
/// When the cases' runs start: 2026-12-05T00:00:00Z.
const RUN: i64 = 1_796_428_800_000_000;

fn key(id: &str) -> Vec<Value> {
    vec![Value::from(id)]
}

/// A row of a [`counts`] feature set.
fn row(id: &str, timestamp: i64, v: i64) -> Record {
    Record {
        key: key(id),
        timestamp,
        values: vec![Value::Int(v), Value::Int(v), Value::Int(v)],
    }
}

/// Writes `records` in the order of `run`, expecting (written,
/// kept_newer, removed); a backend that counts rows sent rather than kept
/// (see [`OnlineStore::counts_kept_rows`]) must report every record written
/// and none kept.
async fn write(
    store: &dyn OnlineStore,
    spec: &FeatureSetSpec,
    records: &[Record],
    run: RunWrite,
    expected: (usize, usize, usize),
) -> Result<(), String> {
    let doing = format!(
        "write_latest of {} rows to `{}` in {run:?}",
        records.len(),
        spec.name
    );
    let w = store
        .write_latest(spec, records, run)
        .await
        .map_err(failed(&doing))?;
    let got = (w.written, w.kept_newer, w.removed);
    if store.counts_kept_rows() {
        ensure!(
            got == expected,
            "{doing}: (written, kept_newer, removed) = {got:?}, expected {expected:?}"
        );
    } else {
        ensure!(
            (w.written, w.kept_newer) == (records.len(), 0),
            "{doing}: (written, kept_newer) = ({}, {}), expected every row sent",
            w.written,
            w.kept_newer
        );
    }
    Ok(())
}

/// The run of as-of [`AS_OF`] + `days` days, started [`RUN`] + `seconds`
/// seconds: whole seconds, the finest order every backend keeps.
fn order(days: i64, seconds: i64) -> WriteOrder {
    WriteOrder {
        as_of: AS_OF + days * 86_400_000_000,
        run: RUN + seconds * 1_000_000,
    }
}

/// A write of some keys in [`order`]`(days, seconds)`.
fn some(days: i64, seconds: i64) -> RunWrite {
    RunWrite::some_keys(order(days, seconds))
}

/// A write of every key in [`order`]`(days, seconds)`.
fn every(days: i64, seconds: i64) -> RunWrite {
    RunWrite::every_key(order(days, seconds))
}

async fn get(
    store: &dyn OnlineStore,
    spec: &FeatureSetSpec,
    key: &[Value],
) -> Result<Option<Record>, String> {
    store
        .get(spec, key)
        .await
        .map_err(failed(&format!("get of {key:?} in `{}`", spec.name)))
}

async fn expect_row(
    store: &dyn OnlineStore,
    spec: &FeatureSetSpec,
    key: &[Value],
    expected: Option<&Record>,
    why: &str,
) -> Result<(), String> {
    let got = get(store, spec, key).await?;
    let expected = expected.map(|r| stored(store, r)).transpose()?;
    let expected = expected.as_ref();
    ensure!(
        same_row(got.as_ref(), expected),
        "`{}` {key:?}: got {got:?}, expected {expected:?} ({why})",
        spec.name
    );
    Ok(())
}

async fn scan(store: &dyn OnlineStore, spec: &FeatureSetSpec) -> Result<Vec<Record>, String> {
    store
        .scan(spec)
        .try_collect()
        .await
        .map_err(failed(&format!("scan of `{}`", spec.name)))
}

/// Rows by their key's text, failing on a key scanned twice.
fn by_key(rows: Vec<Record>, spec: &FeatureSetSpec) -> Result<BTreeMap<String, Record>, String> {
    let mut out = BTreeMap::new();
    for r in rows {
        let k = format!("{:?}", r.key);
        if let Some(earlier) = out.insert(k.clone(), r) {
            return Err(format!(
                "scan of `{}` returned key {k} twice (once as {earlier:?})",
                spec.name
            ));
        }
    }
    Ok(out)
}

/// Equal values, floats compared by their bits (so `-0.0` is not `0.0`) but
/// any NaN equal to any NaN.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        _ => a == b,
    }
}

fn same_values(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
}

fn same_record(a: &Record, b: &Record) -> bool {
    a.timestamp == b.timestamp && same_values(&a.key, &b.key) && same_values(&a.values, &b.values)
}

fn same_row(a: Option<&Record>, b: Option<&Record>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same_record(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Gives the other futures of a `join` a turn, so concurrent writers
/// interleave between their batches on any executor.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

// ---------------------------------------------------------------------------
// The cases.

/// A later run replaces the stored row, whatever the rows' own times: a run
/// of the same as-of started later (a corrected re-run, whose row for a key
/// may be older than the one it corrects), and a run of a later as-of even
/// if it started earlier; a new key is inserted.
pub async fn later_run_replaces(store: &dyn OnlineStore) -> Result<(), String> {
    let spec = &LATER;
    write(
        store,
        spec,
        &[row("x", 10, 1), row("y", 10, 1)],
        some(0, 0),
        (2, 0, 0),
    )
    .await?;
    write(
        store,
        spec,
        &[row("y", 5, 2), row("z", 1, 2)],
        some(0, 1),
        (2, 0, 0),
    )
    .await?;
    expect_row(store, spec, &key("x"), Some(&row("x", 10, 1)), "untouched").await?;
    expect_row(
        store,
        spec,
        &key("y"),
        Some(&row("y", 5, 2)),
        "a later run of the same as-of replaces, even with an older row",
    )
    .await?;
    expect_row(store, spec, &key("z"), Some(&row("z", 1, 2)), "a new key").await?;
    write(store, spec, &[row("x", 3, 3)], some(1, -3600), (1, 0, 0)).await?;
    expect_row(
        store,
        spec,
        &key("x"),
        Some(&row("x", 3, 3)),
        "a later as-of replaces, even from a run started earlier",
    )
    .await
}

/// A write in the stored row's order replaces it: a retried run
/// converges. (The second write's values are the larger: a backend that
/// keeps one write time per cell, as CQL does, breaks a tie between two
/// different cells of one time by value, so only a retry, which writes the
/// same rows, is the same on every backend.)
pub async fn same_run_replaces(store: &dyn OnlineStore) -> Result<(), String> {
    let spec = &SAME;
    write(
        store,
        spec,
        &[row("x", 10, 1), row("n", -3, 1)],
        some(0, 0),
        (2, 0, 0),
    )
    .await?;
    write(
        store,
        spec,
        &[row("x", 10, 7), row("n", -3, 8)],
        some(0, 0),
        (2, 0, 0),
    )
    .await?;
    expect_row(store, spec, &key("x"), Some(&row("x", 10, 7)), "same order").await?;
    expect_row(store, spec, &key("n"), Some(&row("n", -3, 8)), "same order").await
}

/// A row of an earlier run never replaces the stored one, and is counted
/// in `kept_newer`, whatever the rows' own times: neither a run of the same
/// as-of started earlier nor a run of an earlier as-of started later.
pub async fn earlier_run_never_replaces(store: &dyn OnlineStore) -> Result<(), String> {
    let spec = &EARLIER;
    write(
        store,
        spec,
        &[row("x", 10, 1), row("y", 10, 1)],
        some(0, 10),
        (2, 0, 0),
    )
    .await?;
    // x and y from an earlier start, with newer rows: kept; z new.
    write(
        store,
        spec,
        &[row("x", 20, 2), row("y", 20, 2), row("z", 1, 2)],
        some(0, 9),
        (1, 2, 0),
    )
    .await?;
    for id in ["x", "y"] {
        expect_row(
            store,
            spec,
            &key(id),
            Some(&row(id, 10, 1)),
            "a run of the same as-of started earlier",
        )
        .await?;
    }
    expect_row(store, spec, &key("z"), Some(&row("z", 1, 2)), "a new key").await?;
    write(store, spec, &[row("x", 30, 3)], some(-1, 100), (0, 1, 0)).await?;
    expect_row(
        store,
        spec,
        &key("x"),
        Some(&row("x", 10, 1)),
        "a run of an earlier as-of, started later",
    )
    .await
}

/// A run that covers every key removes the stored keys it has no row for,
/// unless a later run wrote them; a run of an earlier as-of removes
/// nothing, and a run of some keys never removes any.
pub async fn complete_run_removes_absent_keys(store: &dyn OnlineStore) -> Result<(), String> {
    let spec = &COMPLETE;
    write(
        store,
        spec,
        &[row("a", 1, 1), row("b", 1, 1), row("c", 1, 1)],
        some(0, 0),
        (3, 0, 0),
    )
    .await?;
    write(store, spec, &[row("w", 1, 1)], some(2, 0), (1, 0, 0)).await?;
    write(store, spec, &[row("a", 5, 9)], every(1, 0), (1, 0, 2)).await?;
    expect_row(store, spec, &key("a"), Some(&row("a", 5, 9)), "in the run").await?;
    for id in ["b", "c"] {
        expect_row(store, spec, &key(id), None, "covered by the run, not in it").await?;
    }
    expect_row(
        store,
        spec,
        &key("w"),
        Some(&row("w", 1, 1)),
        "written by a later run",
    )
    .await?;
    write(store, spec, &[], every(0, 5), (0, 0, 0)).await?;
    write(store, spec, &[], some(3, 0), (0, 0, 0)).await?;
    let left = by_key(scan(store, spec).await?, spec)?;
    ensure!(
        left.len() == 2,
        "an earlier run of every key, or a later run of some keys, removed rows: {left:?} left"
    );
    write(store, spec, &[], every(3, 0), (0, 0, 2)).await?;
    let left = scan(store, spec).await?;
    ensure!(left.is_empty(), "a later run of no key left rows: {left:?}");
    Ok(())
}

/// `get_many` answers one entry per key, in the order of the keys,
/// duplicates repeated, `None` for a missing key; and nothing for no keys.
pub async fn get_many_keeps_order(store: &dyn OnlineStore) -> Result<(), String> {
    let spec = &GET_MANY;
    let get_many = |keys: Vec<Vec<Value>>| async move {
        store
            .get_many(spec, &keys)
            .await
            .map_err(failed(&format!("get_many of {} keys", keys.len())))
    };
    // Nothing written yet: every key is missing.
    let got = get_many(vec![key("x"), key("y")]).await?;
    ensure!(
        got == [None, None],
        "before any write: got {got:?}, expected [None, None]"
    );
    let got = get_many(Vec::new()).await?;
    ensure!(got.is_empty(), "no keys, before any write: got {got:?}");

    write(
        store,
        spec,
        &[row("x", 10, 1), row("y", 11, 2)],
        some(0, 0),
        (2, 0, 0),
    )
    .await?;
    let got = get_many(vec![key("y"), key("missing"), key("x"), key("y")]).await?;
    let expected = vec![
        Some(stored(store, &row("y", 11, 2))?),
        None,
        Some(stored(store, &row("x", 10, 1))?),
        Some(stored(store, &row("y", 11, 2))?),
    ];
    ensure!(got == expected, "got {got:?}, expected {expected:?}");
    let got = get_many(Vec::new()).await?;
    ensure!(got.is_empty(), "no keys: got {got:?}");

    // A larger batch, every third key missing, in an order unlike any
    // the store keeps.
    let rows: Vec<Record> = (0..600).map(|i| row(&format!("k{i}"), i, i)).collect();
    write(store, spec, &rows, some(0, 1), (600, 0, 0)).await?;
    let wanted: Vec<i64> = (0..900).map(|i| (i * 7919) % 900).collect();
    let got = get_many(wanted.iter().map(|i| key(&format!("k{i}"))).collect()).await?;
    ensure!(
        got.len() == wanted.len(),
        "{} keys: got {} rows",
        wanted.len(),
        got.len()
    );
    for (i, (w, g)) in wanted.iter().zip(&got).enumerate() {
        let expected = (*w < 600)
            .then(|| stored(store, &row(&format!("k{w}"), *w, *w)))
            .transpose()?;
        ensure!(
            g.as_ref() == expected.as_ref(),
            "entry {i} (key k{w}): got {g:?}, expected {expected:?}"
        );
    }
    Ok(())
}

/// A feature set declared again with other columns is refused by `check`
/// and by `write_latest` with [`ErrorKind::Conflict`], before anything is
/// written; the unchanged declaration is accepted.
pub async fn changed_declaration_is_refused(store: &dyn OnlineStore) -> Result<(), String> {
    let spec = &CHANGED;
    store
        .check(spec)
        .await
        .map_err(failed("check of a feature set never written"))?;
    write(
        store,
        spec,
        &[row("x", 1, 1), row("y", 1, 1)],
        some(0, 0),
        (2, 0, 0),
    )
    .await?;
    store.check(spec).await.map_err(failed(
        "check of the declaration the table was written with",
    ))?;
    let before = by_key(scan(store, spec).await?, spec)?;
    for (changed, how) in [
        (&CHANGED_FEWER, "a column fewer"),
        (&CHANGED_RENAMED, "a column renamed"),
    ] {
        match store.check(changed).await {
            Ok(()) => return Err(format!("check accepted the declaration with {how}")),
            Err(e) => ensure!(
                e.kind() == ErrorKind::Conflict,
                "check of the declaration with {how}: kind {:?}, expected Conflict ({})",
                e.kind(),
                chain(&e)
            ),
        }
        let record = |id: &str| Record {
            key: key(id),
            timestamp: 2,
            values: vec![Value::Int(9); changed.outputs.len()],
        };
        match store
            .write_latest(changed, &[record("x"), record("new")], every(1, 0))
            .await
        {
            Ok(w) => {
                return Err(format!(
                    "write_latest under the declaration with {how} was accepted: {w:?}"
                ))
            }
            Err(e) => ensure!(
                e.kind() == ErrorKind::Conflict,
                "write_latest under the declaration with {how}: kind {:?}, expected Conflict ({})",
                e.kind(),
                chain(&e)
            ),
        }
    }
    let after = by_key(scan(store, spec).await?, spec)?;
    ensure!(
        after == before,
        "refused writes changed the stored rows: {before:?} became {after:?}"
    );
    expect_row(
        store,
        spec,
        &key("x"),
        Some(&row("x", 1, 1)),
        "refused writes",
    )
    .await?;
    expect_row(store, spec, &key("new"), None, "refused writes").await
}

/// Two writers upserting interleaved batches of the same keys, each batch
/// in another run's order, leave the row of the latest run of every key;
/// each writer's rows are all counted, written or kept.
pub async fn concurrent_writers_converge(store: &dyn OnlineStore) -> Result<(), String> {
    const KEYS: i64 = 50;
    const ROUNDS: i64 = 20;
    let spec = &CONCURRENT;
    // One schedule counts up through even run starts, the other down through
    // odd ones from the latest, so a store that lets an earlier write land
    // after a later one ends with the wrong row. Odd keys swap schedules, so
    // each writer owns the latest row of half the keys.
    let start = |schedule: i64, round: i64| match schedule {
        0 => 2 * round,
        _ => 2 * (ROUNDS - 1 - round) + 1,
    };
    let writer = |w: i64| async move {
        let mut counted = 0;
        for round in 0..ROUNDS {
            for parity in 0..2 {
                let s = start(w ^ parity, round);
                let batch: Vec<Record> = (0..KEYS)
                    .filter(|k| k % 2 == parity)
                    .map(|k| Record {
                        key: key(&format!("k{k}")),
                        timestamp: s,
                        values: vec![Value::Int(w), Value::Int(round), Value::Int(s)],
                    })
                    .collect();
                let done = store
                    .write_latest(spec, &batch, some(0, s))
                    .await
                    .map_err(failed(&format!("writer {w}, round {round}")))?;
                counted += done.written + done.kept_newer;
                YieldNow(false).await;
            }
        }
        ensure!(
            counted == (KEYS * ROUNDS) as usize,
            "writer {w}: {counted} rows counted as written or kept, of {}",
            KEYS * ROUNDS
        );
        Ok::<(), String>(())
    };
    let (a, b) = futures::join!(writer(0), writer(1));
    a?;
    b?;
    let keys: Vec<Vec<Value>> = (0..KEYS).map(|k| key(&format!("k{k}"))).collect();
    let got = store
        .get_many(spec, &keys)
        .await
        .map_err(failed("get_many after the writers"))?;
    ensure!(
        got.len() == keys.len(),
        "{} keys: got {} rows",
        keys.len(),
        got.len()
    );
    let newest = 2 * ROUNDS - 1;
    for (k, g) in got.iter().enumerate() {
        let winner = 1 ^ (k as i64 % 2);
        let expected = stored(
            store,
            &Record {
                key: key(&format!("k{k}")),
                timestamp: newest,
                values: vec![Value::Int(winner), Value::Int(0), Value::Int(newest)],
            },
        )?;
        ensure!(
            g.as_ref() == Some(&expected),
            "key k{k}: got {g:?}, expected writer {winner}'s first row {expected:?}"
        );
    }
    Ok(())
}

/// One batch of 100,000 rows is written whole and reads back whole.
pub async fn large_batch_round_trips(store: &dyn OnlineStore) -> Result<(), String> {
    const ROWS: i64 = 100_000;
    let spec = &LARGE;
    let rows: Vec<Record> = (0..ROWS).map(numbered).collect();
    write(store, spec, &rows, some(0, 0), (ROWS as usize, 0, 0)).await?;
    expect_numbered(
        store,
        spec,
        ROWS,
        "get_many of every key of the large batch",
    )
    .await?;
    let scanned = scan(store, spec).await?.len();
    ensure!(
        scanned == ROWS as usize,
        "scan returned {scanned} rows of {ROWS}"
    );
    Ok(())
}

/// Rows handed over as their values ([`OnlineStore::write_latest_rows`],
/// as a run hands over its latest rows), over more than one piece of rows
/// ([`super::value_rows`]), read back as their records.
pub async fn rows_as_values_round_trip(store: &dyn OnlineStore) -> Result<(), String> {
    use polars::prelude::*;
    const ROWS_WRITTEN: i64 = 2 * super::record::PIECE as i64 + 1_000;
    let spec = &ROWS;
    let mut columns = vec![
        Column::new(
            spec.keys[0].name.into(),
            (0..ROWS_WRITTEN)
                .map(|i| format!("key-{i:06}"))
                .collect::<Vec<_>>(),
        ),
        Int64Chunked::from_vec(
            crate::spec::TIMESTAMP_COLUMN.into(),
            (0..ROWS_WRITTEN).collect(),
        )
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column(),
    ];
    for (o, sign) in spec.outputs.iter().zip([1, -1, 3]) {
        columns.push(Column::new(
            o.name.into(),
            (0..ROWS_WRITTEN).map(|i| i * sign).collect::<Vec<_>>(),
        ));
    }
    let frame = DataFrame::new(ROWS_WRITTEN as usize, columns)
        .map_err(|e| format!("making the frame: {e}"))?;
    let rows = super::value_rows(spec, &frame).map_err(failed("value_rows of the frame"))?;
    let doing = format!("write_latest_rows of {ROWS_WRITTEN} rows");
    let w = store
        .write_latest_rows(spec, rows, some(0, 0))
        .await
        .map_err(failed(&doing))?;
    ensure!(
        (w.written, w.kept_newer, w.removed) == (ROWS_WRITTEN as usize, 0, 0),
        "{doing}: {w:?}, expected every row written"
    );
    expect_numbered(
        store,
        spec,
        ROWS_WRITTEN,
        "get_many of every key written as values",
    )
    .await
}

/// Row `i` of the large batches.
fn numbered(i: i64) -> Record {
    Record {
        key: key(&format!("key-{i:06}")),
        timestamp: i,
        values: vec![Value::Int(i), Value::Int(-i), Value::Int(i * 3)],
    }
}

/// Every row [`numbered`] `0..rows` reads back as stored, its keys looked
/// up in one `get_many`, last first.
async fn expect_numbered(
    store: &dyn OnlineStore,
    spec: &FeatureSetSpec,
    rows: i64,
    doing: &str,
) -> Result<(), String> {
    let keys: Vec<Vec<Value>> = (0..rows).rev().map(|i| numbered(i).key).collect();
    let got = store.get_many(spec, &keys).await.map_err(failed(doing))?;
    ensure!(
        got.len() == keys.len(),
        "{rows} keys: got {} rows",
        got.len()
    );
    for (g, i) in got.iter().zip((0..rows).rev()) {
        let expected = stored(store, &numbered(i))?;
        ensure!(
            g.as_ref() == Some(&expected),
            "key-{i:06}: got {g:?}, expected {expected:?}"
        );
    }
    Ok(())
}

/// `scan` yields every stored row once, as last written, and nothing for a
/// feature set never written.
pub async fn scan_streams_every_row(store: &dyn OnlineStore) -> Result<(), String> {
    let spec = &SCAN;
    let empty = scan(store, spec).await?;
    ensure!(empty.is_empty(), "scan before any write returned {empty:?}");
    let first: Vec<Record> = (0..1000).map(|i| row(&format!("k{i}"), 1, i)).collect();
    write(store, spec, &first, some(0, 0), (1000, 0, 0)).await?;
    // Every tenth key rewritten, and some new ones.
    let second: Vec<Record> = (0..1000)
        .step_by(10)
        .chain(1000..1050)
        .map(|i| row(&format!("k{i}"), 2, -i))
        .collect();
    write(store, spec, &second, some(0, 1), (second.len(), 0, 0)).await?;
    let expected: BTreeMap<String, Record> = (0..1050)
        .map(|i| {
            let r = if i % 10 == 0 || i >= 1000 {
                row(&format!("k{i}"), 2, -i)
            } else {
                row(&format!("k{i}"), 1, i)
            };
            stored(store, &r).map(|r| (format!("{:?}", r.key), r))
        })
        .collect::<Result<_, String>>()?;
    let got = by_key(scan(store, spec).await?, spec)?;
    if got != expected {
        let missing: Vec<&String> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
        let wrong: Vec<&Record> = got
            .iter()
            .filter(|(k, r)| expected.get(*k) != Some(r))
            .map(|(_, r)| r)
            .collect();
        return Err(format!(
            "scan returned {} rows of {}; missing keys {missing:?}; unexpected rows {wrong:?}",
            got.len(),
            expected.len()
        ));
    }
    Ok(())
}

/// Rows of one feature set are never seen through another: not through the
/// same key, not through a name that extends it, not through a feature set
/// of other columns; a declaration checked is only its own.
pub async fn feature_sets_are_isolated(store: &dyn OnlineStore) -> Result<(), String> {
    let note = |id: &str, ts: i64, text: &str| Record {
        key: key(id),
        timestamp: ts,
        values: vec![Value::from(text)],
    };
    write(store, &ISOLATED, &[row("x", 10, 1)], some(0, 10), (1, 0, 0)).await?;
    // Of an earlier run than the row of the other feature set, and covering
    // every key: must still be written, and remove nothing of the other.
    write(
        store,
        &ISOLATED_EXTENDED,
        &[row("x", 5, 2), row("y", 5, 2)],
        every(0, 5),
        (2, 0, 0),
    )
    .await?;
    write(
        store,
        &ISOLATED_OTHER,
        &[note("x", 1, "other")],
        every(0, 11),
        (1, 0, 0),
    )
    .await?;
    expect_row(
        store,
        &ISOLATED,
        &key("x"),
        Some(&row("x", 10, 1)),
        "its own row",
    )
    .await?;
    expect_row(store, &ISOLATED, &key("y"), None, "written to another set").await?;
    expect_row(
        store,
        &ISOLATED_EXTENDED,
        &key("x"),
        Some(&row("x", 5, 2)),
        "its own row",
    )
    .await?;
    expect_row(
        store,
        &ISOLATED_OTHER,
        &key("x"),
        Some(&note("x", 1, "other")),
        "its own row",
    )
    .await?;
    for (spec, n) in [
        (&ISOLATED, 1),
        (&ISOLATED_EXTENDED, 2),
        (&ISOLATED_OTHER, 1),
    ] {
        let rows = scan(store, spec).await?;
        ensure!(
            rows.len() == n,
            "scan of `{}` returned {} rows, expected its own {n}: {rows:?}",
            spec.name,
            rows.len()
        );
    }
    for spec in [&ISOLATED, &ISOLATED_EXTENDED, &ISOLATED_OTHER] {
        store.check(spec).await.map_err(failed(&format!(
            "check of `{}` beside feature sets of other columns",
            spec.name
        )))?;
    }
    Ok(())
}

/// Every kind of [`Value`] reads back as written, in keys and in values:
/// nulls, booleans, integers at their limits, floats with `-0.0`, NaN,
/// infinities and subnormals, strings with any unicode, dates and
/// timestamps far from the epoch, lists (empty, with nulls).
pub async fn values_round_trip(store: &dyn OnlineStore) -> Result<(), String> {
    use Value::{Bool, Date, Float, Int, List, Null, Str, Timestamp};
    let spec = &VALUES;
    let s = |t: &str| Str(t.to_string());
    let all = vec![
        Record {
            key: vec![s("plain"), Int(1)],
            timestamp: 1_600_000_000_000_000,
            values: vec![
                Bool(true),
                Int(42),
                Int(7),
                Float(0.1 + 0.2),
                Float(0.5),
                s("hello"),
                Date(18_000),
                Timestamp(1_600_000_000_123_456),
                List(vec![s("a"), s("b")]),
                List(vec![Int(1), Int(2)]),
            ],
        },
        Record {
            key: vec![s("ünïcödé ✓ 𝄞 日本語"), Int(-1)],
            timestamp: -62_135_596_800_000_000,
            values: vec![
                Bool(false),
                Int(i32::MIN.into()),
                Int(i64::MIN),
                Float(-0.0),
                Float(-0.0),
                s("line\nbreak\t\"quoted\" \\ 🦀 \u{0}"),
                Date(-719_162),
                Timestamp(-62_135_596_800_000_000),
                List(vec![]),
                List(vec![]),
            ],
        },
        Record {
            key: vec![s(""), Int(i64::MIN)],
            timestamp: 253_402_300_799_999_999,
            values: vec![
                Null,
                Int(i32::MAX.into()),
                Int(i64::MAX),
                Float(f64::NAN),
                Float(f64::from(f32::NAN)),
                s(""),
                Date(2_932_896),
                Timestamp(253_402_300_799_999_999),
                List(vec![s(""), Null, s("ü")]),
                List(vec![Int(i64::MIN), Null, Int(i64::MAX)]),
            ],
        },
        Record {
            key: vec![s("limits"), Int(i64::MAX)],
            timestamp: 0,
            values: vec![
                Bool(true),
                Int(0),
                Int(-1),
                Float(f64::INFINITY),
                Float(f64::from(f32::MAX)),
                s("x"),
                Date(0),
                Timestamp(-1),
                List(vec![Null]),
                List(vec![Null]),
            ],
        },
        Record {
            key: vec![s("tiny"), Int(0)],
            timestamp: -1,
            values: vec![
                Bool(false),
                Int(-1),
                Int(1),
                Float(f64::from_bits(1)),
                Float(f64::from(f32::MIN_POSITIVE)),
                s("y"),
                Date(-1),
                Timestamp(0),
                List(vec![s("only")]),
                List(vec![Int(0)]),
            ],
        },
        Record {
            key: vec![s("extremes"), Int(2)],
            timestamp: 2,
            values: vec![
                Bool(true),
                Int(1),
                Int(2),
                Float(f64::NEG_INFINITY),
                Float(f64::from(f32::MIN)),
                s("z"),
                Date(1),
                Timestamp(1),
                List(vec![s("a"), s("a")]),
                List(vec![Int(3), Int(3)]),
            ],
        },
        Record {
            key: vec![s("nulls"), Int(3)],
            timestamp: 3,
            values: vec![Null; spec.outputs.len()],
        },
    ];
    // Rows the backend says it cannot keep must be refused, naming why, and
    // write nothing; the others must read back in the form it keeps.
    let (rows, refused): (Vec<Record>, Vec<Record>) = all
        .into_iter()
        .partition(|r| store.stored_form(r.clone()).is_some());
    for r in &refused {
        match store
            .write_latest(spec, std::slice::from_ref(r), some(0, 0))
            .await
        {
            Ok(w) => {
                return Err(format!(
                    "a row the backend cannot keep was accepted ({w:?}): {r:?}"
                ))
            }
            Err(e) => ensure!(
                e.kind() == ErrorKind::InvalidInput,
                "refusing {r:?}: kind {:?}, expected InvalidInput ({})",
                e.kind(),
                chain(&e)
            ),
        }
        expect_row(store, spec, &r.key, None, "a refused row").await?;
    }
    write(store, spec, &rows, some(0, 0), (rows.len(), 0, 0)).await?;
    let rows = stored_all(store, &rows)?;
    let keys: Vec<Vec<Value>> = rows.iter().map(|r| r.key.clone()).collect();
    let got = store
        .get_many(spec, &keys)
        .await
        .map_err(failed("get_many of every row"))?;
    ensure!(
        got.len() == rows.len(),
        "{} keys: got {} rows",
        rows.len(),
        got.len()
    );
    for (expected, g) in rows.iter().zip(&got) {
        ensure!(
            same_row(g.as_ref(), Some(expected)),
            "got {g:?}, expected {expected:?}"
        );
    }
    let scanned = scan(store, spec).await?;
    ensure!(
        scanned.len() == rows.len(),
        "scan returned {} rows of {}",
        scanned.len(),
        rows.len()
    );
    for expected in &rows {
        ensure!(
            scanned.iter().any(|r| same_record(r, expected)),
            "scan did not return {expected:?}; it returned {scanned:?}"
        );
    }
    Ok(())
}

/// A feature set with a `ttl` reads a row whose time is more than the
/// `ttl` before now as missing, by key and in scans; a younger row reads
/// back. (The write's counts are not checked: a backend may drop an
/// expired row at once, or store it and hide it on read.)
pub async fn expired_rows_read_as_missing(store: &dyn OnlineStore) -> Result<(), String> {
    const DAY: i64 = 86_400_000_000;
    let spec = &TTL;
    // Whole seconds, which every backend keeps.
    let now = chrono::Utc::now().timestamp() * 1_000_000;
    let old = row("old", now - 31 * DAY, 1);
    let young = row("young", now - 29 * DAY, 2);
    store
        .write_latest(spec, &[old.clone(), young.clone()], some(0, 0))
        .await
        .map_err(failed("write_latest of an expired and a live row"))?;
    let got = store
        .get_many(spec, &[old.key.clone(), young.key.clone(), key("missing")])
        .await
        .map_err(failed("get_many of an expired and a live row"))?;
    let expected = vec![None, Some(stored(store, &young)?), None];
    ensure!(
        got == expected,
        "a row 31 days old under a 30-day ttl: got {got:?}, expected {expected:?}"
    );
    let scanned = scan(store, spec).await?;
    ensure!(
        scanned == [stored(store, &young)?],
        "scan under a 30-day ttl returned {scanned:?}, expected only the live row"
    );
    Ok(())
}
