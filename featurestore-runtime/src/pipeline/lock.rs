//! One run of a feature set at a time: a lock per feature set under the
//! historical root, `{root}/_locks/{feature_set}.lock`, taken before any
//! store is opened. How it is held depends on where the root is.
//!
//! **On a local disk**, the lock is the operating system's (`flock`), so it
//! is released when the holder ends, even when it is killed: a crashed run
//! never leaves a stale lock behind. The file holds the holder's pid, for
//! the message the second run gets.
//!
//! **In an object store** ([`ObjectLock`]), the lock is an object created
//! with a conditional put (`PutMode::Create`: exactly one of two racing runs
//! creates it). It holds JSON naming its holder (host name, pid, a random
//! run id), when it was acquired and when it expires. A run that finds it
//! unexpired is refused, naming the holder. The holder renews the expiry in
//! the background every third of the lease ([`DEFAULT_TTL`], or
//! `FEATURESTORE_LOCK_TTL`), each time with a conditional update on the
//! version it wrote last, and deletes the object when it is done. A run that
//! died leaves its lock until it expires; the next run then takes it over
//! with a conditional update on the version it read (`PutMode::Update`),
//! never delete-then-create, with which two runs could both win. A holder
//! whose renewal finds the lock taken over stops: [`RunLock::still_held`]
//! fails, and the pipeline checks it before it replaces any partition and
//! before it writes the online store.
//!
//! Within one process a lock is shared: the CLI takes it before it opens the
//! stores, and the run it starts takes it again.
//!
//! Known limitations:
//! - `flock` is per host. Two hosts sharing a root over a network file
//!   system are not kept apart reliably: give such roots as object-store
//!   URLs instead.
//! - An object lock's expiry is read against the local clock, so hosts must
//!   agree on the time to well within the lease (as NTP does). A holder
//!   stalled longer than the lease (suspended, or cut off from the store)
//!   loses its lock to the next run; it finds out at its next renewal or
//!   check, but a replacement of partitions already under way when the
//!   lease runs out is not stopped half way (each partition stays entirely
//!   old or new).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::io::block_on;
use crate::location::FileLocation;

/// Directory of the lock files, under the historical root.
pub const LOCK_DIR: &str = "_locks";
/// How long an object-store lock lasts without renewal: a run that dies
/// holding it blocks the feature set for at most this long. The holder
/// renews it every third of that.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);
/// Environment variable overriding [`DEFAULT_TTL`]: seconds (`600`), or a
/// number with `ms`, `s`, `m` or `h` (`10m`).
pub const ENV_LOCK_TTL: &str = "FEATURESTORE_LOCK_TTL";

/// The store's name in errors.
const STORE: &str = "run lock";
/// Conditional writes tried before giving up on a lock that keeps
/// changing hands.
const ATTEMPTS: usize = 4;
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// The lease of [`ENV_LOCK_TTL`], else [`DEFAULT_TTL`].
pub fn ttl_from_env() -> Result<Duration> {
    match std::env::var(ENV_LOCK_TTL) {
        Err(_) => Ok(DEFAULT_TTL),
        Ok(text) => parse_ttl(&text).ok_or_else(|| Error::Config {
            path: PathBuf::from(ENV_LOCK_TTL),
            message: format!(
                "`{text}` is not a lease: write seconds (`600`) or a positive number with \
                 `ms`, `s`, `m` or `h` (`10m`)"
            ),
        }),
    }
}

fn parse_ttl(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let ttl = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    };
    (!ttl.is_zero()).then_some(ttl)
}

/// Who holds an object-store lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The holder's host name.
    pub host: String,
    /// The holder's process id.
    pub pid: u32,
    /// Random, one per acquisition: tells apart two holders of one process.
    pub run_id: String,
}

