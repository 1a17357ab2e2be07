//! The runtime's one error type.

use std::path::PathBuf;

/// Everything that can go wrong when running a declaration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or parsing a source failed.
    #[error("source `{source_name}` ({location}): {message}")]
    Source {
        /// The source's name.
        source_name: String,
        /// File path or URL read.
        location: String,
        /// What was wrong, and what was expected.
        message: String,
    },
    /// A value in the data breaks an invariant of the declaration.
    #[error("feature set `{feature_set}`: {message}")]
    Data {
        /// The feature set.
        feature_set: String,
        /// What was wrong.
        message: String,
    },
    /// A run was asked for with arguments that cannot work.
    #[error("{0}")]
    Invalid(String),
    /// A name given on the command line or to the API is not declared.
    #[error("unknown {kind} `{name}`; declared: {known}")]
    Unknown {
        /// What kind of thing (pipeline, source, …).
        kind: &'static str,
        /// The name given.
        name: String,
        /// The declared names.
        known: String,
    },
    /// The configuration file or an override is malformed.
    #[error("configuration {}: {message}", path.display())]
    Config {
        /// The file or variable.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The historical store failed.
    #[error("historical store at {location}: {message}")]
    Historical {
        /// Root or partition location.
        location: String,
        /// What failed.
        message: String,
    },
    /// The online store failed.
    #[error("online store at {location}: {message}")]
    Online {
        /// Store URL or table.
        location: String,
        /// What failed.
        message: String,
    },
    /// Another process is running the same feature set.
    #[error(
        "feature set `{feature_set}` is being run by another process ({holder}); lock file {}: \
         wait for that run to end (the lock is released when it exits, even if it is killed)",
        path.display()
    )]
    Locked {
        /// The feature set.
        feature_set: String,
        /// Who holds the lock, e.g. `pid 1234`.
        holder: String,
        /// The lock file.
        path: PathBuf,
    },
    /// A polars operation failed.
    #[error("{context}: {source}")]
    Polars {
        /// What was being done.
        context: String,
        /// The polars error.
        #[source]
        source: polars::error::PolarsError,
    },
    /// An I/O error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds context to polars errors.
pub(crate) trait PolarsContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> PolarsContext<T> for polars::error::PolarsResult<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Polars {
            context: context(),
            source,
        })
    }
}

/// A polars error as one message for people: polars' hints are written for
/// its Python API (`strict=False`…), which our users do not call.
pub(crate) fn polars_message(e: &polars::error::PolarsError) -> String {
    let text = e.to_string();
    match text.find("\n\nYou might want") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
