//! The online store: the latest row of each key, for low-latency lookups.
//!
//! Backends implement [`OnlineStore`], an async trait of four primitives
//! (write a batch, read a batch of keys, stream every row, check a
//! declaration) in the manner of `object_store::ObjectStore`;
//! [`OnlineStoreExt`] adds the conveniences on top of them (one key, typed
//! rows) for every backend at once. Batches are the primitive because the
//! server backends answer a batch in one round trip (Redis `MGET`,
//! concurrent prepared CQL reads), and one key is a batch of one.
//!
//! The backends: `memory://` ([`MemoryStore`], for debugging and tests),
//! `sqlite://PATH` ([`SqliteStore`], the persistent default: readers in
//! other processes never wait for a run), `redb://PATH` ([`EmbeddedStore`],
//! one process at a time) and, with the cargo feature `redis`, `redis://` /
//! `rediss://` (`redis::RedisStore`) and, with `cassandra`, `cassandra://` /
//! `scylla://` (`cassandra::CassandraStore`). [`open`] picks one from an
//! [`OnlineLocation`].
//!
//! Every backend orders writes by the run that made them, not by the rows'
//! own times ([`WriteOrder`]: the run's as-of, then its start): a stored row
//! is replaced by a run of an equal or later order and never by an earlier
//! one, so running an old interval after a new one leaves the newer rows in
//! place, a retried run converges, and a corrected re-run of an interval
//! replaces the rows it corrects even when it moves a key's last change
//! earlier. A run that covered every event of its source
//! ([`RunWrite::covers_every_key`]) also removes the keys it has no row for.
//! A row stored without an order (written before orders were kept) is the
//! oldest. Every backend refuses a feature set whose declared columns differ
//! from the ones its table was written with ([`ErrorKind::Conflict`]).
//! `conformance` (cargo feature `test-util`) checks all of this for any
//! backend.
//!
//! Synchronous code (the CLI, the batch pipeline) goes through
//! [`BlockingOnlineStore`], which waits on the process's I/O runtime
//! ([`crate::io::block_on`]) and so works inside an async runtime too.

mod blocking;
pub mod cassandra;
#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
pub mod cql;
mod embedded;
mod memory;
#[cfg(test)]
mod mutants;
mod order;
mod record;
#[cfg(feature = "redis")]
pub mod redis;
pub mod sqlite;
mod value;

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

pub use blocking::BlockingOnlineStore;
pub use embedded::EmbeddedStore;
pub use memory::MemoryStore;
pub use order::{RunWrite, WriteOrder};
pub use record::{
    check_records, declared_frame, latest_records, latest_rows, records_frame, records_of,
    value_rows, RowValues, ValueRows,
};
pub use sqlite::SqliteStore;
pub use value::Value;

use crate::error::{BoxError, Error, ErrorKind, Result};
use crate::location::OnlineLocation;
use crate::spec::FeatureSet;
use crate::spec::{FeatureSetSpec, TIMESTAMP_COLUMN};
use value::{datetime_of, RowDeserializer};

/// One row of a feature set in the online store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Key values, in the order of the feature set's keys.
    pub key: Vec<Value>,
    /// The row's time, microseconds since the epoch.
    pub timestamp: i64,
    /// Output values, in the order of the feature set's outputs.
    pub values: Vec<Value>,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnlineWrite {
    /// Rows inserted or replaced (for a backend that does not read before
    /// it writes, [`OnlineStore::counts_kept_rows`] is false: rows sent,
    /// each applied unless a later run's row is stored).
    pub written: usize,
    /// Rows not written because the store holds a row of a later run.
    pub kept_newer: usize,
    /// Stored rows removed because a run that covered every key had none
    /// for theirs (or, without [`OnlineStore::counts_kept_rows`], removals
    /// sent).
    pub removed: usize,
}

/// One step of bringing a backend's table of a feature set in line with its
/// declaration (`features migrate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStep {
    /// What the step does, in the backend's own terms.
    pub statement: String,
    /// Whether rows are lost.
    pub destructive: bool,
}

