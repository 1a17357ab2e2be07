//! `sqlite://PATH`: the default online store, embedded in one local file
//! (SQLite in WAL mode, bundled with the build: no server, no system library).
//!
//! Why SQLite: in WAL mode a reader never waits for a writer and a writer
//! never waits for readers, across processes, so `features get`, a feature
//! server and runs of other feature sets use one file while a run writes it.
//! (redb, the former default, locks its file for as long as it is open.)
//!
//! Layout: one table per feature set, `"feature_set:NAME"`, keyed by the
//! encoded key columns (postcard, as redb's), holding the row encoded as one
//! blob (the same encoding as redb's) and the [`WriteOrder`](super::WriteOrder) of the run that
//! wrote it in two integer columns, so that the order rule is one `WHERE` of
//! an upsert. The row is one blob rather than a column per output because a
//! lookup then reads one cell and decodes it with the code every embedded
//! backend shares, typed values (dates, timestamps, lists) included; the
//! columns each table was written with are recorded in
//! `featurestore_schemas`, so a row is never read under another declaration.
//!
//! Writes: a run's rows go in transactions of at most [`CHUNK_ROWS`] rows,
//! so another writer (a run of another feature set) waits for one chunk, not
//! for the whole run; a writer that finds the file's write lock taken waits
//! up to [`BUSY_TIMEOUT`] for it rather than failing. A run's write is
//! therefore not one transaction: a run that fails or is killed in the
//! middle leaves some keys with its rows and the others with their former
//! rows (each row whole). The run's record that the online store is behind
//! (`pipeline::status`) stays until the whole write is committed, and the
//! next run re-writes those rows; the order makes the re-write converge.
//! A run that covers every key removes the keys it has no row for after all
//! its rows are written, in chunks too (nothing to look for when the table
//! then holds as many rows as the run has keys). Every commit is synced to the disk
//! (`synchronous = FULL`).
//!
//! SQLite's calls block. Lookups and scan pages run on the calling task, as
//! redb's: they read pages SQLite mostly holds in its cache, in
//! microseconds. Opening and writing run on tokio's blocking threads.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use super::embedded::{blocking, write_value_rows, Stored};
use super::{
    changed_declaration, read_only, OnlineStore, OnlineWrite, OpenMode, Record, RunWrite, Value,
    ValueRows,
};
use crate::error::{io_kind, Error, ErrorKind, Result};
use crate::spec::FeatureSetSpec;

const STORE: &str = "online store (sqlite)";

/// Rows per write transaction: the longest another writer of the file
/// waits is one such transaction (milliseconds), and a run of a million
/// keys still commits (and syncs) only a hundred times.
pub const CHUNK_ROWS: usize = 10_000;

/// Rows upserted by one statement: four parameters each, far below
/// SQLite's limit of 32,766.
const UPSERT_ROWS: usize = 64;

/// How long a writer waits for another writer's transaction before
/// failing: far longer than one chunk takes.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Rows per page of a scan.
const SCAN_PAGE: usize = 1_000;

/// Idle read connections kept open for the next lookups.
const IDLE_READERS: usize = 8;

/// What to do about a store file that cannot be used.
const REBUILD: &str = "delete it (with its `-wal` and `-shm` files), or point `--online-url` \
                       elsewhere, and re-run the feature sets to rebuild it";

const SCHEMAS: &str = "featurestore_schemas";

/// The embedded online store on SQLite.
#[derive(Debug)]
pub struct SqliteStore {
    db: Arc<Db>,
    mode: OpenMode,
}

/// The store file and its connections, shared with the blocking threads
/// that write it.
struct Db {
    path: PathBuf,
    mode: OpenMode,
    /// Writes of this process take turns here, so they never wait on
    /// SQLite's busy timeout for each other; other processes' writers are
    /// waited for by SQLite.
    writer: Mutex<Option<Connection>>,
    /// Connections for lookups and scans; each is used by one call at a time.
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

/// A feature set's table, quoted for SQL.
fn table_name(spec: &FeatureSetSpec) -> String {
    format!("\"feature_set:{}\"", spec.name.replace('"', "\"\""))
}

/// A poisoned lock only means another thread panicked while holding it;
/// SQLite's state is transactional, so the connections are still sound.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An SQLite error, with the message a person needs for the common causes.
fn sqlite_error(path: &Path, doing: &str, e: rusqlite::Error) -> Error {
    let (message, kind) = match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => (
            format!("{doing}: the store file is corrupted, or not a store file at all; {REBUILD}"),
            ErrorKind::Permanent,
        ),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => (
            format!(
                "{doing}: another process held the store file's write lock for longer than {} s; \
                 try again when its run has ended",
                BUSY_TIMEOUT.as_secs()
            ),
            ErrorKind::Transient,
        ),
        Some(ErrorCode::DiskFull) => (format!("{doing}: the disk is full"), ErrorKind::Transient),
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen) => (
            format!("{doing}: the store file (or its directory) cannot be opened for this use"),
            ErrorKind::Permanent,
        ),
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

impl SqliteStore {
    /// Opens the store file at `path` for writing, creating it if missing.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, OpenMode::Write)
    }

