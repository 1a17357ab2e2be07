//! `redb://PATH`: the default online store, embedded in one local file.
//!
//! redb is a pure-Rust, crash-safe B-tree store: no C library and no server.
//! Each feature set is one table keyed by the encoded key columns, and one
//! more, under the same keys, holding the [`WriteOrder`] of the run that
//! wrote each row (kept apart so that rows written before orders were kept
//! read as they are, without an order: the oldest). A run's upsert is one
//! write transaction, so it is applied entirely or not at all.
//! The columns each table was written with are recorded, so a row is never
//! read back under a different declaration.
//!
//! redb's calls block. Lookups run on the calling task: they read pages redb
//! mostly holds in its cache, in microseconds, less than a hop to another
//! thread would cost. Opening and writing, which touch the disk at length
//! (repair, `fsync` at commit), run on tokio's blocking threads so they never
//! stall an async runtime.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{
    changed_declaration, read_only, OnlineStore, OnlineWrite, OpenMode, Record, RunWrite, Value,
    ValueRows, WriteOrder,
};
use crate::error::{io_kind, Error, ErrorKind, Result};
use crate::spec::FeatureSetSpec;

const STORE: &str = "online store (redb)";

const SCHEMAS: TableDefinition<&str, &[u8]> = TableDefinition::new("featurestore_schemas");

/// What to do about a store file that cannot be used.
const REBUILD: &str = "delete it (or point `--online-url` elsewhere) and re-run the feature sets \
                       to rebuild it";

/// A stored row's value (also SQLite's encoding of a row).
#[derive(Serialize, Deserialize)]
pub(super) struct Stored {
    pub(super) timestamp: i64,
    pub(super) values: Vec<Value>,
}

/// [`Stored`] as written: the same encoding, without copying the values
/// (`V` serialises as a sequence of values: a slice of them, or
/// [`RowValues`](super::RowValues)).
#[derive(Serialize)]
pub(super) struct StoredRef<V> {
    pub(super) timestamp: i64,
    pub(super) values: V,
}

/// A read snapshot and a feature set's table opened in it.
type Snapshot = (redb::ReadTransaction, ByteTable);
type ByteTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;
type ByteRange = redb::Range<'static, &'static [u8], &'static [u8]>;
type Bytes = redb::AccessGuard<'static, &'static [u8]>;

/// The embedded online store.
#[derive(Debug)]
pub struct EmbeddedStore {
    file: Arc<File>,
    mode: OpenMode,
}

/// The open database, shared with the blocking threads that write it.
#[derive(Debug)]
struct File {
    db: Database,
    path: PathBuf,
}

fn table_name(spec: &FeatureSetSpec) -> String {
    format!("feature_set:{}", spec.name)
}

/// The table of the write orders of a feature set's rows.
fn order_table_name(spec: &FeatureSetSpec) -> String {
    format!("write_order:{}", spec.name)
}

/// Runs `f`, which blocks, on tokio's blocking threads when called inside a
/// runtime, else right here (like `object_store`'s local file system).
pub(super) async fn blocking<T: Send + 'static>(
    store: &'static str,
    location: String,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => match runtime.spawn_blocking(f).await {
            Ok(out) => out,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::store(
                store,
                location,
                "the I/O runtime shut down during the operation",
                e,
            )),
        },
        Err(_) => f(),
    }
}

/// A redb error, with the message a person needs for the common causes.
fn redb_error(path: &Path, doing: &str, e: impl Into<redb::Error>) -> Error {
    let e: redb::Error = e.into();
    let (message, kind) = match &e {
        redb::Error::Corrupted(_) => (
            format!("{doing}: the store file is corrupted; {REBUILD}"),
            ErrorKind::Permanent,
        ),
        redb::Error::DatabaseAlreadyOpen => (
            "the store file is open in another process (another run?); wait for it to end, or \
             point `--online-url` elsewhere"
                .to_string(),
            ErrorKind::Conflict,
        ),
        redb::Error::UpgradeRequired(_) => (
            format!("{doing}: the store file was written in an older redb format; {REBUILD}"),
            ErrorKind::Permanent,
        ),
        // What redb says of a file that does not start like a redb file.
        redb::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => (
            format!("{doing}: the store file is corrupted, or not a store file at all; {REBUILD}"),
            ErrorKind::Permanent,
        ),
        redb::Error::Io(io) => (doing.to_string(), io_kind(io)),
        _ => (doing.to_string(), ErrorKind::Permanent),
    };
    Error::Store {
        store: STORE,
        location: path.display().to_string(),
        message,
        kind,
        source: Box::new(e),
    }
}