/// Plans and, with `apply`, takes the steps that let `spec`'s rows be
/// written to `store`. A destructive step is refused, before any step is
/// taken, unless `allow_destructive`; the refusal names the steps and the
/// flag. Returns the steps (taken, with `apply`).
pub async fn migrate(
    store: &dyn OnlineStore,
    spec: &FeatureSetSpec,
    apply: bool,
    allow_destructive: bool,
) -> Result<Vec<MigrationStep>> {
    let steps = store.plan(spec).await?;
    if !apply || steps.is_empty() {
        return Ok(steps);
    }
    if !allow_destructive {
        if let Some(step) = steps.iter().find(|s| s.destructive) {
            return Err(Error::Store {
                store: "online store",
                location: store.location(),
                message: format!(
                    "refusing to {}: rows would be lost; run `features migrate apply {} \
                     --allow-destructive` to accept that",
                    step.statement, spec.name
                ),
                kind: ErrorKind::InvalidInput,
                source: "a destructive migration step".into(),
            });
        }
    }
    store.apply(spec, &steps).await?;
    Ok(steps)
}

/// What a store is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Lookups: the store must exist already. Opening never creates one (a
    /// mistyped path is an error, not a new empty store), and writes are
    /// refused.
    Read,
    /// Runs: a store that does not exist yet is created.
    Write,
}

/// [`OnlineStore::get_many_sets`] by one [`OnlineStore::get_many`] per
/// feature set.
pub(crate) async fn get_each<S: OnlineStore + ?Sized>(
    store: &S,
    specs: &[&FeatureSetSpec],
    keys: &[Vec<Value>],
) -> Result<Vec<Vec<Option<Record>>>> {
    let mut out: Vec<Vec<Option<Record>>> = vec![Vec::with_capacity(specs.len()); keys.len()];
    for spec in specs {
        for (row, record) in out.iter_mut().zip(store.get_many(spec, keys).await?) {
            row.push(record);
        }
    }
    Ok(out)
}

/// A store of the latest row per key.
///
/// Implementations are cheap to share (`Arc<dyn OnlineStore>`), and every
/// method may be called concurrently. The `conformance` module (cargo
/// feature `test-util`) holds the checks every implementation must pass.
#[async_trait]
pub trait OnlineStore: Send + Sync + fmt::Debug {
    /// The backend's name, for messages and metrics: `memory`, `redb`, …
    fn backend(&self) -> &'static str;

    /// Where the store is, for messages: its URL without secrets.
    fn location(&self) -> String;

    /// Fails if a write of `spec` would be refused, without writing: a run
    /// checks every store before it changes any of them. A table written
    /// under other columns is an [`ErrorKind::Conflict`].
    async fn check(&self, spec: &FeatureSetSpec) -> Result<()>;

    /// Upserts `records` (at most one per key), stored with `run.order`: a
    /// record replaces the stored row of its key iff
    /// `run.order.replaces(stored order)` (an equal order replaces, so a
    /// retried run converges; a row without an order is the oldest). With
    /// `run.covers_every_key`, a stored row whose key has no record is
    /// removed under the same condition. Refuses, before writing anything,
    /// what [`check`](Self::check) refuses. A write whose future is dropped
    /// early may have been applied in part, row by row (each row whole);
    /// the order makes trying it again safe.
    async fn write_latest(
        &self,
        spec: &FeatureSetSpec,
        records: &[Record],
        run: RunWrite,
    ) -> Result<OnlineWrite>;

    /// [`write_latest`](Self::write_latest) of rows given as their values
    /// ([`value_rows`]), as a run hands its latest rows over. The default
    /// makes their records; the embedded backends encode each row straight
    /// from its values.
    async fn write_latest_rows(
        &self,
        spec: &FeatureSetSpec,
        rows: ValueRows,
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        let records = rows.into_records();
        self.write_latest(spec, &records, run).await
    }

    /// The steps `features migrate apply` would take so that `spec`'s rows
    /// can be written, in the backend's own terms; none when there is
    /// nothing to do. The default suits backends that make a feature set's
    /// table at its first write and refuse only a changed declaration
    /// ([`check`](Self::check)): the rows written under other columns must
    /// go, which loses them until the next run writes them again.
    async fn plan(&self, spec: &FeatureSetSpec) -> Result<Vec<MigrationStep>> {
        match self.check(spec).await {
            Ok(()) => Ok(Vec::new()),
            Err(e) if e.kind() == ErrorKind::Conflict => Ok(vec![MigrationStep {
                statement: format!(
                    "delete every row of `{}` and its recorded columns (written under another \
                     declaration); the feature set's next run writes its rows again",
                    spec.name
                ),
                destructive: true,
            }]),
            Err(e) => Err(e),
        }
    }