impl LockHolder {
    /// This process, with a fresh run id.
    fn this_process() -> Self {
        LockHolder {
            host: host_name(),
            pid: std::process::id(),
            run_id: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// The host name, for messages only: the kernel's on Linux, the shell's
/// elsewhere (one string does not warrant a dependency).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown host".to_string())
}

/// What an object-store lock holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// Who holds it.
    pub holder: LockHolder,
    /// When the holder acquired it.
    pub acquired_at: DateTime<Utc>,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

impl LockRecord {
    fn new(holder: LockHolder, ttl: TimeDelta) -> Self {
        let now = Utc::now();
        LockRecord {
            holder,
            acquired_at: now,
            expires_at: now + ttl,
        }
    }

    fn describe(&self) -> String {
        format!(
            "host {}, pid {}, run {}, since {}, until {}",
            self.holder.host,
            self.holder.pid,
            self.holder.run_id,
            self.acquired_at.format(TIME_FORMAT),
            self.expires_at.format(TIME_FORMAT)
        )
    }
}

/// A lock held as an object in an object store, as a lease (see the
/// [module](self) docs). Dropping it releases it, as [`release`](Self::release)
/// does, logging what fails.
#[derive(Debug)]
pub struct ObjectLock {
    lease: Arc<Lease>,
    renewal: Option<Renewal>,
    released: bool,
}

#[derive(Debug)]
struct Renewal {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Lease {
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    /// The lock's URL, for messages.
    url: String,
    /// What is locked, for messages.
    name: String,
    ttl: TimeDelta,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// What the lock object holds, as last written by this holder.
    record: LockRecord,
    /// The version of the lock object last written by this holder.
    version: UpdateVersion,
    /// Why the lock is no longer this holder's, once it is not.
    lost: Option<String>,
}

/// Whether a conditional write failed because the object changed (or
/// appeared, or went) since it was read.
fn changed(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::Precondition { .. }
            | object_store::Error::AlreadyExists { .. }
            | object_store::Error::NotFound { .. }
    )
}

impl ObjectLock {
    /// Acquires the lock object at `lock` for `name` (a feature set) for
    /// `ttl`, failing at once with [`Error::Locked`] naming the holder if
    /// another run holds it; an expired lock is taken over. The lock is not
    /// renewed until [`keep_renewed`](Self::keep_renewed) is called.
    pub async fn try_acquire(lock: &FileLocation, name: &str, ttl: Duration) -> Result<ObjectLock> {
        let ttl = TimeDelta::from_std(ttl)
            .ok()
            .filter(|t| *t > TimeDelta::zero())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "a lock lease of {ttl:?} is not a positive duration"
                ))
            })?;
        let holder = LockHolder::this_process();
        let probe = Lease {
            store: lock.store().clone(),
            path: lock.path().clone(),
            url: lock.to_string(),
            name: name.to_string(),
            ttl,
            state: Mutex::new(State {
                record: LockRecord::new(holder.clone(), ttl),
                version: UpdateVersion {
                    e_tag: None,
                    version: None,
                },
                lost: None,
            }),
        };
        for _ in 0..ATTEMPTS {
            let record = LockRecord::new(holder.clone(), ttl);
            match probe.put(&record, PutMode::Create).await {
                Ok(version) => return Ok(probe.held(record, version)),
                // Creating an object never finds it missing, unless where it
                // goes is: a bucket or container that does not exist.
                Err(e @ object_store::Error::NotFound { .. }) => {
                    return Err(probe.error(
                        "creating the lock: the bucket or container does not exist (or this \
                         account cannot see it)",
                        e,
                    ))
                }
                Err(e) if changed(&e) => {}
                Err(e) => return Err(probe.error("creating the lock", e)),
            }
            let Some((current, version)) = probe.read().await? else {
                // Released between the two calls: try creating it again.
                continue;
            };
            let Some(current) = current else {
                return Err(Error::Locked {
                    feature_set: name.to_string(),
                    holder: "holder unknown: the object holds no lock record".to_string(),
                    location: probe.url.clone(),
                    released: "remove the object if no run of it is under way".to_string(),
                });
            };
            if current.expires_at > Utc::now() {
                return Err(probe.locked_by(&current));
            }
            // A run that died: its lease ran out. Taken over only if the
            // object is still the one read, so of several runs doing this
            // at once exactly one wins.
            let record = LockRecord::new(holder.clone(), ttl);
            match probe.put(&record, PutMode::Update(version)).await {
                Ok(version) => {
                    tracing::warn!(
                        lock = probe.url,
                        previous = current.describe(),
                        "took over an expired run lock"
                    );
                    return Ok(probe.held(record, version));
                }
                Err(e) if changed(&e) => {}
                Err(e) => return Err(probe.error("taking over the expired lock", e)),
            }
        }
        Err(Error::Store {
            store: STORE,
            location: probe.url.clone(),
            message: format!(
                "the lock of `{name}` changed hands {ATTEMPTS} times while acquiring it"
            ),
            kind: ErrorKind::Conflict,
            source: "try again".into(),
        })
    }

    /// The lock's URL.
    pub fn url(&self) -> &str {
        &self.lease.url
    }

    /// What the lock object holds, as this holder last wrote it.
    pub fn record(&self) -> LockRecord {
        self.lease.state().record.clone()
    }

    /// Extends the lease by the TTL from now, if the lock is still this
    /// holder's; fails naming the new holder if it was taken over.
    pub async fn renew(&self) -> Result<()> {
        self.lease.renew().await
    }

    /// Renews the lease in the background, every third of the TTL, until the
    /// lock is released or found taken over.
    pub fn keep_renewed(&mut self) {
        if self.renewal.is_some() || self.released {
            return;
        }
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let lease = self.lease.clone();
        let every = (lease.ttl / 3)
            .to_std()
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(10));
        let task = crate::io::runtime().spawn(async move {
            // Ends on a stop, or when the lock is dropped without one.
            while tokio::time::timeout(every, &mut stopped).await.is_err() {
                match lease.renew().await {
                    Ok(()) => {}
                    Err(e) if lease.is_lost() => {
                        tracing::error!(lock = lease.url, error = %e, "the run lock was lost");
                        break;
                    }
                    // Transient: tried again at the next tick; the lease
                    // covers two more of them.
                    Err(e) => tracing::warn!(lock = lease.url, error = %e, "renewing the run lock"),
                }
            }
        });
        self.renewal = Some(Renewal { stop, task });
    }

    /// Ok while the lock is this holder's and unexpired; else an error
    /// saying why, for a run to stop before it publishes anything.
    pub fn still_held(&self) -> Result<()> {
        let state = self.lease.state();
        if let Some(why) = &state.lost {
            return Err(self.lease.lost(why.clone()));
        }
        if Utc::now() >= state.record.expires_at {
            return Err(self.lease.lost(format!(
                "its lease ran out at {} without a renewal",
                state.record.expires_at.format(TIME_FORMAT)
            )));
        }
        Ok(())
    }

    /// Stops the renewals and deletes the lock object, if it is still this
    /// holder's (a lock taken over is left to its new holder).
    pub async fn release(mut self) -> Result<()> {
        self.release_now().await
    }

    async fn release_now(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.released, true) {
            return Ok(());
        }
        if let Some(renewal) = self.renewal.take() {
            // A renewal in flight finishes first, so its version is known.
            let _ = renewal.stop.send(());
            let _ = renewal.task.await;
        }
        if self.lease.is_lost() {
            return Ok(());
        }
        // Renewing first proves the lock is still this holder's, and keeps
        // it unexpired, so no other run can take it over before the delete.
        if let Err(e) = self.lease.renew().await {
            return if self.lease.is_lost() { Ok(()) } else { Err(e) };
        }
        match self.lease.store.delete(&self.lease.path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.lease.error("deleting the lock", e)),
        }
    }
}

