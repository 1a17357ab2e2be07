//! The Spark Connect session: Apache's client (`apache-spark-connect`),
//! SQL in, Arrow out.
//!
//! The client is synchronous over a tokio runtime of its own; its calls
//! must not be made from a thread already inside a runtime (tokio refuses
//! to block one runtime's worker on another), so each call runs on a scoped
//! thread when the caller is inside one.

use arrow::record_batch::RecordBatch;
use spark_connect::{SparkError, SparkSession};

use crate::error::{Error, Result};
use crate::location::redact;

const STORE: &str = "Spark Connect";

/// Session settings every run relies on.
const SESSION_CONF: &[(&str, &str)] = &[
    // The declaration's times are UTC: `to_date`, day arithmetic and the
    // casts between dates and timestamps follow the session time zone.
    ("spark.sql.session.timeZone", "UTC"),
    // A run replaces the day partitions it writes and no other.
    ("spark.sql.sources.partitionOverwriteMode", "dynamic"),
    // Microsecond timestamps, as the polars engine writes them (Spark's
    // default INT96 is deprecated in Parquet).
    ("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS"),
    // Snappy, as the polars engine writes the store.
    ("spark.sql.parquet.compression.codec", "snappy"),
    // Constraint propagation infers predicates from every alias and
    // comparison of a plan. A feature set with many outputs compares a
    // struct of all of them with the previous row's (the change-point
    // dedup), and inferring over that took the optimizer minutes and the
    // driver's 4 GiB (a thread dump shows it in `PruneFilters`, hashing the
    // struct for `validConstraints`). The plans filter explicitly and gain
    // nothing from it.
    ("spark.sql.constraintPropagation.enabled", "false"),
];

/// A connected Spark Connect session.
pub struct SparkClient {
    session: SparkSession,
    remote: String,
}

impl std::fmt::Debug for SparkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparkClient")
            .field("remote", &self.remote)
            .finish()
    }
}

/// Runs `f` off any tokio runtime the caller is in.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    } else {
        f()
    }
}

impl SparkClient {
    /// Connects to `remote` (`sc://HOST:PORT[/;token=…]`) and sets the
    /// session's configuration.
    pub fn connect(remote: &str) -> Result<Self> {
        let shown = redact(remote);
        if !remote.starts_with("sc://") {
            return Err(Error::Location {
                location: shown,
                message: "a Spark Connect endpoint is `sc://HOST:PORT[/;token=…]`".to_string(),
            });
        }
        let session = off_runtime(|| SparkSession::builder().remote(remote).get_or_create())
            .map_err(|e| spark_error(&shown, "connecting", e))?;
        let client = SparkClient {
            session,
            remote: shown,
        };
        for (key, value) in SESSION_CONF {
            off_runtime(|| client.session.conf().set(key, value))
                .map_err(|e| client.err(&format!("setting {key}"), e))?;
        }
        Ok(client)
    }

