//! `redis://` / `rediss://`: the latest rows in a Redis server (cargo
//! feature `redis`).
//!
//! One hash per key, `{prefix}{feature_set}:{escaped key parts}`, with the
//! order of the run that wrote it in `__as_of`/`__run` and its row time in
//! `__ts` (the layout in full: `codec.rs`, and the README). Writes keep the
//! order of runs in the server: a Lua script, loaded once and called with
//! `EVALSHA`, compares the stored order with the write's and writes only
//! when the write's is equal or later, so concurrent writers and re-runs of
//! old intervals converge without a read-modify-write race. A batch goes in
//! pipelined chunks ([`RedisConfig::write_chunk`] rows per round trip, a few
//! chunks in flight); each row is applied whole by the script, and a batch
//! interrupted between chunks leaves the chunks already sent applied, which
//! the order makes safe to send again. A run that covers every key then
//! scans the feature set's keys and removes, through the same script, those
//! it has no row for.
//!
//! Lookups are one pipelined round trip of `HMGET`s; scans walk `SCAN MATCH`
//! (never `KEYS`, which blocks the server). `SCAN` visits every key of the
//! database to find a feature set's, so a scan of a small table in a large
//! shared database is slow: give the feature store a database of its own
//! (`redis://host/N`) where scans matter.
//!
//! TTL: a feature set's `ttl` is key expiry. The script sets it with the
//! row (`PEXPIREAT` the row's time plus the `ttl`, in milliseconds), so a
//! row kept against an earlier run keeps its own expiry, and a row already
//! past it is gone at once. Reads also hide a row past its `ttl` to the
//! microsecond, as every backend does.

mod codec;
mod config;

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Pipeline, RedisError, ServerErrorKind};

pub use config::{RedisConfig, DEFAULT_PREFIX, DEFAULT_WRITE_CHUNK};

use super::{
    changed_declaration, read_only, OnlineStore, OnlineWrite, OpenMode, Record, RunWrite, Value,
};
use crate::error::{BoxError, Error, ErrorKind, Result};
use crate::spec::FeatureSetSpec;
use codec::{row_key, row_pattern, schema_key, IN_ORDER, KEY_FIELD, TS_FIELD};

const STORE: &str = "online store (redis)";

/// Keys asked for per `SCAN` call: a hint to the server, which answers
/// about that many per round trip.
const SCAN_COUNT: usize = 1000;

/// Write chunks sent before the first reply is awaited.
const CHUNKS_IN_FLIGHT: usize = 4;