impl EmbeddedStore {
    /// Opens the store file at `path` for writing, creating it if missing.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, OpenMode::Write)
    }

    /// Opens the store file at `path`: with [`OpenMode::Read`] it must
    /// exist, and writes are refused.
    pub fn open_with(path: &Path, mode: OpenMode) -> Result<Self> {
        let db = match mode {
            OpenMode::Write => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                        context: format!("creating {}", dir.display()),
                        source: e,
                    })?;
                }
                Database::create(path)
            }
            OpenMode::Read => {
                // `Database::open` fails on a missing file too, but only
                // with "No such file or directory": say what it means here.
                if let Err(e) = std::fs::metadata(path) {
                    let kind = match e.kind() {
                        std::io::ErrorKind::NotFound => ErrorKind::InvalidInput,
                        _ => io_kind(&e),
                    };
                    return Err(Error::Store {
                        store: STORE,
                        location: path.display().to_string(),
                        message: "there is no store file here: no feature set was run with this \
                                  online store yet, or the path is mistyped (check \
                                  `--online-url`, `FEATURESTORE_ONLINE_URL` and `[online] url`)"
                            .to_string(),
                        kind,
                        source: Box::new(e),
                    });
                }
                Database::open(path)
            }
        }
        .map_err(|e| redb_error(path, "opening the store file", e))?;
        Ok(EmbeddedStore {
            file: Arc::new(File {
                db,
                path: path.to_path_buf(),
            }),
            mode,
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.file.path
    }
}

impl File {
    fn failure(&self, doing: &str, e: impl Into<redb::Error>) -> Error {
        redb_error(&self.path, doing, e)
    }

    /// Bytes of the file that do not decode: only a damaged file has them,
    /// since every byte was encoded by this module.
    fn corrupted(&self, what: &str, e: postcard::Error) -> Error {
        Error::Store {
            store: STORE,
            location: self.path.display().to_string(),
            message: format!("the store file is corrupted: {what} cannot be decoded; {REBUILD}"),
            kind: ErrorKind::Permanent,
            source: Box::new(e),
        }
    }

    fn encode<T: Serialize + ?Sized>(&self, what: &str, v: &T) -> Result<Vec<u8>> {
        encode(STORE, &self.path, what, v)
    }