    /// The endpoint, without secrets.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    pub(crate) fn err(&self, doing: &str, e: SparkError) -> Error {
        spark_error(&self.remote, doing, e)
    }

    /// Runs a SQL statement or query; a query's rows come back as Arrow.
    ///
    /// The client retries a dropped stream for minutes (Spark's policy,
    /// which this crate cannot shorten), and can wait on a dead server for
    /// good: the statement runs on a thread of its own while this one checks
    /// that the server still accepts connections, and gives up once it has
    /// refused them for 30 seconds. A long job on a live server is never
    /// cut short.
    pub fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        tracing::debug!(remote = %self.remote, sql, "Spark SQL");
        let (tx, rx) = std::sync::mpsc::channel();
        let session = self.session.clone();
        let statement = sql.to_string();
        // Detached: on a dead server it is left to its retries, its answer
        // unread.
        std::thread::Builder::new()
            .name("spark-sql".to_string())
            .spawn(move || {
                let _ = tx.send(
                    session
                        .sql(&statement)
                        .and_then(|df| df.collect_record_batches()),
                );
            })
            .map_err(|e| Error::store(STORE, &self.remote, "starting a Spark call", e))?;
        let mut unreachable_since: Option<std::time::Instant> = None;
        loop {
            match rx.recv_timeout(LIVENESS_PROBE) {
                Ok(result) => return result.map_err(|e| self.err("running SQL", e)),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::Store {
                        store: STORE,
                        location: self.remote.clone(),
                        message: "running SQL: the client's thread ended without an answer"
                            .to_string(),
                        kind: crate::error::ErrorKind::Permanent,
                        source: "no answer".into(),
                    })
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if self.accepts_connections() {
                unreachable_since = None;
                continue;
            }
            let since = *unreachable_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() >= DEAD_AFTER {
                return Err(Error::Store {
                    store: STORE,
                    location: self.remote.clone(),
                    message: format!(
                        "running SQL: the server stopped answering (it has refused connections for {} s)",
                        DEAD_AFTER.as_secs()
                    ),
                    kind: crate::error::ErrorKind::Transient,
                    source: "server unreachable".into(),
                });
            }
        }
    }

    /// Whether the endpoint's host accepts a TCP connection now.
    fn accepts_connections(&self) -> bool {
        use std::net::ToSocketAddrs;
        let Some(address) = endpoint(&self.remote) else {
            // Not a form this check understands: leave it to the client.
            return true;
        };
        match address.to_socket_addrs() {
            Ok(mut addrs) => addrs.any(|a| {
                std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok()
            }),
            Err(_) => false,
        }
    }

    /// Runs a query returning one count.
    pub fn count(&self, sql: &str) -> Result<i64> {
        let batches = self.sql(sql)?;
        let value = batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .and_then(|a| a.iter().next().flatten())
        });
        value.ok_or_else(|| self.cut_short(&format!("the count of `{sql}`"), 0, 1))
    }

    /// The error of an answer with fewer rows than the query gives. A Spark
    /// Connect server ends a reattachable response stream after
    /// `spark.connect.execute.reattachable.senderMaxStreamDuration` (2
    /// minutes by default) and expects the client to reattach; the client
    /// library ends the answer there instead, as if it were complete. Such
    /// an answer must never pass for the result.
    pub(crate) fn cut_short(&self, what: &str, got: usize, expected: i64) -> Error {
        Error::Store {
            store: STORE,
            location: self.remote.clone(),
            message: format!(
                "{what}: {got} of {expected} rows came back: the server ended the answer early. \
                 A Spark Connect server ends a response stream after \
                 `spark.connect.execute.reattachable.senderMaxStreamDuration` (2 minutes by \
                 default) and this client does not reattach to it: set it above the longest \
                 step of a run on the server (e.g. `--conf \
                 spark.connect.execute.reattachable.senderMaxStreamDuration=1h`)"
            ),
            kind: crate::error::ErrorKind::Permanent,
            source: "a response stream ended early".into(),
        }
    }

    /// Runs `f` with the session, off any tokio runtime.
    pub(crate) fn with_session<T: Send>(
        &self,
        doing: &str,
        f: impl FnOnce(&SparkSession) -> std::result::Result<T, SparkError> + Send,
    ) -> Result<T> {
        off_runtime(|| f(&self.session)).map_err(|e| self.err(doing, e))
    }

    /// Releases the session on the server, with its views and cached
    /// tables (a session left open holds them until it times out).
    pub fn close(self) -> Result<()> {
        self.with_session("closing the session", |s| s.stop())
    }

    /// The server's Spark version.
    pub fn version(&self) -> Result<String> {
        self.with_session("asking the version", |s| s.version())
    }
}

/// How often a running statement checks that its server is alive.
const LIVENESS_PROBE: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a server may refuse connections before its statement fails.
const DEAD_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// `HOST:PORT` of `sc://HOST[:PORT][/;params]` (Spark Connect's default
/// port 15002 when none is given).
fn endpoint(remote: &str) -> Option<String> {
    let rest = remote.strip_prefix("sc://")?;
    let authority = rest.split(['/', ';']).next()?;
    let authority = authority.rsplit('@').next()?;
    if authority.is_empty() {
        return None;
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    Some(if has_port {
        authority.to_string()
    } else {
        format!("{authority}:15002")
    })
}

fn spark_error(remote: &str, doing: &str, e: SparkError) -> Error {
    Error::store(STORE, remote, doing.to_string(), e)
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn endpoints_of_spark_connect_urls() {
        assert_eq!(
            endpoint("sc://127.0.0.1:15003").as_deref(),
            Some("127.0.0.1:15003")
        );
        assert_eq!(
            endpoint("sc://spark.local").as_deref(),
            Some("spark.local:15002")
        );
        assert_eq!(
            endpoint("sc://spark.local:443/;token=abc;use_ssl=true").as_deref(),
            Some("spark.local:443")
        );
        assert_eq!(endpoint("sc://"), None);
        assert_eq!(endpoint("http://x:1"), None);
    }
}
