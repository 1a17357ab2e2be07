//! Engines: what computes a feature set's rows from its events.
//!
//! The default engine is polars, in this process ([`crate::transform`]). With
//! the `spark` cargo feature, `spark` compiles a declaration into Spark SQL
//! and has a Spark cluster run it through Spark Connect: the cluster reads
//! the source and writes the historical store, and only the latest row of
//! each key comes back to fill the online store. Sources, stores and their
//! layouts are the same whichever engine runs.
//!
//! The choice is data ([`EngineConfig`]), known to every build, so a
//! configuration naming Spark is understood, and refused with the cargo
//! feature to turn on, by a build without it.

use std::fmt;

use crate::error::{Error, Result};

#[cfg(feature = "spark")]
pub mod spark;

/// Which engine computes feature sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// polars, in this process (the default).
    #[default]
    Polars,
    /// A Spark cluster through Spark Connect.
    Spark,
}

impl EngineKind {
    /// Every engine, by its name in options and configuration.
    pub const ALL: [EngineKind; 2] = [EngineKind::Polars, EngineKind::Spark];

    /// The name used in `--engine`, `[engine] kind` and `FEATURESTORE_ENGINE`.
    pub const fn name(self) -> &'static str {
        match self {
            EngineKind::Polars => "polars",
            EngineKind::Spark => "spark",
        }
    }

    /// The engine named `name`.
    pub fn from_name(name: &str) -> Result<EngineKind> {
        EngineKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown engine `{name}`: expected `polars` or `spark`"
                ))
            })
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The engine of a run and where it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineConfig {
    /// Which engine.
    pub kind: EngineKind,
    /// The Spark Connect endpoint, `sc://HOST:PORT[/;token=…]`: required
    /// with [`EngineKind::Spark`].
    pub spark_remote: Option<String>,
    /// The memory a run on polars may use, in bytes (default: half of the
    /// machine's): a run whose events would need more is split by key
    /// ([`crate::pipeline::split`]).
    pub memory_budget: Option<u64>,
    /// Where a run split by key spills its parts (default: the system's
    /// temporary directory).
    pub spill_dir: Option<std::path::PathBuf>,
}

impl EngineConfig {
    /// The Spark Connect endpoint of a Spark run, or an error saying how to
    /// give one.
    pub fn spark_remote(&self) -> Result<&str> {
        match self.spark_remote.as_deref() {
            Some(r) if !r.is_empty() => Ok(r),
            _ => Err(Error::Invalid(
                "the Spark engine needs a Spark Connect endpoint: `--spark-remote sc://HOST:PORT`, \
                 `FEATURESTORE_SPARK_REMOTE`, or `spark_remote` under `[engine]` in featurestore.toml"
                    .to_string(),
            )),
        }
    }
}

/// The error of a build without the Spark engine asked to use it.
pub fn spark_not_built() -> Error {
    Error::Invalid(
        "this build has no Spark engine: enable the `spark` feature of featurestore-runtime \
         (it needs `protoc` to build)"
            .to_string(),
    )
}
