//! One grammar for every place the runtime reads or writes.
//!
//! Files (sources, the historical store, datasets, quarantine, run locks)
//! live at a [`FileLocation`]: a local path (relative paths resolved against
//! the feature crate's root), `file://PATH`, `memory://NAME/PREFIX` (a store
//! of this process, for tests), `s3://BUCKET/PREFIX`, `gs://BUCKET/PREFIX`,
//! `az://CONTAINER/PREFIX` or `abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX`.
//! Every one of them is an [`ObjectStore`] and a path in it, so the code
//! that reads and writes files is the same for every location.
//!
//! Online stores are named by URL too ([`OnlineLocation`]): `memory://`,
//! `sqlite://PATH`, `redb://PATH`, and the schemes of server backends.
//!
//! A scheme this build knows but whose cargo feature is off is an error that
//! names the feature to enable; a scheme nobody knows lists the known ones.
//! Credentials and endpoints come from each cloud's standard environment
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`) and from per-store options; a location
//! is displayed without user info or query, so no secret is ever printed.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use crate::error::{Error, Result};

/// The schemes of this grammar, and the cargo feature each needs.
const SCHEMES: &[Scheme] = &[
    Scheme::new("file", Role::Files, None),
    Scheme::new("memory", Role::Files, None),
    Scheme::new("s3", Role::Files, Some("s3")),
    Scheme::new("s3a", Role::Files, Some("s3")),
    Scheme::new("gs", Role::Files, Some("gcs")),
    Scheme::new("az", Role::Files, Some("azure")),
    Scheme::new("azure", Role::Files, Some("azure")),
    Scheme::new("abfs", Role::Files, Some("azure")),
    Scheme::new("abfss", Role::Files, Some("azure")),
    Scheme::new("sqlite", Role::Online, None),
    Scheme::new("redb", Role::Online, None),
    Scheme::new("redis", Role::Online, Some("redis")),
    Scheme::new("rediss", Role::Online, Some("redis")),
    Scheme::new("cassandra", Role::Online, Some("cassandra")),
    Scheme::new("scylla", Role::Online, Some("cassandra")),
    Scheme::new("kafka", Role::Stream, Some("kafka")),
];

/// What a scheme names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Files,
    Online,
    Stream,
}

impl Role {
    fn what(self) -> &'static str {
        match self {
            Role::Files => "a file location",
            Role::Online => "an online store",
            Role::Stream => "a stream",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Scheme {
    name: &'static str,
    role: Role,
    /// The cargo feature of `featurestore-runtime` the scheme needs.
    feature: Option<&'static str>,
}

impl Scheme {
    const fn new(name: &'static str, role: Role, feature: Option<&'static str>) -> Self {
        Scheme {
            name,
            role,
            feature,
        }
    }

    fn enabled(self) -> bool {
        match self.feature {
            None => true,
            Some("s3") => cfg!(feature = "s3"),
            Some("gcs") => cfg!(feature = "gcs"),
            Some("azure") => cfg!(feature = "azure"),
            Some("redis") => cfg!(feature = "redis"),
            Some("cassandra") => cfg!(feature = "cassandra"),
            Some("kafka") => cfg!(feature = "kafka"),
            Some(_) => false,
        }
    }
}

/// The scheme of `raw` (`s3` of `s3://b/p`), if it is written as a URL.
pub fn scheme_of(raw: &str) -> Option<&str> {
    let (scheme, _) = raw.split_once("://")?;
    let valid = scheme
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && !scheme.is_empty()).then_some(scheme)
}

/// Whether `raw` has a scheme of an online store this build can open (a
/// known one, compiled in), whatever the rest of the URL says.
pub(crate) fn is_usable_online_scheme(raw: &str) -> bool {
    scheme_of(raw).is_some() && check_scheme(raw, Role::Online).is_ok()
}

