//! The store itself: a `scylla` session, prepared statements, and the
//! mapping between [`Value`]s and CQL values.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::frame::types::Consistency as CqlConsistency;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::policies::retry::DefaultRetryPolicy;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlDate, CqlTimestamp, CqlValue, Row};

use super::config::{CassandraConfig, CassandraOptions, Consistency};
use super::schema::{self, StoredColumn};
use crate::error::{BoxError, Error, ErrorKind, Result};
use crate::spec::{DataType, FeatureSetSpec, TIMESTAMP_COLUMN};
use crate::store::online::{
    read_only, MigrationStep, OnlineStore, OnlineWrite, OpenMode, Record, RunWrite, Value,
};

const STORE: &str = "online store (cassandra)";

/// Rows per page of a scan.
const PAGE_SIZE: i32 = 5000;

/// CQL dates count days from 2^31 days before the epoch.
const DATE_ORIGIN: i64 = 1 << 31;

/// The longest TTL Cassandra takes, in seconds (20 years).
const MAX_TTL_SECONDS: i64 = 630_720_000;

/// The `USING TTL` of a row of time `timestamp` of `spec` written at `now`
/// (µs): the whole seconds left until it expires, rounded up, at most
/// [`MAX_TTL_SECONDS`]; `Some(0)` (no expiry) without a `ttl`; `None` when it
/// has expired already.
fn ttl_seconds(spec: &FeatureSetSpec, timestamp: i64, now: i64) -> Option<i32> {
    let Some(ttl) = spec.ttl else {
        return Some(0);
    };
    let left = timestamp.saturating_add(ttl.micros()).saturating_sub(now);
    if left <= 0 {
        return None;
    }
    let seconds = (left + 999_999) / 1_000_000;
    i32::try_from(seconds.min(MAX_TTL_SECONDS)).ok()
}

/// An online store in a Cassandra or ScyllaDB cluster: one table per
/// feature set in the configured keyspace, made by `features migrate
/// apply`, never by a write.
pub struct CassandraStore {
    config: Arc<CassandraConfig>,
    session: Arc<Session>,
    /// Prepared statements by their text: preparing is a round trip to
    /// every node.
    prepared: Mutex<HashMap<String, PreparedStatement>>,
    mode: OpenMode,
}

impl std::fmt::Debug for CassandraStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CassandraStore")
            .field("config", &self.config)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

fn consistency(c: Consistency) -> CqlConsistency {
    match c {
        Consistency::One => CqlConsistency::One,
        Consistency::Two => CqlConsistency::Two,
        Consistency::Three => CqlConsistency::Three,
        Consistency::Quorum => CqlConsistency::Quorum,
        Consistency::All => CqlConsistency::All,
        Consistency::LocalOne => CqlConsistency::LocalOne,
        Consistency::LocalQuorum => CqlConsistency::LocalQuorum,
        Consistency::EachQuorum => CqlConsistency::EachQuorum,
    }
}

/// Whether a statement reads or writes: each kind has its consistency.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

impl CassandraStore {
    /// Connects to the cluster of `config`.
    ///
    /// The session's connections run on the process's I/O runtime
    /// ([`crate::io::runtime`]), so the store works from any runtime and
    /// from synchronous code.
    pub async fn connect(config: CassandraConfig, mode: OpenMode) -> Result<Self> {
        let shown = config.shown.clone();
        let mut policy = DefaultPolicy::builder().token_aware(true);
        if let Some(dc) = &config.local_datacenter {
            policy = policy.prefer_datacenter(dc.clone());
        }
        // Retries only what may succeed when tried again (timeouts,
        // unavailable replicas, an overloaded node), and only idempotent
        // statements: every statement here is (fixed write times).
        let profile = ExecutionProfile::builder()
            .consistency(consistency(config.read_consistency))
            .request_timeout(Some(config.request_timeout))
            .load_balancing_policy(policy.build())
            .retry_policy(Arc::new(DefaultRetryPolicy::new()))
            .build();
        let mut builder = SessionBuilder::new()
            .known_nodes(&config.nodes)
            .connection_timeout(config.request_timeout)
            .default_execution_profile_handle(profile.into_handle());
        if let Some((user, password)) = &config.credentials {
            builder = builder.user(user, password);
        }
        let tls = match &config.tls {
            Some(tls) => Some(super::tls::client_config(tls, &shown)?),
            None => None,
        };
        if let Some(tls) = &tls {
            builder = builder.tls_context(Some(tls.clone()));
        }
        let config_tls = tls.is_some();
        let session = match crate::io::runtime()
            .spawn(async move { builder.build().await })
            .await
        {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => {
                let text = e.to_string();
                let refused_credentials = text.contains("Authentication")
                    || text.contains("authenticat")
                    || text.contains("credentials");
                let refusal = match tls {
                    Some(tls) if !refused_credentials && !tls_failure(&e) => {
                        let nodes = config.nodes.clone();
                        let wait = config.request_timeout.min(Duration::from_secs(2));
                        tokio::task::spawn_blocking(move || super::tls::refusal(&nodes, &tls, wait))
                            .await
                            .ok()
                            .flatten()
                    }
                    _ => None,
                };
                let (kind, message) = if refused_credentials {
                    (
                        ErrorKind::Permanent,
                        "connecting failed: the cluster refused the user name or password"
                            .to_string(),
                    )
                } else if tls_failure(&e) || refusal.is_some() {
                    (
                        ErrorKind::Permanent,
                        if config_tls {
                            "connecting failed: the TLS handshake with the nodes failed \
                             ([online.cassandra.tls]: a certificate the trusted roots do not \
                             sign, a certificate that does not name the node's address, or a \
                             node that wants a client certificate; see the cause)"
                        } else {
                            "connecting failed: the nodes closed the connection; if they \
                             require TLS, configure [online.cassandra.tls]"
                        }
                        .to_string(),
                    )
                } else {
                    (
                        ErrorKind::Transient,
                        "connecting failed: no node of the URL could be reached".to_string(),
                    )
                };
                return Err(Error::Store {
                    store: STORE,
                    location: shown,
                    message,
                    kind,
                    source: match refusal {
                        Some(refusal) => format!("{refusal}; the driver: {e}").into(),
                        None => Box::new(e),
                    },
                });
            }
            Err(join) => {
                return Err(Error::store(
                    STORE,
                    shown,
                    "connecting was interrupted",
                    join,
                ))
            }
        };
        Ok(CassandraStore {
            config: Arc::new(config),
            session: Arc::new(session),
            prepared: Mutex::new(HashMap::new()),
            mode,
        })
    }