    /// Takes the steps of [`plan`](Self::plan). The default takes the
    /// default plan's one step with [`drop_rows`](Self::drop_rows).
    async fn apply(&self, spec: &FeatureSetSpec, steps: &[MigrationStep]) -> Result<()> {
        if steps.iter().any(|s| s.destructive) {
            self.drop_rows(spec).await?;
        }
        Ok(())
    }

    /// Removes every row of `spec` and what the store recorded of its
    /// declaration; returns the number of rows removed.
    async fn drop_rows(&self, spec: &FeatureSetSpec) -> Result<usize> {
        Err(Error::Store {
            store: "online store",
            location: self.location(),
            message: format!(
                "the `{}` backend cannot remove the rows of `{}`",
                self.backend(),
                spec.name
            ),
            kind: ErrorKind::Permanent,
            source: "not supported by the backend".into(),
        })
    }

    /// Whether [`OnlineWrite`]'s counts are of rows applied and kept (the
    /// backend decides in one place, under a lock or in a script), rather
    /// than of rows sent to a server that decides each row on its own
    /// (CQL's write times).
    fn counts_kept_rows(&self) -> bool {
        true
    }

    /// What a read gives back of `record` once this backend stored it, or
    /// `None` if it refuses to store it (an error naming the key and
    /// column). Every value as written by default; a backend whose types
    /// are coarser says how here (CQL: times to the millisecond, an empty
    /// list read as null, no null inside a list).
    fn stored_form(&self, record: Record) -> Option<Record> {
        Some(record)
    }

    /// The stored rows of `keys`, one entry per key in the order given
    /// (duplicates repeated), `None` for a key without a row; read from one
    /// consistent snapshot where the backend has snapshots.
    async fn get_many(
        &self,
        spec: &FeatureSetSpec,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Record>>>;

    /// The stored rows of `keys` of each of `specs`, feature sets of the same
    /// keys: `out[i][j]` is the row of `keys[i]` of `specs[j]`, as
    /// [`get_many`](Self::get_many) reads it. The default reads each feature
    /// set in turn; a backend that keeps one row per key for every feature set
    /// of an entity (Cassandra's entity tables) reads each key once.
    async fn get_many_sets(
        &self,
        specs: &[&FeatureSetSpec],
        keys: &[Vec<Value>],
    ) -> Result<Vec<Vec<Option<Record>>>> {
        get_each(self, specs, keys).await
    }

    /// Every stored row of a feature set, once each, in no particular order,
    /// as a stream: a table larger than memory can be read through.
    fn scan<'a>(&'a self, spec: &'a FeatureSetSpec) -> BoxStream<'a, Result<Record>>;
}

/// Conveniences on every [`OnlineStore`], built on its primitives.
pub trait OnlineStoreExt: OnlineStore {
    /// The stored row of one key.
    fn get(
        &self,
        spec: &FeatureSetSpec,
        key: &[Value],
    ) -> impl Future<Output = Result<Option<Record>>> + Send;

    /// The stored row of one key as the generated row type of `F`.
    ///
    /// ```ignore
    /// let row: Option<UserOrdersRow> = store.get_row::<UserOrders>(&["x".into()]).await?;
    /// ```
    fn get_row<F: FeatureSet>(
        &self,
        key: &[Value],
    ) -> impl Future<Output = Result<Option<F::Row>>> + Send;
}

impl<T: OnlineStore + ?Sized> OnlineStoreExt for T {
    async fn get(&self, spec: &FeatureSetSpec, key: &[Value]) -> Result<Option<Record>> {
        let found = self.get_many(spec, &[key.to_vec()]).await?;
        match <[Option<Record>; 1]>::try_from(found) {
            Ok([record]) => Ok(record),
            Err(found) => Err(broken_backend(
                self,
                format!("answered a lookup of 1 key with {} rows", found.len()),
            )),
        }
    }