    /// Opens the store file at `path`: with [`OpenMode::Read`] it must
    /// exist, and writes are refused.
    pub fn open_with(path: &Path, mode: OpenMode) -> Result<Self> {
        let writer = match mode {
            OpenMode::Write => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                        context: format!("creating {}", dir.display()),
                        source: e,
                    })?;
                }
                let conn = connect(path, mode)?;
                init(&conn).map_err(|e| sqlite_error(path, "preparing the store file", e))?;
                Some(conn)
            }
            OpenMode::Read => {
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
                None
            }
        };
        // Reading the schema now reports a file that is no SQLite database
        // at opening, as redb does, rather than at the first lookup.
        let reader = connect(path, mode)?;
        reader
            .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .map_err(|e| sqlite_error(path, "opening the store file", e))?;
        Ok(SqliteStore {
            db: Arc::new(Db {
                path: path.to_path_buf(),
                mode,
                writer: Mutex::new(writer),
                readers: Mutex::new(vec![reader]),
            }),
            mode,
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.db.path
    }
}

/// A connection to the store file: read-only for lookups-only stores.
fn connect(path: &Path, mode: OpenMode) -> Result<Connection> {
    let access = match mode {
        OpenMode::Write => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        OpenMode::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
    };
    // Each connection is used by one thread at a time (behind a mutex), so
    // SQLite's own per-connection mutex is not needed.
    let flags = access | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| sqlite_error(path, "opening the store file", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sqlite_error(path, "opening the store file", e))?;
    Ok(conn)
}

/// Puts a file opened for writing in WAL mode (recorded in the file, so
/// every later connection reads it that way) and makes the tables shared by
/// every feature set.
fn init(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // SQLite answers the mode it kept: a file system without shared
        // memory cannot have WAL, and readers would wait for writers.
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!(
                "the file system does not support WAL mode (journal mode `{mode}`)"
            )),
        ));
    }
    // WAL's default (NORMAL) can lose the last commits at a power loss; a
    // run's success means its rows are on the disk.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {SCHEMAS} (feature_set TEXT PRIMARY KEY, columns TEXT NOT NULL)"
    ))
}

impl Db {
    fn failure(&self, doing: &str, e: rusqlite::Error) -> Error {
        sqlite_error(&self.path, doing, e)
    }

    /// Bytes of the file that do not decode: only a damaged file has them,
    /// since every byte was encoded by this module.
    fn corrupted(&self, what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Store {
            store: STORE,
            location: self.path.display().to_string(),
            message: format!("the store file is corrupted: {what} cannot be decoded; {REBUILD}"),
            kind: ErrorKind::Permanent,
            source: Box::new(e),
        }
    }

    fn encode<T: serde::Serialize + ?Sized>(&self, what: &str, v: &T) -> Result<Vec<u8>> {
        super::embedded::encode(STORE, &self.path, what, v)
    }