    /// Opens the store at `url` with `options` (see [`CassandraConfig::new`]).
    pub async fn open(url: &str, options: &CassandraOptions, mode: OpenMode) -> Result<Self> {
        Self::connect(CassandraConfig::new(url, options)?, mode).await
    }

    /// The store's configuration.
    pub fn config(&self) -> &CassandraConfig {
        &self.config
    }

    fn table(&self, spec: &FeatureSetSpec) -> String {
        format!("{}.{}", self.config.keyspace, spec.name)
    }

    fn error(&self, doing: &str, e: impl Into<BoxError>) -> Error {
        let source = e.into();
        let kind = classify(source.as_ref());
        Error::Store {
            store: STORE,
            location: self.config.shown.clone(),
            message: match kind {
                ErrorKind::Transient => {
                    format!("{doing} failed: the cluster is unreachable, overloaded or too slow")
                }
                _ => format!("{doing} failed"),
            },
            kind,
            source,
        }
    }

    fn missing(&self, spec: &FeatureSetSpec, what: String) -> Error {
        Error::Store {
            store: STORE,
            location: self.config.shown.clone(),
            message: format!(
                "{what}; run `features migrate apply {}` to create it",
                spec.name
            ),
            kind: ErrorKind::Conflict,
            source: "the table of the feature set does not exist".into(),
        }
    }

