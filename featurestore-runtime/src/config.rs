//! Configuration: `featurestore.toml`, then `FEATURESTORE_*` environment
//! variables, then command-line options, each overriding the one before.
//!
//! ```toml
//! [historical]
//! root = "data/feature_store/historical"   # a directory, or a URL: s3://bucket/prefix, …
//!
//! [online]
//! url = "sqlite://data/online/online_store.sqlite"   # or redb://PATH, memory://, redis://…, cassandra://HOST:PORT/KEYSPACE
//!
//! [online.cassandra]   # options of cassandra:// and scylla://, see `CassandraOptions`
//! write_consistency = "local_quorum"
//!
//! [datasets]
//! root = "data/datasets"   # each dataset in {root}/{name}/; a directory or a URL
//!
//! [engine]
//! kind = "polars"                     # or "spark"
//! spark_remote = "sc://spark:15002"   # the Spark Connect endpoint
//! memory_budget = "4GiB"   # a run needing more is split by key (default: half the memory)
//! spill_dir = "/var/tmp"   # where a split run spills its parts (default: the temp dir)
//!
//! [server]                               # `features serve`
//! bind = "127.0.0.1:6566"     # loopback unless told otherwise
//! token_file = "secrets/token"   # requests need `Authorization: Bearer <its text>`
//! max_body_bytes = 1048576    # 413 past it
//! max_keys = 1000             # entity keys per request; 400 past it
//! request_timeout_ms = 5000
//! max_concurrency = 256       # requests in progress; later ones wait
//!
//! [quality]                   # when a run's quality report flags a column
//! psi = 0.2                   # population-stability index from the previous run
//! null_rate = 0.1             # change of the null rate
//! [quality.feature_sets.user_orders]
//! psi = 0.1                   # one feature set's own
//!
//! [sources.order_events]
//! path = "data/order_events/input.csv"   # or a URL: s3://bucket/orders.csv
//! format = "parquet"           # csv, parquet, ndjson; default: see below
//! on_bad_rows = "quarantine"   # or "fail" (the default) or "skip"
//!
//! [kafka]                        # kafka:// sources and `features stream`
//! group_prefix = "featurestore." # stream NAME's consumer group: prefix + NAME
//! allowed_lateness = "1h"        # how far behind the newest event one may arrive
//! [kafka.options]                # any librdkafka property; "env:VAR" reads VAR
//! "security.protocol" = "SASL_SSL"
//! "sasl.password" = "env:KAFKA_PASSWORD"
//! ```
//!
//! The file is found by [`Config::discover`]: `--config FILE`, else
//! `$FEATURESTORE_CONFIG`, else `featurestore.toml` in the current directory,
//! else the text the binary embedded at build time, else the defaults. No
//! path of the build machine is ever used, so a binary copied to a server is
//! configured where it runs.
//!
//! Relative paths are resolved against the directory of the configuration
//! file, so a run does not depend on the current directory; those of an
//! embedded configuration, which has no directory, against the current one.
//!
//! A source's format is, in this order: the one configured (`format` here,
//! `--source-format`, `FEATURESTORE_FORMAT_<NAME>`); Parquet when the file
//! is one (it begins and ends with `PAR1`); the extension of a configured
//! path (`.csv`, `.parquet`, `.ndjson`, `.jsonl`); the declared one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::{EngineConfig, EngineKind};
use crate::error::{Error, Result};
use crate::location::{
    absolute, resolve as resolve_path, FileLocation, OnlineLocation, StoreConfig, StoreOptions,
};
use crate::source::{KafkaSettings, SourceLocations};
use crate::spec::{Format, OnBadRows};

/// Default historical store root, relative to the base directory.
pub const DEFAULT_HISTORICAL_ROOT: &str = "data/feature_store/historical";
/// Default online store URL, relative to the base directory.
pub const DEFAULT_ONLINE_URL: &str = "sqlite://data/online/online_store.sqlite";
/// The store file of the former default online store (redb), relative to
/// the base directory: rows written there are not read by the default store.
pub const FORMER_DEFAULT_ONLINE_FILE: &str = "data/online/online_store.redb";
/// Default directory of written datasets.
pub const DEFAULT_DATASETS_DIR: &str = "data/datasets";
/// Name of the configuration file.
pub const CONFIG_FILE: &str = "featurestore.toml";