impl Drop for ObjectLock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Err(e) = block_on(self.release_now()) {
            tracing::warn!(
                lock = self.lease.url,
                error = %e,
                "releasing the run lock failed; it expires at the end of its lease"
            );
        }
    }
}

impl Lease {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_lost(&self) -> bool {
        self.state().lost.is_some()
    }

    fn held(self, record: LockRecord, version: UpdateVersion) -> ObjectLock {
        {
            let mut state = self.state();
            state.record = record;
            state.version = version;
        }
        ObjectLock {
            lease: Arc::new(self),
            renewal: None,
            released: false,
        }
    }

    fn error(&self, doing: &str, e: object_store::Error) -> Error {
        Error::store(STORE, self.url.clone(), doing, e)
    }

    fn locked_by(&self, current: &LockRecord) -> Error {
        Error::Locked {
            feature_set: self.name.clone(),
            holder: current.describe(),
            location: self.url.clone(),
            released: format!(
                "the lock is released when it ends; if it died, its lock expires at {} and the \
                 next run takes it over",
                current.expires_at.format(TIME_FORMAT)
            ),
        }
    }

    /// The error of a holder that lost its lock for reason `why`.
    fn lost(&self, why: String) -> Error {
        Error::Store {
            store: STORE,
            location: self.url.clone(),
            message: format!(
                "this run no longer holds the lock of `{}`, so it publishes nothing more",
                self.name
            ),
            kind: ErrorKind::Conflict,
            source: why.into(),
        }
    }

