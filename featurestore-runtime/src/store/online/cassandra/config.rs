//! The options of a Cassandra/ScyllaDB online store: the URL names the
//! nodes and the keyspace, `[online.cassandra]` in `featurestore.toml` the
//! rest. Compiled without the `cassandra` cargo feature too, so a
//! configuration that sets them still reads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::location::redact;

/// Environment variable holding the password, so that it need not be
/// written in `featurestore.toml`.
pub const PASSWORD_ENV: &str = "FEATURESTORE_CASSANDRA_PASSWORD";

/// Requests in flight per write or lookup unless configured.
pub const DEFAULT_CONCURRENCY: usize = 256;

/// How long one request may take unless configured.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// A consistency level, as CQL names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    /// `ONE`
    One,
    /// `TWO`
    Two,
    /// `THREE`
    Three,
    /// `QUORUM`
    Quorum,
    /// `ALL`
    All,
    /// `LOCAL_ONE`
    LocalOne,
    /// `LOCAL_QUORUM`
    LocalQuorum,
    /// `EACH_QUORUM` (writes only)
    EachQuorum,
}

/// How the keyspace is replicated when `features migrate apply` creates it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "class", deny_unknown_fields)]
pub enum Replication {
    /// One replication factor for the whole cluster (a single data centre).
    SimpleStrategy {
        /// Copies of each row.
        replication_factor: u32,
    },
    /// A replication factor per data centre.
    NetworkTopologyStrategy {
        /// Copies of each row, by data centre name.
        datacenters: BTreeMap<String, u32>,
    },
}

impl Default for Replication {
    fn default() -> Self {
        Replication::SimpleStrategy {
            replication_factor: 1,
        }
    }
}

impl Replication {
    /// The CQL map of `WITH replication = …`.
    pub fn cql(&self) -> String {
        match self {
            Replication::SimpleStrategy { replication_factor } => {
                format!("{{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}}")
            }
            Replication::NetworkTopologyStrategy { datacenters } => {
                let mut parts = vec!["'class': 'NetworkTopologyStrategy'".to_string()];
                parts.extend(
                    datacenters
                        .iter()
                        .map(|(dc, n)| format!("'{}': {n}", dc.replace('\'', "''"))),
                );
                format!("{{{}}}", parts.join(", "))
            }
        }
    }
}

/// `[online.cassandra]` of `featurestore.toml`.
///
/// ```toml
/// [online.cassandra]
/// write_consistency = "local_quorum"   # default
/// read_consistency = "local_one"       # default
/// local_datacenter = "dc1"             # prefer this data centre's nodes
/// user = "features"                    # the password: FEATURESTORE_CASSANDRA_PASSWORD
/// request_timeout_ms = 10000
/// concurrency = 256                    # requests in flight per write or lookup
/// replication = { class = "NetworkTopologyStrategy", datacenters = { dc1 = 3 } }
/// entity_tables = true                 # also one wide row per key of each entity
///
/// [online.cassandra.tls]                # connect with TLS (see `TlsOptions`)
/// ca_file = "certs/cluster-ca.pem"
/// ```
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CassandraOptions {
    /// Consistency of writes and removals (default `local_quorum`).
    pub write_consistency: Option<Consistency>,
    /// Consistency of lookups and scans (default `local_one`).
    pub read_consistency: Option<Consistency>,
    /// The data centre whose nodes are asked first.
    pub local_datacenter: Option<String>,
    /// The user to log in as (with `PasswordAuthenticator`).
    pub user: Option<String>,
    /// The user's password; prefer [`PASSWORD_ENV`] to writing it here.
    pub password: Option<String>,
    /// How long one request may take, in milliseconds.
    pub request_timeout_ms: Option<u64>,
    /// Requests in flight per write or lookup.
    pub concurrency: Option<usize>,
    /// The keyspace's replication, for `features migrate apply`.
    pub replication: Option<Replication>,
    /// Whether each feature set also writes its row to its entity's table
    /// (Butterfree's `write_to_entity`): one row per key holding the columns
    /// of every feature set of that entity (default `false`).
    pub entity_tables: Option<bool>,
    /// TLS to the nodes: present (even empty) to connect with TLS.
    pub tls: Option<TlsOptions>,
}

