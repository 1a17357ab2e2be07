//! Key columns computed from other columns of a source's rows: H3 cells of
//! a point and stacks of columns (Butterfree's `H3HashTransform` and
//! `StackTransform`). Each row read gives one row per value computed.

use polars::prelude::*;

use crate::error::{polars_message, Error, Result};
use crate::spec::{Derivation, SourceSpec};

/// `frame` (the source's columns as read, derived ones left out) with each
/// derived column computed, in the declared column order. Rows whose
/// derived value is null are left out when the column is no `Option`.
pub(crate) fn derive(spec: &SourceSpec, location: &str, frame: LazyFrame) -> Result<LazyFrame> {
    if spec.derived.is_empty() {
        return Ok(frame);
    }
    let fail = |e: PolarsError| Error::Source {
        source_name: spec.name.to_string(),
        location: location.to_string(),
        message: format!("computing derived columns: {}", polars_message(&e)),
    };
    let mut df = frame.collect().map_err(fail)?;
    for derived in spec.derived {
        let nullable = spec.column(derived.column).is_some_and(|c| c.nullable);
        let parts = match derived.derivation {
            Derivation::H3 {
                lat,
                lng,
                resolutions,
            } => h3_cells(&df, lat, lng, resolutions).map_err(fail)?,
            Derivation::Stack { columns } => columns
                .iter()
                .map(|c| df.column(c).map(|c| c.as_materialized_series().clone()))
                .collect::<PolarsResult<Vec<Series>>>()
                .map_err(fail)?,
        };
        df = stack(&df, derived.column, parts, nullable).map_err(fail)?;
    }
    let order: Vec<PlSmallStr> = spec.columns.iter().map(|c| c.name.into()).collect();
    Ok(df.select(order).map_err(fail)?.lazy())
}

/// One row per row of `df` and per part, row by row (the parts of a row in
/// order), the parts' values in column `name`.
fn stack(
    df: &DataFrame,
    name: &str,
    parts: Vec<Series>,
    nullable: bool,
) -> PolarsResult<DataFrame> {
    let n = df.height();
    let k = parts.len();
    let mut values: Option<Series> = None;
    for part in parts {
        let part = part.with_name(name.into());
        values = Some(match values {
            None => part,
            Some(mut all) => {
                all.append(&part)?;
                all
            }
        });
    }
    let Some(values) = values else {
        return Ok(df.clone());
    };
    let mut rows: Vec<IdxSize> = Vec::with_capacity(n * k);
    let mut picks: Vec<IdxSize> = Vec::with_capacity(n * k);
    for i in 0..n {
        for j in 0..k {
            let at = j * n + i;
            if !nullable && values.get(at).is_ok_and(|v| v.is_null()) {
                continue;
            }
            rows.push(i as IdxSize);
            picks.push(at as IdxSize);
        }
    }
    let left_out = n * k - rows.len();
    if left_out > 0 {
        tracing::info!(
            column = name,
            rows = left_out,
            "derived values that are null left out (the column is no `Option`)"
        );
    }
    let rows = IdxCa::from_vec("rows".into(), rows);
    let picks = IdxCa::from_vec("picks".into(), picks);
    let mut out = df.take(&rows)?;
    let values = values.take(&picks)?;
    if out.column(name).is_ok() {
        out.drop_in_place(name)?;
    }
    out.with_column(values.into_column())?;
    Ok(out)
}

/// The H3 cell of each row's point at each resolution, as text; null for a
/// row without both coordinates or with a coordinate that is not finite.
#[cfg(feature = "h3")]
fn h3_cells(df: &DataFrame, lat: &str, lng: &str, resolutions: &[u8]) -> PolarsResult<Vec<Series>> {
    let degrees = |name: &str| -> PolarsResult<Float64Chunked> {
        Ok(df
            .column(name)?
            .as_materialized_series()
            .cast(&DataType::Float64)?
            .f64()?
            .clone())
    };
    let (lat, lng) = (degrees(lat)?, degrees(lng)?);
    let points: Vec<Option<h3o::LatLng>> = lat
        .iter()
        .zip(lng.iter())
        .map(|(lat, lng)| h3o::LatLng::new(lat?, lng?).ok())
        .collect();
    resolutions
        .iter()
        .map(|&r| {
            let resolution = h3o::Resolution::try_from(r)
                .map_err(|e| polars_err!(ComputeError: "H3 resolution {r}: {e}"))?;
            let cells: StringChunked = points
                .iter()
                .map(|p| p.map(|p| p.to_cell(resolution).to_string()))
                .collect();
            Ok(cells.into_series())
        })
        .collect()
}

#[cfg(not(feature = "h3"))]
fn h3_cells(_: &DataFrame, _: &str, _: &str, _: &[u8]) -> PolarsResult<Vec<Series>> {
    Err(polars_err!(
        ComputeError: "H3 cells need the `h3` feature of featurestore-runtime"
    ))
}