    /// A read snapshot of a feature set's table; `None` if it was never written.
    fn read_table(&self, spec: &FeatureSetSpec) -> Result<Option<Snapshot>> {
        let name = table_name(spec);
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let txn = self
            .db
            .begin_read()
            .map_err(|e| self.failure("starting a read", e))?;
        let table = match txn.open_table(def) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.failure(&format!("opening table `{}`", spec.name), e)),
        };
        Ok(Some((txn, table)))
    }

    fn record(&self, key: Vec<Value>, stored: &[u8], spec: &FeatureSetSpec) -> Result<Record> {
        let s: Stored = postcard::from_bytes(stored)
            .map_err(|e| self.corrupted(&format!("a stored row of `{}`", spec.name), e))?;
        Ok(Record {
            key,
            timestamp: s.timestamp,
            values: s.values,
        })
    }

    fn lookup(
        &self,
        table: &ByteTable,
        spec: &FeatureSetSpec,
        key: &[Value],
    ) -> Result<Option<Record>> {
        let k = self.encode("a key", key)?;
        let found = table
            .get(k.as_slice())
            .map_err(|e| self.failure(&format!("reading a row of `{}`", spec.name), e))?;
        match found {
            Some(v) => self.record(key.to_vec(), v.value(), spec).map(Some),
            None => Ok(None),
        }
    }

    fn get_many(&self, spec: &FeatureSetSpec, keys: &[Vec<Value>]) -> Result<Vec<Option<Record>>> {
        // One read transaction for the batch: one snapshot, one table open.
        match self.read_table(spec)? {
            Some((_txn, table)) => keys
                .iter()
                .map(|key| self.lookup(&table, spec, key))
                .collect(),
            None => Ok(vec![None; keys.len()]),
        }
    }

    fn check_schema(&self, spec: &FeatureSetSpec, stored: Option<&[u8]>) -> Result<()> {
        let Some(bytes) = stored else { return Ok(()) };
        let stored: Vec<String> = postcard::from_bytes(bytes)
            .map_err(|e| self.corrupted(&format!("the recorded columns of `{}`", spec.name), e))?;
        if stored != spec.column_names() {
            return Err(changed_declaration(
                STORE,
                self.path.display().to_string(),
                spec,
                &stored,
                "delete the store file or point `--online-url` elsewhere to rebuild it",
            ));
        }
        Ok(())
    }

    fn check(&self, spec: &FeatureSetSpec) -> Result<()> {
        let doing = || format!("reading the recorded columns of `{}`", spec.name);
        let txn = self
            .db
            .begin_read()
            .map_err(|e| self.failure("starting a read", e))?;
        let schemas = match txn.open_table(SCHEMAS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(self.failure(&doing(), e)),
        };
        let stored = schemas
            .get(spec.name)
            .map_err(|e| self.failure(&doing(), e))?
            .map(|v| v.value().to_vec());
        self.check_schema(spec, stored.as_deref())
    }

    /// Upserts encoded rows (key, value) in the order of `run`, and removes
    /// the rows `run` covers but did not offer, in one transaction.
    fn write(
        &self,
        spec: &FeatureSetSpec,
        rows: Vec<(Vec<u8>, Vec<u8>)>,
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        let doing = format!("writing `{}`", spec.name);
        let name = table_name(spec);
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let order_name = order_table_name(spec);
        let order_def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&order_name);
        let txn = self.db.begin_write().map_err(|e| self.failure(&doing, e))?;
        let mut out = OnlineWrite::default();
        {
            let mut schemas = txn
                .open_table(SCHEMAS)
                .map_err(|e| self.failure(&doing, e))?;
            let stored = schemas
                .get(spec.name)
                .map_err(|e| self.failure(&doing, e))?
                .map(|v| v.value().to_vec());
            self.check_schema(spec, stored.as_deref())?;
            if stored.is_none() {
                let cols = self.encode("the columns", &spec.column_names())?;
                schemas
                    .insert(spec.name, cols.as_slice())
                    .map_err(|e| self.failure(&doing, e))?;
            }
            let mut table = txn.open_table(def).map_err(|e| self.failure(&doing, e))?;
            let mut orders = txn
                .open_table(order_def)
                .map_err(|e| self.failure(&doing, e))?;
            let stored_order = |orders: &redb::Table<&[u8], &[u8]>, key: &[u8]| match orders
                .get(key)
                .map_err(|e| self.failure(&doing, e))?
            {
                Some(v) => WriteOrder::from_bytes(v.value())
                    .map(Some)
                    .ok_or_else(|| self.corrupted_order(spec)),
                None => Ok(None),
            };
            if run.covers_every_key {
                let offered: std::collections::HashSet<&[u8]> =
                    rows.iter().map(|(k, _)| k.as_slice()).collect();
                let mut gone = Vec::new();
                for item in table
                    .range::<&[u8]>(..)
                    .map_err(|e| self.failure(&doing, e))?
                {
                    let (k, _) = item.map_err(|e| self.failure(&doing, e))?;
                    let k = k.value();
                    if !offered.contains(k) && run.order.replaces(stored_order(&orders, k)?) {
                        gone.push(k.to_vec());
                    }
                }
                for k in &gone {
                    table
                        .remove(k.as_slice())
                        .map_err(|e| self.failure(&doing, e))?;
                    orders
                        .remove(k.as_slice())
                        .map_err(|e| self.failure(&doing, e))?;
                }
                out.removed = gone.len();
            }
            let order = run.order.to_bytes();
            for (key, value) in rows {
                if run.order.replaces(stored_order(&orders, &key)?) {
                    table
                        .insert(key.as_slice(), value.as_slice())
                        .map_err(|e| self.failure(&doing, e))?;
                    orders
                        .insert(key.as_slice(), order.as_slice())
                        .map_err(|e| self.failure(&doing, e))?;
                    out.written += 1;
                } else {
                    out.kept_newer += 1;
                }
            }
        }
        // Dropping an uncommitted transaction aborts it: an error above
        // leaves the store as it was.
        crate::fail::point(|| "online:before-commit".to_string());
        txn.commit().map_err(|e| self.failure(&doing, e))?;
        crate::fail::point(|| "online:committed".to_string());
        Ok(out)
    }

    /// Deletes a feature set's tables and its recorded columns, in one
    /// transaction; returns the number of rows deleted.
    fn drop_rows(&self, spec: &FeatureSetSpec) -> Result<usize> {
        let doing = format!("deleting the rows of `{}`", spec.name);
        let name = table_name(spec);
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let order_name = order_table_name(spec);
        let order_def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&order_name);
        let txn = self.db.begin_write().map_err(|e| self.failure(&doing, e))?;
        let rows = txn
            .open_table(def)
            .map_err(|e| self.failure(&doing, e))?
            .len()
            .map_err(|e| self.failure(&doing, e))?;
        txn.delete_table(def).map_err(|e| self.failure(&doing, e))?;
        txn.delete_table(order_def)
            .map_err(|e| self.failure(&doing, e))?;
        txn.open_table(SCHEMAS)
            .map_err(|e| self.failure(&doing, e))?
            .remove(spec.name)
            .map_err(|e| self.failure(&doing, e))?;
        txn.commit().map_err(|e| self.failure(&doing, e))?;
        Ok(usize::try_from(rows).unwrap_or(usize::MAX))
    }

    /// A stored write order of the wrong length: only a damaged file has one.
    fn corrupted_order(&self, spec: &FeatureSetSpec) -> Error {
        let what = format!("a stored write order of `{}`", spec.name);
        Error::Store {
            store: STORE,
            location: self.path.display().to_string(),
            message: format!("the store file is corrupted: {what} cannot be decoded; {REBUILD}"),
            kind: ErrorKind::Permanent,
            source: what.into(),
        }
    }

    fn scan(&self, spec: &FeatureSetSpec) -> Result<Option<ByteRange>> {
        let Some((_txn, table)) = self.read_table(spec)? else {
            return Ok(None);
        };
        // The range keeps its snapshot alive after the transaction is dropped.
        table
            .range::<&[u8]>(..)
            .map(Some)
            .map_err(|e| self.failure(&format!("scanning `{}`", spec.name), e))
    }

    fn scanned(
        &self,
        spec: &FeatureSetSpec,
        item: std::result::Result<(Bytes, Bytes), redb::StorageError>,
    ) -> Result<Record> {
        let (k, v) = item.map_err(|e| self.failure(&format!("scanning `{}`", spec.name), e))?;
        let key: Vec<Value> = postcard::from_bytes(k.value())
            .map_err(|e| self.corrupted(&format!("a stored key of `{}`", spec.name), e))?;
        self.record(key, v.value(), spec)
    }
}