/// `[online.cassandra.tls]`: the nodes are reached over TLS (the nodes'
/// `client_encryption_options`). Relative paths are taken from the
/// directory of `featurestore.toml`.
///
/// ```toml
/// [online.cassandra.tls]
/// ca_file = "certs/cluster-ca.pem"     # default: the system's trusted roots
/// cert_file = "certs/client.pem"       # for nodes with require_client_auth
/// key_file = "certs/client.key"
/// verify_hostname = true               # default
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// PEM certificates of the authorities that sign the nodes'
    /// certificates; without it, the system's trusted roots.
    pub ca_file: Option<PathBuf>,
    /// A PEM certificate chain to present to nodes that require client
    /// certificates, with [`key_file`](Self::key_file).
    pub cert_file: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1, unencrypted) of
    /// [`cert_file`](Self::cert_file).
    pub key_file: Option<PathBuf>,
    /// Whether a node's certificate must name the IP address the driver
    /// reaches it at (default `true`). The driver connects to the addresses
    /// the cluster reports, never to host names, so certificates that name
    /// only host names need `false`: the chain is still checked against
    /// the trusted roots, only the name is not.
    pub verify_hostname: Option<bool>,
}

impl CassandraOptions {
    /// The options with their relative file paths taken from `base`.
    pub fn with_base_dir(mut self, base: &Path) -> Self {
        if let Some(tls) = &mut self.tls {
            for path in [&mut tls.ca_file, &mut tls.cert_file, &mut tls.key_file]
                .into_iter()
                .flatten()
            {
                *path = base.join(&*path);
            }
        }
        self
    }
}

/// How a store connects with TLS, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The trusted authorities' certificates; `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The client certificate chain and its key.
    pub client: Option<(PathBuf, PathBuf)>,
    /// Whether the nodes' certificates must name their addresses.
    pub verify_hostname: bool,
}

impl fmt::Debug for CassandraOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CassandraOptions")
            .field("write_consistency", &self.write_consistency)
            .field("read_consistency", &self.read_consistency)
            .field("local_datacenter", &self.local_datacenter)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("concurrency", &self.concurrency)
            .field("replication", &self.replication)
            .field("entity_tables", &self.entity_tables)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Everything a [`CassandraStore`](super::CassandraStore) connects with:
/// the URL's nodes, keyspace and credentials, and the options.
#[derive(Clone, PartialEq, Eq)]
pub struct CassandraConfig {
    /// The URL, for messages (without a password).
    pub shown: String,
    /// `host:port` of the nodes to contact first.
    pub nodes: Vec<String>,
    /// The keyspace of the feature sets' tables.
    pub keyspace: String,
    /// User and password, from the URL, the options or [`PASSWORD_ENV`].
    pub credentials: Option<(String, String)>,
    /// Consistency of writes.
    pub write_consistency: Consistency,
    /// Consistency of reads.
    pub read_consistency: Consistency,
    /// The preferred data centre.
    pub local_datacenter: Option<String>,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// Requests in flight per write or lookup.
    pub concurrency: usize,
    /// The keyspace's replication, for `migrate`.
    pub replication: Replication,
    /// Whether feature sets also write their entity's table.
    pub entity_tables: bool,
    /// TLS to the nodes, if configured.
    pub tls: Option<TlsConfig>,
}

impl fmt::Debug for CassandraConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CassandraConfig")
            .field("url", &self.shown)
            .field("keyspace", &self.keyspace)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("write_consistency", &self.write_consistency)
            .field("read_consistency", &self.read_consistency)
            .field("local_datacenter", &self.local_datacenter)
            .field("request_timeout", &self.request_timeout)
            .field("concurrency", &self.concurrency)
            .field("replication", &self.replication)
            .field("entity_tables", &self.entity_tables)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Whether `name` can be a keyspace or table name as written: CQL folds
/// unquoted names to lower case, so only lower case is taken as is.
pub fn is_cql_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

