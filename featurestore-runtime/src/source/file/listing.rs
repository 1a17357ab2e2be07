//! The files of a source location: one file, every file under a directory
//! or an object-store prefix, the files matching a glob, and the `key=value`
//! directories of a Hive-partitioned tree above each of them.
//!
//! As Spark and Hive readers do, files and directories whose names begin
//! with `_` or `.` (`_SUCCESS`, `_temporary/`, `.part-0.crc`) are not data
//! and are left out. Files are read in the order of their paths, so a run
//! over the same files reads their rows in the same order every time.

use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt;

use super::super::{source_error, SourceLocations};
use crate::error::{Error, Result};
use crate::location::{redact, resolve, FileLocation};
use crate::spec::SourceSpec;

/// What messages call the store a listing is made in.
const STORE: &str = "source store";

/// One file of a source of many files.
#[derive(Debug)]
pub(in crate::source) struct Listed {
    /// The file.
    pub location: FileLocation,
    /// Its path below the source's root (`year=2020/month=05/part-0.csv`).
    pub relative: String,
    /// The `key=value` directories between the root and the file, outer first.
    pub partitions: Vec<(String, String)>,
    /// Its size in bytes.
    pub size: u64,
}

/// The files a source location names.
#[derive(Debug)]
pub(in crate::source) enum Files {
    /// One file (or nothing there: reading it says so).
    One(FileLocation),
    /// Several: a directory, a prefix or a glob, with its root for messages.
    Many { root: String, files: Vec<Listed> },
}

/// The characters that make a path segment a glob pattern.
const GLOB: [char; 3] = ['*', '?', '['];

/// The files of the location `raw` of source `spec`: a file, every data
/// file under a directory or prefix, or the data files matching a glob
/// (`s3://b/events/2020-*.csv`, `data/**/*.csv`; `*` does not cross a `/`,
/// `**` does).
pub(in crate::source) fn files(
    spec: &SourceSpec,
    raw: &str,
    locations: &SourceLocations,
) -> Result<Files> {
    let resolved = resolve(&locations.base_dir, raw);
    let (root_raw, pattern) = split_glob(&resolved);
    let named = |e: Error| match e {
        Error::Location { location, message } => source_error(spec, &location, message),
        other => other,
    };
    let root = locations
        .storage
        .parse(root_raw, &locations.base_dir)
        .map_err(named)?;
    let pattern = match pattern {
        Some(p) => Some(glob::Pattern::new(p).map_err(|e| {
            source_error(
                spec,
                &redact(&resolved),
                format!("not a valid glob pattern: {e}"),
            )
        })?),
        None => None,
    };
    if pattern.is_none() && !is_a_tree(&root)? {
        return Ok(Files::One(root));
    }
    let listed = match root.local_path() {
        Some(dir) => list_local(spec, dir)?,
        None => list_objects(&root)?,
    };
    let matching: Vec<Listed> = listed
        .into_iter()
        .filter(|l| is_data(&l.relative))
        .filter(|l| {
            pattern.as_ref().is_none_or(|p| {
                p.matches_with(
                    &l.relative,
                    glob::MatchOptions {
                        require_literal_separator: true,
                        ..glob::MatchOptions::new()
                    },
                )
            })
        })
        .collect();
    let shown = redact(&resolved);
    if matching.is_empty() {
        if pattern.is_none() && root.local_path().is_none() {
            // Nothing under the prefix either: reading it as one object
            // says "no such file", as for any missing object.
            return Ok(Files::One(root));
        }
        let what = match pattern {
            Some(_) => "no data file matches the pattern".to_string(),
            None => "the directory holds no data file (names beginning with `_` or `.` are \
                     not data)"
                .to_string(),
        };
        return Err(source_error(spec, &shown, what));
    }
    let mut files = matching;
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(Files::Many { root: shown, files })
}

/// `resolved` split at its first segment holding a glob character: the
/// literal directory above it, and the pattern below that directory.
fn split_glob(resolved: &str) -> (&str, Option<&str>) {
    let Some(at) = resolved.find(GLOB) else {
        return (resolved, None);
    };
    match resolved[..at].rfind('/') {
        Some(slash) => (&resolved[..slash], Some(&resolved[slash + 1..])),
        None => (".", Some(resolved)),
    }
}