    /// Writes `record` with `mode`; returns the version written.
    async fn put(
        &self,
        record: &LockRecord,
        mode: PutMode,
    ) -> std::result::Result<UpdateVersion, object_store::Error> {
        // A record of strings and times always serializes.
        let body = serde_json::to_vec_pretty(record).unwrap_or_default();
        let put = self
            .store
            .put_opts(&self.path, PutPayload::from(body), PutOptions::from(mode))
            .await?;
        Ok(put.into())
    }

    /// The lock object's record (`None` if it holds something else) and
    /// version; `None` if there is no lock object.
    async fn read(&self) -> Result<Option<(Option<LockRecord>, UpdateVersion)>> {
        let got = match self.store.get(&self.path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error("reading the lock", e)),
        };
        let version = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        let bytes = match got.bytes().await {
            Ok(bytes) => bytes,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error("reading the lock", e)),
        };
        Ok(Some((serde_json::from_slice(&bytes).ok(), version)))
    }

    async fn renew(&self) -> Result<()> {
        for _ in 0..2 {
            let (mut record, version) = {
                let state = self.state();
                if let Some(why) = &state.lost {
                    return Err(self.lost(why.clone()));
                }
                (state.record.clone(), state.version.clone())
            };
            record.expires_at = Utc::now() + self.ttl;
            match self.put(&record, PutMode::Update(version)).await {
                Ok(version) => {
                    let mut state = self.state();
                    state.record = record;
                    state.version = version;
                    return Ok(());
                }
                Err(e) if changed(&e) => {}
                Err(e) => return Err(self.error("renewing the lock", e)),
            }
            // Changed since this holder last wrote it. A renewal whose
            // answer was lost still names this run: carry on from it.
            match self.read().await? {
                Some((Some(current), version)) if current.holder == record.holder => {
                    let mut state = self.state();
                    state.record = current;
                    state.version = version;
                }
                other => {
                    let why = match other {
                        Some((Some(current), _)) => {
                            format!("it was taken over by {}", current.describe())
                        }
                        Some((None, _)) => "it was overwritten".to_string(),
                        None => "it was deleted".to_string(),
                    };
                    self.state().lost = Some(why.clone());
                    return Err(self.lost(why));
                }
            }
        }
        Err(Error::Store {
            store: STORE,
            location: self.url.clone(),
            message: "renewing the lock".to_string(),
            kind: ErrorKind::Transient,
            source: "the lock object kept changing while this run renewed it".into(),
        })
    }
}

/// Held on a local disk: the open, locked file; the lock lasts while it is
/// open, and ends with the process however it ends.
#[derive(Debug)]
enum Held {
    File { _open: File },
    Object(ObjectLock),
}

/// Locks this process holds, by file path or URL: a second acquisition
/// shares the first.
static HELD: Mutex<Option<HashMap<String, Weak<Held>>>> = Mutex::new(None);

/// The locks of a run; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    held: Vec<Arc<Held>>,
}

impl RunLock {
    /// Locks feature sets `names` of the historical store at `root`, failing
    /// at once, naming the holder and the lock, if another process runs one
    /// of them. Object-store locks get the lease of [`ttl_from_env`].
    pub fn acquire(root: &FileLocation, names: &[&str]) -> Result<RunLock> {
        Self::acquire_with_ttl(root, names, ttl_from_env()?)
    }