/// Checks that `raw`'s scheme is known, names what `role` expects, and is
/// compiled in.
fn check_scheme(raw: &str, role: Role) -> Result<()> {
    let Some(name) = scheme_of(raw) else {
        return Ok(());
    };
    let shown = redact(raw);
    let known: Vec<&str> = SCHEMES
        .iter()
        .filter(|s| s.role == role)
        .map(|s| s.name)
        .collect();
    let Some(scheme) = SCHEMES.iter().find(|s| s.name == name) else {
        return Err(Error::Location {
            location: shown,
            message: format!(
                "unknown scheme `{name}://`; {} is a path or one of {}",
                role.what(),
                known
                    .iter()
                    .map(|k| format!("`{k}://`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    };
    if scheme.role != role {
        return Err(Error::Location {
            location: shown,
            message: format!(
                "`{name}://` names {}, but {} is expected here",
                scheme.role.what(),
                role.what()
            ),
        });
    }
    if !scheme.enabled() {
        let feature = scheme.feature.unwrap_or_default();
        return Err(Error::Location {
            location: shown,
            message: format!(
                "`{name}://` needs the `{feature}` cargo feature of featurestore-runtime, which \
                 this build does not have: enable it in the feature crate's Cargo.toml \
                 (`featurestore-runtime = {{ version = \"…\", features = [\"{feature}\"] }}`)"
            ),
        });
    }
    Ok(())
}

/// `raw` for messages: without user info, query or fragment, which may hold
/// credentials (a SAS token, a password).
pub fn redact(raw: &str) -> String {
    let Some(scheme) = scheme_of(raw) else {
        return raw.to_string();
    };
    let rest = &raw[scheme.len() + 3..];
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    // `abfss://container@account…` names a container, not a user: keep it.
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => format!("***@{host}"),
        _ => authority.to_string(),
    };
    format!("{scheme}://{authority}{path}")
}

/// Resolves `raw` against `base`: `file://` is stripped, URLs and absolute
/// paths are kept, relative paths are joined to `base`.
pub fn resolve(base: &Path, raw: &str) -> String {
    if let Some(local) = raw.strip_prefix("file://") {
        return local.to_string();
    }
    if scheme_of(raw).is_some() || Path::new(raw).is_absolute() {
        return raw.to_string();
    }
    base.join(raw).to_string_lossy().into_owned()
}

/// The location `segment` below `raw`, a path or a URL (whose query, if
/// any, is kept at the end).
pub fn child(raw: &str, segment: &str) -> String {
    if scheme_of(raw).is_none() {
        return Path::new(raw).join(segment).to_string_lossy().into_owned();
    }
    let (base, query) = match raw.find(['?', '#']) {
        Some(i) => raw.split_at(i),
        None => (raw, ""),
    };
    format!("{}/{segment}{query}", base.trim_end_matches('/'))
}

/// `raw` with a relative local path (also after `sqlite://` or `redb://`)
/// made absolute against `cwd`; other URLs are kept.
pub fn absolute(cwd: &Path, raw: &str) -> String {
    // An empty location stays empty, to be refused where it is used: joined
    // to `cwd` it would silently name the current directory.
    if raw.trim().is_empty() {
        return raw.to_string();
    }
    for embedded in ["sqlite://", "redb://"] {
        if let Some(path) = raw.strip_prefix(embedded) {
            return format!("{embedded}{}", absolute(cwd, path));
        }
    }
    if scheme_of(raw).is_some() || Path::new(raw).is_absolute() {
        raw.to_string()
    } else {
        cwd.join(raw).to_string_lossy().into_owned()
    }
}

/// A Kafka topic: `kafka://HOST:PORT[,HOST:PORT…]/TOPIC`. Consumer and
/// security settings (SASL, SSL) are configuration, never part of the URL,
/// so a location can be printed as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaLocation {
    /// The bootstrap brokers, comma-separated, as librdkafka takes them.
    pub brokers: String,
    /// The topic.
    pub topic: String,
}

impl KafkaLocation {
    /// Whether `raw` names a Kafka topic.
    pub fn is_kafka(raw: &str) -> bool {
        scheme_of(raw) == Some("kafka")
    }

    /// Parses `kafka://HOST:PORT[,HOST:PORT…]/TOPIC`.
    pub fn parse(raw: &str) -> Result<Self> {
        check_scheme(raw, Role::Stream)?;
        let error = |message: &str| Error::Location {
            location: redact(raw),
            message: format!("{message}; expected kafka://HOST:PORT[,HOST:PORT…]/TOPIC"),
        };
        let rest = raw
            .strip_prefix("kafka://")
            .ok_or_else(|| error("not a Kafka location"))?;
        let (brokers, topic) = rest
            .split_once('/')
            .ok_or_else(|| error("no topic after the brokers"))?;
        if rest.contains(['?', '#', '@']) {
            return Err(error(
                "a Kafka location holds no options or credentials: set them under [kafka.options] \
                 in featurestore.toml",
            ));
        }
        for broker in brokers.split(',') {
            let port_ok = broker
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok {
                return Err(error(&format!("`{broker}` is not HOST:PORT")));
            }
        }
        // Kafka's own rule for topic names.
        let topic_ok = !topic.is_empty()
            && topic.len() <= 249
            && topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !topic_ok {
            return Err(error(&format!(
                "`{topic}` is not a topic name (letters, digits, `.`, `_`, `-`)"
            )));
        }
        Ok(KafkaLocation {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
        })
    }
}

impl fmt::Display for KafkaLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kafka://{}/{}", self.brokers, self.topic)
    }
}

/// Options of an object store (`aws_region`, `google_service_account`,
/// `azure_storage_account_key`…), as `object_store`'s builders name them;
/// they override the environment.
pub type StoreOptions = Vec<(String, String)>;

/// Options of the object stores a configuration names
/// (`[storage."s3://bucket/prefix"]` in `featurestore.toml`), by URL
/// prefix: a location takes the options of the longest prefix it begins
/// with. Values are never displayed: they may be keys or tokens.
#[derive(Clone, Default)]
pub struct StoreConfig {
    /// `(URL prefix, options)`, longest prefix first.
    stores: Vec<(String, StoreOptions)>,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: a value may be a secret.
        let mut m = f.debug_map();
        for (prefix, options) in &self.stores {
            m.entry(prefix, &options.iter().map(|(k, _)| k).collect::<Vec<_>>());
        }
        m.finish()
    }
}

impl StoreConfig {
    /// Options of the locations beginning with `prefix` (a URL such as
    /// `s3://bucket` or `s3://bucket/lake`); set again, they replace the
    /// earlier ones.
    pub fn with_store(mut self, prefix: impl Into<String>, options: StoreOptions) -> Self {
        let prefix = prefix.into().trim_end_matches('/').to_string();
        self.stores.retain(|(p, _)| *p != prefix);
        self.stores.push((prefix, options));
        self.stores.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        self
    }

    /// The options of the location `url`: those of the longest configured
    /// prefix that is `url` or a parent of it.
    pub fn options_for(&self, url: &str) -> &[(String, String)] {
        self.stores
            .iter()
            .find(|(prefix, _)| {
                url.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
            })
            .map_or(&[], |(_, options)| options.as_slice())
    }

    /// Whether no store has options.
    pub fn is_empty(&self) -> bool {
        self.stores.is_empty()
    }

    /// Parses `raw` (resolved against `base` when relative) with the
    /// options configured for it over the environment's.
    pub fn parse(&self, raw: &str, base: &Path) -> Result<FileLocation> {
        let resolved = resolve(base, raw);
        FileLocation::parse_with(raw, base, self.options_for(&resolved))
    }
}

/// A directory or file in a local file system or an object store.
#[derive(Clone)]
pub struct FileLocation {
    /// As given, redacted: what messages show.
    display: String,
    store: Arc<dyn ObjectStore>,
    /// The path inside `store`.
    path: ObjectPath,
    /// On a local file system: the path on disk.
    local: Option<PathBuf>,
}

impl fmt::Debug for FileLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Display for FileLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// Stores of this process, by scheme and authority (and options), so that
/// every location in one bucket shares one client and its connections, and
/// every `memory://NAME` location one map.
static STORES: Mutex<Option<HashMap<String, Arc<dyn ObjectStore>>>> = Mutex::new(None);

fn shared_store(
    key: String,
    build: impl FnOnce() -> Result<Arc<dyn ObjectStore>>,
) -> Result<Arc<dyn ObjectStore>> {
    let mut stores = STORES.lock().unwrap_or_else(|p| p.into_inner());
    let stores = stores.get_or_insert_with(HashMap::new);
    if let Some(s) = stores.get(&key) {
        return Ok(s.clone());
    }
    let store = build()?;
    stores.insert(key, store.clone());
    Ok(store)
}

impl FileLocation {
    /// Parses `raw` (resolved against `base` when relative) with the
    /// environment's credentials.
    pub fn parse(raw: &str, base: &Path) -> Result<Self> {
        Self::parse_with(raw, base, &[])
    }

    /// Parses `raw` with per-store `options` over the environment's.
    pub fn parse_with(raw: &str, base: &Path, options: &[(String, String)]) -> Result<Self> {
        if raw.trim().is_empty() {
            return Err(Error::Location {
                location: String::new(),
                message: "the location is empty: give a path or a URL".to_string(),
            });
        }
        check_scheme(raw, Role::Files)?;
        let resolved = resolve(base, raw);
        match scheme_of(&resolved) {
            None => Ok(Self::local(Path::new(&resolved))),
            Some(_) => Self::object(&resolved, options),
        }
    }

    /// A location on the local file system.
    pub fn local(path: &Path) -> Self {
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(path)
        };
        // `Path::from_absolute_path` only fails on a relative path or one
        // that is not valid UTF-8; then the raw text still names the file.
        let object = ObjectPath::from_absolute_path(&absolute)
            .unwrap_or_else(|_| ObjectPath::from(absolute.to_string_lossy().as_ref()));
        let store = shared_store("file://".to_string(), || {
            Ok(Arc::new(
                LocalFileSystem::new().with_automatic_cleanup(true),
            ))
        })
        .unwrap_or_else(|_| Arc::new(LocalFileSystem::new()));
        FileLocation {
            display: path.display().to_string(),
            store,
            path: object,
            local: Some(absolute),
        }
    }

    fn object(url_text: &str, options: &[(String, String)]) -> Result<Self> {
        let err = |message: String| Error::Location {
            location: redact(url_text),
            message,
        };
        let url = url::Url::parse(url_text).map_err(|e| err(format!("not a valid URL: {e}")))?;
        let authority = url.host_str().unwrap_or_default();
        if url.scheme() == "memory" {
            // `memory://NAME/PATH`: the name picks one store of this process.
            let store = shared_store(format!("memory://{authority}"), || {
                Ok(Arc::new(InMemory::new()))
            })?;
            let path = ObjectPath::from_url_path(url.path())
                .map_err(|e| err(format!("not a valid path: {e}")))?;
            return Ok(FileLocation {
                display: redact(url_text),
                store,
                path,
                local: None,
            });
        }
        let (scheme, path) = object_store::ObjectStoreScheme::parse(&url)
            .map_err(|e| err(format!("not an object-store URL: {e}")))?;
        let mut key = format!("{}://{}@{}", url.scheme(), url.username(), authority);
        for (k, v) in options {
            key.push_str(&format!("|{k}={v}"));
        }
        let store = match scheme {
            object_store::ObjectStoreScheme::Local => {
                return Ok(Self::local(Path::new(url.path())));
            }
            _ => shared_store(key, || cloud_store(&scheme, &url, options).map_err(err))?,
        };
        Ok(FileLocation {
            display: redact(url_text),
            store,
            path,
            local: None,
        })
    }

    /// A location in a store built by the caller (a client configured in
    /// code, a wrapper that counts or fails requests), shown as `display`
    /// in messages (give it without secrets).
    pub fn from_store(display: &str, store: Arc<dyn ObjectStore>, path: ObjectPath) -> Self {
        FileLocation {
            display: display.to_string(),
            store,
            path,
            local: None,
        }
    }

    /// The store holding this location.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The path of this location inside [`FileLocation::store`].
    pub fn path(&self) -> &ObjectPath {
        &self.path
    }

    /// The path on disk, for a location on the local file system.
    pub fn local_path(&self) -> Option<&Path> {
        self.local.as_deref()
    }

    /// Whether this location is on the local file system.
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The location `segment` below this one.
    pub fn join(&self, segment: &str) -> FileLocation {
        let mut path = self.path.clone();
        for part in segment.split('/').filter(|p| !p.is_empty()) {
            path = path.join(part);
        }
        FileLocation {
            display: format!("{}/{segment}", self.display.trim_end_matches('/')),
            store: self.store.clone(),
            path,
            local: self.local.as_ref().map(|l| l.join(segment)),
        }
    }

    /// The object `object` of this location's store (listed under it), named
    /// by its URL: for a local location, its path.
    pub fn listed(&self, object: ObjectPath) -> FileLocation {
        let display = self.display_of(&object);
        match &self.local {
            Some(_) => FileLocation::local(Path::new(&display)),
            None => FileLocation {
                display,
                store: self.store.clone(),
                path: object,
                local: None,
            },
        }
    }

    /// The URL (or local path) of an object of this location's store, for
    /// messages: `s3://bucket/fs/part.parquet`.
    pub fn display_of(&self, object: &ObjectPath) -> String {
        match &self.local {
            Some(_) => format!("/{object}"),
            None => {
                let base = self.path.as_ref();
                let rel = object
                    .as_ref()
                    .strip_prefix(base)
                    .unwrap_or(object.as_ref())
                    .trim_start_matches('/');
                format!("{}/{rel}", self.display.trim_end_matches('/'))
            }
        }
    }
}

