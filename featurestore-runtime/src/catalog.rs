//! Describing declarations for people (`describe`) and programs (`describe --json`).

use serde_json::{json, Value as Json};

use crate::spec::{
    ColumnOrigin, DatasetSpec, FeatureSetSpec, FillValue, SourceKind, SourceSpec, TIMESTAMP_COLUMN,
};
use crate::store::online::cql;

/// One column of a feature set's output, described.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDoc {
    /// Column name.
    pub name: String,
    /// Rust type of the column in the generated row.
    pub rust_type: String,
    /// CQL type in the online table.
    pub cql_type: &'static str,
    /// What the column holds.
    pub description: String,
}

/// Every output column of a feature set with its type and description.
pub fn columns(spec: &FeatureSetSpec) -> Vec<ColumnDoc> {
    let mut out = Vec::new();
    for k in spec.keys {
        out.push(ColumnDoc {
            name: k.name.to_string(),
            rust_type: k.dtype.rust().to_string(),
            cql_type: cql::cql_type(k.dtype),
            description: "entity key".to_string(),
        });
    }
    out.push(ColumnDoc {
        name: TIMESTAMP_COLUMN.to_string(),
        rust_type: "NaiveDateTime".to_string(),
        cql_type: "timestamp",
        description: if spec.windows.is_empty() {
            format!("time of the events (`{}`)", spec.timestamp)
        } else if spec.slides_daily() {
            "day the values hold from (UTC midnight); windows end just before it".to_string()
        } else {
            format!(
                "time the values hold from (a multiple of {} since the epoch, UTC); windows \
                 end just before it",
                spec.slide
            )
        },
    });
    for o in spec.outputs {
        let f = &spec.features[o.feature];
        let what = match (f.plain, o.window) {
            (Some(crate::spec::PlainSpec::Column), _) => {
                format!("the event's `{}`, cast", f.column)
            }
            (Some(crate::spec::PlainSpec::Sql(sql)), _) => {
                format!("SQL `{sql}` over the event's row")
            }
            (Some(crate::spec::PlainSpec::Function(func)), _) => {
                format!("`{}` of the event's `{}`", func.name, f.column)
            }
            (None, _) if f.frame.is_some() => match f.frame {
                Some(crate::spec::Frame::Range(w)) => format!(
                    "{} of `{}` over the {w} up to each event (fixed windows)",
                    o.aggregation, f.column
                ),
                _ => format!(
                    "{} of `{}` over row windows of each event",
                    o.aggregation, f.column
                ),
            },
            (None, _)
                if matches!(
                    o.aggregation,
                    crate::spec::Aggregation::Lag(_) | crate::spec::Aggregation::Lead(_)
                ) =>
            {
                format!("{} of `{}` per event", o.aggregation.label(), f.column)
            }
            (None, Some(w)) => format!(
                "{} of `{}` over {} rolling windows",
                o.aggregation, f.column, w
            ),
            (None, None) => format!("{} of `{}` per key and timestamp", o.aggregation, f.column),
        };
        // A feature's own `fill_null` is said on its columns; the feature
        // set's, on the feature set.
        let what = match f.fill_null {
            Some(fill) => format!("{what}, null filled with {}", fill_text(fill)),
            None => what,
        };
        let description = if f.description.is_empty() {
            what
        } else {
            format!("{what}. {}", f.description)
        };
        let ty = o.dtype.rust();
        out.push(ColumnDoc {
            name: o.name.to_string(),
            rust_type: if o.nullable {
                format!("Option<{ty}>")
            } else {
                ty.to_string()
            },
            cql_type: cql::cql_type(o.dtype),
            description,
        });
    }
    out
}

fn fill_text(f: FillValue) -> String {
    match f {
        FillValue::Int(i) => i.to_string(),
        FillValue::Float(x) => x.to_string(),
        FillValue::Bool(b) => b.to_string(),
        FillValue::Str(s) => format!("{s:?}"),
    }
}