impl CassandraConfig {
    /// Reads `cassandra://[user:password@]HOST:PORT[,HOST:PORT…]/KEYSPACE`
    /// (`scylla://` the same) and the options. The password comes from the
    /// URL, else [`PASSWORD_ENV`], else the options.
    pub fn new(url: &str, options: &CassandraOptions) -> Result<Self> {
        let shown = redact(url);
        let invalid = |message: String| Error::Location {
            location: shown.clone(),
            message,
        };
        let rest = url
            .strip_prefix("cassandra://")
            .or_else(|| url.strip_prefix("scylla://"))
            .ok_or_else(|| invalid("not a `cassandra://` or `scylla://` URL".to_string()))?;
        let (authority, keyspace) = rest.split_once('/').ok_or_else(|| {
            invalid("the URL names no keyspace: `cassandra://HOST:PORT/KEYSPACE`".to_string())
        })?;
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let nodes: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| {
                if h.rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
                {
                    h.to_string()
                } else {
                    format!("{h}:9042")
                }
            })
            .collect();
        if nodes.is_empty() {
            return Err(invalid("the URL names no node".to_string()));
        }
        let keyspace = keyspace.trim_end_matches('/');
        if !is_cql_name(keyspace) {
            return Err(invalid(format!(
                "keyspace `{keyspace}` is not a name of lower-case letters, digits and `_` (at most 48, not starting with a digit)"
            )));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (url_user, url_password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pw)) => (Some(decode(user)), Some(decode(pw))),
                None => (Some(decode(u)), None),
            },
            None => (None, None),
        };
        let user = url_user.or_else(|| options.user.clone());
        let password = url_password
            .or_else(|| std::env::var(PASSWORD_ENV).ok())
            .or_else(|| options.password.clone());
        let credentials = match (user, password) {
            (Some(u), Some(p)) => Some((u, p)),
            (Some(u), None) => {
                return Err(invalid(format!(
                    "user `{u}` has no password: set {PASSWORD_ENV} or `password` in [online.cassandra]"
                )))
            }
            _ => None,
        };
        let concurrency = options.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            return Err(invalid(
                "[online.cassandra] concurrency must be at least 1".to_string(),
            ));
        }
        let tls = match &options.tls {
            None => None,
            Some(t) => Some(TlsConfig {
                ca_file: t.ca_file.clone(),
                client: match (&t.cert_file, &t.key_file) {
                    (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
                    (None, None) => None,
                    _ => {
                        return Err(invalid(
                            "[online.cassandra.tls] cert_file and key_file go together: set both or neither"
                                .to_string(),
                        ))
                    }
                },
                verify_hostname: t.verify_hostname.unwrap_or(true),
            }),
        };
        Ok(CassandraConfig {
            shown,
            nodes,
            keyspace: keyspace.to_string(),
            credentials,
            write_consistency: options
                .write_consistency
                .unwrap_or(Consistency::LocalQuorum),
            read_consistency: options.read_consistency.unwrap_or(Consistency::LocalOne),
            local_datacenter: options.local_datacenter.clone(),
            request_timeout: Duration::from_millis(
                options
                    .request_timeout_ms
                    .unwrap_or(DEFAULT_REQUEST_TIMEOUT_MS),
            ),
            concurrency,
            replication: options.replication.clone().unwrap_or_default(),
            entity_tables: options.entity_tables.unwrap_or(false),
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_nodes_keyspace_and_credentials() {
        let c = CassandraConfig::new(
            "cassandra://u:p%40ss@a:19042,b/feature_store",
            &CassandraOptions::default(),
        )
        .unwrap();
        assert_eq!(c.nodes, ["a:19042", "b:9042"]);
        assert_eq!(c.keyspace, "feature_store");
        assert_eq!(c.credentials, Some(("u".into(), "p@ss".into())));
        assert_eq!(c.shown, "cassandra://***@a:19042,b/feature_store");
        assert!(!format!("{c:?}").contains("p@ss"));
        assert_eq!(c.write_consistency, Consistency::LocalQuorum);
        let c = CassandraConfig::new("scylla://h:1/ks", &CassandraOptions::default()).unwrap();
        assert_eq!((c.nodes, c.credentials), (vec!["h:1".to_string()], None));
        for bad in [
            "cassandra://h:1",
            "cassandra://h:1/Bad",
            "cassandra:///ks",
            "cassandra://h/1ks",
        ] {
            assert!(
                CassandraConfig::new(bad, &CassandraOptions::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn options_read_from_toml() {
        let o: CassandraOptions = toml::from_str(
            "write_consistency = \"quorum\"\nconcurrency = 8\npassword = \"s3cret\"\n\
             replication = { class = \"NetworkTopologyStrategy\", datacenters = { dc1 = 3 } }\n",
        )
        .unwrap();
        assert_eq!(o.write_consistency, Some(Consistency::Quorum));
        assert!(!format!("{o:?}").contains("s3cret"));
        assert_eq!(
            o.replication.unwrap().cql(),
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"
        );
        assert!(toml::from_str::<CassandraOptions>("consistency = \"one\"").is_err());
    }
}
