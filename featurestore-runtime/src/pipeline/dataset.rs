//! Datasets: feature sets joined onto a spine of events as of each event's
//! time, for training data that sees exactly what serving would have seen.
//!
//! For every spine row and every joined feature set, the joined values are
//! those of the feature set's row for the same key with the greatest
//! `timestamp <= spine timestamp` — never a row from the future. It is a
//! sorted as-of join (polars' `AsOf` join, grouped by key): memory is bounded
//! by the inputs, never by their product. Spine rows are neither dropped nor
//! duplicated; a row without a match gets nulls, or the declared fill.

use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use polars::prelude::*;

use crate::dtype::polars_dtype;
use crate::error::{polars_message, Error, PolarsContext, Result};
use crate::expr::{apply_sql, fill_literal};
use crate::io::block_on;
use crate::location::FileLocation;
use crate::spec::{ColumnOrigin, DatasetSpec, WindowUnit, TIMESTAMP_COLUMN};

const ROW: &str = "__fs_row";
const SPINE_TS: &str = "__fs_spine_ts";

fn err(spec: &DatasetSpec, message: impl Into<String>) -> Error {
    Error::Data {
        feature_set: format!("dataset {}", spec.name),
        message: message.into(),
    }
}

fn tolerance(w: crate::spec::Window) -> String {
    let unit = match w.unit {
        WindowUnit::Minutes => "m",
        WindowUnit::Hours => "h",
        WindowUnit::Days => "d",
        WindowUnit::Weeks => "w",
    };
    format!("{}{unit}", w.amount)
}

/// Joins each feature set's rows onto the spine, as of each spine row's time.
///
/// `spine` holds the spine source's events (before the dataset's `query` and
/// `filter`); `features[i]` holds the rows of `spec.joins[i]`'s feature set
/// (its keys, `timestamp` and output columns, in any order). The result has
/// [`DatasetSpec::columns`], in the spine's order.
pub fn build(spec: &DatasetSpec, spine: LazyFrame, features: Vec<LazyFrame>) -> Result<DataFrame> {
    if features.len() != spec.joins.len() {
        return Err(err(
            spec,
            format!(
                "{} feature frames for {} joins",
                features.len(),
                spec.joins.len()
            ),
        ));
    }
    let spine =
        apply_sql(spine, spec.spine.name, spec.query, spec.filter).map_err(|m| err(spec, m))?;

    // The spine, with its order remembered and its time as microseconds.
    let mut lf = spine
        .with_row_index(ROW, None)
        .with_column(
            col(spec.timestamp)
                .cast(DataType::Datetime(TimeUnit::Microseconds, None))
                .alias(SPINE_TS),
        )
        .sort([SPINE_TS], SortMultipleOptions::default());

    for (i, (join, frame)) in spec.joins.iter().zip(features).enumerate() {
        let fs = join.feature_set;
        if fs.keys.len() != join.keys.len() {
            return Err(err(
                spec,
                format!(
                    "`{}` has {} key column(s) but the dataset matches {} to them ({})",
                    fs.name,
                    fs.keys.len(),
                    join.keys.len(),
                    join.keys.join(", ")
                ),
            ));
        }
        let right_ts = format!("__fs_ts_{i}");
        let right_keys: Vec<String> = (0..fs.keys.len())
            .map(|k| format!("__fs_key_{i}_{k}"))
            .collect();
        let mut select: Vec<Expr> = fs
            .keys
            .iter()
            .zip(&right_keys)
            .map(|(k, alias)| col(k.name).alias(alias.as_str()))
            .collect();
        select.push(
            col(TIMESTAMP_COLUMN)
                .cast(DataType::Datetime(TimeUnit::Microseconds, None))
                .alias(right_ts.as_str()),
        );
        for o in fs.outputs {
            select.push(col(o.name).alias(format!("{}{}", join.prefix, o.name)));
        }
        let right = frame
            .select(select)
            .sort([right_ts.as_str()], SortMultipleOptions::default());
        let options = AsOfOptions {
            strategy: AsofStrategy::Backward,
            tolerance: None,
            tolerance_str: join.ttl.map(|w| tolerance(w).into()),
            // Each feature set on its own key columns of the spine: several
            // entities can be joined onto one spine.
            left_by: Some(join.keys.iter().map(|k| (*k).into()).collect()),
            right_by: Some(right_keys.iter().map(|k| k.as_str().into()).collect()),
            allow_eq: true,
            // Both sides are sorted by time just above. With `by` groups
            // polars cannot check sortedness and would only print a warning.
            check_sortedness: false,
        };
        lf = lf
            .join_builder()
            .with(right)
            .left_on([col(SPINE_TS)])
            .right_on([col(right_ts.as_str())])
            .how(JoinType::AsOf(Box::new(options)))
            .finish()
            .drop(by_name(
                right_keys
                    .iter()
                    .map(String::as_str)
                    .chain([right_ts.as_str()]),
                false,
                false,
            ));
    }

    let columns = spec.columns();
    let mut out: Vec<Expr> = Vec::with_capacity(columns.len());
    for c in &columns {
        let e = match c.origin {
            ColumnOrigin::Spine { column } => col(column),
            ColumnOrigin::Timestamp { .. } => col(SPINE_TS),
            ColumnOrigin::Feature { join, column } => {
                let e = col(format!("{}{column}", spec.joins[join].prefix));
                match spec.fill_null {
                    Some(fill) => e.fill_null(fill_literal(fill)),
                    None => e,
                }
            }
        };
        out.push(e.strict_cast(polars_dtype(c.dtype)).alias(c.name.as_str()));
    }
    lf.sort([ROW], SortMultipleOptions::default())
        .select(out)
        .collect()
        .map_err(|e| err(spec, format!("joining: {}", polars_message(&e))))
}