fn source_json(s: &SourceSpec, location: &dyn Fn(&SourceSpec) -> Option<String>) -> Json {
    let kind = match s.kind {
        SourceKind::File { format, .. } => json!({
            "reader": "file",
            "format": format.name(),
            "location": location(s),
        }),
        SourceKind::Query { sql, inputs } => json!({
            "reader": "query",
            "query": sql,
            "inputs": inputs.iter().map(|i| source_json(i, location)).collect::<Vec<_>>(),
        }),
    };
    json!({
        "name": s.name,
        "description": s.description,
        "kind": kind,
        "columns": s.columns.iter().map(|c| json!({
            "name": c.name, "type": c.dtype.rust(), "nullable": c.nullable, "description": c.description,
        })).collect::<Vec<_>>(),
    })
}

/// How the rows of rolling windows slide, in words: `sliding daily`,
/// `sliding every 1 hour`.
fn sliding(spec: &FeatureSetSpec) -> String {
    if spec.slides_daily() {
        "sliding daily".to_string()
    } else {
        format!("sliding every {}", spec.slide)
    }
}

/// A feature set as JSON; `location` resolves a file source's configured path.
pub fn feature_set_json(
    spec: &FeatureSetSpec,
    location: &dyn Fn(&SourceSpec) -> Option<String>,
) -> Json {
    json!({
        "pipeline": format!("{}{}", crate::registry::FEATURE_SET_PREFIX, spec.name),
        "feature_set": spec.name,
        "description": spec.description,
        "entity": spec.entity(),
        "keys": spec.key_names().collect::<Vec<_>>(),
        "timestamp": spec.timestamp,
        "windows": spec.windows.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        "slide": if spec.windows.is_empty() { Json::Null } else { json!(spec.slide.to_string()) },
        "filter": spec.filter,
        "query": spec.query,
        "fill_null": spec.fill_null.map(fill_text),
        "source": source_json(spec.source, location),
        "features": columns(spec).iter().map(|c| json!({
            "column_name": c.name,
            "data_type": c.rust_type,
            "cql_type": c.cql_type,
            "description": c.description,
        })).collect::<Vec<_>>(),
        "online_table_ddl": cql::create_table(spec, None),
    })
}

/// A feature set for people.
pub fn feature_set_text(
    spec: &FeatureSetSpec,
    location: &dyn Fn(&SourceSpec) -> Option<String>,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "feature set  {}{}",
        crate::registry::FEATURE_SET_PREFIX,
        spec.name
    );
    if !spec.description.is_empty() {
        let _ = writeln!(
            s,
            "             {}",
            spec.description.replace('\n', "\n             ")
        );
    }
    let keys: Vec<&str> = spec.key_names().collect();
    let _ = writeln!(s, "entity keys  {}", keys.join(", "));
    let _ = writeln!(s, "timestamp    {}", spec.timestamp);
    match spec.source.kind {
        SourceKind::File { format, .. } => {
            let _ = writeln!(
                s,
                "source       {} ({}, {})",
                spec.source.name,
                format.name(),
                location(spec.source).unwrap_or_default()
            );
        }
        SourceKind::Query { .. } => {
            let _ = writeln!(s, "source       {} (SQL query)", spec.source.name);
        }
    }
    if let Some(f) = spec.filter {
        let _ = writeln!(s, "filter       {f}");
    }
    if let Some(q) = spec.query {
        let _ = writeln!(s, "query        {q}");
    }
    if spec.windows.is_empty() {
        let _ = writeln!(s, "windows      none (grouped by key and exact timestamp)");
    } else {
        let w: Vec<String> = spec.windows.iter().map(|w| w.to_string()).collect();
        let _ = writeln!(s, "windows      {}, {}", w.join(", "), sliding(spec));
    }
    if let Some(f) = spec.fill_null {
        let _ = writeln!(s, "fill_null    {}", fill_text(f));
    }
    let _ = writeln!(s, "\ncolumns:");
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["column", "type", "description"]);
    for c in columns(spec) {
        table.add_row([c.name, c.rust_type, c.description]);
    }
    let _ = writeln!(s, "{table}");
    let keys: Vec<&str> = spec.key_names().collect();
    let _ = writeln!(
        s,
        "\nonline row: one per ({}), the last row of the latest run (by end date, then start), with the columns above",
        keys.join(", ")
    );
    let _ = writeln!(
        s,
        "\nas a Cassandra/ScyllaDB table (CQL):\n{}",
        cql::create_table(spec, None)
    );
    s
}