    async fn get_row<F: FeatureSet>(&self, key: &[Value]) -> Result<Option<F::Row>> {
        let spec = F::SPEC;
        match self.get(&spec, key).await? {
            Some(record) => row_of::<F>(record).map(Some),
            None => Ok(None),
        }
    }
}

/// A backend that broke its contract: a bug, not bad data.
fn broken_backend<S: OnlineStore + ?Sized>(store: &S, what: String) -> Error {
    Error::Store {
        store: "online store",
        location: store.location(),
        message: format!("the `{}` backend {what}", store.backend()),
        kind: ErrorKind::Permanent,
        source: what.into(),
    }
}

/// The options of the online store backends, from `[online]` in
/// `featurestore.toml`; a backend reads its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnlineOptions {
    /// `[online.cassandra]`
    pub cassandra: cassandra::CassandraOptions,
}

/// Opens the online store at `location`.
///
/// Async because server backends connect when they open; synchronous
/// callers use [`BlockingOnlineStore::open`].
pub async fn open(location: &OnlineLocation, mode: OpenMode) -> Result<Arc<dyn OnlineStore>> {
    open_with(location, mode, &OnlineOptions::default()).await
}

/// Opens the online store at `location` with the backends' `options`.
pub async fn open_with(
    location: &OnlineLocation,
    mode: OpenMode,
    #[cfg_attr(not(feature = "cassandra"), allow(unused_variables))] options: &OnlineOptions,
) -> Result<Arc<dyn OnlineStore>> {
    match location {
        OnlineLocation::Memory => Ok(Arc::new(MemoryStore::default())),
        OnlineLocation::Redb(path) => {
            let path = path.clone();
            let store =
                embedded::blocking("online store (redb)", location.to_string(), move || {
                    EmbeddedStore::open_with(&path, mode)
                })
                .await?;
            Ok(Arc::new(store))
        }
        OnlineLocation::Sqlite(path) => {
            let path = path.clone();
            let store =
                embedded::blocking("online store (sqlite)", location.to_string(), move || {
                    SqliteStore::open_with(&path, mode)
                })
                .await?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "redis")]
        OnlineLocation::Server { scheme, url } if scheme == "redis" || scheme == "rediss" => {
            Ok(Arc::new(redis::RedisStore::open(url, mode).await?))
        }
        #[cfg(feature = "cassandra")]
        OnlineLocation::Server { scheme, url } if scheme == "cassandra" || scheme == "scylla" => {
            Ok(Arc::new(
                cassandra::CassandraStore::open(url, &options.cassandra, mode).await?,
            ))
        }
        OnlineLocation::Server { scheme, .. } => Err(Error::Location {
            location: location.to_string(),
            message: format!("this build has no online store backend for `{scheme}://`"),
        }),
    }
}

/// Opens the online store at URL `url` for writing (relative `sqlite://`
/// and `redb://` paths are resolved against `base_dir`), for synchronous callers.
pub fn open_url(url: &str, base_dir: &Path) -> Result<BlockingOnlineStore> {
    let location = OnlineLocation::parse(url, base_dir).map_err(|e| match e {
        // Not a store this build can open (an unknown scheme, or a backend
        // whose cargo feature is off): say so before the details. A bad
        // URL of a usable backend keeps its own message.
        Error::Location { location, message }
            if !crate::location::is_usable_online_scheme(url.trim()) =>
        {
            Error::Location {
                location,
                message: format!("unsupported online store URL: {message}"),
            }
        }
        e => e,
    })?;
    BlockingOnlineStore::open(&location, OpenMode::Write)
}

/// The refusal of a feature set whose declared columns are not the ones its
/// table was written with.
pub(crate) fn changed_declaration(
    store: &'static str,
    location: String,
    spec: &FeatureSetSpec,
    stored: &[impl AsRef<str>],
    remedy: &str,
) -> Error {
    let stored: Vec<&str> = stored.iter().map(AsRef::as_ref).collect();
    Error::Store {
        store,
        location,
        message: format!(
            "table `{}` was written with columns [{}] but the feature set now declares [{}]; {remedy}",
            spec.name,
            stored.join(", "),
            spec.column_names().join(", ")
        ),
        kind: ErrorKind::Conflict,
        source: Box::new(ChangedDeclaration),
    }
}

/// The cause of the refusal of a feature set declared with other columns
/// than its online table was written with.
#[derive(Debug, thiserror::Error)]
#[error("the feature set's declaration changed since its online table was written")]
pub struct ChangedDeclaration;