    /// [`acquire`](Self::acquire), with object-store locks leased for `ttl`.
    pub fn acquire_with_ttl(root: &FileLocation, names: &[&str], ttl: Duration) -> Result<RunLock> {
        let mut sorted: Vec<&str> = names.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut held = Vec::with_capacity(sorted.len());
        for name in sorted {
            let lock = root.join(&format!("{LOCK_DIR}/{name}.lock"));
            held.push(lock_one(&lock, name, ttl)?);
        }
        Ok(RunLock { held })
    }

    /// Ok while every lock of the run is still its own; an object-store
    /// lock can be lost (see the [module](self) docs), and then the run must
    /// not publish.
    pub fn still_held(&self) -> Result<()> {
        for held in &self.held {
            if let Held::Object(lock) = held.as_ref() {
                lock.still_held()?;
            }
        }
        Ok(())
    }
}

fn lock_one(lock: &FileLocation, name: &str, ttl: Duration) -> Result<Arc<Held>> {
    let key = match lock.local_path() {
        Some(path) => path.display().to_string(),
        None => lock.to_string(),
    };
    let mut registry = HELD.lock().unwrap_or_else(|e| e.into_inner());
    let registry = registry.get_or_insert_with(HashMap::new);
    if let Some(held) = registry.get(&key).and_then(Weak::upgrade) {
        return Ok(held);
    }
    let held = match lock.local_path() {
        Some(path) => Held::File {
            _open: lock_file(path, name)?,
        },
        None => {
            let mut object = block_on(ObjectLock::try_acquire(lock, name, ttl))?;
            object.keep_renewed();
            Held::Object(object)
        }
    };
    let held = Arc::new(held);
    registry.insert(key, Arc::downgrade(&held));
    Ok(held)
}