/// Where each column of a dataset comes from, in words: (name, type, origin).
pub fn dataset_lineage(spec: &DatasetSpec) -> Vec<(String, String, String)> {
    spec.columns()
        .into_iter()
        .map(|c| {
            let ty = if c.nullable {
                format!("Option<{}>", c.dtype.rust())
            } else {
                c.dtype.rust().to_string()
            };
            let from = match c.origin {
                ColumnOrigin::Spine { column } => format!("`{}`.`{column}`", spec.spine.name),
                ColumnOrigin::Timestamp { column } => format!(
                    "`{}`.`{column}`: the time the features are taken as of",
                    spec.spine.name
                ),
                ColumnOrigin::Feature { join, column } => {
                    let j = &spec.joins[join];
                    let ttl = j
                        .ttl
                        .map(|t| format!(", at most {t} old"))
                        .unwrap_or_default();
                    format!(
                        "`{}`.`{column}` as of the row's timestamp{ttl}",
                        j.feature_set.name
                    )
                }
            };
            (c.name, ty, from)
        })
        .collect()
}

/// A dataset as JSON.
pub fn dataset_json(spec: &DatasetSpec, location: &dyn Fn(&SourceSpec) -> Option<String>) -> Json {
    json!({
        "pipeline": format!("{}{}", crate::registry::DATASET_PREFIX, spec.name),
        "dataset": spec.name,
        "description": spec.description,
        "spine": source_json(spec.spine, location),
        "keys": spec.keys,
        "timestamp": spec.timestamp,
        "filter": spec.filter,
        "query": spec.query,
        "fill_null": spec.fill_null.map(fill_text),
        "feature_sets": spec.joins.iter().map(|j| json!({
            "feature_set": j.feature_set.name,
            "ttl": j.ttl.map(|t| t.to_string()),
            "prefix": j.prefix,
            "keys": j.keys,
        })).collect::<Vec<_>>(),
        "columns": dataset_lineage(spec).into_iter().map(|(name, ty, from)| json!({
            "column_name": name, "data_type": ty, "from": from,
        })).collect::<Vec<_>>(),
    })
}

/// A dataset for people.
pub fn dataset_text(
    spec: &DatasetSpec,
    location: &dyn Fn(&SourceSpec) -> Option<String>,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "dataset      {}{}",
        crate::registry::DATASET_PREFIX,
        spec.name
    );
    if !spec.description.is_empty() {
        let _ = writeln!(
            s,
            "             {}",
            spec.description.replace('\n', "\n             ")
        );
    }
    let _ = writeln!(
        s,
        "spine        {} ({})",
        spec.spine.name,
        location(spec.spine).unwrap_or_else(|| "SQL query".to_string())
    );
    let _ = writeln!(s, "keys         {}", spec.keys.join(", "));
    let _ = writeln!(s, "as of        {}", spec.timestamp);
    let joined: Vec<String> = spec
        .joins
        .iter()
        .map(|j| {
            // A feature set of another entity, on its own spine columns.
            let on = if j.keys == spec.keys {
                String::new()
            } else {
                format!(" (on {})", j.keys.join(", "))
            };
            format!(
                "{}{}{on}",
                crate::registry::FEATURE_SET_PREFIX,
                j.feature_set.name
            )
        })
        .collect();
    let _ = writeln!(s, "runs first   {}", joined.join(", "));
    if let Some(f) = spec.fill_null {
        let _ = writeln!(s, "fill_null    {}", fill_text(f));
    }
    let _ = writeln!(s, "\ncolumns:");
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["column", "type", "from"]);
    for (name, ty, from) in dataset_lineage(spec) {
        table.add_row([name, ty, from]);
    }
    let _ = writeln!(s, "{table}");
    s
}
