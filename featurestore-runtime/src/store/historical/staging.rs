//! Stage, then swap: how a run replaces its day partitions so that each one
//! is always entirely old or entirely new.
//!
//! Every new partition is first written as `{table}/_staging/{run id}/{day}.parquet`
//! (flat: one directory per run, not a day tree to create and remove). Only
//! once every partition is staged is each moved over its live file, one
//! object per partition:
//!
//! - on a local disk by a rename, atomic on a file system; the staged file
//!   is flushed to the disk before it (`fsync`) and the partition's
//!   directory after it, so a power loss leaves the old file or the whole
//!   new one, never an empty or truncated one ([`crate::durable`]);
//! - in an object store by a server-side copy, which makes the new object
//!   appear whole (`object_store`'s `rename` is that copy followed by a
//!   delete of the source). The staged objects are deleted once every
//!   partition is swapped, with the rest of the run's staging: a delete
//!   that fails in the middle of the swap would otherwise stop it half way
//!   for an object nobody reads.
//!
//! Staging left by a run that died is never read, and the next run of the
//! feature set removes it before it stages anything (the run lock makes
//! sure no other run is staging then).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::ScopedJoinHandle;

use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};
use polars::prelude::*;

use super::partition::{encode_partitions, partition_path, PART_FILE};
use super::{HistoricalStore, IO_CONCURRENCY};
use crate::error::{Error, Result};
use crate::io::block_on;

/// The directory of every run's staging, below a table.
pub(super) const STAGING: &str = "_staging";
/// Partitions encoded and staged together: bounds the encoded bytes held
/// in memory at once.
const STAGE_BATCH: usize = 64;
/// Rows copied out and encoded together, at most (with two days at
/// least): a day of a large run is hundreds of thousands of rows.
const STAGE_ROWS: usize = 1_000_000;

