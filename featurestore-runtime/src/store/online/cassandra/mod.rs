//! `cassandra://` / `scylla://`: the latest rows in a Cassandra or ScyllaDB
//! cluster (cargo feature `cassandra`).
//!
//! One table per feature set, named as the feature set, in the keyspace of
//! the URL: `PRIMARY KEY ((keys…))`, a `timestamp` column and one typed
//! column per output (the CQL of [`cql`](super::cql)). Tables are made and
//! changed by `features migrate apply` ([`schema`]); a run checks the
//! table against the declaration before it writes either store, and never
//! creates or alters one.
//!
//! **Order without reading.** Every row a run writes carries the run's
//! [`WriteOrder::encode`](super::WriteOrder::encode) as its CQL write time
//! (`USING TIMESTAMP`), so the cluster itself keeps, cell by cell, the
//! write of the latest run: an earlier run's insert loses to what a later
//! one stored, a re-run (a later start of the same as-of) wins. No
//! lightweight transaction and no read before a write. Writes are one
//! prepared single-partition `INSERT` per row, a bounded number in flight
//! (`concurrency`), routed by the token-aware policy to a replica; no
//! multi-partition batch. The driver retries only timeouts and unavailable
//! or overloaded replicas, and every statement is idempotent (fixed write
//! times), so a retry is harmless.
//!
//! **Removed keys.** A run that covers every key then pages through the
//! table's keys (a scan in token order) and sends `DELETE … USING
//! TIMESTAMP` (the run's write time) for each key it has no row for: the
//! tombstone hides only cells written at or before that time, so a key a
//! later run wrote stays. A run interrupted there leaves those keys until
//! the next run of every key.
//!
//! **What CQL keeps.** Times to the millisecond (microseconds below are
//! dropped); an empty list reads back as null; a list cannot hold a null
//! (such a row is refused with the key and column named). See
//! [`OnlineStore::stored_form`](super::OnlineStore::stored_form).

mod config;
pub mod schema;
#[cfg(feature = "cassandra")]
mod store;
#[cfg(feature = "cassandra")]
mod tls;

pub use config::{
    is_cql_name, CassandraConfig, CassandraOptions, Consistency, Replication, TlsConfig,
    TlsOptions, DEFAULT_CONCURRENCY, DEFAULT_REQUEST_TIMEOUT_MS, PASSWORD_ENV,
};
#[cfg(feature = "cassandra")]
pub use store::CassandraStore;