/// Builds the client of a cloud object store from the environment, the URL
/// and `options`.
#[allow(unused_variables)]
fn cloud_store(
    scheme: &object_store::ObjectStoreScheme,
    url: &url::Url,
    options: &[(String, String)],
) -> std::result::Result<Arc<dyn ObjectStore>, String> {
    #[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
    let (retry, options) = retry_config(options)?;
    #[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
    let options = options.as_slice();
    match scheme {
        #[cfg(feature = "s3")]
        object_store::ObjectStoreScheme::AmazonS3 => {
            use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
            let mut b = AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .with_retry(retry.clone());
            for (k, v) in options {
                let key: AmazonS3ConfigKey = k.parse().map_err(|e| format!("option `{k}`: {e}"))?;
                b = b.with_config(key, v);
            }
            b.build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                .map_err(|e| e.to_string())
        }
        #[cfg(feature = "gcs")]
        object_store::ObjectStoreScheme::GoogleCloudStorage => {
            use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
            let mut b = GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(retry.clone());
            for (k, v) in options {
                let key: GoogleConfigKey = k.parse().map_err(|e| format!("option `{k}`: {e}"))?;
                b = b.with_config(key, v);
            }
            b.build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                .map_err(|e| e.to_string())
        }
        #[cfg(feature = "azure")]
        object_store::ObjectStoreScheme::MicrosoftAzure => {
            use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
            let mut b = MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(retry.clone());
            for (k, v) in options {
                let key: AzureConfigKey = k.parse().map_err(|e| format!("option `{k}`: {e}"))?;
                b = b.with_config(key, v);
            }
            b.build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                .map_err(|e| e.to_string())
        }
        other => Err(format!(
            "{other:?} is not supported here; use a local path, `s3://`, `gs://` or `az://`"
        )),
    }
}

