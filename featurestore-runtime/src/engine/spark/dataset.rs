//! A dataset's point-in-time join compiled into Spark SQL.
//!
//! The polars engine joins with a sorted as-of join grouped by key
//! ([`crate::pipeline::dataset::build`]). Spark SQL has no as-of join, and
//! a range join on `feature time <= spine time` would pair every spine row
//! with every earlier row of its key. So each join is one sort instead: the
//! spine rows and the feature set's stored rows are put in one relation,
//! ordered per key by time with a feature row before a spine row of the
//! same instant (the match includes equal times), and each spine row takes
//! the last feature row before it (`last(…, true)` over the rows so far).
//! A match older than the join's `ttl` counts as missing, as polars'
//! tolerance does. Spine rows are neither dropped nor duplicated, and come
//! back in the spine's order (after `query` and `filter`), numbered as read.

use chrono::NaiveDate;

use super::plan::{ident, sql_type, string_lit, SourceInput};
use crate::error::{Error, Result};
use crate::spec::{ColumnOrigin, DatasetSpec, FillValue, WindowUnit, TIMESTAMP_COLUMN};
use crate::transform::DateRange;

/// The spine, as read, before the range, `query` and `filter`.
const RAW_SPINE: &str = "__fs_spine_raw";
/// The spine row's number, in read order.
pub(crate) const ROW: &str = "__fs_row";
const SPINE_TS: &str = "__fs_spine_ts";

/// The Spark SQL of a dataset's join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetPlan {
    /// Statements run first, in order: the spine's views and one view over
    /// each joined feature set's historical table.
    pub views: Vec<String>,
    /// The dataset's rows: [`DatasetSpec::columns`], then the spine row's
    /// number, in that order.
    pub rows: String,
}

impl DatasetPlan {
    /// The plan as a SQL script, for people.
    pub fn script(&self) -> String {
        let mut out = String::from("-- 1. the spine and the feature sets' stored rows\n");
        for v in &self.views {
            out.push_str(v);
            out.push_str(";\n");
        }
        out.push_str("\n-- 2. the point-in-time join; the rows come back in the spine's order\n");
        out.push_str(&self.rows);
        out.push_str(";\n");
        out
    }
}

fn feature_view(i: usize) -> String {
    format!("__fs_join_{i}")
}

fn fill_lit(fill: FillValue) -> String {
    match fill {
        FillValue::Int(i) => i.to_string(),
        FillValue::Float(f) => format!("CAST({} AS DOUBLE)", string_lit(&f.to_string())),
        FillValue::Bool(b) => b.to_string(),
        FillValue::Str(s) => string_lit(s),
    }
}

fn interval(w: crate::spec::Window) -> String {
    let (amount, unit) = match w.unit {
        WindowUnit::Minutes => (w.amount, "MINUTES"),
        WindowUnit::Hours => (w.amount, "HOURS"),
        WindowUnit::Days => (w.amount, "DAYS"),
        WindowUnit::Weeks => (w.amount * 7, "DAYS"),
    };
    format!("INTERVAL {amount} {unit}")
}

/// Why the Spark engine cannot build a dataset, or `None` if it can.
pub fn refusal(spec: &DatasetSpec) -> Option<String> {
    if let Some(reason) = super::plan::source_refusal(spec.spine) {
        return Some(format!("its spine: {reason}"));
    }
    for join in spec.joins {
        if let Some(reason) = super::plan::refusal(join.feature_set) {
            return Some(format!(
                "its feature set `{}` cannot run on Spark: {reason}",
                join.feature_set.name
            ));
        }
        if join.feature_set.keys.len() != join.keys.len() {
            return Some(format!(
                "`{}` has {} key column(s) but the dataset matches {} to them",
                join.feature_set.name,
                join.feature_set.keys.len(),
                join.keys.len()
            ));
        }
    }
    None
}

/// Refuses, before any work, a dataset the Spark engine cannot build.
pub fn check(spec: &DatasetSpec) -> Result<()> {
    match refusal(spec) {
        Some(reason) => Err(Error::Invalid(format!(
            "dataset `{}` cannot be built on Spark: {reason}; build it with `--engine polars`",
            spec.name
        ))),
        None => Ok(()),
    }
}

