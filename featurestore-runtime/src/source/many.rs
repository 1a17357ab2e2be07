//! A source of many files (a directory, a prefix, a glob, a Hive tree):
//! each file read as a source of one file is, with its own format, bad-row
//! policy and messages naming it; their rows then follow one another in
//! the order of the files' paths.
//!
//! A declared column named as a `key=value` directory above the files
//! (`year=2020/month=05/…`) takes its value from the path, as Hive and
//! Spark readers do: the files need not hold it, and if they do, the
//! path's value wins.

use polars::prelude::*;

use super::file::listing::Listed;
use super::{read_file_or_none, source_error, Extract, Rejected, SourceLocations};
use crate::dtype::polars_dtype;
use crate::error::{polars_message, Result};
use crate::spec::{ColumnSpec, Format, SourceSpec};

/// Hive's name for a partition whose value is null.
const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// Reads `files` (sorted, not empty), listed under `root`, as source `spec`.
pub(super) fn read(
    spec: &SourceSpec,
    root: &str,
    files: &[Listed],
    declared: Format,
    locations: &SourceLocations,
) -> Result<Extract> {
    let mut frames = Vec::with_capacity(files.len());
    let rejected = each(
        spec,
        root,
        files,
        declared,
        locations,
        &mut |per_file, listed, by_name, visit| {
            let (frame, bad) =
                read_file_or_none(per_file, &listed.location, by_name, locations, true)?;
            visit(frame)?;
            Ok(bad)
        },
        &mut |frame| {
            frames.push(frame.lazy());
            Ok(())
        },
    )?;
    let frame = concat(frames, UnionArgs::default())
        .map_err(|e| source_error(spec, root, polars_message(&e)))?;
    Ok(Extract { frame, rejected })
}

/// How one file of many is read: `read(spec of the file, file, format,
/// visit)` hands its rows to `visit` (in one frame or several) and returns
/// the rows it left out.
pub(super) type ReadOne<'a> = dyn FnMut(
        &SourceSpec,
        &Listed,
        Format,
        &mut dyn FnMut(DataFrame) -> Result<()>,
    ) -> Result<Vec<Rejected>>
    + 'a;

/// Reads `files` one after another with `read`, and hands their rows, with
/// the columns their path gives and in the declared order, to `visit`;
/// returns the rows left out.
pub(super) fn each(
    spec: &SourceSpec,
    root: &str,
    files: &[Listed],
    declared: Format,
    locations: &SourceLocations,
    read: &mut ReadOne<'_>,
    visit: &mut dyn FnMut(DataFrame) -> Result<()>,
) -> Result<Vec<Rejected>> {
    let keys: Vec<&str> = files[0]
        .partitions
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    if let Some(other) = files.iter().find(|f| {
        !f.partitions
            .iter()
            .map(|(k, _)| k.as_str())
            .eq(keys.iter().copied())
    }) {
        return Err(source_error(
            spec,
            &other.location.to_string(),
            format!(
                "the partition directories ({}) differ from those of {} ({}): a source's files \
                 must all sit at the same depth of one partitioning",
                names(&other.partitions),
                files[0].location,
                names(&files[0].partitions)
            ),
        ));
    }
    let from_path: Vec<&ColumnSpec> = spec
        .columns
        .iter()
        .filter(|c| keys.contains(&c.name))
        .collect();
    let per_file = file_spec(spec, &from_path);

    let mut rejected: Vec<Rejected> = Vec::new();
    let mut rows = 0usize;
    for listed in files {
        if listed.size == 0 {
            // Exporters write empty part files for empty partitions.
            tracing::info!(source = spec.name, file = %listed.location, "empty file left out");
            continue;
        }
        let by_name = format_of(spec, declared, &listed.relative, locations);
        let mut with_path = |frame: DataFrame| -> Result<()> {
            rows += frame.height();
            let mut lf = frame.lazy();
            for column in &from_path {
                lf = lf.with_column(partition_value(spec, listed, column)?);
            }
            let frame = lf
                .select(spec.columns.iter().map(|c| col(c.name)).collect::<Vec<_>>())
                .collect()
                .map_err(|e| {
                    source_error(spec, &listed.location.to_string(), polars_message(&e))
                })?;
            visit(frame)
        };
        rejected.extend(read(&per_file, listed, by_name, &mut with_path)?);
    }
    if rows == 0 {
        let why = match rejected.first() {
            None => format!(
                "no rows in any of its {} file(s): a run on them would empty every partition \
                 of its range, so it is refused",
                files.len()
            ),
            Some(r) => format!(
                "no rows left: every row of its {} file(s) was rejected; first file with \
                 rejected rows: {}",
                files.len(),
                r.location
            ),
        };
        return Err(source_error(spec, root, why));
    }
    Ok(rejected)
}

/// `spec` without the columns taken from the path, for reading one file.
fn file_spec(spec: &SourceSpec, from_path: &[&ColumnSpec]) -> SourceSpec {
    if from_path.is_empty() {
        return *spec;
    }
    let columns: Vec<ColumnSpec> = spec
        .columns
        .iter()
        .filter(|c| !from_path.iter().any(|p| p.name == c.name))
        .copied()
        .collect();
    // A spec holds `'static` columns (they come from the declarations). One
    // small list per read of a partitioned source is leaked, which a
    // process reading sources a bounded number of times can afford.
    SourceSpec {
        columns: Vec::leak(columns),
        ..*spec
    }
}

/// The format of the file at `relative`: configured, else what its name
/// says, else declared.
fn format_of(
    spec: &SourceSpec,
    declared: Format,
    relative: &str,
    locations: &SourceLocations,
) -> Format {
    locations
        .formats
        .get(spec.name)
        .copied()
        .or_else(|| Format::from_path(relative))
        .unwrap_or(declared)
}

/// The column `column` of the rows of `listed`: the value of its partition
/// directory, in the declared type.
fn partition_value(spec: &SourceSpec, listed: &Listed, column: &ColumnSpec) -> Result<Expr> {
    let value = listed
        .partitions
        .iter()
        .find(|(k, _)| k == column.name)
        .map(|(_, v)| v.as_str())
        .unwrap_or(HIVE_NULL);
    let dtype = polars_dtype(column.dtype);
    let at = listed.location.to_string();
    if value == HIVE_NULL || value.is_empty() {
        if !column.nullable {
            return Err(source_error(
                spec,
                &at,
                format!(
                    "the partition directory `{}={value}` holds no value, but column `{}` is \
                     not an `Option`",
                    column.name, column.name
                ),
            ));
        }
        return Ok(lit(NULL).cast(dtype).alias(column.name));
    }
    let text = Series::new(column.name.into(), [value]);
    let typed = text
        .strict_cast(&dtype)
        .ok()
        .filter(|s| s.null_count() == 0)
        .ok_or_else(|| {
            source_error(
                spec,
                &at,
                format!(
                    "the partition directory `{}={value}` is not a {} (column `{}`)",
                    column.name, column.dtype, column.name
                ),
            )
        })?;
    let scalar = typed
        .get(0)
        .map_err(|e| source_error(spec, &at, polars_message(&e)))?
        .into_static();
    Ok(lit(Scalar::new(dtype, scalar)).alias(column.name))
}

fn names(partitions: &[(String, String)]) -> String {
    if partitions.is_empty() {
        return "none".to_string();
    }
    partitions
        .iter()
        .map(|(k, _)| format!("{k}="))
        .collect::<Vec<_>>()
        .join("/")
}