/// Whether `root` is a directory (local) or a prefix with objects under it
/// rather than one object.
fn is_a_tree(root: &FileLocation) -> Result<bool> {
    if let Some(path) = root.local_path() {
        return Ok(path.is_dir());
    }
    let store = root.store();
    let head = crate::io::block_on(store.head(root.path()));
    Ok(matches!(head, Err(object_store::Error::NotFound { .. })))
}

/// Whether a file at `relative` below the root holds data: no segment of
/// its path begins with `_` or `.`, except `key=value` partition
/// directories, whose names may (`_id=3` is a partition).
fn is_data(relative: &str) -> bool {
    relative
        .split('/')
        .all(|s| !(s.starts_with('_') || s.starts_with('.')) || is_partition(s))
}

fn is_partition(segment: &str) -> bool {
    segment
        .split_once('=')
        .is_some_and(|(k, _)| !k.is_empty() && !k.starts_with('.') && k != "_temporary")
}

/// The `key=value` directories of `relative` (not its file name).
fn partitions(relative: &str) -> Vec<(String, String)> {
    let mut dirs: Vec<&str> = relative.split('/').collect();
    dirs.pop();
    dirs.into_iter()
        .filter_map(|d| d.split_once('='))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn list_local(spec: &SourceSpec, dir: &Path) -> Result<Vec<Listed>> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    let shown = |p: &Path| p.display().to_string();
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| {
            source_error(spec, &shown(&d), format!("cannot list the directory: {e}"))
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| {
                source_error(spec, &shown(&d), format!("cannot list the directory: {e}"))
            })?;
            let path = entry.path();
            // `metadata` follows links: a linked file is read, a dangling
            // link is named when it is opened.
            let meta = std::fs::metadata(&path).ok();
            if meta.as_ref().is_some_and(|m| m.is_dir()) {
                stack.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push(Listed {
                partitions: partitions(&relative),
                relative,
                size: meta.map_or(0, |m| m.len()),
                location: FileLocation::local(&path),
            });
        }
    }
    Ok(out)
}

fn list_objects(root: &FileLocation) -> Result<Vec<Listed>> {
    let shown = root.to_string();
    let prefix: &ObjectPath = root.path();
    let metas: Vec<object_store::ObjectMeta> =
        crate::io::block_on(root.store().list(Some(prefix)).try_collect())
            .map_err(|e| Error::store(STORE, shown.as_str(), "listing the objects", e))?;
    let base = prefix.as_ref();
    Ok(metas
        .into_iter()
        .map(|m| {
            let relative = m
                .location
                .as_ref()
                .strip_prefix(base)
                .unwrap_or(m.location.as_ref())
                .trim_start_matches('/')
                .to_string();
            Listed {
                partitions: partitions(&relative),
                relative,
                size: m.size,
                location: root.listed(m.location),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_split_at_their_first_pattern_segment() {
        assert_eq!(
            split_glob("s3://b/events/2020-*.csv"),
            ("s3://b/events", Some("2020-*.csv"))
        );
        assert_eq!(
            split_glob("/data/year=*/month=05/*.csv"),
            ("/data", Some("year=*/month=05/*.csv"))
        );
        assert_eq!(split_glob("/data/events.csv"), ("/data/events.csv", None));
    }

    #[test]
    fn hidden_and_bookkeeping_files_are_not_data() {
        assert!(is_data("year=2020/part-0.csv"));
        assert!(is_data("_id=3/part-0.csv"));
        assert!(!is_data("_SUCCESS"));
        assert!(!is_data(".part-0.csv.crc"));
        assert!(!is_data("_temporary/0/part-0.csv"));
        assert!(!is_data("_temporary=1/part-0.csv"));
    }

    #[test]
    fn partitions_are_the_key_value_directories_above_the_file() {
        assert_eq!(
            partitions("year=2020/x/month=05/day=1.csv"),
            vec![
                ("year".to_string(), "2020".to_string()),
                ("month".to_string(), "05".to_string())
            ]
        );
        assert!(partitions("a=1.csv").is_empty());
    }
}