    /// Runs `f` on a read connection of the pool (opening one if every one
    /// is busy), and puts it back.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = lock(&self.readers).pop();
        let conn = match conn {
            Some(c) => c,
            None => connect(&self.path, self.mode)?,
        };
        let out = f(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Whether a feature set's table exists.
    fn has_table(&self, conn: &Connection, spec: &FeatureSetSpec) -> Result<bool> {
        conn.prepare_cached("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1")
            .and_then(|mut s| s.exists([format!("feature_set:{}", spec.name)]))
            .map_err(|e| self.failure(&format!("looking for the table of `{}`", spec.name), e))
    }

    /// `e`, unless the feature set has no table (never written, or dropped):
    /// then there is nothing to read, which is no error.
    fn unless_no_table(
        &self,
        conn: &Connection,
        spec: &FeatureSetSpec,
        e: rusqlite::Error,
        doing: &str,
    ) -> Result<()> {
        if self.has_table(conn, spec)? {
            Err(self.failure(doing, e))
        } else {
            Ok(())
        }
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

    fn get_many(&self, spec: &FeatureSetSpec, keys: &[Vec<Value>]) -> Result<Vec<Option<Record>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let doing = || format!("reading rows of `{}`", spec.name);
        let encoded = keys
            .iter()
            .map(|k| self.encode("a key", k))
            .collect::<Result<Vec<_>>>()?;
        self.read(|conn| {
            // A batch reads one snapshot: one read transaction. (One key
            // is one statement, a snapshot of its own.)
            let txn = if keys.len() > 1 {
                Some(
                    conn.unchecked_transaction()
                        .map_err(|e| self.failure(&doing(), e))?,
                )
            } else {
                None
            };
            let sql = format!("SELECT row FROM {} WHERE key = ?1", table_name(spec));
            let mut stmt = match conn.prepare_cached(&sql) {
                Ok(s) => s,
                Err(e) => {
                    self.unless_no_table(conn, spec, e, &doing())?;
                    return Ok(vec![None; keys.len()]);
                }
            };
            let mut out = Vec::with_capacity(keys.len());
            for (key, k) in keys.iter().zip(&encoded) {
                let row: Option<Vec<u8>> = match stmt.query_row([k], |r| r.get(0)).optional() {
                    Ok(row) => row,
                    // A cached statement of a table dropped since
                    // (`features migrate apply`) fails only when it runs.
                    Err(e) => {
                        self.unless_no_table(conn, spec, e, &doing())?;
                        return Ok(vec![None; keys.len()]);
                    }
                };
                out.push(match row {
                    Some(v) => Some(self.record(key.clone(), &v, spec)?),
                    None => None,
                });
            }
            drop(stmt);
            drop(txn);
            Ok(out)
        })
    }

    /// The columns recorded for `spec`, if any.
    fn recorded_columns(
        &self,
        conn: &Connection,
        spec: &FeatureSetSpec,
    ) -> Result<Option<Vec<String>>> {
        let doing = || format!("reading the recorded columns of `{}`", spec.name);
        let text: Option<String> = match conn.prepare_cached(&format!(
            "SELECT columns FROM {SCHEMAS} WHERE feature_set = ?1"
        )) {
            Ok(mut stmt) => stmt
                .query_row([spec.name], |r| r.get(0))
                .optional()
                .map_err(|e| self.failure(&doing(), e))?,
            // A lookups-only store of a file no run prepared: nothing recorded.
            Err(e) if self.mode == OpenMode::Read => {
                let known = conn
                    .prepare_cached("SELECT 1 FROM sqlite_schema WHERE name = ?1")
                    .and_then(|mut s| s.exists([SCHEMAS]))
                    .map_err(|e| self.failure(&doing(), e))?;
                if known {
                    return Err(self.failure(&doing(), e));
                }
                None
            }
            Err(e) => return Err(self.failure(&doing(), e)),
        };
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| self.corrupted(&format!("the recorded columns of `{}`", spec.name), e))
        })
        .transpose()
    }

    fn check_columns(&self, spec: &FeatureSetSpec, stored: Option<&[String]>) -> Result<()> {
        match stored {
            Some(stored) if stored != spec.column_names() => Err(changed_declaration(
                STORE,
                self.path.display().to_string(),
                spec,
                stored,
                &format!(
                    "run `features migrate apply {} --allow-destructive` to delete its rows, or \
                     point `--online-url` elsewhere",
                    spec.name
                ),
            )),
            _ => Ok(()),
        }
    }

    fn check(&self, spec: &FeatureSetSpec) -> Result<()> {
        self.read(|conn| {
            let stored = self.recorded_columns(conn, spec)?;
            self.check_columns(spec, stored.as_deref())
        })
    }

    /// Inside a write transaction: refuses a changed declaration, or records
    /// a new one and makes its table.
    fn declare(&self, txn: &Connection, spec: &FeatureSetSpec, doing: &str) -> Result<()> {
        match self.recorded_columns(txn, spec)? {
            Some(stored) => self.check_columns(spec, Some(&stored)),
            None => {
                let columns = serde_json::to_string(&spec.column_names()).map_err(|e| {
                    Error::store(
                        STORE,
                        self.path.display().to_string(),
                        "encoding the columns",
                        e,
                    )
                })?;
                txn.execute(
                    &format!("INSERT INTO {SCHEMAS} (feature_set, columns) VALUES (?1, ?2)"),
                    params![spec.name, columns],
                )
                .map_err(|e| self.failure(doing, e))?;
                txn.execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS {} (key BLOB PRIMARY KEY, row BLOB NOT NULL, \
                     as_of INTEGER NOT NULL, run INTEGER NOT NULL) WITHOUT ROWID",
                    table_name(spec)
                ))
                .map_err(|e| self.failure(doing, e))
            }
        }
    }

    /// Upserts encoded rows (key, value) in the order of `run`, in
    /// transactions of [`CHUNK_ROWS`] rows; then, for a run of every key,
    /// removes the rows it covers but did not offer.
    fn write(
        &self,
        spec: &FeatureSetSpec,
        mut rows: Vec<(Vec<u8>, Vec<u8>)>,
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        let doing = format!("writing `{}`", spec.name);
        // Rows in key order append to the table's B-tree; in any other
        // order each lands on a page of its own, read back from the file
        // once the table outgrows SQLite's cache. A run split by key hands
        // over one sorted run of keys per part. Stable: of a key offered
        // twice, the later row is still written last.
        if !rows.is_sorted_by(|a, b| a.0 <= b.0) {
            use rayon::slice::ParallelSliceMut;
            rows.par_sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut guard = lock(&self.writer);
        let Some(conn) = guard.as_mut() else {
            return Err(read_only(STORE, self.path.display().to_string()));
        };
        // The stored row is replaced iff the incoming order is equal or
        // later (`WriteOrder::replaces`): a row-value comparison in the
        // upsert's condition, so the decision and the write are one step.
        // Rows go [`UPSERT_ROWS`] to a statement: SQLite's cost per
        // statement (binding, stepping, resetting) was a quarter of the
        // write. A key offered twice in one statement is upserted twice in
        // row order, as in two statements.
        let upsert = |n: usize| {
            let values = vec!["(?, ?, ?, ?)"; n].join(", ");
            format!(
                "INSERT INTO {t} (key, row, as_of, run) VALUES {values} \
                 ON CONFLICT (key) DO UPDATE SET row = excluded.row, as_of = excluded.as_of, \
                 run = excluded.run WHERE (excluded.as_of, excluded.run) >= ({t}.as_of, {t}.run)",
                t = table_name(spec)
            )
        };
        let (as_of, order_run) = (run.order.as_of, run.order.run);
        let mut out = OnlineWrite::default();
        // At least one transaction, so that a write of no rows still checks
        // and records the declaration.
        let chunks: Vec<&[(Vec<u8>, Vec<u8>)]> = if rows.is_empty() {
            vec![&[]]
        } else {
            rows.chunks(CHUNK_ROWS).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let txn = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.failure(&doing, e))?;
            // Every chunk checks the declaration: between two chunks the
            // file is open to other writers.
            self.declare(&txn, spec, &doing)?;
            for rows in chunk.chunks(UPSERT_ROWS) {
                let mut stmt = txn
                    .prepare_cached(&upsert(rows.len()))
                    .map_err(|e| self.failure(&doing, e))?;
                let mut values: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(4 * rows.len());
                for (key, value) in rows {
                    values.extend([key as &dyn rusqlite::ToSql, value, &as_of, &order_run]);
                }
                // Each row is one change when written, none when kept.
                let changed = stmt
                    .execute(values.as_slice())
                    .map_err(|e| self.failure(&doing, e))?;
                out.written += changed;
                out.kept_newer += rows.len() - changed;
            }
            if i == 0 {
                // Nothing of the run is in the store yet.
                crate::fail::point(|| "online:before-commit".to_string());
            }
            // Dropping an uncommitted transaction rolls it back: an error
            // above leaves the chunk's rows as they were.
            txn.commit().map_err(|e| self.failure(&doing, e))?;
            if i == 0 && i < last {
                // The first chunk is in the store, the others are not.
                crate::fail::point(|| "online:chunk-committed".to_string());
            }
        }
        if run.covers_every_key && !self.only_offered(conn, spec, &rows, &doing)? {
            out.removed = self.remove_absent(conn, spec, &rows, run, &doing)?;
        }
        crate::fail::point(|| "online:committed".to_string());
        Ok(out)
    }

    /// Whether the table of `spec` holds no key but the ones of `rows`
    /// (sorted by `write`), which are all stored once upserted: then it
    /// holds as many rows as `rows` has keys. SQLite counts a table's rows
    /// from its pages, without reading them; [`remove_absent`](Self::remove_absent)'s scan
    /// reads every row (50–70 ms of the 461,543 rows of a 10M-event run),
    /// to find nothing on every run whose keys are the ones stored.
    fn only_offered(
        &self,
        conn: &Connection,
        spec: &FeatureSetSpec,
        rows: &[(Vec<u8>, Vec<u8>)],
        doing: &str,
    ) -> Result<bool> {
        let keys = rows.chunk_by(|a, b| a.0 == b.0).count();
        let stored: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {}", table_name(spec)),
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.failure(doing, e))?;
        Ok(usize::try_from(stored).is_ok_and(|stored| stored == keys))
    }

    /// Removes the stored rows of `spec` that `rows` has no key for and
    /// whose order `run` replaces; returns how many.
    fn remove_absent(
        &self,
        conn: &mut Connection,
        spec: &FeatureSetSpec,
        rows: &[(Vec<u8>, Vec<u8>)],
        run: RunWrite,
        doing: &str,
    ) -> Result<usize> {
        let (as_of, order_run) = (run.order.as_of, run.order.run);
        // The candidates, from one snapshot: the rows of earlier or equal
        // orders (the ones just written have the run's own order), in key
        // order, walked beside the offered keys (sorted by `write`): no
        // key is hashed or copied, except the ones removed.
        debug_assert!(rows.is_sorted_by(|a, b| a.0 <= b.0));
        let gone: Vec<Vec<u8>> = {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT key FROM {} WHERE (as_of, run) <= (?1, ?2) ORDER BY key",
                    table_name(spec)
                ))
                .map_err(|e| self.failure(doing, e))?;
            let mut keys = stmt
                .query(params![as_of, order_run])
                .map_err(|e| self.failure(doing, e))?;
            let mut offered = rows.iter().map(|(k, _)| k.as_slice()).peekable();
            let mut gone = Vec::new();
            while let Some(row) = keys.next().map_err(|e| self.failure(doing, e))? {
                let k = row
                    .get_ref(0)
                    .and_then(|v| v.as_blob().map_err(Into::into))
                    .map_err(|e| self.failure(doing, e))?;
                // SQLite orders blobs as slices are ordered: bytes, then length.
                while offered.next_if(|o| *o < k).is_some() {}
                if offered.peek() != Some(&k) {
                    gone.push(k.to_vec());
                }
            }
            gone
        };
        // Deleted in chunks, each re-checking the order: a later run may
        // have written a key since the snapshot.
        let delete = format!(
            "DELETE FROM {} WHERE key = ?1 AND (as_of, run) <= (?2, ?3)",
            table_name(spec)
        );
        let mut removed = 0;
        for chunk in gone.chunks(CHUNK_ROWS) {
            let txn = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| self.failure(doing, e))?;
            self.declare(&txn, spec, doing)?;
            {
                let mut stmt = txn
                    .prepare_cached(&delete)
                    .map_err(|e| self.failure(doing, e))?;
                for k in chunk {
                    removed += stmt
                        .execute(params![k, as_of, order_run])
                        .map_err(|e| self.failure(doing, e))?;
                }
            }
            txn.commit().map_err(|e| self.failure(doing, e))?;
        }
        Ok(removed)
    }

    /// Deletes a feature set's table and its recorded columns, in one
    /// transaction; returns the number of rows deleted.
    fn drop_rows(&self, spec: &FeatureSetSpec) -> Result<usize> {
        let doing = format!("deleting the rows of `{}`", spec.name);
        let mut guard = lock(&self.writer);
        let Some(conn) = guard.as_mut() else {
            return Err(read_only(STORE, self.path.display().to_string()));
        };
        let txn = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.failure(&doing, e))?;
        let rows = if self.has_table(&txn, spec)? {
            let n: i64 = txn
                .query_row(
                    &format!("SELECT count(*) FROM {}", table_name(spec)),
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| self.failure(&doing, e))?;
            txn.execute_batch(&format!("DROP TABLE {}", table_name(spec)))
                .map_err(|e| self.failure(&doing, e))?;
            n
        } else {
            0
        };
        txn.execute(
            &format!("DELETE FROM {SCHEMAS} WHERE feature_set = ?1"),
            [spec.name],
        )
        .map_err(|e| self.failure(&doing, e))?;
        txn.commit().map_err(|e| self.failure(&doing, e))?;
        Ok(usize::try_from(rows).unwrap_or(0))
    }

    /// The page of rows after key `after`, in key order.
    fn page(&self, spec: &FeatureSetSpec, after: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let doing = || format!("scanning `{}`", spec.name);
        self.read(|conn| {
            let sql = format!(
                "SELECT key, row FROM {} WHERE key > ?1 ORDER BY key LIMIT {SCAN_PAGE}",
                table_name(spec)
            );
            let mut stmt = match conn.prepare_cached(&sql) {
                Ok(s) => s,
                Err(e) => {
                    self.unless_no_table(conn, spec, e, &doing())?;
                    return Ok(Vec::new());
                }
            };
            let rows = stmt
                .query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>);
            match rows {
                Ok(rows) => Ok(rows),
                Err(e) => {
                    self.unless_no_table(conn, spec, e, &doing())?;
                    Ok(Vec::new())
                }
            }
        })
    }

    fn scanned(&self, spec: &FeatureSetSpec, key: &[u8], row: &[u8]) -> Result<Record> {
        let key: Vec<Value> = postcard::from_bytes(key)
            .map_err(|e| self.corrupted(&format!("a stored key of `{}`", spec.name), e))?;
        self.record(key, row, spec)
    }
}