/// Environment variable naming the configuration file.
pub const ENV_CONFIG: &str = "FEATURESTORE_CONFIG";
/// Environment variable overriding the historical store root.
pub const ENV_HISTORICAL_ROOT: &str = "FEATURESTORE_HISTORICAL_ROOT";
/// Environment variable overriding where datasets are written.
pub const ENV_DATASETS_ROOT: &str = "FEATURESTORE_DATASETS_ROOT";
/// Environment variable overriding the online store URL.
pub const ENV_ONLINE_URL: &str = "FEATURESTORE_ONLINE_URL";
/// Environment variable giving the Spark Connect endpoint.
pub const ENV_SPARK_REMOTE: &str = "FEATURESTORE_SPARK_REMOTE";
/// Environment variable: [`EngineConfig::memory_budget`] (`4GiB`, `512MiB`…).
pub const ENV_MEMORY_BUDGET: &str = "FEATURESTORE_MEMORY_BUDGET";
/// Prefix of the variables overriding a source's path: `FEATURESTORE_SOURCE_ORDER_EVENTS`.
pub const ENV_SOURCE_PREFIX: &str = "FEATURESTORE_SOURCE_";
/// Prefix of the variables setting a source's format: `FEATURESTORE_FORMAT_ORDER_EVENTS=parquet`.
pub const ENV_FORMAT_PREFIX: &str = "FEATURESTORE_FORMAT_";
/// How messages name a configuration embedded in the binary.
pub const EMBEDDED: &str = "<featurestore.toml embedded in the binary>";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    historical: Option<HistoricalSection>,
    #[serde(default)]
    online: Option<OnlineSection>,
    #[serde(default)]
    datasets: Option<DatasetsSection>,
    #[serde(default)]
    sources: BTreeMap<String, SourceSection>,
    #[serde(default)]
    engine: Option<EngineSection>,
    /// Options of object stores, by URL prefix: `[storage."s3://bucket"]`.
    #[serde(default)]
    storage: BTreeMap<String, BTreeMap<String, toml::Value>>,
    #[serde(default)]
    server: Option<ServerSection>,
    #[serde(default)]
    quality: Option<QualitySection>,
    #[serde(default)]
    kafka: Option<KafkaSettings>,
}

/// `[quality]`: when a run's quality report flags a column.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QualitySection {
    psi: Option<f64>,
    null_rate: Option<f64>,
    #[serde(default)]
    feature_sets: BTreeMap<String, ThresholdSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdSection {
    psi: Option<f64>,
    null_rate: Option<f64>,
}

/// `[server]`: `features serve`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    bind: Option<String>,
    token_file: Option<String>,
    max_body_bytes: Option<usize>,
    max_keys: Option<usize>,
    request_timeout_ms: Option<u64>,
    max_concurrency: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineSection {
    kind: Option<String>,
    spark_remote: Option<String>,
    memory_budget: Option<String>,
    spill_dir: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetsSection {
    root: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoricalSection {
    root: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnlineSection {
    url: Option<String>,
    #[serde(default)]
    cassandra: Option<crate::store::online::cassandra::CassandraOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceSection {
    path: Option<String>,
    format: Option<String>,
    on_bad_rows: Option<String>,
}

/// The resolved configuration of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory relative paths are resolved against.
    pub base_dir: PathBuf,
    /// The configuration file read, if any.
    pub file: Option<PathBuf>,
    /// Historical store root (directory or URL), as given.
    pub historical_root: String,
    /// Online store URL, as given.
    pub online_url: String,
    /// The online store backends' options (`[online.cassandra]`).
    pub online_options: crate::store::online::OnlineOptions,
    /// Directory or URL datasets are written under (`{root}/{name}/`), as given.
    pub datasets_root: String,
    /// Source path overrides by source name.
    pub sources: HashMap<String, String>,
    /// Source formats configured, by source name.
    pub formats: HashMap<String, Format>,
    /// `on_bad_rows` overrides by source name.
    pub on_bad_rows: HashMap<String, OnBadRows>,
    /// The engine that computes feature sets.
    pub engine: EngineConfig,
    /// Options of object stores (`[storage."s3://bucket"]`), over each
    /// cloud's environment.
    pub storage: StoreConfig,
    /// `features serve`.
    pub server: ServerConfig,
    /// When quality reports flag a column.
    pub quality: QualityConfig,
    /// Kafka consumers: librdkafka options, consumer groups, lateness.
    pub kafka: KafkaSettings,
}

/// The `[quality]` section: the drift past which a run's quality report
/// flags a column, for every feature set and for some on their own.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityConfig {
    /// Population-stability index over the previous run's bins.
    pub psi: f64,
    /// Change of the null rate, as a fraction of rows.
    pub null_rate: f64,
    /// A feature set's own (psi, null rate), each defaulting to the above.
    pub feature_sets: BTreeMap<String, (Option<f64>, Option<f64>)>,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            psi: 0.2,
            null_rate: 0.1,
            feature_sets: BTreeMap::new(),
        }
    }
}

