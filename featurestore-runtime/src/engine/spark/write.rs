//! The historical store written by Spark, in the polars engine's layout.
//!
//! Spark writes `{root}/{entity}/{feature_set}/year=Y/month=M/day=D/part-….parquet`
//! with dynamic partition overwrite: each day partition the run has rows
//! for is replaced (Spark stages the files of a job, then swaps each
//! partition's directory), and no other partition is touched. Days of the
//! run without any row keep no partition: they are deleted afterwards, from
//! this process, through `object_store`, as the polars engine deletes them
//! last. A failure before the swap leaves every partition as it was.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::NaiveDate;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;

use super::client::SparkClient;
use crate::error::{Error, Result};
use crate::location::FileLocation;
use crate::spec::FeatureSetSpec;

/// A location as a Spark (Hadoop) path: object-store URLs with the scheme
/// Hadoop's connectors register (`s3://` is `s3a://`), local paths as they are.
pub fn spark_path(location: &str) -> String {
    let location = location.strip_prefix("file://").unwrap_or(location);
    match location.split_once("://") {
        Some(("s3", rest)) => format!("s3a://{rest}"),
        Some(("az" | "azure", rest)) => format!("abfss://{rest}"),
        _ => location.to_string(),
    }
}

/// The directory of a feature set's table under the store's root.
pub fn table_path(root: &str, spec: &FeatureSetSpec) -> String {
    format!(
        "{}/{}/{}",
        spark_path(root).trim_end_matches('/'),
        spec.entity(),
        spec.name
    )
}

/// Has Spark write the rows of temporary view `view` to the table of `spec`,
/// replacing the day partitions it has rows for.
pub fn write_partitions(
    client: &SparkClient,
    view: &str,
    root: &str,
    spec: &FeatureSetSpec,
) -> Result<()> {
    let path = table_path(root, spec);
    client.with_session("writing the historical store", |session| {
        session
            .table(view)?
            .write()
            .mode("overwrite")
            .partition_by(["year", "month", "day"])
            // Also set for the session; given here so the write says what it
            // relies on wherever the session's settings come from.
            .option("partitionOverwriteMode", "dynamic")
            .parquet(&path)
    })
}

/// Deletes the day partitions of `days` (inclusive) that are not in
/// `written`, the files Spark leaves beside its data (`_SUCCESS`,
/// checksums), which are no Parquet, and the staging files of an earlier
/// write whose server died: returns the partitions deleted.
pub fn delete_other_days(
    root: &str,
    base_dir: &Path,
    spec: &FeatureSetSpec,
    days: (NaiveDate, NaiveDate),
    written: &BTreeSet<NaiveDate>,
) -> Result<usize> {
    let table =
        FileLocation::parse(root, base_dir)?.join(&format!("{}/{}", spec.entity(), spec.name));
    let store = table.store().clone();
    let prefix = table.path().clone();
    let err = |e: object_store::Error| {
        Error::store(
            "historical store",
            table.to_string(),
            "cleaning up after Spark's write",
            e,
        )
    };
    crate::io::block_on(async {
        let files: Vec<_> = store.list(Some(&prefix)).try_collect().await.map_err(err)?;
        let mut deleted = BTreeSet::new();
        for f in files {
            let parts: Vec<String> = f
                .location
                .prefix_match(&prefix)
                .map(|it| it.map(|p| p.as_ref().to_string()).collect())
                .unwrap_or_default();
            let name = parts.last().map(String::as_str).unwrap_or_default();
            let marker = name.starts_with('_') || name.starts_with('.');
            // What a write of a killed server left: the run lock is held, so
            // no other write is staging there now.
            let abandoned = parts
                .first()
                .is_some_and(|p| p.starts_with(".spark-staging"));
            match partition_day(&parts) {
                _ if abandoned => store.delete(&f.location).await.map_err(err)?,
                Some(day) if day >= days.0 && day <= days.1 && !written.contains(&day) => {
                    store.delete(&f.location).await.map_err(err)?;
                    deleted.insert(day);
                }
                Some(_) if marker => store.delete(&f.location).await.map_err(err)?,
                None if parts.len() == 1 && marker => {
                    store.delete(&f.location).await.map_err(err)?
                }
                _ => {}
            }
        }
        Ok::<_, Error>(deleted.len())
    })
}

fn partition_day(parts: &[String]) -> Option<NaiveDate> {
    let [y, m, d, _file] = parts else { return None };
    let y = y.strip_prefix("year=")?.parse().ok()?;
    let m = m.strip_prefix("month=")?.parse().ok()?;
    let d = d.strip_prefix("day=")?.parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Whether the table of `spec` under the store at `root` holds any
/// partition file (a dataset on Spark reads its rows from there).
pub fn table_has_rows(root: &str, base_dir: &Path, spec: &FeatureSetSpec) -> Result<bool> {
    let table =
        FileLocation::parse(root, base_dir)?.join(&format!("{}/{}", spec.entity(), spec.name));
    let store = table.store().clone();
    let prefix = table.path().clone();
    crate::io::block_on(async {
        let mut files = store.list(Some(&prefix));
        while let Some(f) = files.try_next().await.map_err(|e| {
            Error::store(
                "historical store",
                table.to_string(),
                "listing a feature set's partitions",
                e,
            )
        })? {
            if f.location.as_ref().ends_with(".parquet") {
                return Ok(true);
            }
        }
        Ok(false)
    })
}