/// The retry configuration `options` give: our own option keys, beside
/// `object_store`'s, for how often and for how long a request that failed
/// transiently (a connection refused or reset, a time-out, a 5xx, a 429) is
/// retried, with exponential backoff (`max_retries = "3"`,
/// `retry_timeout = "30s"`; `object_store`'s defaults otherwise: 10
/// retries within 3 minutes), and the other options.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
fn retry_config(
    options: &[(String, String)],
) -> std::result::Result<(object_store::RetryConfig, StoreOptions), String> {
    let mut retry = object_store::RetryConfig::default();
    let mut rest = Vec::new();
    for (k, v) in options {
        match k.as_str() {
            "max_retries" => {
                retry.max_retries = v.trim().parse().map_err(|_| {
                    format!("option `max_retries` = \"{v}\": expected a whole number of retries")
                })?;
            }
            "retry_timeout" => {
                retry.retry_timeout = humantime::parse_duration(v.trim()).map_err(|e| {
                    format!("option `retry_timeout` = \"{v}\": {e} (write e.g. \"30s\", \"2m\")")
                })?;
            }
            _ => rest.push((k.clone(), v.clone())),
        }
    }
    Ok((retry, rest))
}

/// Where an online store is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnlineLocation {
    /// `memory://`: rows of this process.
    Memory,
    /// `sqlite://PATH`: the embedded store file (SQLite), the default.
    Sqlite(PathBuf),
    /// `redb://PATH`: the embedded store file (redb), one process at a time.
    Redb(PathBuf),
    /// A server backend's URL (`redis://…`, `cassandra://…`), kept whole.
    Server {
        /// The scheme.
        scheme: String,
        /// The URL.
        url: String,
    },
}