/// The refusal of a write to a store opened with [`OpenMode::Read`].
pub(crate) fn read_only(store: &'static str, location: String) -> Error {
    let cause: BoxError = "the store was opened for reading".into();
    Error::Store {
        store,
        location,
        message: "cannot write: the store was opened for lookups only".to_string(),
        kind: ErrorKind::InvalidInput,
        source: cause,
    }
}

/// Looks up `key` and returns the generated row type of feature set `F`,
/// from synchronous code.
///
/// ```ignore
/// let row: Option<UserOrdersRow> = get_row::<UserOrders>(&*stores.online, &["x".into()])?;
/// ```
pub fn get_row<F: FeatureSet>(store: &dyn OnlineStore, key: &[Value]) -> Result<Option<F::Row>> {
    crate::io::block_on(store.get_row::<F>(key))
}

/// Converts a record to the generated row type of `F`.
pub fn row_of<F: FeatureSet>(record: Record) -> Result<F::Row> {
    let spec = &F::SPEC;
    let mut entries: Vec<(&'static str, Value)> = Vec::with_capacity(record.values.len() + 2);
    entries.extend(spec.key_names().zip(record.key));
    entries.push((TIMESTAMP_COLUMN, Value::Timestamp(record.timestamp)));
    entries.extend(spec.outputs.iter().map(|o| o.name).zip(record.values));
    let de = RowDeserializer {
        entries: entries.into_iter(),
        pending: None,
    };
    F::Row::deserialize(de).map_err(|e| Error::Store {
        store: "online store",
        location: spec.name.to_string(),
        message: format!(
            "a stored row does not match the declaration ({e}); was the feature set changed? re-run it to refresh the online store"
        ),
        kind: ErrorKind::Conflict,
        source: Box::new(e),
    })
}

/// Now, microseconds since the epoch: the clock a feature set's `ttl` is
/// measured against.
pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// `rows` with those that outlived `spec`'s `ttl` (see
/// [`FeatureSetSpec::expired`]) reported missing: every backend reads
/// through this, so an expired row is missing whether or not the backend
/// removed it yet.
pub(crate) fn live_rows(
    spec: &FeatureSetSpec,
    mut rows: Vec<Option<Record>>,
) -> Vec<Option<Record>> {
    if spec.ttl.is_some() {
        let now = now_micros();
        for row in &mut rows {
            if row.as_ref().is_some_and(|r| spec.expired(r.timestamp, now)) {
                *row = None;
            }
        }
    }
    rows
}

/// `rows` without those that outlived `spec`'s `ttl`.
pub(crate) fn live_stream<'a>(
    spec: &'a FeatureSetSpec,
    rows: BoxStream<'a, Result<Record>>,
) -> BoxStream<'a, Result<Record>> {
    use futures::{StreamExt, TryStreamExt};
    if spec.ttl.is_none() {
        return rows;
    }
    let now = now_micros();
    rows.try_filter(move |r| std::future::ready(!spec.expired(r.timestamp, now)))
        .boxed()
}

/// Formats a timestamp in microseconds as `YYYY-MM-DD HH:MM:SS`.
pub fn format_timestamp(micros: i64) -> String {
    datetime_of(micros).map_or_else(
        || micros.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::{RunWrite, WriteOrder};
    use crate::spec::{Aggregation, ColumnSpec, DataType, FeatureSetSpec, OutputColumn};

    /// The conformance suite's feature set of a column of every type,
    /// under a key of two columns.
    pub(super) fn every_type() -> &'static FeatureSetSpec {
        super::conformance::feature_sets()
            .into_iter()
            .find(|s| s.name == "conformance_values")
            .expect("the feature set of every type")
    }

    /// A write of some keys by the run of as-of `as_of`.
    pub(super) fn run(as_of: i64) -> RunWrite {
        RunWrite::some_keys(WriteOrder { as_of, run: 0 })
    }

    /// A feature set of one string key and one count, for the unit tests.
    pub(super) static SPEC: FeatureSetSpec = FeatureSetSpec {
        name: "unit",
        keys: &[ColumnSpec {
            name: "id",
            dtype: DataType::String,
            nullable: false,
            description: "",
        }],
        outputs: &[OutputColumn {
            name: "n",
            feature: 0,
            aggregation: Aggregation::Count,
            window: None,
            dtype: DataType::Int64,
            nullable: false,
            pivot: None,
        }],
        ..crate::__private::FALLBACK_FEATURE_SET
    };
}