/// Writes a dataset's rows to `{dir}/{name}.csv` and/or `{dir}/{name}.parquet`,
/// in a local directory or an object store. A reader never sees half a
/// file: each is encoded into a temporary local file first, then on a disk
/// renamed into place, in an object store uploaded as one object (in parts
/// when large), which appears only once whole. On a disk the file is
/// flushed before the rename and its directory after (`durable.rs`),
/// and the temporary files a killed run of the dataset left beside the
/// targets are removed first. Returns the files written.
pub fn write(
    spec: &DatasetSpec,
    frame: &DataFrame,
    dir: &FileLocation,
    csv: bool,
    parquet: bool,
) -> Result<Vec<FileLocation>> {
    let io = |context: String| move |e: std::io::Error| Error::Io { context, source: e };
    // Beside the target on a disk, so the rename stays on one file system.
    let scratch = match dir.local_path() {
        Some(local) => {
            std::fs::create_dir_all(local).map_err(io(format!("creating {}", local.display())))?;
            remove_leftovers(spec, local)?;
            local.to_path_buf()
        }
        None => std::env::temp_dir(),
    };
    let mut written = Vec::new();
    let mut put = |ext: &str, f: &dyn Fn(&mut std::fs::File) -> PolarsResult<()>| -> Result<()> {
        let target = dir.join(&format!("{}.{ext}", spec.name));
        let tmp = scratch.join(format!(
            "{}{}",
            temporary_prefix(spec, ext),
            uuid::Uuid::new_v4()
        ));
        let mut file =
            std::fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        let result = f(&mut file)
            .ctx(|| format!("writing {target}"))
            .and_then(|()| file.sync_all().map_err(io(format!("writing {target}"))))
            .map(|()| crate::fail::point(|| format!("dataset:encoded:{ext}")))
            .and_then(|()| match target.local_path() {
                Some(path) => crate::durable::publish(&tmp, path, &scratch)
                    .map_err(io(format!("renaming to {}", path.display()))),
                None => upload(&tmp, &target, UPLOAD_PART),
            });
        if result.is_err() || target.local_path().is_none() {
            let _ = std::fs::remove_file(&tmp);
        }
        result?;
        written.push(target);
        Ok(())
    };
    if csv {
        put("csv", &|file| {
            let mut df = frame.clone();
            CsvWriter::new(file)
                .include_header(true)
                .with_datetime_format(Some("%Y-%m-%d %H:%M:%S".into()))
                .finish(&mut df)
        })?;
    }
    if parquet {
        put("parquet", &|file| {
            let mut df = frame.clone();
            ParquetWriter::new(file).finish(&mut df).map(|_| ())
        })?;
    }
    Ok(written)
}

