//! Configuration: `featurestore.toml`, then `FEATURESTORE_*` environment
//! variables, then command-line options, each overriding the one before.
//!
//! ```toml
//! [historical]
//! root = "data/feature_store/historical"   # a directory, or a URL: s3://bucket/prefix, …
//!
//! [online]
//! url = "redb://data/online/online_store.redb"   # or memory://
//!
//! [datasets]
//! root = "data/datasets"   # each dataset in {root}/{name}/; a directory or a URL
//!
//! [engine]
//! kind = "polars"                     # or "spark"
//! spark_remote = "sc://spark:15002"   # the Spark Connect endpoint
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
use crate::location::{absolute, resolve as resolve_path, FileLocation};
use crate::source::{KafkaSettings, SourceLocations};
use crate::spec::{Format, OnBadRows};

/// Default historical store root, relative to the base directory.
pub const DEFAULT_HISTORICAL_ROOT: &str = "data/feature_store/historical";
/// Default online store URL, relative to the base directory.
pub const DEFAULT_ONLINE_URL: &str = "redb://data/online/online_store.redb";
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
    #[serde(default)]
    kafka: Option<KafkaSettings>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineSection {
    kind: Option<String>,
    spark_remote: Option<String>,
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
    /// Kafka consumers: librdkafka options, consumer groups, lateness.
    pub kafka: KafkaSettings,
}

impl Config {
    /// Defaults, with paths relative to `base_dir`.
    pub fn defaults(base_dir: impl Into<PathBuf>) -> Self {
        Config {
            base_dir: base_dir.into(),
            file: None,
            historical_root: DEFAULT_HISTORICAL_ROOT.to_string(),
            online_url: DEFAULT_ONLINE_URL.to_string(),
            datasets_root: DEFAULT_DATASETS_DIR.to_string(),
            sources: HashMap::new(),
            formats: HashMap::new(),
            on_bad_rows: HashMap::new(),
            engine: EngineConfig::default(),
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
        if let Some(url) = file.online.and_then(|o| o.url) {
            config.online_url = url;
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
        FileLocation::parse(&self.historical_root, &self.base_dir)
    }

    /// Where dataset `name` is written: `{datasets root}/{name}`, a
    /// directory or an object-store location.
    pub fn dataset_location(&self, name: &str) -> Result<FileLocation> {
        Ok(FileLocation::parse(&self.datasets_root, &self.base_dir)?.join(name))
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
            kafka: self.kafka.clone(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