/// An online store in a Redis server.
///
/// Cheap to clone and share: one multiplexed connection, reconnected after
/// it drops, carries every call.
#[derive(Clone)]
pub struct RedisStore {
    config: Arc<RedisConfig>,
    conn: ConnectionManager,
    script: Arc<redis::Script>,
    mode: OpenMode,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the server of `config` and loads the script that keeps
    /// the order of runs.
    ///
    /// The connection's background task runs on the process's I/O runtime
    /// ([`crate::io::runtime`]), so the store works from any runtime and from
    /// synchronous code.
    pub async fn connect(config: RedisConfig, mode: OpenMode) -> Result<Self> {
        let shown = config.shown();
        let connect = {
            let config = config.clone();
            async move {
                let client = redis::Client::open(config.url.as_str())?;
                let manager = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.response_timeout))
                    // Opening fails fast on a server that is down; the
                    // caller (a run, a retry policy) decides to try again.
                    .set_number_of_retries(1);
                let mut conn = ConnectionManager::new_with_config(client, manager).await?;
                let script = redis::Script::new(IN_ORDER);
                script.load_async(&mut conn).await?;
                Ok::<_, RedisError>((conn, script))
            }
        };
        let (conn, script) = match crate::io::runtime().spawn(connect).await {
            Ok(connected) => connected.map_err(|e| redis_error(&shown, "connecting", e))?,
            Err(join) => {
                return Err(Error::store(
                    STORE,
                    shown,
                    "connecting was interrupted",
                    join,
                ))
            }
        };
        Ok(RedisStore {
            config: Arc::new(config),
            conn,
            script: Arc::new(script),
            mode,
        })
    }

    /// Opens the store at Redis URL `url` (see [`RedisConfig::from_url`]).
    pub async fn open(url: &str, mode: OpenMode) -> Result<Self> {
        Self::connect(RedisConfig::from_url(url)?, mode).await
    }

    /// The store's options.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    fn encode<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>> {
        postcard::to_stdvec(value)
            .map_err(|e| Error::store(STORE, self.config.shown(), "encoding a value", e))
    }

    fn error(&self, doing: &str, e: RedisError) -> Error {
        redis_error(&self.config.shown(), doing, e)
    }

    /// The declaration `spec`'s rows were written with, if any.
    async fn stored_declaration(&self, spec: &FeatureSetSpec) -> Result<Option<Vec<String>>> {
        let mut conn = self.conn.clone();
        let stored: Option<String> = redis::cmd("GET")
            .arg(schema_key(&self.config.prefix, spec.name))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error("reading the declaration", e))?;
        stored
            .map(|s| {
                serde_json::from_str(&s).map_err(|e| {
                    self.corrupt(
                        format!(
                            "the declaration key of `{}` holds {s:?}, not a column list",
                            spec.name
                        ),
                        e,
                    )
                })
            })
            .transpose()
    }

    fn corrupt(&self, message: String, source: impl Into<BoxError>) -> Error {
        Error::Store {
            store: STORE,
            location: self.config.shown(),
            message,
            kind: ErrorKind::Permanent,
            source: source.into(),
        }
    }

    fn check_declaration(&self, spec: &FeatureSetSpec, stored: Option<&[String]>) -> Result<()> {
        match stored {
            Some(columns) if columns != spec.column_names() => Err(changed_declaration(
                STORE,
                self.config.shown(),
                spec,
                columns,
                &format!(
                    "delete its keys (`{}*` and `{}`) to rebuild it, or use another key prefix",
                    row_pattern(&self.config.prefix, spec.name),
                    schema_key(&self.config.prefix, spec.name)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Sends one chunk of rows through the script; the replies say which
    /// were written.
    async fn write_chunk(
        &self,
        spec: &FeatureSetSpec,
        records: &[Record],
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        let mut pipe = Pipeline::with_capacity(records.len());
        for r in records {
            let cmd = self
                .in_order(
                    &mut pipe,
                    row_key(&self.config.prefix, spec.name, &r.key),
                    run,
                    expires_at(spec, r.timestamp),
                )
                .arg(TS_FIELD)
                .arg(r.timestamp.to_string())
                .arg(KEY_FIELD)
                .arg(self.encode(&r.key)?);
            for (output, value) in spec.outputs.iter().zip(&r.values) {
                cmd.arg(output.name).arg(self.encode(value)?);
            }
        }
        let replies = self.run_scripts(&pipe, "writing rows").await?;
        let written = replies.iter().filter(|r| **r == 1).count();
        Ok(OnlineWrite {
            written,
            kept_newer: replies.len() - written,
            removed: 0,
        })
    }

    /// Adds a call of the script on row `name` in the order of `run` to
    /// `pipe`, the row expiring at `expires_at` (ms since the epoch, 0:
    /// never); the caller adds the fields (none to delete the row).
    fn in_order<'p>(
        &self,
        pipe: &'p mut Pipeline,
        name: String,
        run: RunWrite,
        expires_at: i64,
    ) -> &'p mut Pipeline {
        pipe.cmd("EVALSHA")
            .arg(self.script.get_hash())
            .arg(1)
            .arg(name)
            .arg(run.order.as_of.to_string())
            .arg(run.order.run.to_string())
            .arg(expires_at.to_string())
    }

    /// Sends a pipeline of script calls, loading the script again if the
    /// server lost it.
    async fn run_scripts(&self, pipe: &Pipeline, doing: &str) -> Result<Vec<i64>> {
        let mut conn = self.conn.clone();
        match pipe.query_async(&mut conn).await {
            Ok(replies) => Ok(replies),
            // The server lost its scripts (a restart, `SCRIPT FLUSH`): load
            // it again and send the pipeline again, which the order makes
            // harmless for the rows already written.
            Err(e) if e.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.script.load_async(&mut conn).await.map_err(|e| {
                    self.error("loading the script that keeps the order of runs", e)
                })?;
                pipe.query_async(&mut conn)
                    .await
                    .map_err(|e| self.error(doing, e))
            }
            Err(e) => Err(self.error(doing, e)),
        }
    }

    /// The names of every row of `spec`, through `SCAN MATCH`.
    async fn row_names(&self, spec: &FeatureSetSpec) -> Result<std::collections::HashSet<String>> {
        let pattern = row_pattern(&self.config.prefix, spec.name);
        let mut names = std::collections::HashSet::new();
        let mut cursor = 0u64;
        let mut conn = self.conn.clone();
        loop {
            let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.error("scanning keys", e))?;
            names.extend(page);
            if next == 0 {
                return Ok(names);
            }
            cursor = next;
        }
    }

    /// Removes, in the order of `run`, the rows of `spec` whose keys are
    /// not among `kept` (the names of the rows the run wrote).
    async fn remove_others(
        &self,
        spec: &FeatureSetSpec,
        kept: &std::collections::HashSet<String>,
        run: RunWrite,
    ) -> Result<usize> {
        let gone: Vec<String> = self
            .row_names(spec)
            .await?
            .into_iter()
            .filter(|name| !kept.contains(name))
            .collect();
        let mut removed = 0;
        for chunk in gone.chunks(self.config.write_chunk) {
            let mut pipe = Pipeline::with_capacity(chunk.len());
            for name in chunk {
                self.in_order(&mut pipe, name.clone(), run, 0);
            }
            let replies = self.run_scripts(&pipe, "removing rows").await?;
            removed += replies.iter().filter(|r| **r == 1).count();
        }
        Ok(removed)
    }

    /// Reads the rows named `keys` (hash names) in one round trip.
    async fn read_rows(
        &self,
        spec: &FeatureSetSpec,
        names: impl Iterator<Item = String>,
    ) -> Result<Vec<Option<Record>>> {
        let mut fields: Vec<&str> = vec![TS_FIELD, KEY_FIELD];
        fields.extend(spec.outputs.iter().map(|o| o.name));
        let mut pipe = redis::pipe();
        let mut n = 0;
        for name in names {
            pipe.cmd("HMGET").arg(name).arg(&fields);
            n += 1;
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let replies: Vec<Vec<Option<Vec<u8>>>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error("reading rows", e))?;
        replies
            .into_iter()
            .map(|fields| self.decode_row(spec, fields))
            .collect()
    }

    fn decode_row(
        &self,
        spec: &FeatureSetSpec,
        fields: Vec<Option<Vec<u8>>>,
    ) -> Result<Option<Record>> {
        let mut fields = fields.into_iter();
        let Some(ts) = fields.next().flatten() else {
            return Ok(None);
        };
        let bad = |what: String| {
            Error::Store {
                store: STORE,
                location: self.config.shown(),
                message: format!(
                    "a stored row of `{}` {what}; was the feature set changed? re-run it to refresh the online store",
                    spec.name
                ),
                kind: ErrorKind::Conflict,
                source: what.into(),
            }
        };
        let timestamp = std::str::from_utf8(&ts)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| {
                bad(format!(
                    "has `{TS_FIELD}` {:?}, not a time",
                    String::from_utf8_lossy(&ts)
                ))
            })?;
        let key: Vec<Value> = fields
            .next()
            .flatten()
            .and_then(|k| postcard::from_bytes(&k).ok())
            .ok_or_else(|| bad(format!("has no readable `{KEY_FIELD}`")))?;
        let values = spec
            .outputs
            .iter()
            .zip(fields)
            .map(|(output, field)| {
                field
                    .and_then(|v| postcard::from_bytes(&v).ok())
                    .ok_or_else(|| bad(format!("has no readable `{}`", output.name)))
            })
            .collect::<Result<Vec<Value>>>()?;
        Ok(Some(Record {
            key,
            timestamp,
            values,
        }))
    }
}