#[async_trait]
impl OnlineStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> String {
        format!("sqlite://{}", self.db.path.display())
    }

    async fn check(&self, spec: &FeatureSetSpec) -> Result<()> {
        self.db.check(spec)
    }

    async fn write_latest(
        &self,
        spec: &FeatureSetSpec,
        records: &[Record],
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        if self.mode == OpenMode::Read {
            return Err(read_only(STORE, self.db.path.display().to_string()));
        }
        let rows = super::embedded::encode_rows(STORE, &self.db.path, records)?;
        let db = Arc::clone(&self.db);
        let spec = *spec;
        blocking(STORE, self.location(), move || db.write(&spec, rows, run)).await
    }

    async fn write_latest_rows(
        &self,
        spec: &FeatureSetSpec,
        rows: ValueRows,
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        let db = Arc::clone(&self.db);
        let spec = *spec;
        write_value_rows(
            STORE,
            self.mode,
            &self.db.path,
            self.location(),
            rows,
            move |rows| db.write(&spec, rows, run),
        )
        .await
    }

    async fn get_many(
        &self,
        spec: &FeatureSetSpec,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Record>>> {
        Ok(super::live_rows(spec, self.db.get_many(spec, keys)?))
    }

    async fn drop_rows(&self, spec: &FeatureSetSpec) -> Result<usize> {
        if self.mode == OpenMode::Read {
            return Err(read_only(STORE, self.db.path.display().to_string()));
        }
        let db = Arc::clone(&self.db);
        let spec = *spec;
        blocking(STORE, self.location(), move || db.drop_rows(&spec)).await
    }

    fn scan<'a>(&'a self, spec: &'a FeatureSetSpec) -> BoxStream<'a, Result<Record>> {
        // Page by page in key order, each page a read of its own: memory
        // stays bounded and no read transaction is held between pages. A
        // row written during the scan is seen at most once, old or new.
        struct State {
            after: Vec<u8>,
            page: VecDeque<(Vec<u8>, Vec<u8>)>,
            done: bool,
        }
        let start = State {
            after: Vec::new(),
            page: VecDeque::new(),
            done: false,
        };
        let rows = stream::unfold(start, move |mut state| async move {
            if state.page.is_empty() && !state.done {
                match self.db.page(spec, &state.after) {
                    Ok(page) => {
                        state.done = page.len() < SCAN_PAGE;
                        if let Some((last, _)) = page.last() {
                            state.after.clone_from(last);
                        }
                        state.page = page.into();
                    }
                    Err(e) => {
                        state.done = true;
                        return Some((Err(e), state));
                    }
                }
            }
            let (key, row) = state.page.pop_front()?;
            Some((self.db.scanned(spec, &key, &row), state))
        })
        .boxed();
        super::live_stream(spec, rows)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::store::online::embedded::StoredRef;
    use crate::store::online::tests::{run, SPEC};
    use crate::store::online::{BlockingOnlineStore, WriteOrder};

    fn row(id: &str, timestamp: i64, n: i64) -> Record {
        Record {
            key: vec![Value::from(id)],
            timestamp,
            values: vec![Value::Int(n)],
        }
    }

    #[test]
    fn opening_for_reading_never_creates_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("typo/online.sqlite");
        let err = SqliteStore::open_with(&path, OpenMode::Read).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("there is no store file here"), "{message}");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!path.exists() && !path.parent().unwrap().exists());
    }

    /// `records` as a run hands them over.
    fn rows_of(records: &[Record]) -> ValueRows {
        let frame = crate::store::online::records_frame(&SPEC, records).unwrap();
        crate::store::online::value_rows(&SPEC, &frame).unwrap()
    }

    #[test]
    fn a_store_opened_for_reading_reads_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online.sqlite");
        let writer = BlockingOnlineStore::from(SqliteStore::open(&path).unwrap());
        writer
            .write_latest(&SPEC, &[row("x", 1, 2)], run(1))
            .unwrap();
        // Opened while the writer is open, as `features get` during a run.
        let reader =
            BlockingOnlineStore::from(SqliteStore::open_with(&path, OpenMode::Read).unwrap());
        assert_eq!(
            reader.get(&SPEC, &[Value::from("x")]).unwrap(),
            Some(row("x", 1, 2))
        );
        for err in [
            reader
                .write_latest(&SPEC, &[row("x", 5, 5)], run(5))
                .unwrap_err(),
            reader
                .write_latest_rows(&SPEC, rows_of(&[row("x", 5, 5)]), run(5))
                .unwrap_err(),
            crate::io::block_on(reader.inner().drop_rows(&SPEC)).unwrap_err(),
        ] {
            assert!(err.to_string().contains("opened for lookups only"), "{err}");
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
        // The writer's later rows are seen by the open reader.
        writer
            .write_latest(&SPEC, &[row("x", 3, 3)], run(3))
            .unwrap();
        assert_eq!(
            reader.get(&SPEC, &[Value::from("x")]).unwrap(),
            Some(row("x", 3, 3))
        );
    }

    #[test]
    fn a_file_that_is_no_store_is_reported_with_sqlite_as_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("text.sqlite");
        std::fs::write(&text, "order_id,cpf\n".repeat(1000)).unwrap();
        for mode in [OpenMode::Read, OpenMode::Write] {
            let err = SqliteStore::open_with(&text, mode).unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("online store (sqlite) at {}", text.display())),
                "{message}"
            );
            assert!(
                message.contains("corrupted, or not a store file at all"),
                "{message}"
            );
            assert_eq!(err.kind(), ErrorKind::Permanent);
            let cause = std::error::Error::source(&err).unwrap();
            assert!(
                cause.downcast_ref::<rusqlite::Error>().is_some(),
                "{cause:?}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(&text).unwrap(),
            "order_id,cpf\n".repeat(1000)
        );
    }

    #[test]
    fn a_row_that_does_not_decode_is_reported_corrupted_with_postcard_as_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("online.sqlite");
        let store = BlockingOnlineStore::from(SqliteStore::open(&path).unwrap());
        store
            .write_latest(&SPEC, &[row("x", 1, 2)], run(1))
            .unwrap();
        // Damage the row's bytes behind the store's back.
        let conn = Connection::open(&path).unwrap();
        conn.execute(
            &format!("UPDATE {} SET row = x'ffffff'", table_name(&SPEC)),
            [],
        )
        .unwrap();
        for err in [
            store.get(&SPEC, &[Value::from("x")]).unwrap_err(),
            store.scan(&SPEC).unwrap_err(),
        ] {
            let message = err.to_string();
            assert!(
                message.contains("the store file is corrupted: a stored row of `unit`"),
                "{message}"
            );
            let cause = std::error::Error::source(&err).unwrap();
            assert!(
                cause.downcast_ref::<postcard::Error>().is_some(),
                "{cause:?}"
            );
        }
        // A write never decodes the row it replaces.
        store
            .write_latest(&SPEC, &[row("x", 9, 9)], run(9))
            .unwrap();
        assert_eq!(
            store.get(&SPEC, &[Value::from("x")]).unwrap(),
            Some(row("x", 9, 9))
        );
    }

    /// Writes and removals larger than one transaction keep the order rule
    /// in every chunk.
    #[test]
    fn writes_and_removals_of_several_chunks_follow_the_order_of_runs() {
        let keys = 2 * CHUNK_ROWS + 500;
        let dir = tempfile::tempdir().unwrap();
        let store =
            BlockingOnlineStore::from(SqliteStore::open(&dir.path().join("o.sqlite")).unwrap());
        let rows =
            |n: i64| -> Vec<Record> { (0..keys).map(|i| row(&format!("k{i:06}"), n, n)).collect() };
        let order = |as_of| WriteOrder { as_of, run: 0 };
        let w = store
            .write_latest(&SPEC, &rows(2), RunWrite::some_keys(order(2)))
            .unwrap();
        assert_eq!((w.written, w.kept_newer, w.removed), (keys, 0, 0));
        // A later run writes the last key of each chunk.
        let later: Vec<Record> = (0..keys)
            .filter(|i| i % CHUNK_ROWS == CHUNK_ROWS - 1)
            .map(|i| row(&format!("k{i:06}"), 5, 5))
            .collect();
        store
            .write_latest(&SPEC, &later, RunWrite::some_keys(order(5)))
            .unwrap();
        // An earlier run of every key changes nothing.
        let w = store
            .write_latest(&SPEC, &rows(1), RunWrite::every_key(order(1)))
            .unwrap();
        assert_eq!((w.written, w.kept_newer, w.removed), (0, keys, 0));
        // A run of every key with the first 100 keys removes the others, but
        // the later run's.
        let first: Vec<Record> = rows(3).into_iter().take(100).collect();
        let w = store
            .write_latest(&SPEC, &first, RunWrite::every_key(order(3)))
            .unwrap();
        assert_eq!(
            (w.written, w.kept_newer, w.removed),
            (100, 0, keys - 100 - later.len())
        );
        let mut left = store.scan(&SPEC).unwrap();
        left.sort_by(|a, b| a.key[0].to_string().cmp(&b.key[0].to_string()));
        let mut expected: Vec<Record> = first.into_iter().chain(later).collect();
        expected.sort_by(|a, b| a.key[0].to_string().cmp(&b.key[0].to_string()));
        assert_eq!(left, expected);
    }

    /// A run of every key that offers a key twice still removes the stored
    /// key it has no row for: keys, not rows, are counted against the
    /// table's rows.
    #[test]
    fn a_key_offered_twice_is_one_key_of_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            BlockingOnlineStore::from(SqliteStore::open(&dir.path().join("o.sqlite")).unwrap());
        let order = |as_of| WriteOrder { as_of, run: 0 };
        store
            .write_latest(
                &SPEC,
                &[row("a", 1, 1), row("b", 1, 1)],
                RunWrite::some_keys(order(1)),
            )
            .unwrap();
        let w = store
            .write_latest(
                &SPEC,
                &[row("a", 2, 2), row("a", 3, 3)],
                RunWrite::every_key(order(2)),
            )
            .unwrap();
        assert_eq!(w.removed, 1);
        assert_eq!(store.scan(&SPEC).unwrap(), vec![row("a", 3, 3)]);
    }

    fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
        times.sort();
        (times[times.len() / 2], times[times.len() * 99 / 100])
    }

    /// Single-key and 100-key lookups, the same measurement as redb's
    /// (`embedded::tests::lookup_latency`). Debug builds are several times
    /// slower than release; run with `--ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn lookup_latency() {
        const KEYS: usize = 10_000;
        let dir = tempfile::tempdir().unwrap();
        let store =
            BlockingOnlineStore::from(SqliteStore::open(&dir.path().join("o.sqlite")).unwrap());
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
        let single: Vec<Duration> = keys
            .iter()
            .map(|k| {
                let t = Instant::now();
                assert!(store.get(&SPEC, k).unwrap().is_some());
                t.elapsed()
            })
            .collect();
        let single = percentiles(single);
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
            "sqlite single key p50/p99: {:?}/{:?}; batch of 100: {:?}/{:?}",
            single.0, single.1, batched.0, batched.1
        );
    }

    /// The layout's choice: a row of 12 float outputs read as one encoded
    /// blob (this store's layout) or as a column per output, by the same
    /// prepared lookup on the same keys. Run with `--ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn one_blob_against_a_column_per_output() {
        const KEYS: usize = 10_000;
        const OUTPUTS: usize = 12;
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("layouts.sqlite")).unwrap();
        init(&conn).unwrap();
        let columns: Vec<String> = (0..OUTPUTS).map(|i| format!("c{i} REAL")).collect();
        conn.execute_batch(&format!(
            "CREATE TABLE blob (key BLOB PRIMARY KEY, row BLOB NOT NULL) WITHOUT ROWID;
             CREATE TABLE wide (key BLOB PRIMARY KEY, ts INTEGER NOT NULL, {}) WITHOUT ROWID;",
            columns.join(", ")
        ))
        .unwrap();
        let key = |i: usize| postcard::to_stdvec(&vec![Value::from(format!("k{i}"))]).unwrap();
        let values = |i: usize| -> Vec<Value> {
            (0..OUTPUTS)
                .map(|c| Value::Float((i * c) as f64 / 7.0))
                .collect()
        };
        let tx = conn.unchecked_transaction().unwrap();
        let marks = ["?"; OUTPUTS].join(", ");
        for i in 0..KEYS {
            let v = values(i);
            let row = postcard::to_stdvec(&StoredRef {
                timestamp: 1,
                values: &v,
            })
            .unwrap();
            tx.execute("INSERT INTO blob VALUES (?1, ?2)", params![key(i), row])
                .unwrap();
            let mut p: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(key(i)), Box::new(1_i64)];
            p.extend(v.iter().map(|x| match x {
                Value::Float(f) => Box::new(*f) as Box<dyn rusqlite::ToSql>,
                _ => unreachable!(),
            }));
            tx.execute(
                &format!("INSERT INTO wide VALUES (?, ?, {marks})"),
                rusqlite::params_from_iter(p.iter()),
            )
            .unwrap();
        }
        tx.commit().unwrap();
        let order: Vec<Vec<u8>> = (0..KEYS).map(|i| key((i * 7919) % KEYS)).collect();
        let time = |f: &dyn Fn(&[u8]) -> Vec<Value>| {
            for k in &order {
                f(k);
            }
            let times: Vec<Duration> = order
                .iter()
                .map(|k| {
                    let t = Instant::now();
                    assert_eq!(f(k).len(), OUTPUTS);
                    t.elapsed()
                })
                .collect();
            percentiles(times)
        };
        let blob = time(&|k| {
            let mut s = conn
                .prepare_cached("SELECT row FROM blob WHERE key = ?1")
                .unwrap();
            let row: Vec<u8> = s.query_row([k], |r| r.get(0)).unwrap();
            postcard::from_bytes::<Stored>(&row).unwrap().values
        });
        let wide = time(&|k| {
            let mut s = conn
                .prepare_cached("SELECT * FROM wide WHERE key = ?1")
                .unwrap();
            s.query_row([k], |r| {
                (2..2 + OUTPUTS)
                    .map(|c| {
                        r.get::<_, Option<f64>>(c)
                            .map(|v| v.map_or(Value::Null, Value::Float))
                    })
                    .collect::<rusqlite::Result<Vec<Value>>>()
            })
            .unwrap()
        });
        eprintln!(
            "{OUTPUTS} outputs, p50/p99: one blob {:?}/{:?}, a column per output {:?}/{:?}",
            blob.0, blob.1, wide.0, wide.1
        );
    }
}
