//! Rows left out under `on_bad_rows = "quarantine"`, each with where it was
//! and why, in a CSV file under the quarantine location: a local directory
//! or any object store.

use object_store::{ObjectStoreExt, PutPayload};

use super::bad_rows::BadRow;
use super::SourceLocations;
use crate::error::{Error, Result};
use crate::spec::SourceSpec;

/// What messages call the store quarantine files are written to.
const STORE: &str = "quarantine";

/// Writes `rows` of the source read from `location` to a new file,
/// `{quarantine}/{source}/{UTC time}-{pid}.csv`, and returns where it is.
pub(super) fn write(
    spec: &SourceSpec,
    location: &str,
    locations: &SourceLocations,
    rows: &[BadRow],
) -> Result<String> {
    // A source of many files writes one quarantine file per file read, maybe
    // within one microsecond: the sequence number keeps them apart.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let file = locations
        .quarantine_location()?
        .join(spec.name)
        .join(&format!("{stamp}-{}-{seq}.csv", std::process::id()));
    let shown = file.to_string();
    let text = contents(location, rows).map_err(|source| Error::Io {
        context: format!("writing the quarantine file {shown}"),
        source,
    })?;
    // One `put` for every store: a whole file or none, never half of one
    // (on a local disk, a temporary file renamed into place).
    crate::io::block_on(file.store().put(file.path(), PutPayload::from(text)))
        .map_err(|e| Error::store(STORE, shown.as_str(), "writing the file", e))?;
    Ok(shown)
}

/// The file's text: a header, then per row the source file, the row's
/// place, the reason and the row as read.
fn contents(location: &str, rows: &[BadRow]) -> std::io::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["file", "place", "reason", "row"])?;
    for r in rows {
        w.write_record([location, &r.place, &r.reason, &r.raw])?;
    }
    w.into_inner().map_err(|e| e.into_error())
}
