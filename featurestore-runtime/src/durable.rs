//! Publishing a file on a local disk so that a power loss leaves either the
//! old file or the whole new one.
//!
//! A rename is atomic, but not durable by itself: after a crash the file
//! system may have kept the rename and lost the file's data (an empty or
//! truncated file under the new name), or lost the rename. So the data is
//! flushed (`fsync` of the file) before the rename, and the directory that
//! holds the new name is flushed after it. Directories created for the new
//! name are flushed in their parents too, or the whole path could vanish.

use std::fs::File;
use std::io;
use std::path::Path;

/// Writes `bytes` to a new file at `path` (its directory is created) and
/// flushes them to the disk. Not a publication: the caller renames it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Flushes a directory's entries to the disk: the names created, renamed or
/// removed in it.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Renames `from` (whose data must already be flushed, by
/// [`write_synced`] or `File::sync_all`) over `to`, creating `to`'s directory
/// when missing, and flushes every directory entry the rename and the
/// creation changed. `stop` is the highest directory that may have been
/// created (the store's root): directories above it are not flushed.
pub fn publish(from: &Path, to: &Path, stop: &Path) -> io::Result<()> {
    let dir = to.parent().unwrap_or(stop);
    create_dirs([dir], stop)?;
    std::fs::rename(from, to)?;
    sync_dir(dir)
}

/// Creates each of `dirs` that is missing, with its missing parents up to
/// `stop` (directories above it are neither created nor flushed), and
/// flushes the entries that name them: each parent once, however many of
/// `dirs` it holds. Many files published into new directories of one
/// parent (a run's day partitions) thus flush that parent once rather than
/// once per file, and their renames can proceed side by side.
pub fn create_dirs<'a>(dirs: impl IntoIterator<Item = &'a Path>, stop: &Path) -> io::Result<()> {
    let mut parents = std::collections::BTreeSet::new();
    for dir in dirs {
        // The highest directory that does not exist yet: it and everything
        // below it are new, so their parents must be flushed too.
        let mut created = None;
        let mut probe = Some(dir);
        while let Some(d) = probe {
            if d.exists() || !d.starts_with(stop) {
                break;
            }
            created = Some(d);
            probe = d.parent();
        }
        let Some(top) = created else { continue };
        std::fs::create_dir_all(dir)?;
        let mut d = dir;
        while d != top {
            match d.parent() {
                Some(p) => {
                    parents.insert(p.to_path_buf());
                    d = p;
                }
                None => break,
            }
        }
        if let Some(p) = top.parent() {
            parents.insert(p.to_path_buf());
        }
    }
    parents.iter().try_for_each(|p| sync_dir(p))
}
