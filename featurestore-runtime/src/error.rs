//! The runtime's one error type.
//!
//! Errors keep their causes ([`std::error::Error::source`]) and each has an
//! [`ErrorKind`], so a retry loop or a server can tell a timeout from bad
//! data without reading messages.

use std::path::PathBuf;

/// A boxed cause from a backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is: what a caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// May succeed if tried again: a timeout, a refused or dropped
    /// connection, a server that is starting or overloaded.
    Transient,
    /// Will fail again until something outside the call changes: a missing
    /// bucket, wrong credentials, a corrupted file, a bug.
    Permanent,
    /// Another writer got there first: a held lock, a changed object, a
    /// store written under another declaration.
    Conflict,
    /// The request or the data is wrong: a bad argument, a bad row, an
    /// unknown name.
    InvalidInput,
}

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
        "feature set `{feature_set}` is being run by another process ({holder}); lock file \
         {location}: wait for that run to end ({released})"
    )]
    Locked {
        /// The feature set.
        feature_set: String,
        /// Who holds the lock, e.g. `pid 1234`, or `host h, pid 1234, run …,
        /// since …, until …` for a lock in an object store.
        holder: String,
        /// The lock file's path or the lock object's URL, without secrets.
        location: String,
        /// When the lock goes away: with its holder's process on a local
        /// disk; at the latest when it expires in an object store.
        released: String,
    },
    /// A location (path or URL) cannot be used.
    #[error("location `{location}`: {message}")]
    Location {
        /// The location, without secrets.
        location: String,
        /// What was wrong.
        message: String,
    },
    /// A store's backend failed; the backend's own error is the source.
    #[error("{store} at {location}: {message}")]
    Store {
        /// Which store: `historical store`, `online store (redb)`, …
        store: &'static str,
        /// The store, table or object, without secrets.
        location: String,
        /// What was being done, and what failed.
        message: String,
        /// What kind of failure it is.
        kind: ErrorKind,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// A run wrote the historical store and then failed to write the
    /// online store: the two differ until the next run of the feature set,
    /// which re-writes the online rows first.
    #[error("feature set `{feature_set}`: the historical store at {historical} was written (days {from} to {to}), but the online store at {online} was not changed; it is behind until the next run of `{feature_set}`, which re-writes its rows first (`features status {feature_set}` shows it)")]
    OnlineBehind {
        /// The feature set.
        feature_set: String,
        /// The historical store, as printed.
        historical: String,
        /// The online store, as printed.
        online: String,
        /// The first day written.
        from: chrono::NaiveDate,
        /// The last day written.
        to: chrono::NaiveDate,
        /// Why the online write failed.
        #[source]
        source: Box<Error>,
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

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Store { kind, .. } => *kind,
            Error::Locked { .. } => ErrorKind::Conflict,
            Error::OnlineBehind { source, .. } => source.kind(),
            Error::Source { .. }
            | Error::Data { .. }
            | Error::Invalid(_)
            | Error::Unknown { .. }
            | Error::Config { .. }
            | Error::Location { .. } => ErrorKind::InvalidInput,
            Error::Io { source, .. } => io_kind(source),
            Error::Historical { .. } | Error::Online { .. } | Error::Polars { .. } => {
                ErrorKind::Permanent
            }
        }
    }

    /// Whether trying again may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    /// A backend error of `store` at `location`, its kind read from the
    /// error itself.
    pub fn store(
        store: &'static str,
        location: impl Into<String>,
        message: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Error {
        let source = source.into();
        Error::Store {
            store,
            location: location.into(),
            message: message.into(),
            kind: kind_of(source.as_ref()),
            source,
        }
    }
}

/// The kind of an I/O error.
pub(crate) fn io_kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::TimedOut
        | K::Interrupted
        | K::WouldBlock
        | K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::BrokenPipe
        | K::UnexpectedEof => ErrorKind::Transient,
        K::AlreadyExists => ErrorKind::Conflict,
        K::InvalidInput | K::InvalidData => ErrorKind::InvalidInput,
        _ => ErrorKind::Permanent,
    }
}

/// The kind of a backend error: from `object_store`'s variants, else from
/// the first I/O error in its chain; an error that says nothing is permanent.
pub(crate) fn kind_of(e: &(dyn std::error::Error + 'static)) -> ErrorKind {
    if let Some(os) = e.downcast_ref::<object_store::Error>() {
        match os {
            object_store::Error::AlreadyExists { .. }
            | object_store::Error::Precondition { .. }
            | object_store::Error::NotModified { .. } => return ErrorKind::Conflict,
            object_store::Error::InvalidPath { .. } => return ErrorKind::InvalidInput,
            object_store::Error::NotFound { .. }
            | object_store::Error::NotSupported { .. }
            | object_store::Error::NotImplemented { .. }
            | object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => return ErrorKind::Permanent,
            _ => {}
        }
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io_kind(io);
        }
        let text = c.to_string().to_ascii_lowercase();
        if text.contains("timed out")
            || text.contains("timeout")
            || text.contains("connection refused")
            || text.contains("connection reset")
            || text.contains("error sending request")
        {
            return ErrorKind::Transient;
        }
        cause = c.source();
    }
    ErrorKind::Permanent
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
