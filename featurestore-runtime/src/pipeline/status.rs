//! Whether the online store of a feature set is behind its historical store.
//!
//! A run writes the historical store first, then the online store; they
//! are two systems, with no transaction across them. A run records, just
//! before it replaces its first partition, that the online store is behind
//! (the object `{historical root}/_status/{feature_set}.json`), and removes
//! the record once its online write is committed. So a run that fails or
//! is killed between the two writes leaves the record: `features status`
//! shows it, and the next run of the feature set reports it and re-writes
//! the online rows of the recorded days from the historical store before
//! doing its own work. A run that stops before its swap removes the record
//! it wrote (nothing changed); one killed there leaves it, and the next run
//! re-writes rows the online store already has: harmless.
//!
//! The record is written as one object: on a disk a flushed temporary file
//! renamed over it (`durable.rs`), in an object store one put, which
//! appears whole.

use chrono::NaiveDate;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::block_on;
use crate::location::FileLocation;

/// The folder of the records, below the historical store's root.
const STATUS_DIR: &str = "_status";

/// A feature set's online store is behind its historical store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineBehind {
    /// The feature set.
    pub feature_set: String,
    /// The days of the run whose rows the online store may lack (inclusive).
    pub days: (NaiveDate, NaiveDate),
    /// When the run began replacing the historical partitions (UTC,
    /// `YYYY-MM-DD HH:MM:SS`).
    pub since: String,
    /// The online store the run was writing, as printed (no secrets).
    pub online: String,
    /// Why the online store did not receive the rows: the error, or that
    /// the run did not finish (killed, or still running).
    pub reason: String,
}

impl std::fmt::Display for OnlineBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the online store is behind the historical store since {} UTC: the run of days {} to {} wrote the historical store but not the online store at {} ({})",
            self.since, self.days.0, self.days.1, self.online, self.reason
        )
    }
}

/// The reason recorded before the swap, kept when a run is killed.
pub const NOT_FINISHED: &str = "the run did not finish: killed, or still running";

fn record(root: &FileLocation, feature_set: &str) -> FileLocation {
    root.join(&format!("{STATUS_DIR}/{feature_set}.json"))
}

fn store_error(at: &FileLocation, doing: &str, e: impl Into<crate::error::BoxError>) -> Error {
    Error::store("historical store", at.to_string(), doing, e)
}

/// The record of `feature_set` under the historical store at `root`, if
/// its online store is behind.
pub fn read(root: &FileLocation, feature_set: &str) -> Result<Option<OnlineBehind>> {
    let at = record(root, feature_set);
    let bytes = match block_on(async { at.store().get(at.path()).await?.bytes().await }) {
        Ok(bytes) => bytes,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(store_error(&at, "reading the online store's status", e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| store_error(&at, "reading the online store's status (delete the file if it is damaged: the next run then cannot repair the online store, re-run the feature set's last interval instead)", e))
}

/// Records that `behind.feature_set`'s online store is behind.
pub fn write(root: &FileLocation, behind: &OnlineBehind) -> Result<()> {
    let at = record(root, &behind.feature_set);
    let doing = "recording that the online store is behind";
    let bytes = serde_json::to_vec_pretty(behind).map_err(|e| store_error(&at, doing, e))?;
    match at.local_path() {
        Some(path) => {
            let dir = path.parent().unwrap_or(path);
            let tmp = dir.join(format!(".{}.{}", behind.feature_set, uuid::Uuid::new_v4()));
            let written = crate::durable::write_synced(&tmp, &bytes)
                .and_then(|()| crate::durable::publish(&tmp, path, dir));
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            written.map_err(|e| store_error(&at, doing, e))
        }
        None => block_on(at.store().put(at.path(), PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(|e| store_error(&at, doing, e)),
    }
}

/// Removes `feature_set`'s record: its online store is in step.
pub fn clear(root: &FileLocation, feature_set: &str) -> Result<()> {
    let at = record(root, feature_set);
    match block_on(at.store().delete(at.path())) {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(store_error(
            &at,
            "recording that the online store is in step",
            e,
        )),
    }
}

/// The time of now, as records hold it.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}
