//! Deliberately broken online stores, to show that the conformance suite
//! catches each way a backend can go wrong: every case fails against at
//! least one mutation, while the real backends pass every case.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use super::conformance::Case;
use super::{
    changed_declaration, EmbeddedStore, MemoryStore, OnlineStore, OnlineWrite, Record, RunWrite,
    SqliteStore, Value, ValueRows, WriteOrder,
};
use crate::error::Result;
use crate::spec::FeatureSetSpec;

/// How a [`Mutant`] breaks the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    /// None: a correct store, so a failure is the mutation's doing.
    Sound,
    /// A write replaces the stored row whatever its order.
    ReplacesRegardless,
    /// A write replaces the stored row only when strictly later.
    ReplacesOnlyWhenLater,
    /// A stored row is never replaced.
    FirstWins,
    /// Rows are ordered by their own timestamps, not by the runs' order
    /// (newest row wins): a correction that moves a row earlier is lost.
    OrdersByRowTime,
    /// A run that covers every key removes nothing.
    NeverRemoves,
    /// A run that covers every key removes the other keys whatever their
    /// order.
    RemovesRegardless,
    /// Rows kept because the stored one is newer are reported as written.
    CountsKeptAsWritten,
    /// `get_many` answers in the reverse order of the keys.
    ReversesGetMany,
    /// `get_many` leaves missing keys out instead of answering `None`.
    CompactsGetMany,
    /// `check` accepts any declaration, and a write under another
    /// declaration goes through.
    ChecksNothing,
    /// A write reads the stored timestamps, lets other tasks run, then
    /// writes what it decided without a lock: concurrent writes are lost.
    UnlockedReadModifyWrite,
    /// A write keeps only the first 65,536 rows of a batch, and reports
    /// them all written.
    TruncatesLargeBatches,
    /// Rows handed over as values lose their last piece.
    LosesTheLastPieceOfRows,
    /// `scan` skips the first row.
    ScanSkipsARow,
    /// Every feature set shares one table.
    SharesOneTable,
    /// Floats are stored as `f32`.
    StoresFloatsAsF32,
    /// A feature set's `ttl` is ignored: expired rows are read.
    IgnoresTtl,
}

/// The mutations, each with the case that must catch it.
const CAUGHT_BY: &[(Mutation, Case)] = &[
    (Mutation::ReplacesRegardless, Case::EarlierRunNeverReplaces),
    (Mutation::ReplacesOnlyWhenLater, Case::SameRunReplaces),
    (Mutation::FirstWins, Case::LaterRunReplaces),
    (Mutation::OrdersByRowTime, Case::LaterRunReplaces),
    (Mutation::OrdersByRowTime, Case::EarlierRunNeverReplaces),
    (Mutation::NeverRemoves, Case::CompleteRunRemovesAbsentKeys),
    (
        Mutation::RemovesRegardless,
        Case::CompleteRunRemovesAbsentKeys,
    ),
    (Mutation::CountsKeptAsWritten, Case::EarlierRunNeverReplaces),
    (Mutation::ReversesGetMany, Case::GetManyKeepsOrder),
    (Mutation::CompactsGetMany, Case::GetManyKeepsOrder),
    (Mutation::ChecksNothing, Case::ChangedDeclarationIsRefused),
    (
        Mutation::UnlockedReadModifyWrite,
        Case::ConcurrentWritersConverge,
    ),
    (Mutation::TruncatesLargeBatches, Case::LargeBatchRoundTrips),
    (
        Mutation::LosesTheLastPieceOfRows,
        Case::RowsAsValuesRoundTrip,
    ),
    (Mutation::ScanSkipsARow, Case::ScanStreamsEveryRow),
    (Mutation::SharesOneTable, Case::FeatureSetsAreIsolated),
    (Mutation::StoresFloatsAsF32, Case::ValuesRoundTrip),
    (Mutation::IgnoresTtl, Case::ExpiredRowsReadAsMissing),
];

#[derive(Debug, Default)]
struct Table {
    columns: Vec<&'static str>,
    rows: BTreeMap<String, (Record, WriteOrder)>,
}