impl OnlineLocation {
    /// Parses an online store URL; relative `sqlite://` and `redb://` paths
    /// are resolved against `base`.
    pub fn parse(raw: &str, base: &Path) -> Result<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Error::Location {
                location: String::new(),
                message: "the online store URL is empty: use `sqlite://PATH` or `memory://`"
                    .to_string(),
            });
        }
        if raw == "memory://" || raw == "memory" {
            return Ok(OnlineLocation::Memory);
        }
        if scheme_of(raw).is_none() {
            return Err(Error::Location {
                location: raw.to_string(),
                message: "an online store is a URL: `sqlite://PATH`, `memory://`, …".to_string(),
            });
        }
        check_scheme(raw, Role::Online)?;
        type Variant = fn(PathBuf) -> OnlineLocation;
        let embedded: [(&str, &str, Variant); 2] = [
            ("sqlite", "online.sqlite", OnlineLocation::Sqlite),
            ("redb", "online.redb", OnlineLocation::Redb),
        ];
        for (scheme, example, variant) in embedded {
            if let Some(path) = raw.strip_prefix(scheme).and_then(|r| r.strip_prefix("://")) {
                if path.is_empty() {
                    return Err(Error::Location {
                        location: raw.to_string(),
                        message: format!(
                            "`{scheme}://` needs the store file's path: `{scheme}://data/{example}`"
                        ),
                    });
                }
                return Ok(variant(PathBuf::from(resolve(base, path))));
            }
        }
        let scheme = scheme_of(raw).unwrap_or_default().to_string();
        Ok(OnlineLocation::Server {
            scheme,
            url: raw.to_string(),
        })
    }
}