    /// The statement `cql`, prepared once per store.
    async fn prepare(
        &self,
        spec: &FeatureSetSpec,
        cql: String,
        access: Access,
    ) -> Result<PreparedStatement> {
        if let Some(p) = self
            .prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cql)
        {
            return Ok(p.clone());
        }
        let mut prepared = match self.session.prepare(cql.as_str()).await {
            Ok(p) => p,
            Err(e) => {
                // An unknown table is the usual cause: say what to run.
                self.check(spec).await?;
                return Err(self.error(&format!("preparing `{cql}`"), e));
            }
        };
        prepared.set_is_idempotent(true);
        prepared.set_page_size(PAGE_SIZE);
        if access == Access::Write {
            prepared.set_consistency(consistency(self.config.write_consistency));
        }
        self.prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cql, prepared.clone());
        Ok(prepared)
    }

    /// The keyspace's table of `spec`'s entity.
    fn entity_table(&self, spec: &FeatureSetSpec) -> String {
        format!("{}.{}", self.config.keyspace, schema::entity_table(spec))
    }

    /// A feature set named as its entity's keys would share its table with
    /// the entity table: refused while entity tables are on.
    fn entity_clash(&self, spec: &FeatureSetSpec) -> Result<()> {
        if schema::entity_table(spec) != spec.name {
            return Ok(());
        }
        Err(Error::Store {
            store: STORE,
            location: self.config.shown.clone(),
            message: format!(
                "feature set `{}` is named as its entity's keys, so its table would be the entity table `{}`: rename the feature set, or turn `entity_tables` off in [online.cassandra]",
                spec.name,
                self.entity_table(spec)
            ),
            kind: ErrorKind::InvalidInput,
            source: "a feature set named as its entity".into(),
        })
    }

    /// Fails unless `spec`'s columns of its entity table are as declared.
    async fn check_entity(&self, spec: &FeatureSetSpec) -> Result<()> {
        self.entity_clash(spec)?;
        let table = self.entity_table(spec);
        let Some(stored) = self.stored_columns_of(&schema::entity_table(spec)).await? else {
            return Err(self.missing(spec, format!("entity table `{table}` does not exist")));
        };
        if stored.iter().any(|c| c.name == TIMESTAMP_COLUMN) {
            return Err(Error::Store {
                store: STORE,
                location: self.config.shown.clone(),
                message: format!(
                    "table `{table}` has a `{TIMESTAMP_COLUMN}` column: it is a feature set's table, not the entity table of `{}`; rename that feature set, or turn `entity_tables` off in [online.cassandra]",
                    spec.name
                ),
                kind: ErrorKind::Conflict,
                source: "a feature set's table in place of an entity table".into(),
            });
        }
        let diffs = schema::entity_differences(spec, &stored);
        if diffs.is_empty() {
            return Ok(());
        }
        let texts: Vec<String> = diffs.iter().map(ToString::to_string).collect();
        Err(Error::Store {
            store: STORE,
            location: self.config.shown.clone(),
            message: format!(
                "entity table `{table}` does not match the declaration of `{}`: {}; run `features migrate plan {}` to see the changes and `features migrate apply {}` to make them",
                spec.name,
                texts.join("; "),
                spec.name,
                spec.name
            ),
            kind: ErrorKind::Conflict,
            source: Box::new(crate::store::online::ChangedDeclaration),
        })
    }

    /// `spec`'s columns in its entity table (`{feature_set}__timestamp`,
    /// then its outputs'), quoted, in the order of [`column_list`].
    fn entity_column_list(spec: &FeatureSetSpec) -> Vec<String> {
        std::iter::once(TIMESTAMP_COLUMN)
            .chain(spec.outputs.iter().map(|o| o.name))
            .map(|c| quoted(&schema::entity_column(spec, c)))
            .collect()
    }

    /// The rows of `keys` (all of one entity) of each of `specs`, read from
    /// the entity table with one request per key whatever the number of
    /// feature sets: `out[i][j]` is the row of `keys[i]` of `specs[j]`, or
    /// `None`. Needs `entity_tables`, on when the rows were written.
    pub async fn get_entity(
        &self,
        specs: &[&FeatureSetSpec],
        keys: &[Vec<Value>],
    ) -> Result<Vec<Vec<Option<Record>>>> {
        let Some(first) = specs.first() else {
            return Ok(vec![Vec::new(); keys.len()]);
        };
        let refuse = |message: String| Error::Store {
            store: STORE,
            location: self.config.shown.clone(),
            message,
            kind: ErrorKind::InvalidInput,
            source: "not an entity read".into(),
        };
        if !self.config.entity_tables {
            return Err(refuse(
                "reading an entity table needs `entity_tables = true` in [online.cassandra]"
                    .to_string(),
            ));
        }
        if let Some(other) = specs.iter().find(|s| s.keys != first.keys) {
            return Err(refuse(format!(
                "`{}` and `{}` have different keys: one entity read serves feature sets of one entity",
                first.name, other.name
            )));
        }
        for spec in specs {
            self.entity_clash(spec)?;
        }
        let columns: Vec<String> = specs
            .iter()
            .flat_map(|s| Self::entity_column_list(s))
            .collect();
        let cql = format!(
            "SELECT {} FROM {} WHERE {}",
            columns.join(", "),
            self.entity_table(first),
            key_condition(first)
        );
        // The tables are compared with the declarations only when the read
        // cannot be prepared (as `get_many` does), not on every read.
        let select = match self.prepare(first, cql, Access::Read).await {
            Ok(select) => select,
            Err(e) => {
                for spec in specs {
                    self.check_entity(spec).await?;
                }
                return Err(e);
            }
        };
        let doing = format!("reading rows of `{}`", self.entity_table(first));
        let mut rows: Vec<Vec<Option<Record>>> = Vec::with_capacity(keys.len());
        for (key, row) in keys
            .iter()
            .zip(self.read_rows(first, &select, &doing, keys).await?)
        {
            let Some(row) = row else {
                rows.push(vec![None; specs.len()]);
                continue;
            };
            let mut cells = row.columns.into_iter();
            let mut out = Vec::with_capacity(specs.len());
            for spec in specs {
                // The record's layout: key, then this set's cells (the key
                // cells are not read: the key is known).
                let mut columns: Vec<Option<CqlValue>> = vec![None; key.len()];
                let own: Vec<Option<CqlValue>> =
                    cells.by_ref().take(spec.outputs.len() + 1).collect();
                // No time: this feature set has no row of the key.
                if own.first().is_none_or(Option::is_none) {
                    out.push(None);
                    continue;
                }
                columns.extend(own);
                let mut record = self.record_of(spec, Row { columns })?;
                record.key.clone_from(key);
                out.push(Some(record));
            }
            rows.push(out);
        }
        // Past a feature set's `ttl`, its part of the row reads as missing.
        let by_set: Vec<Vec<Option<Record>>> = (0..specs.len())
            .map(|j| {
                crate::store::online::live_rows(
                    specs[j],
                    rows.iter().map(|r| r[j].clone()).collect(),
                )
            })
            .collect();
        Ok((0..keys.len())
            .map(|i| by_set.iter().map(|set| set[i].clone()).collect())
            .collect())
    }

    /// The row of each of `keys` by `select` (bound to a key), read
    /// concurrently by single-partition requests and answered in key order.
    async fn read_rows(
        &self,
        spec: &FeatureSetSpec,
        select: &PreparedStatement,
        doing: &str,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Row>>> {
        let session = &self.session;
        let reads: Vec<_> = keys
            .iter()
            .map(|key| {
                let bound = self.bind_key(spec, key);
                async move {
                    session
                        .execute_unpaged(select, bound?)
                        .await
                        .map_err(|e| self.error(doing, e))?
                        .into_rows_result()
                        .map_err(|e| self.error(doing, e))?
                        .maybe_first_row::<Row>()
                        .map_err(|e| self.error(doing, e))
                }
            })
            .collect();
        // `buffered`, not `buffer_unordered`: the answers in key order.
        stream::iter(reads)
            .buffered(self.config.concurrency)
            .try_collect()
            .await
    }

    /// Deletes `what` (columns, or nothing for whole rows) of `keys` from
    /// `table` at `write_time`, at most `concurrency` in flight: the cells
    /// of writes up to it go, a later write stays. Returns the keys done.
    async fn delete_keys(
        &self,
        spec: &FeatureSetSpec,
        what: &str,
        table: &str,
        keys: &[Vec<Value>],
        write_time: i64,
    ) -> Result<usize> {
        let delete = self
            .prepare(
                spec,
                format!(
                    "DELETE {what}FROM {table} USING TIMESTAMP ? WHERE {}",
                    key_condition(spec)
                ),
                Access::Write,
            )
            .await?;
        let deletes: Vec<_> = keys
            .iter()
            .map(|key| {
                let delete = &delete;
                let bound = self.bind_key(spec, key);
                async move {
                    let mut values = vec![Some(CqlValue::BigInt(write_time))];
                    values.extend(bound?);
                    self.session
                        .execute_unpaged(delete, values)
                        .await
                        .map_err(|e| self.error(&format!("removing rows from `{table}`"), e))
                }
            })
            .collect();
        let mut replies = stream::iter(deletes).buffer_unordered(self.config.concurrency);
        let mut done = 0;
        while let Some(reply) = replies.next().await {
            reply?;
            done += 1;
        }
        Ok(done)
    }

    /// Deletes `spec`'s cells of `keys` from its entity table at `write_time`.
    async fn delete_entity_cells(
        &self,
        spec: &FeatureSetSpec,
        keys: &[Vec<Value>],
        write_time: i64,
    ) -> Result<()> {
        let columns = format!("{} ", Self::entity_column_list(spec).join(", "));
        let table = self.entity_table(spec);
        self.delete_keys(spec, &columns, &table, keys, write_time)
            .await
            .map(|_| ())
    }

    /// Removes every cell of `spec` from its entity table, each at the
    /// time it was written: a tombstone of a later time would hide the
    /// rows of later runs too (write times are run orders, not clocks). A
    /// run of the same as-of started within the same second as the removed
    /// cells' run writes at their time, and Cassandra lets the tombstone win
    /// that tie: its rows reach the entity table at the next run.
    async fn drop_entity_cells(&self, spec: &FeatureSetSpec) -> Result<()> {
        if self
            .stored_columns_of(&schema::entity_table(spec))
            .await?
            .is_none()
        {
            return Ok(());
        }
        let keys: Vec<String> = spec.key_names().map(quoted).collect();
        let cql = format!(
            "SELECT {}, WRITETIME({}) FROM {}",
            keys.join(", "),
            quoted(&schema::entity_column(spec, TIMESTAMP_COLUMN)),
            self.entity_table(spec)
        );
        let statement = self.prepare(spec, cql, Access::Read).await?;
        let doing = "scanning the entity table";
        let rows: Vec<Row> = self
            .session
            .execute_iter(statement, ())
            .await
            .map_err(|e| self.error(doing, e))?
            .rows_stream::<Row>()
            .map_err(|e| self.error(doing, e))?
            .map_err(|e| self.error(doing, e))
            .try_collect()
            .await?;
        for mut row in rows {
            let Some(Some(CqlValue::BigInt(written))) = row.columns.pop() else {
                continue;
            };
            let key = row
                .columns
                .into_iter()
                .map(|c| from_cql(c).map_err(|w| self.error(doing, w)))
                .collect::<Result<Vec<Value>>>()?;
            self.delete_entity_cells(spec, &[key], written).await?;
        }
        Ok(())
    }

    async fn keyspace_exists(&self) -> Result<bool> {
        let rows = self
            .session
            .query_unpaged(
                "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?",
                (self.config.keyspace.as_str(),),
            )
            .await
            .map_err(|e| self.error("reading the keyspaces", e))?
            .into_rows_result()
            .map_err(|e| self.error("reading the keyspaces", e))?;
        Ok(rows.rows_num() > 0)
    }

    /// The columns of `spec`'s table; `None` when there is no table.
    async fn stored_columns(&self, spec: &FeatureSetSpec) -> Result<Option<Vec<StoredColumn>>> {
        self.stored_columns_of(spec.name).await
    }

    /// The columns of the keyspace's table `table`; `None` when there is none.
    async fn stored_columns_of(&self, table: &str) -> Result<Option<Vec<StoredColumn>>> {
        let doing = "reading the table's columns";
        let rows = self
            .session
            .query_unpaged(
                "SELECT column_name, kind, position, type FROM system_schema.columns \
                 WHERE keyspace_name = ? AND table_name = ?",
                (self.config.keyspace.as_str(), table),
            )
            .await
            .map_err(|e| self.error(doing, e))?
            .into_rows_result()
            .map_err(|e| self.error(doing, e))?;
        let columns = rows
            .rows::<(String, String, i32, String)>()
            .map_err(|e| self.error(doing, e))?
            .map(|r| {
                r.map(|(name, kind, position, cql_type)| StoredColumn {
                    name,
                    kind,
                    position,
                    cql_type,
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.error(doing, e))?;
        Ok((!columns.is_empty()).then_some(columns))
    }

    fn select_cql(&self, spec: &FeatureSetSpec, by_key: bool) -> String {
        let mut cql = format!("SELECT {} FROM {}", column_list(spec), self.table(spec));
        if by_key {
            cql.push_str(" WHERE ");
            cql.push_str(&key_condition(spec));
        }
        cql
    }

    /// A write of one record, bound.
    fn bind_row(
        &self,
        spec: &FeatureSetSpec,
        record: &Record,
        write_time: i64,
        ttl: i32,
    ) -> Result<Vec<Option<CqlValue>>> {
        let bad = |column: &str, what: String| Error::Store {
            store: STORE,
            location: self.config.shown.clone(),
            message: format!(
                "cannot write the row of key {:?} to table `{}`: column `{column}` {what}",
                record.key,
                self.table(spec)
            ),
            kind: ErrorKind::InvalidInput,
            source: what.clone().into(),
        };
        if record.key.len() != spec.keys.len() || record.values.len() != spec.outputs.len() {
            return Err(bad(
                spec.name,
                format!(
                    "has {} keys and {} values for {} keys and {} columns",
                    record.key.len(),
                    record.values.len(),
                    spec.keys.len(),
                    spec.outputs.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(spec.keys.len() + spec.outputs.len() + 2);
        for (k, v) in spec.keys.iter().zip(&record.key) {
            match to_cql(k.dtype, v).map_err(|what| bad(k.name, what))? {
                Some(v) => out.push(Some(v)),
                None => return Err(bad(k.name, "is a key and cannot be null".to_string())),
            }
        }
        out.push(Some(CqlValue::Timestamp(CqlTimestamp(
            record.timestamp.div_euclid(1000),
        ))));
        for (o, v) in spec.outputs.iter().zip(&record.values) {
            out.push(to_cql(o.dtype, v).map_err(|what| bad(o.name, what))?);
        }
        out.push(Some(CqlValue::BigInt(write_time)));
        out.push(Some(CqlValue::Int(ttl)));
        Ok(out)
    }

    fn bind_key(&self, spec: &FeatureSetSpec, key: &[Value]) -> Result<Vec<Option<CqlValue>>> {
        spec.keys
            .iter()
            .zip(key)
            .map(|(k, v)| {
                to_cql(k.dtype, v)
                    .map_err(|what| format!("key column `{}` {what}", k.name))
                    .and_then(|v| v.ok_or_else(|| format!("key column `{}` is null", k.name)))
                    .map(Some)
                    .map_err(|what| Error::Store {
                        store: STORE,
                        location: self.config.shown.clone(),
                        message: format!(
                            "cannot look up key {key:?} in `{}`: {what}",
                            self.table(spec)
                        ),
                        kind: ErrorKind::InvalidInput,
                        source: what.into(),
                    })
            })
            .collect()
    }

    fn record_of(&self, spec: &FeatureSetSpec, row: Row) -> Result<Record> {
        let bad = |what: String| Error::Store {
            store: STORE,
            location: self.config.shown.clone(),
            message: format!("a stored row of `{}` {what}", self.table(spec)),
            kind: ErrorKind::Conflict,
            source: what.into(),
        };
        let mut columns = row.columns.into_iter();
        let mut key = Vec::with_capacity(spec.keys.len());
        for k in spec.keys {
            key.push(
                from_cql(columns.next().flatten())
                    .map_err(|w| bad(format!("has {w} in `{}`", k.name)))?,
            );
        }
        let timestamp = match from_cql(columns.next().flatten()).map_err(|w| bad(w.to_string()))? {
            Value::Timestamp(t) => t,
            other => {
                return Err(bad(format!(
                    "has `{TIMESTAMP_COLUMN}` {other:?}, not a time"
                )))
            }
        };
        let values = spec
            .outputs
            .iter()
            .map(|o| {
                from_cql(columns.next().flatten())
                    .map_err(|w| bad(format!("has {w} in `{}`", o.name)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Record {
            key,
            timestamp,
            values,
        })
    }

    /// Every stored key of `spec`, through a paged scan of the table's
    /// partitions in token order.
    async fn stored_keys(&self, spec: &FeatureSetSpec) -> Result<Vec<Vec<Value>>> {
        let keys: Vec<String> = spec.keys.iter().map(|k| quoted(k.name)).collect();
        let cql = format!("SELECT {} FROM {}", keys.join(", "), self.table(spec));
        let statement = self.prepare(spec, cql, Access::Read).await?;
        let doing = "scanning the stored keys";
        let pager = self
            .session
            .execute_iter(statement, ())
            .await
            .map_err(|e| self.error(doing, e))?;
        pager
            .rows_stream::<Row>()
            .map_err(|e| self.error(doing, e))?
            .map_err(|e| self.error(doing, e))
            .and_then(|row| async move {
                row.columns
                    .into_iter()
                    .map(|c| from_cql(c).map_err(|w| self.error(doing, w)))
                    .collect::<Result<Vec<Value>>>()
            })
            .try_collect()
            .await
    }
}

/// What kind of failure a driver error is: only timeouts, lost
/// connections and replicas that are down or busy are worth a retry.
fn classify(e: &(dyn std::error::Error + 'static)) -> ErrorKind {
    if let Some(e) = e.downcast_ref::<ExecutionError>() {
        return match e {
            ExecutionError::ConnectionPoolError(_) | ExecutionError::RequestTimeout(_) => {
                ErrorKind::Transient
            }
            ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, _)) => match db {
                DbError::Unavailable { .. }
                | DbError::Overloaded
                | DbError::IsBootstrapping
                | DbError::ReadTimeout { .. }
                | DbError::WriteTimeout { .. }
                | DbError::RateLimitReached { .. } => ErrorKind::Transient,
                DbError::Invalid | DbError::SyntaxError | DbError::ConfigError => {
                    ErrorKind::InvalidInput
                }
                _ => ErrorKind::Permanent,
            },
            ExecutionError::LastAttemptError(RequestAttemptError::BrokenConnectionError(_)) => {
                ErrorKind::Transient
            }
            _ => ErrorKind::Permanent,
        };
    }
    crate::error::kind_of(e)
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The key columns, `timestamp` and the outputs, in that order.
fn column_list(spec: &FeatureSetSpec) -> String {
    spec.key_names()
        .chain(std::iter::once(TIMESTAMP_COLUMN))
        .chain(spec.outputs.iter().map(|o| o.name))
        .map(quoted)
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_condition(spec: &FeatureSetSpec) -> String {
    spec.key_names()
        .map(|k| format!("{} = ?", quoted(k)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `value` as a CQL value of the column type of `dtype` (`None` for null).
fn to_cql(dtype: DataType, value: &Value) -> std::result::Result<Option<CqlValue>, String> {
    let v = match (dtype, value) {
        (_, Value::Null) => return Ok(None),
        (DataType::Bool, Value::Bool(b)) => CqlValue::Boolean(*b),
        (DataType::Int32, Value::Int(i)) => {
            CqlValue::Int(i32::try_from(*i).map_err(|_| format!("holds {i}, beyond a 32-bit int"))?)
        }
        (DataType::Int64, Value::Int(i)) => CqlValue::BigInt(*i),
        // Declared 32-bit: the value came from an f32 column.
        #[allow(clippy::cast_possible_truncation)]
        (DataType::Float32, Value::Float(x)) => CqlValue::Float(*x as f32),
        (DataType::Float64, Value::Float(x)) => CqlValue::Double(*x),
        (DataType::String, Value::Str(s)) => CqlValue::Text(s.clone()),
        (DataType::Date, Value::Date(d)) => CqlValue::Date(CqlDate(
            u32::try_from(i64::from(*d) + DATE_ORIGIN)
                .map_err(|_| format!("holds day {d}, beyond CQL dates"))?,
        )),
        // CQL keeps milliseconds: the microseconds below them are dropped.
        (DataType::Timestamp, Value::Timestamp(t)) => {
            CqlValue::Timestamp(CqlTimestamp(t.div_euclid(1000)))
        }
        (DataType::List(inner), Value::List(items)) => CqlValue::List(
            items
                .iter()
                .map(|item| {
                    to_cql(*inner, item)?.ok_or_else(|| {
                        "holds a list with a null, which a CQL list cannot hold".to_string()
                    })
                })
                .collect::<std::result::Result<_, _>>()?,
        ),
        (dtype, v) => return Err(format!("holds {v:?}, not a {dtype:?}")),
    };
    Ok(Some(v))
}

/// A CQL value read back.
fn from_cql(value: Option<CqlValue>) -> std::result::Result<Value, String> {
    Ok(match value {
        None | Some(CqlValue::Empty) => Value::Null,
        Some(CqlValue::Boolean(b)) => Value::Bool(b),
        Some(CqlValue::Int(i)) => Value::Int(i.into()),
        Some(CqlValue::BigInt(i)) => Value::Int(i),
        Some(CqlValue::Float(x)) => Value::Float(x.into()),
        Some(CqlValue::Double(x)) => Value::Float(x),
        Some(CqlValue::Text(s) | CqlValue::Ascii(s)) => Value::Str(s),
        Some(CqlValue::Date(CqlDate(d))) => Value::Date(
            i32::try_from(i64::from(d) - DATE_ORIGIN)
                .map_err(|_| format!("date {d} beyond the range of dates"))?,
        ),
        Some(CqlValue::Timestamp(CqlTimestamp(ms))) => Value::Timestamp(
            ms.checked_mul(1000)
                .ok_or_else(|| format!("time {ms} ms beyond the range of times"))?,
        ),
        Some(CqlValue::List(items)) => Value::List(
            items
                .into_iter()
                .map(|v| from_cql(Some(v)))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Some(other) => return Err(format!("a value of an undeclared type: {other:?}")),
    })
}

#[async_trait]
impl OnlineStore for CassandraStore {
    fn backend(&self) -> &'static str {
        "cassandra"
    }

    fn location(&self) -> String {
        self.config.shown.clone()
    }

    async fn check(&self, spec: &FeatureSetSpec) -> Result<()> {
        let table = self.table(spec);
        let Some(stored) = self.stored_columns(spec).await? else {
            return Err(if self.keyspace_exists().await? {
                self.missing(spec, format!("table `{table}` does not exist"))
            } else {
                self.missing(
                    spec,
                    format!("keyspace `{}` does not exist", self.config.keyspace),
                )
            });
        };
        let diffs = schema::differences(spec, &stored);
        if diffs.is_empty() {
            return if self.config.entity_tables {
                self.check_entity(spec).await
            } else {
                Ok(())
            };
        }
        let texts: Vec<String> = diffs.iter().map(ToString::to_string).collect();
        let destructive = schema::plan(spec, &self.config.keyspace, "", true, Some(&stored))
            .iter()
            .any(|s| s.destructive);
        Err(Error::Store {
            store: STORE,
            location: self.config.shown.clone(),
            message: format!(
                "table `{table}` does not match the declaration of `{}`: {}; run `features migrate plan {}` to see the changes and `features migrate apply {}{}` to make them",
                spec.name,
                texts.join("; "),
                spec.name,
                spec.name,
                if destructive { " --allow-destructive" } else { "" }
            ),
            kind: ErrorKind::Conflict,
            source: Box::new(crate::store::online::ChangedDeclaration),
        })
    }

    async fn write_latest(
        &self,
        spec: &FeatureSetSpec,
        records: &[Record],
        run: RunWrite,
    ) -> Result<OnlineWrite> {
        if self.mode == OpenMode::Read {
            return Err(read_only(STORE, self.config.shown.clone()));
        }
        self.check(spec).await?;
        let write_time = run.order.encode()?;
        let table = self.table(spec);
        // Every value bound before anything is sent: a bad row refuses the
        // whole write. A row already past its `ttl` is not written but
        // removed, in the run's order, like a key the run has no row for:
        // it may replace a row that would otherwise outlive it.
        let now = crate::store::online::now_micros();
        let mut rows = Vec::with_capacity(records.len());
        let mut expired = Vec::new();
        for r in records {
            match ttl_seconds(spec, r.timestamp, now) {
                Some(ttl) => rows.push(self.bind_row(spec, r, write_time, ttl)?),
                None => expired.push(r.key.clone()),
            }
        }
        let marks = vec!["?"; spec.keys.len() + spec.outputs.len() + 1].join(", ");
        let insert = self
            .prepare(
                spec,
                format!(
                    "INSERT INTO {table} ({}) VALUES ({marks}) USING TIMESTAMP ? AND TTL ?",
                    column_list(spec)
                ),
                Access::Write,
            )
            .await?;
        // The same row, with the same write time and TTL, into the entity
        // table: the feature set's own columns of the key's wide row.
        let entity = if self.config.entity_tables {
            let keys: Vec<String> = spec.key_names().map(quoted).collect();
            let cql = format!(
                "INSERT INTO {} ({}, {}) VALUES ({marks}) USING TIMESTAMP ? AND TTL ?",
                self.entity_table(spec),
                keys.join(", "),
                Self::entity_column_list(spec).join(", ")
            );
            Some(self.prepare(spec, cql, Access::Write).await?)
        } else {
            None
        };
        let entity_table = self.entity_table(spec);
        // One single-partition statement per row, a bounded number in
        // flight; the token-aware policy sends each to a replica of its key.
        // No batch: a batch of many partitions is coordinated by one node.
        let session = &self.session;
        let sent = rows.len();
        let sends: Vec<_> = rows
            .into_iter()
            .map(|values| {
                let insert = &insert;
                let entity = entity.as_ref();
                let (table, entity_table) = (&table, &entity_table);
                async move {
                    if let Some(entity) = entity {
                        session
                            .execute_unpaged(entity, values.clone())
                            .await
                            .map_err(|e| {
                                self.error(&format!("writing rows to `{entity_table}`"), e)
                            })?;
                    }
                    session
                        .execute_unpaged(insert, values)
                        .await
                        .map_err(|e| self.error(&format!("writing rows to `{table}`"), e))
                }
            })
            .collect();
        let mut replies = stream::iter(sends).buffer_unordered(self.config.concurrency);
        while let Some(reply) = replies.next().await {
            reply?;
        }
        drop(replies);
        let mut out = OnlineWrite {
            // Rows past their `ttl` count as removals.
            written: sent,
            kept_newer: 0,
            removed: 0,
        };
        let mut gone = expired;
        if run.covers_every_key {
            let kept: HashSet<Vec<u8>> = records
                .iter()
                .filter_map(|r| postcard::to_stdvec(&r.key).ok())
                .collect();
            gone.extend(
                self.stored_keys(spec)
                    .await?
                    .into_iter()
                    .filter(|k| postcard::to_stdvec(k).map_or(true, |k| !kept.contains(&k))),
            );
        }
        if !gone.is_empty() && self.config.entity_tables {
            self.delete_entity_cells(spec, &gone, write_time).await?;
        }
        if !gone.is_empty() {
            out.removed = self
                .delete_keys(spec, "", &table, &gone, write_time)
                .await?;
        }
        Ok(out)
    }

    fn counts_kept_rows(&self) -> bool {
        false
    }

    fn stored_form(&self, mut record: Record) -> Option<Record> {
        fn value(v: Value) -> Option<Value> {
            Some(match v {
                Value::Timestamp(t) => Value::Timestamp(t.div_euclid(1000) * 1000),
                Value::List(items) if items.is_empty() => Value::Null,
                Value::List(items) => Value::List(
                    items
                        .into_iter()
                        .map(|i| match i {
                            Value::Null => None,
                            i => value(i),
                        })
                        .collect::<Option<_>>()?,
                ),
                v => v,
            })
        }
        record.timestamp = record.timestamp.div_euclid(1000) * 1000;
        record.key = record.key.into_iter().map(value).collect::<Option<_>>()?;
        record.values = record
            .values
            .into_iter()
            .map(value)
            .collect::<Option<_>>()?;
        Some(record)
    }

    async fn get_many(
        &self,
        spec: &FeatureSetSpec,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Option<Record>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let select = self
            .prepare(spec, self.select_cql(spec, true), Access::Read)
            .await?;
        let doing = format!("reading rows of `{}`", self.table(spec));
        let rows = self
            .read_rows(spec, &select, &doing, keys)
            .await?
            .into_iter()
            .map(|row| row.map(|r| self.record_of(spec, r)).transpose())
            .collect::<Result<Vec<_>>>()?;
        // The cluster's TTL counts whole seconds from the write: the row's
        // own time decides exactly.
        Ok(crate::store::online::live_rows(spec, rows))
    }

    async fn get_many_sets(
        &self,
        specs: &[&FeatureSetSpec],
        keys: &[Vec<Value>],
    ) -> Result<Vec<Vec<Option<Record>>>> {
        // One read per key for them all, from the entity table.
        if self.config.entity_tables && specs.len() > 1 {
            return self.get_entity(specs, keys).await;
        }
        crate::store::online::get_each(self, specs, keys).await
    }

    fn scan<'a>(&'a self, spec: &'a FeatureSetSpec) -> BoxStream<'a, Result<Record>> {
        let doing = "scanning rows";
        let rows = stream::once(async move {
            let select = self
                .prepare(spec, self.select_cql(spec, false), Access::Read)
                .await?;
            let pager = self
                .session
                .execute_iter(select, ())
                .await
                .map_err(|e| self.error(doing, e))?;
            let rows = pager
                .rows_stream::<Row>()
                .map_err(|e| self.error(doing, e))?;
            Ok::<_, Error>(rows.map(move |row| {
                row.map_err(|e| self.error(doing, e))
                    .and_then(|row| self.record_of(spec, row))
            }))
        })
        .try_flatten()
        .boxed();
        crate::store::online::live_stream(spec, rows)
    }

    async fn plan(&self, spec: &FeatureSetSpec) -> Result<Vec<MigrationStep>> {
        let keyspace_exists = self.keyspace_exists().await?;
        let stored = if keyspace_exists {
            self.stored_columns(spec).await?
        } else {
            None
        };
        let mut steps = schema::plan(
            spec,
            &self.config.keyspace,
            &self.config.replication.cql(),
            keyspace_exists,
            stored.as_deref(),
        );
        if self.config.entity_tables {
            self.entity_clash(spec)?;
            let stored = if keyspace_exists {
                self.stored_columns_of(&schema::entity_table(spec)).await?
            } else {
                None
            };
            steps.extend(schema::entity_plan(
                spec,
                &self.config.keyspace,
                stored.as_deref(),
            ));
        }
        Ok(steps)
    }

    async fn apply(&self, spec: &FeatureSetSpec, steps: &[MigrationStep]) -> Result<()> {
        if self.mode == OpenMode::Read {
            return Err(read_only(STORE, self.config.shown.clone()));
        }
        for step in steps {
            let cql = schema::statement_of(step);
            self.session
                .query_unpaged(cql, ())
                .await
                .map_err(|e| self.error(&format!("migrating `{}` with `{cql}`", spec.name), e))?;
        }
        // Statements prepared against the old columns are stale.
        self.prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }

    async fn drop_rows(&self, spec: &FeatureSetSpec) -> Result<usize> {
        if self.mode == OpenMode::Read {
            return Err(read_only(STORE, self.config.shown.clone()));
        }
        let n = self.stored_keys(spec).await?.len();
        if self.config.entity_tables {
            self.drop_entity_cells(spec).await?;
        }
        let table = self.table(spec);
        self.session
            .query_unpaged(format!("TRUNCATE {table}"), ())
            .await
            .map_err(|e| self.error(&format!("truncating `{table}`"), e))?;
        Ok(n)
    }
}

/// Whether connecting failed in or for want of a TLS handshake, by the
/// driver's message (its errors carry rustls' as text).
fn tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        let text = e.to_string();
        if [
            "certificate",
            "Certificate",
            "TLS",
            "handshake",
            "fatal alert",
            "CorruptMessage",
        ]
        .iter()
        .any(|t| text.contains(t))
        {
            return true;
        }
        next = e.source();
    }
    false
}