/// Threads for a local disk's writes and renames. Each file's write or
/// rename ends in a flush that mostly waits on the disk: with as many threads
/// as cores, the cores idle through those waits (a run of many small day
/// files was bound by them).
fn disk_threads() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(IO_CONCURRENCY / 2)
            .thread_name(|i| format!("featurestore-disk-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Runs `f` on [`disk_threads`], or where it is called when they could not
/// be started.
fn on_disk_threads<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match disk_threads() {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// Where every run stages its partitions, below `table`.
pub(super) fn staging_root(table: &StorePath) -> StorePath {
    table.clone().join(STAGING)
}

/// A fresh staging directory for one run, below `table`.
pub(super) fn run_dir(table: &StorePath) -> StorePath {
    staging_root(table).join(uuid::Uuid::new_v4().to_string().as_str())
}

impl HistoricalStore {
    /// Writes the rows `part(day)` of each day of `days` (`rows` in all)
    /// as `{dir}/{day}.parquet`; returns the staged file of each day.
    pub(super) fn stage(
        &self,
        dir: &StorePath,
        days: &[NaiveDate],
        part: &(dyn Fn(NaiveDate) -> Result<DataFrame> + Sync),
        rows: usize,
    ) -> Result<Vec<(NaiveDate, StorePath)>> {
        use rayon::prelude::*;
        let per_day = rows.div_ceil(days.len().max(1)).max(1);
        let batch_days = (STAGE_ROWS / per_day).clamp(2, STAGE_BATCH);
        // Rows are copied out a batch of days at a time, not all at once;
        // encoding is parallel (CPU). Each batch's files are written (I/O:
        // flushes to the disk, or puts) on a thread of their own while the
        // next batch is copied out and encoded, so that the cores do not
        // wait for the disk or the network between batches; at most one
        // batch is being written.
        std::thread::scope(|s| {
            let mut staged = Vec::with_capacity(days.len());
            let mut writing: Option<ScopedJoinHandle<'_, Result<Vec<_>>>> = None;
            let written = |h: ScopedJoinHandle<'_, Result<Vec<_>>>| {
                h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
            };
            for batch in days.chunks(batch_days) {
                let batch: Vec<(NaiveDate, DataFrame)> = batch
                    .par_iter()
                    .map(|day| Ok((*day, part(*day)?)))
                    .collect::<Result<_>>()?;
                let encoded = encode_partitions(batch)?;
                if let Some(h) = writing.take() {
                    staged.extend(written(h)?);
                }
                writing = Some(s.spawn(move || self.stage_encoded(dir, encoded)));
            }
            if let Some(h) = writing {
                staged.extend(written(h)?);
            }
            Ok(staged)
        })
    }

    /// Writes encoded partitions as `{dir}/{day}.parquet`.
    fn stage_encoded(
        &self,
        dir: &StorePath,
        encoded: Vec<(NaiveDate, bytes::Bytes)>,
    ) -> Result<Vec<(NaiveDate, StorePath)>> {
        if self.root.is_local() {
            return self.stage_local(dir, encoded);
        }
        let puts = encoded.into_iter().map(|(day, buf)| {
            let path = dir.clone().join(format!("{day}.parquet").as_str());
            async move {
                self.root
                    .store()
                    .put(&path, PutPayload::from(buf))
                    .await
                    .map_err(|e| self.error(&path, format!("staging the partition of {day}"), e))?;
                Ok::<_, Error>((day, path))
            }
        });
        block_on(
            futures::stream::iter(puts)
                .buffer_unordered(IO_CONCURRENCY)
                .try_collect(),
        )
    }

    /// [`stage`](Self::stage)'s writes on a local disk, each file flushed to
    /// the disk before it counts as staged. (`object_store`'s local puts
    /// rename without flushing.)
    fn stage_local(
        &self,
        dir: &StorePath,
        encoded: Vec<(NaiveDate, bytes::Bytes)>,
    ) -> Result<Vec<(NaiveDate, StorePath)>> {
        use rayon::prelude::*;
        on_disk_threads(|| {
            encoded
                .into_par_iter()
                .map(|(day, buf)| {
                    let path = dir.clone().join(format!("{day}.parquet").as_str());
                    let file = self.local_path(&path).expect("a local store");
                    crate::durable::write_synced(&file, &buf).map_err(|e| {
                        Error::store(
                            super::STORE,
                            file.display().to_string(),
                            format!("staging the partition of {day}"),
                            e,
                        )
                    })?;
                    Ok((day, path))
                })
                .collect()
        })
    }

    /// [`swap`](Self::swap) on a local disk: each staged file (already
    /// flushed) is renamed over its day's file, and the rename flushed.
    /// The partitions' missing directories are created (and flushed) first,
    /// together; the renames then run side by side, as the copies of
    /// [`swap`](Self::swap) do: each partition is old or new whenever the
    /// swap stops.
    pub(super) fn swap_local(
        &self,
        table: &StorePath,
        staged: &[(NaiveDate, StorePath)],
    ) -> Result<BTreeSet<NaiveDate>> {
        use rayon::prelude::*;
        let root = self.local_path(table).expect("a local store");
        let moves: Vec<(NaiveDate, PathBuf, PathBuf)> = staged
            .iter()
            .map(|(day, from)| {
                let to = partition_path(table, *day).join(PART_FILE);
                (
                    *day,
                    self.local_path(from).expect("a local store"),
                    self.local_path(&to).expect("a local store"),
                )
            })
            .collect();
        crate::durable::create_dirs(moves.iter().filter_map(|(_, _, to)| to.parent()), &root)
            .map_err(|e| {
                Error::store(
                    super::STORE,
                    root.display().to_string(),
                    "creating the partitions' directories",
                    e,
                )
            })?;
        let swapped = AtomicUsize::new(0);
        on_disk_threads(|| {
            moves
                .par_iter()
                .map(|(day, from, to)| {
                    crate::durable::publish(from, to, &root).map_err(|e| {
                        Error::store(
                            super::STORE,
                            to.display().to_string(),
                            format!("replacing the partition of {day}"),
                            e,
                        )
                    })?;
                    let n = swapped.fetch_add(1, Ordering::SeqCst) + 1;
                    crate::fail::point(|| format!("historical:swapped:{n}"));
                    Ok(*day)
                })
                .collect()
        })
    }

    /// Copies each staged object over its day's live object, in an object
    /// store; returns the days swapped.
    pub(super) async fn swap(
        &self,
        table: &StorePath,
        staged: &[(NaiveDate, StorePath)],
    ) -> Result<BTreeSet<NaiveDate>> {
        let swapped = AtomicUsize::new(0);
        // Owned items: futures borrowing from the closure's argument are
        // not provably `Send`, which `block_on` needs.
        let moves =
            staged.iter().cloned().map(|(day, from)| {
                let to = partition_path(table, day).join(PART_FILE);
                let swapped = &swapped;
                async move {
                    self.root.store().copy(&from, &to).await.map_err(|e| {
                        self.error(&to, format!("replacing the partition of {day}"), e)
                    })?;
                    let n = swapped.fetch_add(1, Ordering::SeqCst) + 1;
                    crate::fail::point(|| format!("historical:swapped:{n}"));
                    Ok::<_, Error>(day)
                }
            });
        futures::stream::iter(moves)
            .buffer_unordered(IO_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Deletes every file under `prefix`; on a local disk, the directories
    /// too (a rename leaves its source's directory behind, which only the
    /// file system can remove).
    pub(super) async fn remove_prefix(&self, prefix: &StorePath) -> Result<()> {
        let store = self.root.store();
        let files: Vec<_> = store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(|e| self.error(prefix, "listing staged files", e))?;
        futures::stream::iter(files.into_iter().map(|f| async move {
            match store.delete(&f.location).await {
                // Gone already: removed with an emptied directory.
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                other => other.map_err(|e| self.error(&f.location, "removing a staged file", e)),
            }
        }))
        .buffer_unordered(IO_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        if let Some(dir) = self.local_path(prefix) {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::store(
                        super::STORE,
                        dir.display().to_string(),
                        "removing the staging directory",
                        e,
                    ));
                }
                _ => {}
            }
            // `_staging` itself, once no other run is staging.
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
        Ok(())
    }
}