impl QualityConfig {
    /// The (psi, null rate) thresholds of `feature_set`.
    pub fn thresholds(&self, feature_set: &str) -> (f64, f64) {
        let (psi, null_rate) = self
            .feature_sets
            .get(feature_set)
            .copied()
            .unwrap_or_default();
        (psi.unwrap_or(self.psi), null_rate.unwrap_or(self.null_rate))
    }
}

/// The `[server]` section: what `features serve` listens on and accepts.
/// Command-line options override each key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address and port to listen on. Loopback unless told otherwise, so a
    /// server started by hand is not open to the network by accident.
    pub bind: String,
    /// A file holding the bearer token every request but `/health` must
    /// carry; none: no authentication.
    pub token_file: Option<PathBuf>,
    /// Largest request body, in bytes (413 past it).
    pub max_body_bytes: usize,
    /// Most entity keys in one request (400 past it).
    pub max_keys: usize,
    /// How long a request may take, store included, in milliseconds.
    pub request_timeout_ms: u64,
    /// Requests handled at once; later ones wait for a place.
    pub max_concurrency: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:6566".to_string(),
            token_file: None,
            max_body_bytes: 1 << 20,
            max_keys: 1000,
            request_timeout_ms: 5000,
            max_concurrency: 256,
        }
    }
}

impl Config {
    /// A store file at the former default location of the online store
    /// (redb), when the online store is the default one: its rows are not
    /// read by the default store, and the user should know it.
    pub fn former_default_online_store(&self) -> Option<PathBuf> {
        let default = OnlineLocation::parse(DEFAULT_ONLINE_URL, &self.base_dir).ok()?;
        let current = OnlineLocation::parse(&self.online_url, &self.base_dir).ok()?;
        let former = self.base_dir.join(FORMER_DEFAULT_ONLINE_FILE);
        let former = std::path::absolute(&former).unwrap_or(former);
        (current == default && former.is_file()).then_some(former)
    }

    /// Defaults, with paths relative to `base_dir`.
    pub fn defaults(base_dir: impl Into<PathBuf>) -> Self {
        Config {
            base_dir: base_dir.into(),
            file: None,
            historical_root: DEFAULT_HISTORICAL_ROOT.to_string(),
            online_url: DEFAULT_ONLINE_URL.to_string(),
            online_options: Default::default(),
            datasets_root: DEFAULT_DATASETS_DIR.to_string(),
            sources: HashMap::new(),
            formats: HashMap::new(),
            on_bad_rows: HashMap::new(),
            engine: EngineConfig::default(),
            storage: StoreConfig::default(),
            server: ServerConfig::default(),
            quality: QualityConfig::default(),
            kafka: KafkaSettings::default(),
        }
    }