/// `v` encoded as the embedded stores keep it (postcard); an error names
/// the store file at `path`.
pub(super) fn encode<T: Serialize + ?Sized>(
    store: &'static str,
    path: &std::path::Path,
    what: &str,
    v: &T,
) -> Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|e| {
        Error::store(
            store,
            path.display().to_string(),
            format!("encoding {what}"),
            e,
        )
    })
}

/// The (key, row) bytes of `records`, as both embedded stores write them.
/// Encoding is CPU work: done by the caller before the write, on every
/// core, so only owned bytes move to the blocking thread.
pub(super) fn encode_rows(
    store: &'static str,
    path: &std::path::Path,
    records: &[Record],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    use rayon::prelude::*;
    records
        .par_iter()
        .with_min_len(4096)
        .map(|r| {
            let key = encode(store, path, "a key", &r.key)?;
            let row = StoredRef {
                timestamp: r.timestamp,
                values: r.values.as_slice(),
            };
            Ok((key, encode(store, path, "a row", &row)?))
        })
        .collect()
}

/// [`encode_rows`] of rows given as their values: the same bytes, each row
/// encoded straight from its values.
pub(super) fn encode_value_rows(
    store: &'static str,
    path: &std::path::Path,
    rows: &ValueRows,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    use rayon::prelude::*;
    (0..rows.len())
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| {
            let (key, timestamp, values) = rows.row(i);
            let key = encode(store, path, "a key", &key)?;
            let row = StoredRef { timestamp, values };
            Ok((key, encode(store, path, "a row", &row)?))
        })
        .collect()
}

