//! One run of a feature set at a time: an advisory lock file per feature
//! set under the historical root (`_locks/{feature_set}.lock`).
//!
//! The lock is the operating system's (`flock`), so it is released when the
//! holder ends, even when it is killed: a crashed run never leaves a stale
//! lock behind. The file holds the holder's pid, for the message the second
//! run gets. Within one process the lock is shared: the CLI takes it before
//! it opens the stores, and the run it starts takes it again.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use crate::error::{Error, Result};

/// Directory of the lock files, under the historical root.
pub const LOCK_DIR: &str = "_locks";

#[derive(Debug)]
struct Held {
    _file: File,
}

/// Locks this process holds, by path: a second acquisition shares the first.
static HELD: Mutex<Option<HashMap<PathBuf, Weak<Held>>>> = Mutex::new(None);

/// The locks of a run; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _held: Vec<Arc<Held>>,
}

impl RunLock {
    /// Locks feature sets `names` of the historical store at `root` (a local
    /// directory or `file://` URL), failing at once, with the holder's pid
    /// and the lock file's path, if another process runs one of them.
    pub fn acquire(root: &str, names: &[&str]) -> Result<RunLock> {
        let root = Path::new(root.strip_prefix("file://").unwrap_or(root));
        let dir = root.join(LOCK_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
            context: format!("creating the lock directory {}", dir.display()),
            source: e,
        })?;
        let mut sorted: Vec<&str> = names.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut held = Vec::with_capacity(sorted.len());
        for name in sorted {
            held.push(lock_one(&dir.join(format!("{name}.lock")), name)?);
        }
        Ok(RunLock { _held: held })
    }
}

fn lock_one(path: &Path, name: &str) -> Result<Arc<Held>> {
    let mut registry = HELD.lock().unwrap_or_else(|e| e.into_inner());
    let registry = registry.get_or_insert_with(HashMap::new);
    if let Some(held) = registry.get(path).and_then(Weak::upgrade) {
        return Ok(held);
    }
    let io = |e: std::io::Error| Error::Io {
        context: format!("locking {}", path.display()),
        source: e,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder
                .lines()
                .find_map(|l| l.strip_prefix("pid "))
                .map_or_else(|| "pid unknown".to_string(), |p| format!("pid {p}"));
            return Err(Error::Locked {
                feature_set: name.to_string(),
                holder,
                path: path.to_path_buf(),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    writeln!(
        file,
        "pid {}\nstarted {}",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    )
    .map_err(io)?;
    let held = Arc::new(Held { _file: file });
    registry.insert(path.to_path_buf(), Arc::downgrade(&held));
    Ok(held)
}