/// Compiles a dataset's join over spine rows in `range` (inclusive days),
/// reading each joined feature set's rows from its table under `tables[i]`.
pub fn compile(
    spec: &DatasetSpec,
    spine: &SourceInput,
    tables: &[String],
    range: DateRange,
) -> Result<DatasetPlan> {
    check(spec)?;
    let mut views = vec![super::plan::source_view_named(
        spec.spine, RAW_SPINE, spine,
    )?];

    // The spine under its own name (for `query`), its days only.
    let ts = format!("CAST({} AS TIMESTAMP_NTZ)", ident(spec.timestamp));
    let day = |d: NaiveDate| format!("TIMESTAMP_NTZ'{} 00:00:00'", d.format("%Y-%m-%d"));
    let mut bounds = Vec::new();
    if let Some(s) = range.start {
        bounds.push(format!("{ts} >= {}", day(s)));
    }
    if let Some(e) = range.end.and_then(|e| e.succ_opt()) {
        bounds.push(format!("{ts} < {}", day(e)));
    }
    let filter = if bounds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", bounds.join(" AND "))
    };
    views.push(format!(
        "CREATE OR REPLACE TEMPORARY VIEW {} AS SELECT * FROM {}{filter}",
        ident(spec.spine.name),
        ident(RAW_SPINE)
    ));

    // Each feature set's stored rows up to the end date, as polars reads them.
    let upto = range
        .end
        .and_then(|e| e.succ_opt())
        .map(|e| {
            format!(
                " WHERE CAST({} AS TIMESTAMP_NTZ) < {}",
                ident(TIMESTAMP_COLUMN),
                day(e)
            )
        })
        .unwrap_or_default();
    for (i, (join, table)) in spec.joins.iter().zip(tables).enumerate() {
        let fs = join.feature_set;
        let mut cols: Vec<String> = fs.key_names().map(ident).collect();
        cols.push(format!(
            "CAST({} AS TIMESTAMP_NTZ) AS {}",
            ident(TIMESTAMP_COLUMN),
            ident(TIMESTAMP_COLUMN)
        ));
        cols.extend(fs.outputs.iter().map(|o| ident(o.name)));
        views.push(format!(
            "CREATE OR REPLACE TEMPORARY VIEW {} AS SELECT {} FROM parquet.{}{upto}",
            ident(&feature_view(i)),
            cols.join(", "),
            ident(table)
        ));
    }

    // The spine after `query` and `filter`, numbered in read order.
    let mut from = match spec.query {
        Some(q) => format!("({q}) AS __fs_query"),
        None => ident(spec.spine.name),
    };
    if let Some(f) = spec.filter {
        from = format!("(SELECT * FROM {from} WHERE {f}) AS __fs_filtered");
    }
    let spine_cols: Vec<&str> = spec
        .spine_columns
        .iter()
        .filter_map(|c| match c.origin {
            ColumnOrigin::Spine { column } => Some(column),
            _ => None,
        })
        .chain(spec.joins.iter().flat_map(|j| j.keys.iter().copied()))
        .fold(Vec::new(), |mut acc, c| {
            if !acc.contains(&c) {
                acc.push(c);
            }
            acc
        });
    // Carried through every join: the spine columns the output or a join
    // needs, its time, its row number, and the joined columns so far.
    let mut carried: Vec<String> = spine_cols.iter().map(|c| ident(c)).collect();
    carried.push(ident(SPINE_TS));
    carried.push(ident(ROW));
    let mut select0 = carried[..spine_cols.len()].to_vec();
    select0.push(format!("{ts} AS {}", ident(SPINE_TS)));
    select0.push(format!("monotonically_increasing_id() AS {}", ident(ROW)));
    let mut sql = format!(
        "WITH spine0 AS (\n  SELECT {} FROM {from}\n)",
        select0.join(", ")
    );

    for (i, join) in spec.joins.iter().enumerate() {
        let fs = join.feature_set;
        let prev = format!("spine{i}");
        let keys: Vec<String> = (0..join.keys.len())
            .map(|k| format!("`__fs_k{k}`"))
            .collect();
        let outputs: Vec<String> = fs
            .outputs
            .iter()
            .map(|o| ident(&format!("{}{}", join.prefix, o.name)))
            .collect();
        // The spine side: its columns, no feature row.
        let mut left: Vec<String> = carried.clone();
        left.extend(
            join.keys
                .iter()
                .zip(&keys)
                .map(|(k, a)| format!("{} AS {a}", ident(k))),
        );
        left.push(format!("{} AS `__fs_t`", ident(SPINE_TS)));
        left.push("1 AS `__fs_side`".to_string());
        left.push("NULL AS `__fs_f`".to_string());
        // The feature side: its keys, time and outputs in one struct.
        let mut right: Vec<String> = carried.iter().map(|c| format!("NULL AS {c}")).collect();
        right.extend(
            fs.key_names()
                .zip(&keys)
                .map(|(k, a)| format!("{} AS {a}", ident(k))),
        );
        right.push(format!("{} AS `__fs_t`", ident(TIMESTAMP_COLUMN)));
        right.push("0 AS `__fs_side`".to_string());
        let mut fields = vec![format!("{} AS `t`", ident(TIMESTAMP_COLUMN))];
        fields.extend(
            fs.outputs
                .iter()
                .enumerate()
                .map(|(j, o)| format!("{} AS `o{j}`", ident(o.name))),
        );
        right.push(format!("struct({}) AS `__fs_f`", fields.join(", ")));
        // A match older than the ttl is none.
        let matched = match join.ttl {
            Some(w) => format!(
                "CASE WHEN `__fs_m`.`t` >= {} - {} THEN `__fs_m` END",
                ident(SPINE_TS),
                interval(w)
            ),
            None => "`__fs_m`".to_string(),
        };
        let mut next: Vec<String> = carried.clone();
        next.extend(
            outputs
                .iter()
                .enumerate()
                .map(|(j, name)| format!("`__fs_hit`.`o{j}` AS {name}")),
        );
        // Null keys (of the spine) match nothing: no feature row has one.
        sql.push_str(&format!(
            ",\nunion{i} AS (\n  SELECT {left} FROM {prev}\n  UNION ALL\n  SELECT {right} FROM {view}\n),\n\
matched{i} AS (\n  SELECT *, last(`__fs_f`, true) OVER (PARTITION BY {keys} ORDER BY `__fs_t`, `__fs_side` \
ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS `__fs_m` FROM union{i}\n),\n\
spine{n} AS (\n  SELECT {next} FROM (SELECT *, {matched} AS `__fs_hit` FROM matched{i} WHERE `__fs_side` = 1)\n)",
            left = left.join(", "),
            right = right.join(", "),
            view = ident(&feature_view(i)),
            keys = keys.join(", "),
            next = next.join(", "),
            n = i + 1,
        ));
        carried.extend(outputs);
    }

    let mut out: Vec<String> = Vec::new();
    for c in spec.columns() {
        let e = match c.origin {
            ColumnOrigin::Spine { column } => ident(column),
            ColumnOrigin::Timestamp { .. } => ident(SPINE_TS),
            ColumnOrigin::Feature { join, column } => {
                let e = ident(&format!("{}{column}", spec.joins[join].prefix));
                match spec.fill_null {
                    Some(fill) => format!("coalesce({e}, {})", fill_lit(fill)),
                    None => e,
                }
            }
        };
        out.push(format!(
            "CAST({e} AS {}) AS {}",
            sql_type(c.dtype),
            ident(&c.name)
        ));
    }
    out.push(ident(ROW));
    sql.push_str(&format!(
        "\nSELECT {} FROM spine{}\nORDER BY {}",
        out.join(", "),
        spec.joins.len(),
        ident(ROW)
    ));
    Ok(DatasetPlan { views, rows: sql })
}