    /// Reads a configuration file; its directory becomes the base directory.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Config::from_text(&text, path, base)
    }

    /// Reads configuration text; `origin` names it in messages, relative
    /// paths in it are resolved against `base_dir`.
    pub fn from_text(text: &str, origin: &Path, base_dir: impl Into<PathBuf>) -> Result<Self> {
        let error = |message: String| Error::Config {
            path: origin.to_path_buf(),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        let mut config = Config::defaults(base_dir);
        config.file = Some(origin.to_path_buf());
        if let Some(root) = file.historical.and_then(|h| h.root) {
            config.historical_root = root;
        }
        if let Some(online) = file.online {
            if let Some(url) = online.url {
                config.online_url = url;
            }
            if let Some(cassandra) = online.cassandra {
                config.online_options.cassandra = cassandra.with_base_dir(&config.base_dir);
            }
        }
        if let Some(root) = file.datasets.and_then(|d| d.root) {
            config.datasets_root = root;
        }
        if let Some(engine) = file.engine {
            if let Some(kind) = engine.kind {
                config.engine.kind = EngineKind::from_name(&kind)
                    .map_err(|e| error(format!("[engine] kind: {e}")))?;
            }
            config.engine.spark_remote = engine.spark_remote;
            if let Some(budget) = engine.memory_budget {
                config.engine.memory_budget = Some(
                    parse_size(&budget)
                        .map_err(|e| error(format!("[engine] memory_budget: {e}")))?,
                );
            }
            config.engine.spill_dir = engine
                .spill_dir
                .map(|d| PathBuf::from(absolute(&config.base_dir, &d)));
        }
        for (prefix, options) in file.storage {
            config.storage = config
                .storage
                .with_store(&prefix, store_options(&prefix, options).map_err(error)?);
        }
        if let Some(server) = file.server {
            let s = &mut config.server;
            s.bind = server.bind.unwrap_or(std::mem::take(&mut s.bind));
            s.token_file = server.token_file.map(|p| config.base_dir.join(p));
            s.max_body_bytes = server.max_body_bytes.unwrap_or(s.max_body_bytes);
            s.max_keys = server.max_keys.unwrap_or(s.max_keys);
            s.request_timeout_ms = server.request_timeout_ms.unwrap_or(s.request_timeout_ms);
            s.max_concurrency = server.max_concurrency.unwrap_or(s.max_concurrency);
        }
        if let Some(q) = file.quality {
            config.quality.psi = q.psi.unwrap_or(config.quality.psi);
            config.quality.null_rate = q.null_rate.unwrap_or(config.quality.null_rate);
            config.quality.feature_sets = q
                .feature_sets
                .into_iter()
                .map(|(name, t)| (name, (t.psi, t.null_rate)))
                .collect();
        }
        if let Some(kafka) = file.kafka {
            kafka.check().map_err(|e| error(format!("[kafka] {e}")))?;
            config.kafka = kafka;
        }
        for (name, s) in file.sources {
            if let Some(p) = s.path {
                config.sources.insert(name.clone(), p);
            }
            if let Some(format) = s.format {
                let format = parse_format(&format)
                    .map_err(|e| error(format!("[sources.{name}] format = \"{format}\": {e}")))?;
                config.formats.insert(name.clone(), format);
            }
            if let Some(policy) = s.on_bad_rows {
                let Some(policy) = OnBadRows::from_name(&policy) else {
                    return Err(error(format!(
                        "[sources.{name}] on_bad_rows = \"{policy}\": expected one of {}",
                        OnBadRows::ALL
                            .map(|p| format!("\"{}\"", p.name()))
                            .join(", ")
                    )));
                };
                config.on_bad_rows.insert(name, policy);
            }
        }
        Ok(config)
    }

    /// Finds the configuration: `explicit`, else `$FEATURESTORE_CONFIG`, else
    /// `featurestore.toml` in the current directory, else `embedded` (the
    /// text a binary embedded at build time, its relative paths taken from
    /// the current directory), else the defaults, relative to the current
    /// directory. Nothing depends on where the binary was built.
    pub fn discover(explicit: Option<&Path>, embedded: Option<&str>) -> Result<Self> {
        if let Some(p) = explicit {
            return Config::from_file(p);
        }
        if let Ok(p) = std::env::var(ENV_CONFIG) {
            return Config::from_file(Path::new(&p));
        }
        let local = Path::new(CONFIG_FILE);
        if local.is_file() {
            return Config::from_file(local);
        }
        match embedded {
            Some(text) => Config::from_text(text, Path::new(EMBEDDED), "."),
            None => Ok(Config::defaults(".")),
        }
    }

    /// Applies `FEATURESTORE_*` variables from `vars`; relative paths in
    /// them are taken relative to `cwd`.
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
        cwd: &Path,
    ) -> Result<()> {
        for (k, v) in vars {
            if k == ENV_HISTORICAL_ROOT {
                self.historical_root = absolute(cwd, &v);
            } else if k == ENV_ONLINE_URL {
                self.online_url = absolute(cwd, &v);
            } else if k == ENV_SPARK_REMOTE {
                self.engine.spark_remote = Some(v);
            } else if k == ENV_MEMORY_BUDGET {
                self.engine.memory_budget = Some(parse_size(&v).map_err(|e| Error::Config {
                    path: PathBuf::from(&k),
                    message: format!("\"{v}\": {e}"),
                })?);
            } else if k == ENV_DATASETS_ROOT {
                self.datasets_root = absolute(cwd, &v);
            } else if let Some(name) = k.strip_prefix(ENV_SOURCE_PREFIX) {
                self.sources
                    .insert(name.to_ascii_lowercase(), absolute(cwd, &v));
            } else if let Some(name) = k.strip_prefix(ENV_FORMAT_PREFIX) {
                let format = parse_format(&v).map_err(|e| Error::Config {
                    path: PathBuf::from(&k),
                    message: format!("\"{v}\": {e}"),
                })?;
                self.formats.insert(name.to_ascii_lowercase(), format);
            }
        }
        Ok(())
    }

    /// The historical root, resolved against the base directory.
    pub fn historical_location(&self) -> String {
        resolve_path(&self.base_dir, &self.historical_root)
    }

    /// The historical root as a location (a directory or an object store;
    /// see [`crate::location`]), resolved against the base directory.
    pub fn historical_root_location(&self) -> Result<FileLocation> {
        self.storage.parse(&self.historical_root, &self.base_dir)
    }

    /// Where dataset `name` is written: `{datasets root}/{name}`, a
    /// directory or an object-store location.
    pub fn dataset_location(&self, name: &str) -> Result<FileLocation> {
        Ok(self
            .storage
            .parse(&self.datasets_root, &self.base_dir)?
            .join(name))
    }

    /// Where each source is read from.
    pub fn source_locations(&self) -> SourceLocations {
        SourceLocations {
            base_dir: self.base_dir.clone(),
            overrides: self.sources.clone(),
            formats: self.formats.clone(),
            on_bad_rows: self.on_bad_rows.clone(),
            quarantine_dir: Some(crate::location::child(
                &self.historical_location(),
                crate::source::QUARANTINE_DIR,
            )),
            storage: self.storage.clone(),
            kafka: self.kafka.clone(),
        }
    }
}