/// A Redis error as a store error: unreachable or slow servers are
/// transient, a refused login says so.
fn redis_error(shown: &str, doing: &str, e: RedisError) -> Error {
    use redis::ErrorKind as K;
    let transient = e.is_timeout()
        || e.is_connection_refusal()
        || e.is_io_error()
        || e.is_connection_dropped()
        || matches!(
            e.kind(),
            K::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ClusterDown
            )
        );
    let (kind, message) = match e.kind() {
        _ if transient => (
            ErrorKind::Transient,
            format!("{doing} failed: the server is unreachable or busy"),
        ),
        K::AuthenticationFailed => (
            ErrorKind::Permanent,
            format!("{doing} failed: the server refused the user name or password of the URL"),
        ),
        // Logged in, but the user's ACL forbids the command: the server's
        // words name it (they hold no secret).
        K::Server(ServerErrorKind::NoPerm) => (
            ErrorKind::Permanent,
            format!(
                "{doing} failed: the URL's user may not do this ({}): grant it in the server's ACL",
                // A pipeline's error keeps the server's words in its text.
                e.detail().map_or_else(|| e.to_string(), str::to_string)
            ),
        ),
        K::InvalidClientConfig => (
            ErrorKind::InvalidInput,
            format!("{doing} failed: invalid Redis URL"),
        ),
        _ => (ErrorKind::Permanent, format!("{doing} failed")),
    };
    Error::Store {
        store: STORE,
        location: shown.to_string(),
        message,
        kind,
        source: Box::new(e),
    }
}