/// The start of the name of a temporary file of `spec`'s `ext` file: hidden
/// (a leading dot), so that no reader of the directory takes it for data.
fn temporary_prefix(spec: &DatasetSpec, ext: &str) -> String {
    format!(".{}.{ext}.", spec.name)
}

/// Removes the temporary files of `spec` in `dir`: left by a run that was
/// killed before its rename. Runs of one dataset hold the locks of the same
/// feature sets, so none is writing them now.
fn remove_leftovers(spec: &DatasetSpec, dir: &std::path::Path) -> Result<()> {
    let prefixes = [
        temporary_prefix(spec, "csv"),
        temporary_prefix(spec, "parquet"),
    ];
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Io {
        context: format!("listing {}", dir.display()),
        source: e,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| Error::Io {
                context: format!("removing {}, left by a run that was killed", path.display()),
                source: e,
            })?;
            tracing::info!(file = %path.display(), "removed a killed run's temporary file");
        }
    }
    Ok(())
}

/// Parts of a multipart upload, and the size above which a file is sent in
/// parts rather than with one put (S3 takes up to 5 GiB in one put, and
/// parts of 5 MiB to 5 GiB).
const UPLOAD_PART: usize = 16 * 1024 * 1024;
/// Parts of one upload in flight at once.
const UPLOAD_CONCURRENCY: usize = 4;

/// Uploads the local file `file` as the object `target`, in parts of
/// `part` bytes when it is larger than one part; a failed multipart upload
/// is aborted, so no partial object is left.
fn upload(file: &std::path::Path, target: &FileLocation, part: usize) -> Result<()> {
    use std::io::Read;
    let failed =
        |e: object_store::Error| Error::store("datasets", target.to_string(), "uploading", e);
    let io = |e: std::io::Error| Error::Io {
        context: format!("reading {} to upload it to {target}", file.display()),
        source: e,
    };
    let len = std::fs::metadata(file).map_err(io)?.len();
    let store = target.store();
    if len <= part as u64 {
        let bytes = std::fs::read(file).map_err(io)?;
        return block_on(store.put(target.path(), PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(failed);
    }
    let mut reader = std::fs::File::open(file).map_err(io)?;
    // One future for the whole upload: the parts are sent by tasks of the
    // I/O runtime, which must be current when they are spawned.
    block_on(async {
        let mut upload = WriteMultipart::new_with_chunk_size(
            store.put_multipart(target.path()).await.map_err(failed)?,
            part,
        );
        let mut buf = vec![0u8; part];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = upload.abort().await;
                    return Err(io(e));
                }
            };
            if let Err(e) = upload.wait_for_capacity(UPLOAD_CONCURRENCY).await {
                let _ = upload.abort().await;
                return Err(failed(e));
            }
            upload.write(&buf[..n]);
        }
        upload.finish().await.map(|_| ()).map_err(failed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Window;

    #[test]
    fn tolerances_use_polars_duration_units() {
        let w = |amount, unit| Window { amount, unit };
        assert_eq!(tolerance(w(30, WindowUnit::Days)), "30d");
        assert_eq!(tolerance(w(2, WindowUnit::Weeks)), "2w");
        assert_eq!(tolerance(w(12, WindowUnit::Hours)), "12h");
        assert_eq!(tolerance(w(5, WindowUnit::Minutes)), "5m");
    }

    #[test]
    fn a_file_uploaded_whole_or_in_parts_arrives_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rows");
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&file, &bytes).unwrap();
        for (name, part) in [("whole", 1 << 20), ("parts", 1000), ("one-part", 10_000)] {
            let target = FileLocation::parse(
                &format!("memory://dataset-upload/{name}.bin"),
                std::path::Path::new("/"),
            )
            .unwrap();
            upload(&file, &target, part).unwrap();
            let got =
                block_on(async { target.store().get(target.path()).await?.bytes().await }).unwrap();
            assert_eq!(got.as_ref(), bytes.as_slice(), "{name}");
        }
    }
}