/// An in-memory store with one [`Mutation`].
#[derive(Debug)]
struct Mutant {
    mutation: Mutation,
    tables: Mutex<HashMap<&'static str, Table>>,
}

/// Lets the other futures of a `join` run.
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

fn key_of(key: &[Value]) -> String {
    format!("{key:?}")
}

fn as_f32(v: &Value) -> Value {
    match v {
        Value::Float(f) => Value::Float(f64::from(*f as f32)),
        Value::List(items) => Value::List(items.iter().map(as_f32).collect()),
        v => v.clone(),
    }
}

impl Mutant {
    fn new(mutation: Mutation) -> Self {
        Mutant {
            mutation,
            tables: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<&'static str, Table>> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn table_name(&self, spec: &FeatureSetSpec) -> &'static str {
        match self.mutation {
            Mutation::SharesOneTable => "shared",
            _ => spec.name,
        }
    }

    fn check_columns(&self, spec: &FeatureSetSpec, table: Option<&Table>) -> Result<()> {
        match table {
            Some(t)
                if self.mutation != Mutation::ChecksNothing && t.columns != spec.column_names() =>
            {
                Err(changed_declaration(
                    "online store (mutant)",
                    self.location(),
                    spec,
                    &t.columns,
                    "",
                ))
            }
            _ => Ok(()),
        }
    }

    /// Whether `incoming` replaces `stored` (of order and row time each).
    fn replaces(
        &self,
        stored: Option<&(Record, WriteOrder)>,
        incoming: (&Record, WriteOrder),
    ) -> bool {
        let stored_order = stored.map(|(_, o)| *o);
        match self.mutation {
            Mutation::ReplacesRegardless => true,
            Mutation::ReplacesOnlyWhenLater => stored_order.is_none_or(|s| incoming.1 > s),
            Mutation::FirstWins => stored.is_none(),
            Mutation::OrdersByRowTime => {
                stored.is_none_or(|(s, _)| incoming.0.timestamp >= s.timestamp)
            }
            _ => incoming.1.replaces(stored_order),
        }
    }

    /// Whether a run of every key in `order` removes a stored row it has
    /// none for.
    fn removes(&self, stored: WriteOrder, order: WriteOrder) -> bool {
        match self.mutation {
            Mutation::NeverRemoves => false,
            Mutation::RemovesRegardless => true,
            _ => order.replaces(Some(stored)),
        }
    }

    fn stored(&self, r: &Record) -> Record {
        match self.mutation {
            Mutation::StoresFloatsAsF32 => Record {
                key: r.key.clone(),
                timestamp: r.timestamp,
                values: r.values.iter().map(as_f32).collect(),
            },
            _ => r.clone(),
        }
    }

    /// Applies the decisions `replace` (one per record) to the table.
    fn apply(
        &self,
        spec: &FeatureSetSpec,
        records: &[Record],
        run: RunWrite,
        mut replace: impl FnMut(&Table, &Record) -> bool,
    ) -> Result<OnlineWrite> {
        let mut tables = self.lock();
        let name = self.table_name(spec);
        self.check_columns(spec, tables.get(name))?;
        let table = tables.entry(name).or_default();
        table.columns = spec.column_names();
        let mut out = OnlineWrite::default();
        if run.covers_every_key {
            let offered: Vec<String> = records.iter().map(|r| key_of(&r.key)).collect();
            let before = table.rows.len();
            table
                .rows
                .retain(|k, (_, o)| offered.contains(k) || !self.removes(*o, run.order));
            out.removed = before - table.rows.len();
        }
        for r in records {
            if replace(table, r) {
                table
                    .rows
                    .insert(key_of(&r.key), (self.stored(r), run.order));
                out.written += 1;
            } else if self.mutation == Mutation::CountsKeptAsWritten {
                out.written += 1;
            } else {
                out.kept_newer += 1;
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl OnlineStore for Mutant {
    fn backend(&self) -> &'static str {
        "mutant"
    }

    fn location(&self) -> String {
        format!("mutant://{:?}", self.mutation)
    }

    async fn check(&self, spec: &FeatureSetSpec) -> Result<()> {
        self.check_columns(spec, self.lock().get(self.table_name(spec)))
    }

    async fn write_latest(
        &self,
        spec: &FeatureSetSpec,
        records: &[Record],
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        let decide =
            |t: &Table, r: &Record| self.replaces(t.rows.get(&key_of(&r.key)), (r, run.order));
        match self.mutation {
            Mutation::UnlockedReadModifyWrite => {
                let name = self.table_name(spec);
                let decided: Vec<bool> = {
                    let tables = self.lock();
                    records
                        .iter()
                        .map(|r| {
                            let stored = tables.get(name).and_then(|t| t.rows.get(&key_of(&r.key)));
                            self.replaces(stored, (r, run.order))
                        })
                        .collect()
                };
                YieldNow(false).await;
                let mut i = 0;
                self.apply(spec, records, run, |_, _| {
                    i += 1;
                    decided[i - 1]
                })
            }
            Mutation::TruncatesLargeBatches => {
                let kept = &records[..records.len().min(65_536)];
                let mut out = self.apply(spec, kept, run, decide)?;
                out.written += records.len() - kept.len();
                Ok(out)
            }
            _ => self.apply(spec, records, run, decide),
        }
    }

    async fn write_latest_rows(
        &self,
        spec: &FeatureSetSpec,
        rows: ValueRows,
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        let mut records = rows.into_records();
        if self.mutation == Mutation::LosesTheLastPieceOfRows {
            records.truncate(records.len() / super::record::PIECE * super::record::PIECE);
        }
        self.write_latest(spec, &records, run).await
    }

    async fn get_many(
        &self,
        spec: &FeatureSetSpec,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Record>>> {
        let tables = self.lock();
        let table = tables.get(self.table_name(spec));
        let mut found: Vec<Option<Record>> = keys
            .iter()
            .map(|k| {
                table
                    .and_then(|t| t.rows.get(&key_of(k)))
                    .map(|(r, _)| r.clone())
            })
            .collect();
        match self.mutation {
            Mutation::ReversesGetMany => found.reverse(),
            Mutation::CompactsGetMany => found.retain(Option::is_some),
            Mutation::IgnoresTtl => return Ok(found),
            _ => {}
        }
        Ok(super::live_rows(spec, found))
    }

    fn scan<'a>(&'a self, spec: &'a FeatureSetSpec) -> BoxStream<'a, Result<Record>> {
        let rows: Vec<Record> = self
            .lock()
            .get(self.table_name(spec))
            .map(|t| t.rows.values().map(|(r, _)| r.clone()).collect())
            .unwrap_or_default();
        let skip = usize::from(self.mutation == Mutation::ScanSkipsARow);
        let rows = stream::iter(rows.into_iter().skip(skip).map(Ok)).boxed();
        if self.mutation == Mutation::IgnoresTtl {
            return rows;
        }
        super::live_stream(spec, rows)
    }
}

#[test]
fn every_case_passes_on_the_real_backends_and_fails_on_a_mutation() {
    let dir = tempfile::tempdir().unwrap();
    let mut broken = Vec::new();
    for (i, case) in Case::ALL.into_iter().enumerate() {
        let embedded = EmbeddedStore::open(&dir.path().join(format!("{i}.redb"))).unwrap();
        let sqlite = SqliteStore::open(&dir.path().join(format!("{i}.sqlite"))).unwrap();
        let stores: [(&str, &dyn OnlineStore); 4] = [
            ("memory", &MemoryStore::default()),
            ("redb", &embedded),
            ("sqlite", &sqlite),
            ("the sound mutant", &Mutant::new(Mutation::Sound)),
        ];
        for (name, store) in stores {
            if let Err(what) = crate::io::block_on(case.run(store)) {
                broken.push(format!("{} on {name}: {what}", case.name()));
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");

    let mut survived = Vec::new();
    for (mutation, case) in CAUGHT_BY {
        if crate::io::block_on(case.run(&Mutant::new(*mutation))).is_ok() {
            survived.push(format!("{mutation:?} passed {}", case.name()));
        }
    }
    assert!(survived.is_empty(), "{survived:#?}");
    for case in Case::ALL {
        assert!(
            CAUGHT_BY.iter().any(|(_, c)| *c == case),
            "no mutation is caught by {}",
            case.name()
        );
    }
}