/// When a row of time `timestamp` (µs) of `spec` expires, in milliseconds
/// since the epoch, rounded up so Redis never drops it before the reads'
/// exact rule does; 0 (never) without a `ttl`. An expiry at or before 0 is
/// 1: a row that old is expired already.
fn expires_at(spec: &FeatureSetSpec, timestamp: i64) -> i64 {
    match spec.ttl {
        None => 0,
        Some(ttl) => {
            let micros = timestamp.saturating_add(ttl.micros());
            micros
                .div_euclid(1000)
                .saturating_add(i64::from(micros.rem_euclid(1000) != 0))
                .max(1)
        }
    }
}

#[async_trait]
impl OnlineStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    fn location(&self) -> String {
        self.config.shown()
    }

    async fn check(&self, spec: &FeatureSetSpec) -> Result<()> {
        let stored = self.stored_declaration(spec).await?;
        self.check_declaration(spec, stored.as_deref())
    }

    async fn write_latest(
        &self,
        spec: &FeatureSetSpec,
        records: &[Record],
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        if self.mode == OpenMode::Read {
            return Err(read_only(STORE, self.config.shown()));
        }
        if let Some(bad) = records
            .iter()
            .find(|r| r.values.len() != spec.outputs.len())
        {
            return Err(Error::Store {
                store: STORE,
                location: self.config.shown(),
                message: format!(
                    "a row of `{}` has {} values for {} columns",
                    spec.name,
                    bad.values.len(),
                    spec.outputs.len()
                ),
                kind: ErrorKind::InvalidInput,
                source: "row of the wrong width".into(),
            });
        }
        // The declaration is recorded by the first write (`SET NX`: of two
        // first writers, one wins and the other is checked against it).
        let columns = serde_json::to_string(&spec.column_names())
            .map_err(|e| Error::store(STORE, self.config.shown(), "encoding the declaration", e))?;
        let mut conn = self.conn.clone();
        let (stored,): (String,) = redis::pipe()
            .cmd("SET")
            .arg(schema_key(&self.config.prefix, spec.name))
            .arg(&columns)
            .arg("NX")
            .ignore()
            .cmd("GET")
            .arg(schema_key(&self.config.prefix, spec.name))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error("recording the declaration", e))?;
        let stored: Vec<String> = serde_json::from_str(&stored).map_err(|e| {
            self.corrupt(
                format!(
                    "the declaration key of `{}` holds {stored:?}, not a column list",
                    spec.name
                ),
                e,
            )
        })?;
        self.check_declaration(spec, Some(&stored))?;
        // A few chunks in flight on the multiplexed connection: the server
        // runs the scripts of one while the next is on the wire. Records have
        // one row per key, so the order of chunks does not matter.
        // Made before they are streamed: a closure in the stream would ask
        // the compiler for a `Send` proof over every lifetime, which it
        // cannot give for these borrowed chunks.
        let writes: Vec<_> = records
            .chunks(self.config.write_chunk)
            .map(|chunk| self.write_chunk(spec, chunk, run))
            .collect();
        let mut replies = stream::iter(writes).buffer_unordered(CHUNKS_IN_FLIGHT);
        let mut out = OnlineWrite::default();
        while let Some(w) = replies.next().await {
            let w = w?;
            out.written += w.written;
            out.kept_newer += w.kept_newer;
        }
        if run.covers_every_key {
            let prefix = &self.config.prefix;
            let kept = records
                .iter()
                .map(|r| row_key(prefix, spec.name, &r.key))
                .collect();
            out.removed = self.remove_others(spec, &kept, run).await?;
        }
        Ok(out)
    }

    async fn get_many(
        &self,
        spec: &FeatureSetSpec,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Record>>> {
        let prefix = &self.config.prefix;
        let rows = self
            .read_rows(spec, keys.iter().map(|k| row_key(prefix, spec.name, k)))
            .await?;
        Ok(super::live_rows(spec, rows))
    }

    async fn drop_rows(&self, spec: &FeatureSetSpec) -> Result<usize> {
        if self.mode == OpenMode::Read {
            return Err(read_only(STORE, self.config.shown()));
        }
        let names: Vec<String> = self.row_names(spec).await?.into_iter().collect();
        let mut conn = self.conn.clone();
        for chunk in names.chunks(self.config.write_chunk) {
            redis::cmd("DEL")
                .arg(chunk)
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| self.error("deleting rows", e))?;
        }
        redis::cmd("DEL")
            .arg(schema_key(&self.config.prefix, spec.name))
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.error("deleting the declaration", e))?;
        Ok(names.len())
    }

    fn scan<'a>(&'a self, spec: &'a FeatureSetSpec) -> BoxStream<'a, Result<Record>> {
        let pattern = row_pattern(&self.config.prefix, spec.name);
        // `None` once the cursor has come back to 0.
        let pages = stream::try_unfold(Some(0u64), move |cursor| {
            let pattern = pattern.clone();
            async move {
                let Some(cursor) = cursor else {
                    return Ok(None);
                };
                let mut conn = self.conn.clone();
                let (next, names): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| self.error("scanning keys", e))?;
                // SCAN may return a key twice across pages (when the server
                // rehashes its table meanwhile); the rows are deduplicated
                // below, by their encoded keys, which are kept for the whole
                // scan: far smaller than the rows, but not bounded.
                let rows = self.read_rows(spec, names.into_iter()).await?;
                Ok(Some((rows, (next != 0).then_some(next))))
            }
        });
        let mut seen = std::collections::HashSet::new();
        let rows = pages
            .map_ok(|rows| stream::iter(rows.into_iter().flatten().map(Ok)))
            .try_flatten()
            .try_filter(move |r| {
                let fresh = postcard::to_stdvec(&r.key).map_or(true, |k| seen.insert(k));
                futures::future::ready(fresh)
            })
            .boxed();
        super::live_stream(spec, rows)
    }
}