/// The options of `[storage."PREFIX"]`, as text: `object_store`'s keys
/// (`aws_region`, `aws_endpoint`, `timeout`, `connect_timeout`,
/// `azure_storage_account_key`…) and ours (`max_retries`,
/// `retry_timeout`). A value is never shown: it may be a secret.
fn store_options(
    prefix: &str,
    options: BTreeMap<String, toml::Value>,
) -> std::result::Result<StoreOptions, String> {
    if crate::location::scheme_of(prefix).is_none() {
        return Err(format!(
            "[storage.\"{prefix}\"]: name the store by URL, e.g. [storage.\"s3://bucket\"]"
        ));
    }
    options
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(format!(
                        "[storage.\"{prefix}\"] {key}: expected text, a number or a boolean, \
                         found {}",
                        other.type_str()
                    ))
                }
            };
            Ok((key, text))
        })
        .collect()
}

/// A format by its name, or what the names are.
pub fn parse_format(name: &str) -> std::result::Result<Format, String> {
    Format::from_name(&name.to_ascii_lowercase()).ok_or_else(|| {
        format!(
            "unknown format; expected one of {}",
            Format::ALL.map(|f| format!("\"{}\"", f.name())).join(", ")
        )
    })
}

/// A size in bytes: a number and a unit, `B`, `KiB`, `MiB`, `GiB`, `TiB`
/// (or `K`, `M`, `G`, `T`, `KB`, `MB`…, taken as powers of 1024 too).
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write e.g. 4GiB, 512MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use B, KiB, MiB, GiB or TiB"
            ))
        }
    };
    let bytes = number * (1u64 << shift) as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("`{text}` is not a size of at least one byte"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cassandra_tls_files_are_taken_from_the_configuration_files_directory() {
        let text = r#"
[online.cassandra.tls]
ca_file = "certs/ca.pem"
cert_file = "/etc/fs/client.pem"
key_file = "client.key"
verify_hostname = false
"#;
        let config =
            Config::from_text(text, Path::new("/srv/fs/featurestore.toml"), "/srv/fs").unwrap();
        let tls = config.online_options.cassandra.tls.unwrap();
        assert_eq!(tls.ca_file.unwrap(), Path::new("/srv/fs/certs/ca.pem"));
        assert_eq!(tls.cert_file.unwrap(), Path::new("/etc/fs/client.pem"));
        assert_eq!(tls.key_file.unwrap(), Path::new("/srv/fs/client.key"));
        assert_eq!(tls.verify_hostname, Some(false));
        // An empty table is TLS with the defaults; a misspelt key is refused.
        let config =
            Config::from_text("[online.cassandra.tls]\n", Path::new("f.toml"), "/").unwrap();
        assert_eq!(
            config.online_options.cassandra.tls,
            Some(Default::default())
        );
        let bad = Config::from_text(
            "[online.cassandra.tls]\nca = \"x.pem\"\n",
            Path::new("f.toml"),
            "/",
        )
        .unwrap_err()
        .to_string();
        assert!(bad.contains("unknown field `ca`"), "{bad}");
    }

    #[test]
    fn storage_options_apply_by_longest_url_prefix_and_are_never_shown() {
        let text = r#"
[storage."s3://lake"]
aws_region = "eu-west-1"
max_retries = 3
allow_http = true

[storage."s3://lake/secret-zone"]
aws_secret_access_key = "s3cr3t"
"#;
        let config = Config::from_text(text, Path::new("featurestore.toml"), "/crate").unwrap();
        let keys = |url: &str| -> Vec<String> {
            config
                .storage
                .options_for(url)
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect()
        };
        assert_eq!(
            keys("s3://lake/events/a.csv"),
            ["allow_http=true", "aws_region=eu-west-1", "max_retries=3"]
        );
        assert_eq!(
            keys("s3://lake/secret-zone/x"),
            ["aws_secret_access_key=s3cr3t"]
        );
        // `s3://lakehouse` is another bucket, not below `s3://lake`.
        assert!(keys("s3://lakehouse/x").is_empty());
        assert!(!format!("{config:?}").contains("s3cr3t"));

        let bad = Config::from_text(
            "[storage.lake]\naws_region = \"x\"\n",
            Path::new("f.toml"),
            "/",
        )
        .unwrap_err()
        .to_string();
        assert!(bad.contains("name the store by URL"), "{bad}");
        let bad = Config::from_text(
            "[storage.\"s3://b\"]\nregion = [1]\n",
            Path::new("f.toml"),
            "/",
        )
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("expected text, a number or a boolean"),
            "{bad}"
        );
    }

    #[test]
    fn file_then_environment_with_relative_paths_resolved() {
        let dir = std::env::temp_dir().join(format!("fs-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(CONFIG_FILE);
        std::fs::write(
            &file,
            "[historical]\nroot = \"hist\"\n[online]\nurl = \"memory://\"\n[sources.events]\npath = \"in.csv\"\n",
        )
        .unwrap();
        let mut c = Config::from_file(&file).unwrap();
        assert_eq!(c.historical_location(), dir.join("hist").to_string_lossy());
        assert_eq!(c.online_url, "memory://");
        assert_eq!(c.sources["events"], "in.csv");
        assert_eq!(c.datasets_root, DEFAULT_DATASETS_DIR);

        let cwd = Path::new("/work/here");
        c.apply_env(
            [
                (ENV_HISTORICAL_ROOT.to_string(), "h2".to_string()),
                (ENV_ONLINE_URL.to_string(), "redb://o.redb".to_string()),
                (
                    "FEATURESTORE_SOURCE_EVENTS".to_string(),
                    "/abs/e.csv".to_string(),
                ),
                ("UNRELATED".to_string(), "x".to_string()),
            ],
            cwd,
        )
        .unwrap();
        assert_eq!(c.historical_root, "/work/here/h2");
        assert_eq!(c.online_url, "redb:///work/here/o.redb");
        assert_eq!(c.sources["events"], "/abs/e.csv");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_server_section_overrides_the_defaults_it_names() {
        let c = Config::from_text(
            "[server]\nbind = \"0.0.0.0:7000\"\ntoken_file = \"t/token\"\nmax_keys = 5\n",
            Path::new("featurestore.toml"),
            "/base",
        )
        .unwrap();
        assert_eq!(c.server.bind, "0.0.0.0:7000");
        assert_eq!(
            c.server.token_file.as_deref(),
            Some(Path::new("/base/t/token"))
        );
        assert_eq!(c.server.max_keys, 5);
        assert_eq!(
            c.server.max_body_bytes,
            ServerConfig::default().max_body_bytes
        );
        assert_eq!(Config::defaults(".").server.bind, "127.0.0.1:6566");
        let err = Config::from_text("[server]\nport = 1\n", Path::new("f.toml"), "/")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `port`"), "{err}");
    }

    #[test]
    fn quality_thresholds_default_then_per_feature_set() {
        let c = Config::from_text(
            "[quality]\nnull_rate = 0.05\n[quality.feature_sets.a]\npsi = 0.1\n",
            Path::new("featurestore.toml"),
            "/",
        )
        .unwrap();
        assert_eq!(c.quality.thresholds("a"), (0.1, 0.05));
        assert_eq!(c.quality.thresholds("b"), (0.2, 0.05));
        let err = Config::from_text(
            "[quality.feature_sets.a]\npsy = 1.0\n",
            Path::new("f.toml"),
            "/",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown field `psy`"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = std::env::temp_dir().join(format!("fs-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(CONFIG_FILE);
        std::fs::write(&file, "[historical]\nrot = \"x\"\n").unwrap();
        let err = Config::from_file(&file).unwrap_err().to_string();
        assert!(err.contains("unknown field `rot`"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn formats_come_from_the_file_and_the_environment() {
        let origin = Path::new("featurestore.toml");
        let mut c = Config::from_text(
            "[sources.events]\npath = \"in.data\"\nformat = \"Parquet\"\n",
            origin,
            "/base",
        )
        .unwrap();
        assert_eq!(c.formats["events"], Format::Parquet);
        c.apply_env(
            [(
                "FEATURESTORE_FORMAT_CLICKS".to_string(),
                "ndjson".to_string(),
            )],
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(c.formats["clicks"], Format::NdJson);
        // The format variable is no source path.
        assert!(!c.sources.contains_key("format_clicks"));

        let err = Config::from_text("[sources.events]\nformat = \"xls\"\n", origin, "/")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[sources.events] format = \"xls\": unknown format; expected one of \"csv\", \"parquet\", \"ndjson\""),
            "{err}"
        );
        let err = c
            .apply_env(
                [("FEATURESTORE_FORMAT_CLICKS".to_string(), "xml".to_string())],
                Path::new("/"),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("FEATURESTORE_FORMAT_CLICKS"), "{err}");
    }

    #[test]
    fn an_embedded_configuration_is_relative_to_the_current_directory() {
        let c = Config::from_text(
            "[online]\nurl = \"redb://o.redb\"\n",
            Path::new(EMBEDDED),
            ".",
        )
        .unwrap();
        assert_eq!(c.online_url, "redb://o.redb");
        assert_eq!(c.base_dir, Path::new("."));
        assert_eq!(c.file.as_deref(), Some(Path::new(EMBEDDED)));
        let err = Config::from_text("[online]\nurl = 3\n", Path::new(EMBEDDED), ".")
            .unwrap_err()
            .to_string();
        assert!(err.contains(EMBEDDED), "{err}");
    }

    #[test]
    fn sizes_are_read_with_binary_units() {
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size(" 512 MiB "), Ok(512 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("4 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("0").is_err());
    }
}