fn lock_file(path: &Path, name: &str) -> Result<File> {
    let io = |e: std::io::Error| Error::Io {
        context: format!("locking {}", path.display()),
        source: e,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            context: format!("creating the lock directory {}", dir.display()),
            source: e,
        })?;
    }
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
                location: path.display().to_string(),
                released: "the lock is released when it exits, even if it is killed".to_string(),
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
        Utc::now().format(TIME_FORMAT)
    )
    .map_err(io)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    /// The lock object `memory://{test}/historical/_locks/fs.lock`.
    fn lock_at(test: &str) -> FileLocation {
        FileLocation::parse(
            &format!("memory://{test}/historical/{LOCK_DIR}/fs.lock"),
            Path::new("/"),
        )
        .expect("a memory location")
    }

    fn acquire(lock: &FileLocation, ttl: Duration) -> Result<ObjectLock> {
        block_on(ObjectLock::try_acquire(lock, "fs", ttl))
    }

    /// What the lock object holds now, if there is one.
    fn stored(lock: &FileLocation) -> Option<LockRecord> {
        let got = block_on(async { lock.store().get(lock.path()).await?.bytes().await });
        match got {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).expect("a lock record")),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// The lock of a run that died: it expired a minute ago.
    fn plant_expired(lock: &FileLocation) -> LockRecord {
        let mut record = LockRecord::new(LockHolder::this_process(), TimeDelta::minutes(-10));
        record.holder.host = "gone".to_string();
        record.expires_at = Utc::now() - TimeDelta::minutes(1);
        let body = serde_json::to_vec(&record).unwrap();
        block_on(lock.store().put(lock.path(), PutPayload::from(body))).expect("puts");
        record
    }

    #[test]
    fn a_second_acquisition_is_refused_naming_the_holder() {
        let lock = lock_at("lock-second");
        let first = acquire(&lock, DEFAULT_TTL).expect("acquires");
        let record = first.record();
        assert_eq!(stored(&lock), Some(record.clone()));
        assert_eq!(record.holder.pid, std::process::id());
        assert_eq!(
            record.expires_at - record.acquired_at,
            TimeDelta::minutes(10)
        );

        let err = acquire(&lock, DEFAULT_TTL).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        let expected = format!(
            "feature set `fs` is being run by another process (host {}, pid {}, run {}, since {}, \
             until {}); lock file memory://lock-second/historical/_locks/fs.lock: wait for that \
             run to end (the lock is released when it ends; if it died, its lock expires at {} \
             and the next run takes it over)",
            record.holder.host,
            record.holder.pid,
            record.holder.run_id,
            record.acquired_at.format(TIME_FORMAT),
            record.expires_at.format(TIME_FORMAT),
            record.expires_at.format(TIME_FORMAT),
        );
        assert_eq!(err.to_string(), expected);
        // The refused run changed nothing.
        assert_eq!(stored(&lock), Some(record));
    }

    #[test]
    fn an_expired_lock_is_taken_over() {
        let lock = lock_at("lock-expired");
        let dead = plant_expired(&lock);
        let taken = acquire(&lock, DEFAULT_TTL).expect("takes the expired lock over");
        let now = taken.record();
        assert_ne!(now.holder, dead.holder);
        assert!(now.expires_at > Utc::now());
        assert_eq!(stored(&lock), Some(now));
    }

    #[test]
    fn a_release_lets_the_next_acquire() {
        let lock = lock_at("lock-release");
        let first = acquire(&lock, DEFAULT_TTL).expect("acquires");
        block_on(first.release()).expect("releases");
        assert_eq!(stored(&lock), None);
        let second = acquire(&lock, DEFAULT_TTL).expect("acquires after the release");
        // Dropping releases too.
        drop(second);
        assert_eq!(stored(&lock), None);
        acquire(&lock, DEFAULT_TTL).expect("acquires after the drop");
    }

    #[test]
    fn a_renewal_extends_the_expiry() {
        let lock = lock_at("lock-renew");
        let held = acquire(&lock, Duration::from_secs(60)).expect("acquires");
        let before = held.record();
        std::thread::sleep(Duration::from_millis(20));
        block_on(held.renew()).expect("renews");
        let after = stored(&lock).expect("still there");
        assert!(
            after.expires_at > before.expires_at,
            "{after:?} after {before:?}"
        );
        assert_eq!(after.acquired_at, before.acquired_at);
        assert_eq!(after.holder, before.holder);
        assert_eq!(held.record(), after);
    }

    #[test]
    fn of_racers_on_an_expired_lock_exactly_one_wins() {
        const RACERS: usize = 4;
        for round in 0..10 {
            let lock = lock_at(&format!("lock-race-{round}"));
            plant_expired(&lock);
            let start = Barrier::new(RACERS);
            let results: Vec<Result<ObjectLock>> = std::thread::scope(|s| {
                let racers: Vec<_> = (0..RACERS)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            acquire(&lock, DEFAULT_TTL)
                        })
                    })
                    .collect();
                racers.into_iter().map(|r| r.join().unwrap()).collect()
            });
            let winners: Vec<&ObjectLock> =
                results.iter().filter_map(|r| r.as_ref().ok()).collect();
            assert_eq!(winners.len(), 1, "round {round}");
            let winner = winners[0].record();
            assert_eq!(stored(&lock), Some(winner.clone()), "round {round}");
            for loser in results.iter().filter_map(|r| r.as_ref().err()) {
                assert!(
                    matches!(loser, Error::Locked { .. }),
                    "round {round}: {loser}"
                );
                assert!(loser.to_string().contains(&winner.holder.run_id), "{loser}");
            }
        }
    }

    #[test]
    fn a_holder_whose_lock_was_taken_over_knows_it_and_leaves_it() {
        let lock = lock_at("lock-lost");
        // A holder that stalled past its lease, without renewing.
        let stalled = acquire(&lock, Duration::from_millis(50)).expect("acquires");
        std::thread::sleep(Duration::from_millis(120));
        let err = stalled.still_held().unwrap_err();
        assert!(
            err.to_string().contains("no longer holds the lock"),
            "{err}"
        );
        let next = acquire(&lock, DEFAULT_TTL).expect("takes over");
        let err = block_on(stalled.renew()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        let cause = std::error::Error::source(&err)
            .expect("a cause")
            .to_string();
        assert!(cause.contains(&next.record().holder.run_id), "{cause}");
        assert!(stalled.still_held().is_err());
        // Releasing what is no longer its own deletes nothing.
        block_on(stalled.release()).expect("releases");
        assert_eq!(stored(&lock), Some(next.record()));
        assert!(next.still_held().is_ok());
    }

    #[test]
    fn a_lock_renewed_in_the_background_outlives_its_lease() {
        let lock = lock_at("lock-background");
        let ttl = Duration::from_millis(600);
        let mut held = acquire(&lock, ttl).expect("acquires");
        let first = held.record();
        held.keep_renewed();
        std::thread::sleep(Duration::from_millis(1500));
        held.still_held().expect("still held");
        let now = stored(&lock).expect("still there");
        assert!(
            now.expires_at > first.expires_at + TimeDelta::milliseconds(600),
            "{now:?}"
        );
        assert!(matches!(acquire(&lock, ttl), Err(Error::Locked { .. })));
        drop(held);
        assert_eq!(stored(&lock), None, "deleted when dropped");
    }

    #[test]
    fn run_locks_in_an_object_store_are_shared_within_the_process() {
        let root = FileLocation::parse("memory://lock-run/historical", Path::new("/")).unwrap();
        let lock = root.join("_locks/fs.lock");
        let run = RunLock::acquire(&root, &["fs", "other"]).expect("acquires");
        let again = RunLock::acquire(&root, &["fs"]).expect("shared with this process's runs");
        run.still_held().expect("held");
        let holder = stored(&lock).expect("a lock object");
        assert_eq!(holder.holder.pid, std::process::id());
        // Another acquirer, not sharing this process's locks, is refused.
        let err = acquire(&lock, DEFAULT_TTL).unwrap_err().to_string();
        assert!(
            err.contains("lock file memory://lock-run/historical/_locks/fs.lock")
                && err.contains(&holder.holder.run_id),
            "{err}"
        );
        drop(run);
        assert!(stored(&lock).is_some(), "still held by the second run");
        assert!(stored(&root.join("_locks/other.lock")).is_none());
        drop(again);
        assert_eq!(stored(&lock), None);
    }

    #[test]
    fn leases_are_read_in_seconds_or_with_a_unit() {
        assert_eq!(parse_ttl("600"), Some(Duration::from_secs(600)));
        assert_eq!(parse_ttl("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_ttl("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_ttl(" 2h "), Some(Duration::from_secs(7200)));
        assert_eq!(parse_ttl("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "0", "10d", "m", "-5", "1.5m"] {
            assert_eq!(parse_ttl(bad), None, "{bad}");
        }
    }
}

/// Against a server speaking the S3 API (`scripts/servers.sh start s3`),
/// with the `s3` feature (`scripts/test.sh` runs them); without the server's
/// variables they fail, saying how to start it.
#[cfg(all(test, feature = "s3"))]
mod s3 {
    use super::*;

    #[test]
    fn conditional_puts_keep_one_holder_on_s3() {
        let bucket = std::env::var("FEATURESTORE_TEST_S3_BUCKET")
            .expect("set the S3 server's variables: eval \"$(scripts/servers.sh start s3)\"");
        let lock = FileLocation::parse(
            &format!("s3://{bucket}/lock-{}/_locks/fs.lock", uuid::Uuid::new_v4()),
            Path::new("/"),
        )
        .unwrap();
        let acquire = |ttl| block_on(ObjectLock::try_acquire(&lock, "fs", ttl));
        let first = acquire(Duration::from_millis(500)).expect("creates the lock");
        let err = acquire(DEFAULT_TTL).unwrap_err();
        assert!(matches!(err, Error::Locked { .. }), "{err}");
        block_on(first.renew()).expect("renews");
        // Stalled past its lease: the next run takes it over.
        std::thread::sleep(Duration::from_millis(800));
        let second = acquire(DEFAULT_TTL).expect("takes the expired lock over");
        assert!(block_on(first.renew()).is_err());
        block_on(first.release()).expect("leaves it");
        block_on(second.release()).expect("releases");
        acquire(DEFAULT_TTL).expect("acquires after the release");
    }
}