impl fmt::Display for OnlineLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnlineLocation::Memory => f.write_str("memory://"),
            OnlineLocation::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            OnlineLocation::Redb(p) => write!(f, "redb://{}", p.display()),
            OnlineLocation::Server { url, .. } => f.write_str(&redact(url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_base_and_urls_are_kept() {
        let base = Path::new("/crate");
        assert_eq!(resolve(base, "data/in.csv"), "/crate/data/in.csv");
        assert_eq!(resolve(base, "/abs/in.csv"), "/abs/in.csv");
        assert_eq!(resolve(base, "file:///x/in.csv"), "/x/in.csv");
        assert_eq!(resolve(base, "s3://b/in.csv"), "s3://b/in.csv");
        assert_eq!(absolute(base, "redb://o.redb"), "redb:///crate/o.redb");
        assert_eq!(absolute(base, "sqlite://o.db"), "sqlite:///crate/o.db");
        assert_eq!(absolute(base, "memory://"), "memory://");
        assert_eq!(absolute(base, ""), "");
        assert_eq!(child("/h/", "_q"), "/h/_q");
        assert_eq!(child("s3://b/h/", "_q"), "s3://b/h/_q");
        assert_eq!(child("s3://b/h?region=x", "_q"), "s3://b/h/_q?region=x");
    }

    #[cfg(feature = "kafka")]
    #[test]
    fn kafka_locations_name_brokers_and_a_topic() {
        let l = KafkaLocation::parse("kafka://a:9092,b:9093/order_events").unwrap();
        assert_eq!(l.brokers, "a:9092,b:9093");
        assert_eq!(l.topic, "order_events");
        assert_eq!(l.to_string(), "kafka://a:9092,b:9093/order_events");
        for bad in [
            "kafka://a:9092",
            "kafka://a/t",
            "kafka://a:9092/",
            "kafka://a:9092/t?sasl.password=x",
            "kafka://a:9092/t t",
        ] {
            let e = KafkaLocation::parse(bad).unwrap_err().to_string();
            assert!(e.contains("kafka://HOST:PORT"), "{bad}: {e}");
            assert!(!e.contains("sasl.password=x"), "{e}");
        }
    }

    #[test]
    fn secrets_are_not_displayed() {
        assert_eq!(
            redact("redis://user:secret@host:6379/0?x=1"),
            "redis://***@host:6379/0"
        );
        assert_eq!(
            redact("abfss://c@acct.dfs.core.windows.net/p?sig=abc"),
            "abfss://c@acct.dfs.core.windows.net/p"
        );
        assert_eq!(redact("/local/path"), "/local/path");
    }

    #[test]
    fn unknown_and_disabled_schemes_say_what_to_do() {
        let base = Path::new("/crate");
        let e = FileLocation::parse("ftp://host/x", base)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown scheme `ftp://`") && e.contains("`s3://`"),
            "{e}"
        );
        let e = FileLocation::parse("redb://x", base)
            .unwrap_err()
            .to_string();
        assert!(e.contains("names an online store"), "{e}");
        if !cfg!(feature = "redis") {
            let e = OnlineLocation::parse("redis://h:1/0", base)
                .unwrap_err()
                .to_string();
            assert!(e.contains("`redis` cargo feature"), "{e}");
        } else {
            let l = OnlineLocation::parse("rediss://u:pw@h:1/0", base).unwrap();
            assert!(matches!(&l, OnlineLocation::Server { scheme, .. } if scheme == "rediss"));
            assert_eq!(l.to_string(), "rediss://***@h:1/0");
        }
        if !cfg!(feature = "s3") {
            let e = FileLocation::parse("s3://b/p", base)
                .unwrap_err()
                .to_string();
            assert!(e.contains("`s3` cargo feature"), "{e}");
        }
        let e = FileLocation::parse("", base).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        for empty in ["redb://", "sqlite://"] {
            let e = OnlineLocation::parse(empty, base).unwrap_err().to_string();
            assert!(e.contains("needs the store file's path"), "{e}");
        }
        assert_eq!(
            OnlineLocation::parse("sqlite://o.sqlite", base).unwrap(),
            OnlineLocation::Sqlite(PathBuf::from("/crate/o.sqlite"))
        );
    }

    #[test]
    fn memory_locations_share_one_store_per_name() {
        let base = Path::new("/");
        let a = FileLocation::parse("memory://t1/a", base).unwrap();
        let b = FileLocation::parse("memory://t1/b", base).unwrap();
        let c = FileLocation::parse("memory://t2/a", base).unwrap();
        assert!(Arc::ptr_eq(a.store(), b.store()));
        assert!(!Arc::ptr_eq(a.store(), c.store()));
        assert_eq!(a.path().as_ref(), "a");
        assert_eq!(a.join("x/y").path().as_ref(), "a/x/y");
    }

    #[test]
    fn local_locations_know_their_path_on_disk() {
        let l = FileLocation::parse("data/x", Path::new("/crate")).unwrap();
        assert_eq!(l.local_path(), Some(Path::new("/crate/data/x")));
        assert_eq!(l.path().as_ref(), "crate/data/x");
        assert_eq!(l.join("y").local_path(), Some(Path::new("/crate/data/x/y")));
    }
}