/// An embedded store's [`OnlineStore::write_latest_rows`]: refused by a
/// store opened for lookups, else `rows` encoded here and written by
/// `write` on a blocking thread, the values freed while they are written
/// (a run's latest rows are a value per key and column, and freeing them
/// after the write would add to it).
pub(super) async fn write_value_rows(
    store: &'static str,
    mode: OpenMode,
    path: &Path,
    location: String,
    rows: ValueRows,
    write: impl FnOnce(Vec<(Vec<u8>, Vec<u8>)>) -> Result<OnlineWrite> + Send + 'static,
) -> Result<OnlineWrite> {
    if mode == OpenMode::Read {
        return Err(read_only(store, path.display().to_string()));
    }
    let encoded = encode_value_rows(store, path, &rows)?;
    // `join` polls the write first, which hands it to its thread.
    let (written, ()) = futures::future::join(
        blocking(store, location, move || write(encoded)),
        async move { drop(rows) },
    )
    .await;
    written
}

#[async_trait]
impl OnlineStore for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "redb"
    }

    fn location(&self) -> String {
        format!("redb://{}", self.file.path.display())
    }

    async fn check(&self, spec: &FeatureSetSpec) -> Result<()> {
        self.file.check(spec)
    }

    async fn write_latest(
        &self,
        spec: &FeatureSetSpec,
        records: &[Record],
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        if self.mode == OpenMode::Read {
            return Err(read_only(STORE, self.file.path.display().to_string()));
        }
        let rows = encode_rows(STORE, &self.file.path, records)?;
        let file = Arc::clone(&self.file);
        let spec = *spec;
        blocking(STORE, self.location(), move || file.write(&spec, rows, run)).await
    }

    async fn write_latest_rows(
        &self,
        spec: &FeatureSetSpec,
        rows: ValueRows,
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        let file = Arc::clone(&self.file);
        let spec = *spec;
        write_value_rows(
            STORE,
            self.mode,
            &self.file.path,
            self.location(),
            rows,
            move |rows| file.write(&spec, rows, run),
        )
        .await
    }

    async fn get_many(
        &self,
        spec: &FeatureSetSpec,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Record>>> {
        Ok(super::live_rows(spec, self.file.get_many(spec, keys)?))
    }

    async fn drop_rows(&self, spec: &FeatureSetSpec) -> Result<usize> {
        if self.mode == OpenMode::Read {
            return Err(read_only(STORE, self.file.path.display().to_string()));
        }
        let file = Arc::clone(&self.file);
        let spec = *spec;
        blocking(STORE, self.location(), move || file.drop_rows(&spec)).await
    }

    fn scan<'a>(&'a self, spec: &'a FeatureSetSpec) -> BoxStream<'a, Result<Record>> {
        let rows = match self.file.scan(spec) {
            Ok(Some(range)) => {
                stream::iter(range.map(move |item| self.file.scanned(spec, item))).boxed()
            }
            Ok(None) => stream::empty().boxed(),
            Err(e) => stream::once(async { Err(e) }).boxed(),
        };
        super::live_stream(spec, rows)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::store::online::tests::{run, SPEC};
    use crate::store::online::{BlockingOnlineStore, OnlineStoreExt};

    fn row(id: &str, timestamp: i64, n: i64) -> Record {
        Record {
            key: vec![Value::from(id)],
            timestamp,
            values: vec![Value::Int(n)],
        }
    }

    #[test]
    fn rows_encoded_from_their_values_are_their_records_bytes() {
        use Value::{Bool, Date, Float, Int, List, Null, Str, Timestamp};
        let spec = crate::store::online::tests::every_type();
        // Three pieces of rows of every type, nulls included, in key order.
        let records: Vec<Record> = (0..40_000_i64)
            .map(|i| Record {
                key: vec![Str(format!("k{i:05}")), Int(i % 7 - 3)],
                timestamp: i * 1_000 - 5,
                values: vec![
                    if i % 5 == 0 { Null } else { Bool(i % 2 == 0) },
                    Int(i % 1_000 - 500),
                    Int(i * i),
                    Float(i as f64 / 3.0),
                    Float(f64::from(i as f32) * 0.5),
                    if i % 3 == 0 {
                        Null
                    } else {
                        Str(format!("ü{i}"))
                    },
                    Date(i as i32 - 20_000),
                    Timestamp(i * 7),
                    List(vec![Str("a".into()), Null]),
                    if i % 4 == 0 {
                        Null
                    } else {
                        List(vec![Int(i), Null])
                    },
                ],
            })
            .collect();
        let frame = crate::store::online::records_frame(spec, &records).unwrap();
        let rows = crate::store::online::value_rows(spec, &frame).unwrap();
        assert_eq!(rows.len(), records.len());
        let path = std::path::Path::new("unit");
        let got = encode_value_rows(STORE, path, &rows).unwrap();
        let made = rows.into_records();
        assert_eq!(made, records, "the values of the frame's rows");
        assert!(
            got == encode_rows(STORE, path, &records).unwrap(),
            "the rows' bytes differ from their records'"
        );
    }

    #[test]
    fn opening_for_reading_never_creates_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("typo/online.redb");
        let err = EmbeddedStore::open_with(&path, OpenMode::Read).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("there is no store file here"), "{message}");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!path.exists() && !path.parent().unwrap().exists());
    }

    #[test]
    fn a_store_opened_for_reading_reads_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online.redb");
        {
            let store = BlockingOnlineStore::from(EmbeddedStore::open(&path).unwrap());
            store
                .write_latest(&SPEC, &[row("x", 1, 2)], run(1))
                .unwrap();
        }
        let store =
            BlockingOnlineStore::from(EmbeddedStore::open_with(&path, OpenMode::Read).unwrap());
        assert_eq!(
            store.get(&SPEC, &[Value::from("x")]).unwrap(),
            Some(row("x", 1, 2))
        );
        let frame = crate::store::online::records_frame(&SPEC, &[row("x", 5, 5)]).unwrap();
        let rows = crate::store::online::value_rows(&SPEC, &frame).unwrap();
        for err in [
            store
                .write_latest(&SPEC, &[row("x", 5, 5)], run(5))
                .unwrap_err(),
            store.write_latest_rows(&SPEC, rows, run(5)).unwrap_err(),
        ] {
            assert!(err.to_string().contains("opened for lookups only"), "{err}");
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
        assert_eq!(
            store.get(&SPEC, &[Value::from("x")]).unwrap(),
            Some(row("x", 1, 2))
        );
    }

    #[test]
    fn a_damaged_store_file_is_reported_corrupted_with_redb_as_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("text.redb");
        std::fs::write(&text, "order_id,cpf\n".repeat(1000)).unwrap();
        let damaged = dir.path().join("damaged.redb");
        {
            let store = BlockingOnlineStore::from(EmbeddedStore::open(&damaged).unwrap());
            store
                .write_latest(&SPEC, &[row("x", 1, 2)], run(1))
                .unwrap();
        }
        let mut bytes = std::fs::read(&damaged).unwrap();
        bytes[9..512].fill(0xAA);
        std::fs::write(&damaged, bytes).unwrap();
        for path in [&text, &damaged] {
            for mode in [OpenMode::Read, OpenMode::Write] {
                let err = EmbeddedStore::open_with(path, mode).unwrap_err();
                let message = err.to_string();
                assert!(
                    message.starts_with(&format!("online store (redb) at {}", path.display())),
                    "{message}"
                );
                assert!(message.contains("the store file is corrupted"), "{message}");
                assert_eq!(err.kind(), ErrorKind::Permanent);
                let cause = std::error::Error::source(&err).unwrap();
                assert!(cause.downcast_ref::<redb::Error>().is_some(), "{cause:?}");
            }
        }
    }

    #[test]
    fn a_row_that_does_not_decode_is_reported_corrupted_with_postcard_as_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online.redb");
        {
            let store = BlockingOnlineStore::from(EmbeddedStore::open(&path).unwrap());
            store
                .write_latest(&SPEC, &[row("x", 1, 2)], run(1))
                .unwrap();
        }
        {
            // Damage the row's bytes behind the store's back.
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let name = table_name(&SPEC);
                let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
                let mut table = txn.open_table(def).unwrap();
                let key = postcard::to_stdvec(&vec![Value::from("x")]).unwrap();
                table
                    .insert(key.as_slice(), [0xff_u8; 3].as_slice())
                    .unwrap();
            }
            txn.commit().unwrap();
        }
        let store = BlockingOnlineStore::from(EmbeddedStore::open(&path).unwrap());
        let errors = [
            store.get(&SPEC, &[Value::from("x")]).unwrap_err(),
            store.scan(&SPEC).unwrap_err(),
        ];
        for err in errors {
            let message = err.to_string();
            assert!(
                message.contains("the store file is corrupted: a stored row of `unit`"),
                "{message}"
            );
            assert!(!message.contains("Serde"), "{message}");
            let cause = std::error::Error::source(&err).unwrap();
            assert!(
                cause.downcast_ref::<postcard::Error>().is_some(),
                "{cause:?}"
            );
        }
    }

    #[test]
    fn a_damaged_row_is_replaced_by_a_later_run_and_a_damaged_order_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online.redb");
        let damage = |table: String, bytes: &[u8]| {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&table);
                let mut table = txn.open_table(def).unwrap();
                let key = postcard::to_stdvec(&vec![Value::from("x")]).unwrap();
                table.insert(key.as_slice(), bytes).unwrap();
            }
            txn.commit().unwrap();
        };
        {
            let store = BlockingOnlineStore::from(EmbeddedStore::open(&path).unwrap());
            store
                .write_latest(&SPEC, &[row("x", 1, 2)], run(1))
                .unwrap();
        }
        // A write never decodes the rows it replaces: the later run's row
        // takes the damaged one's place.
        damage(table_name(&SPEC), &[0xff; 3]);
        {
            let store = BlockingOnlineStore::from(EmbeddedStore::open(&path).unwrap());
            store
                .write_latest(&SPEC, &[row("x", 9, 9)], run(9))
                .unwrap();
            assert_eq!(
                store.get(&SPEC, &[Value::from("x")]).unwrap(),
                Some(row("x", 9, 9))
            );
        }
        damage(order_table_name(&SPEC), &[1, 2, 3]);
        let store = BlockingOnlineStore::from(EmbeddedStore::open(&path).unwrap());
        let err = store
            .write_latest(&SPEC, &[row("x", 10, 10)], run(10))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("the store file is corrupted: a stored write order of `unit`"),
            "{err}"
        );
        assert_eq!(
            store.get(&SPEC, &[Value::from("x")]).unwrap(),
            Some(row("x", 9, 9))
        );
    }

    /// Rows written before write orders were kept have none: the oldest.
    #[test]
    fn rows_without_an_order_are_replaced_by_any_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online.redb");
        {
            // The layout of a store written before: rows and columns only.
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut schemas = txn.open_table(SCHEMAS).unwrap();
                let cols = postcard::to_stdvec(&SPEC.column_names()).unwrap();
                schemas.insert(SPEC.name, cols.as_slice()).unwrap();
                let name = table_name(&SPEC);
                let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
                let mut table = txn.open_table(def).unwrap();
                for (id, n) in [("x", 5), ("gone", 6)] {
                    let key = postcard::to_stdvec(&vec![Value::from(id)]).unwrap();
                    let value = postcard::to_stdvec(&Stored {
                        timestamp: 1_000,
                        values: vec![Value::Int(n)],
                    })
                    .unwrap();
                    table.insert(key.as_slice(), value.as_slice()).unwrap();
                }
            }
            txn.commit().unwrap();
        }
        let store = BlockingOnlineStore::from(EmbeddedStore::open(&path).unwrap());
        assert_eq!(
            store.get(&SPEC, &[Value::from("x")]).unwrap(),
            Some(row("x", 1_000, 5))
        );
        // The earliest order there is, with an older row: still replaces.
        let earliest = RunWrite::every_key(WriteOrder {
            as_of: i64::MIN,
            run: i64::MIN,
        });
        let w = store
            .write_latest(&SPEC, &[row("x", 1, 1)], earliest)
            .unwrap();
        assert_eq!(
            w,
            OnlineWrite {
                written: 1,
                kept_newer: 0,
                removed: 1
            }
        );
        assert_eq!(store.scan(&SPEC).unwrap(), vec![row("x", 1, 1)]);
    }

    #[test]
    fn a_store_file_held_by_another_open_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online.redb");
        let _held = EmbeddedStore::open(&path).unwrap();
        let err = EmbeddedStore::open(&path).unwrap_err();
        assert!(err.to_string().contains("open in another process"), "{err}");
        assert_eq!(err.kind(), ErrorKind::Conflict);
    }

    fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
        times.sort();
        (times[times.len() / 2], times[times.len() * 99 / 100])
    }

    /// Single-key lookups through the blocking face cost what a direct read
    /// costs, plus no thread hop. Debug builds are several times slower
    /// than the release numbers of BENCHMARKS.md; run with `--ignored
    /// --nocapture` to see both.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn lookup_latency() {
        const KEYS: usize = 10_000;
        let dir = tempfile::tempdir().unwrap();
        let embedded = EmbeddedStore::open(&dir.path().join("online.redb")).unwrap();
        let file = Arc::clone(&embedded.file);
        let store = BlockingOnlineStore::from(embedded);
        let rows: Vec<Record> = (0..KEYS)
            .map(|i| row(&format!("k{i}"), 1, i as i64))
            .collect();
        store.write_latest(&SPEC, &rows, run(1)).unwrap();
        let keys: Vec<Vec<Value>> = (0..KEYS)
            .map(|i| vec![Value::from(format!("k{}", (i * 7919) % KEYS))])
            .collect();
        for k in &keys {
            store.get(&SPEC, k).unwrap();
        }
        let time = |f: &dyn Fn(&[Value])| {
            let times: Vec<Duration> = keys
                .iter()
                .map(|k| {
                    let t = Instant::now();
                    f(k);
                    t.elapsed()
                })
                .collect();
            percentiles(times)
        };
        let direct = time(&|k| {
            file.get_many(&SPEC, &[k.to_vec()]).unwrap();
        });
        let blocking = time(&|k| {
            store.get(&SPEC, k).unwrap();
        });
        let batches: Vec<Duration> = keys
            .chunks(100)
            .map(|batch| {
                let t = Instant::now();
                store.get_many(&SPEC, batch).unwrap();
                t.elapsed()
            })
            .collect();
        let batched = percentiles(batches);
        eprintln!(
            "single key p50/p99: direct {:?}/{:?}, blocking {:?}/{:?}; batch of 100: {:?}/{:?}",
            direct.0, direct.1, blocking.0, blocking.1, batched.0, batched.1
        );
        let async_store: &dyn OnlineStore = &*store;
        let got = crate::io::block_on(async_store.get(&SPEC, &keys[0])).unwrap();
        assert!(got.is_some());
    }
}
