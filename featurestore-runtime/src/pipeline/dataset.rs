//! Datasets: feature sets joined onto a spine of events as of each event's
//! time, for training data that sees exactly what serving would have seen.
//!
//! For every spine row and every joined feature set, the joined values are
//! those of the feature set's row for the same key with the greatest
//! `timestamp <= spine timestamp` — never a row from the future. It is a
//! sorted as-of join (polars' `AsOf` join, grouped by key): memory is bounded
//! by the inputs, never by their product. Spine rows are neither dropped nor
//! duplicated; a row without a match gets nulls, or the declared fill.

use polars::prelude::*;

use crate::dtype::polars_dtype;
use crate::error::{polars_message, Error, PolarsContext, Result};
use crate::expr::{apply_sql, fill_literal};
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
        if fs.keys.len() != spec.keys.len() {
            return Err(err(
                spec,
                format!(
                    "`{}` has {} key column(s) but the dataset matches {}",
                    fs.name,
                    fs.keys.len(),
                    spec.keys.len()
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
            left_by: Some(spec.keys.iter().map(|k| (*k).into()).collect()),
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
/// each through a temporary file renamed into place, so a reader never sees
/// half a file. Returns the paths written.
pub fn write(
    spec: &DatasetSpec,
    frame: &DataFrame,
    dir: &std::path::Path,
    csv: bool,
    parquet: bool,
) -> Result<Vec<std::path::PathBuf>> {
    let io = |context: String| move |e: std::io::Error| Error::Io { context, source: e };
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let mut written = Vec::new();
    let mut put = |ext: &str, f: &dyn Fn(&mut std::fs::File) -> PolarsResult<()>| -> Result<()> {
        let path = dir.join(format!("{}.{ext}", spec.name));
        let tmp = dir.join(format!(".{}.{ext}.{}", spec.name, uuid::Uuid::new_v4()));
        let mut file =
            std::fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        let result = f(&mut file)
            .ctx(|| format!("writing {}", path.display()))
            .and_then(|()| {
                file.sync_all()
                    .map_err(io(format!("writing {}", path.display())))
            })
            .and_then(|()| {
                std::fs::rename(&tmp, &path).map_err(io(format!("renaming to {}", path.display())))
            });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result?;
        written.push(path);
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
}
