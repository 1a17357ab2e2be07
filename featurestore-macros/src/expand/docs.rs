//! Generated rustdoc: `cargo doc` is the feature catalog.
//!
//! Docs are static text, so they cannot ask the compiler for types: a type
//! is shown as written, and a column of another declaration is linked to. They name no backend: a feature set's online row is
//! described by its columns and Rust types, not by any store's DDL.

use featurestore_core::{Frame, Keep, TIMESTAMP_COLUMN};
use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{GenericArgument, PathArguments, Type};

use crate::attr::path_string;
use crate::model::{
    self, Catalog, Dataset, FeatureSet, FillValue, Join, Kind, Output, Preprocessing, Source,
    SourceKind, Step,
};
use crate::symbol;

/// The lines appended to a `#[source]` struct's docs.
pub fn source(source: &Source<'_>) -> Vec<String> {
    let mut doc = Doc::after(&source.item.attrs, source.description_key.as_deref());
    doc.line(format!("# Source `{}`", source.name));
    doc.blank();
    match &source.kind {
        SourceKind::File { path, format } => {
            doc.line(format!(
                "Read from {} (format `{}`). Configuration can override the path per \
                 environment.",
                code(path),
                format.name()
            ));
        }
        SourceKind::Query { sql, inputs } => {
            let inputs: Vec<String> = inputs
                .iter()
                .map(|p| format!("[`{}`]", path_string(p)))
                .collect();
            doc.line(format!(
                "The rows of a SQL query over {}, each registered as a table under its name:",
                inputs.join(", ")
            ));
            doc.blank();
            doc.code_block("sql", sql);
        }
    }
    doc.blank();
    doc.line("| Column | Type | Nullable | Description |");
    doc.line("|---|---|---|---|");
    for column in &source.columns {
        let nullable = if option_inner(column.ty).is_some() {
            "yes"
        } else {
            "no"
        };
        let (ty, description) = match (&column.time, &column.derived) {
            (_, Some(derived)) => (
                code(&type_string(column.ty)),
                format!(
                    "{}. {}",
                    capitalize(&derived.describe()),
                    column.description
                ),
            ),
            (Some(time), None) => (
                format!("{} → `NaiveDateTime`", code(&type_string(column.ty))),
                format!("{}. {}", capitalize(&time.describe()), column.description),
            ),
            (None, None) => (code(&type_string(column.ty)), column.description.clone()),
        };
        doc.line(format!(
            "| {} | {ty} | {nullable} | {} |",
            code(&column.name),
            cell(description.trim_end())
        ));
    }
    if let Some(pre) = &source.preprocess {
        doc.blank();
        doc.line("## Pre-processing");
        doc.blank();
        doc.line(
            "Run in this order on the rows as read, before any feature set or dataset sees them:",
        );
        doc.blank();
        for line in steps(pre) {
            doc.line(line);
        }
        doc.blank();
        doc.line("The columns after pre-processing, which feature sets and datasets read:");
        doc.blank();
        doc.line("| Column | Type | Description |");
        doc.line("|---|---|---|");
        for column in &pre.columns {
            doc.line(format!(
                "| {} | {} | {} |",
                code(&column.name),
                code(&type_string(&column.ty)),
                cell(&column.description)
            ));
        }
    }
    doc.lines
}

/// The steps in words, one markdown list item each.
fn steps(pre: &Preprocessing) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, step) in pre.steps.iter().enumerate() {
        let n = i + 1;
        let line = match step {
            Step::Filter { sql } => format!("{n}. **filter**: keeps the rows where {}.", code(sql)),
            Step::Replace { column, pairs } => {
                let pairs: Vec<String> = pairs
                    .iter()
                    .map(|(from, to)| {
                        format!(
                            "{} → {}",
                            code(&fill_string(&from.value)),
                            code(&fill_string(&to.value))
                        )
                    })
                    .collect();
                format!(
                    "{n}. **replace** in `{column}`: {}; other values, and nulls, stay.",
                    pairs.join(", ")
                )
            }
            Step::Pivot {
                keys,
                timestamp,
                on,
                aggregation,
                value,
                columns,
                forward_fill,
            } => {
                let names: Vec<String> = columns.iter().map(|c| format!("`{}`", c.name)).collect();
                let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
                let fill = if *forward_fill {
                    format!(
                        "; a null then takes the last non-null value of its column for the same \
                         {} in `{timestamp}` order",
                        keys.join(", ")
                    )
                } else {
                    String::new()
                };
                format!(
                    "{n}. **pivot**: one row per {} and `{timestamp}`, with a column per value \
                     of `{on}` ({}) holding the `{aggregation}` of `{value}` over the rows with \
                     that value (null without such rows){fill}. Other columns are dropped.",
                    keys.join(", "),
                    names.join(", ")
                )
            }
            Step::ExplodeJson { column, columns } => {
                let fields: Vec<String> = columns
                    .iter()
                    .map(|c| format!("`{}` ({})", c.name, code(&type_string(&c.ty))))
                    .collect();
                format!(
                    "{n}. **explode_json**: the fields {} of the JSON object in `{column}`, as \
                     columns (null when absent); a row whose JSON cannot be read is a bad row.",
                    fields.join(", ")
                )
            }
            Step::ForwardFill {
                columns,
                keys,
                timestamp,
            } => {
                let columns: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
                let per = if keys.is_empty() {
                    String::new()
                } else {
                    let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
                    format!(" of the same {}", keys.join(", "))
                };
                format!(
                    "{n}. **forward_fill** {}: a null takes the last non-null value of the rows{per} \
                     in `{timestamp}` order.",
                    columns.join(", ")
                )
            }
        };
        lines.push(line);
    }
    lines
}

/// The lines appended to a `#[feature_set]` struct's docs.
pub fn feature_set(
    set: &FeatureSet<'_>,
    outputs: &[Output],
    row: &str,
    features: &str,
) -> Vec<String> {
    let source = path_string(&set.source);
    let mut doc = Doc::after(&set.item.attrs, set.description_key.as_deref());
    doc.line(format!("# Feature set `{}`", set.name));
    doc.blank();
    doc.line("- **Entity keys**:");
    for key in &set.keys {
        doc.line(format!(
            "  - {}: {}",
            code(&key.name),
            column_type(&source, &key.name)
        ));
    }
    doc.line(format!(
        "- **Timestamp**: the source's {} column, output as `{TIMESTAMP_COLUMN}`",
        code(&set.timestamp.to_string())
    ));
    doc.line(format!("- **Source**: [`{source}`]"));
    if let Some(filter) = &set.filter {
        doc.line(format!("- **Filter**: {}", code(filter)));
    }
    if let Some(query) = &set.query {
        doc.line("- **Query** over the source, registered as a table under its name:");
        doc.blank();
        doc.code_block("sql", query);
        doc.blank();
    }
    if set.is_plain() {
        doc.line("- **Rows**: one per event, without aggregation");
    } else if set.windows.is_empty() {
        doc.line("- **Windows**: none, one row per key and event timestamp");
    } else {
        let windows: Vec<String> = set.windows.iter().map(ToString::to_string).collect();
        let sliding = match set.slide {
            Some(slide) => format!("sliding every {slide}"),
            None => "sliding daily".to_string(),
        };
        doc.line(format!("- **Windows**: {}, {sliding}", windows.join(", ")));
    }
    match &set.fill {
        Some(fill) => doc.line(format!(
            "- **Fill value**: {}, replaces nulls in feature columns",
            code(&fill_string(&fill.value))
        )),
        None => {
            doc.line("- **Fill value**: none, a feature is null when its window holds no events")
        }
    }
    for (kind, hooks, when) in [
        (
            "Pre-hooks",
            &set.pre_hooks,
            "on the source's events, before the filter and query",
        ),
        ("Post-hooks", &set.post_hooks, "on the computed rows"),
    ] {
        if !hooks.is_empty() {
            let names: Vec<String> = hooks
                .iter()
                .map(|p| format!("[`{}`]", path_string(p)))
                .collect();
            doc.line(format!(
                "- **{kind}**, in this order, {when}: {}",
                names.join(", ")
            ));
        }
    }
    if let Some(distinct) = &set.distinct {
        let subset: Vec<String> = distinct
            .subset
            .iter()
            .map(|c| code(&model::unraw(c)))
            .collect();
        doc.line(format!(
            "- **Distinct**: in each window, of the events with equal {} (nulls equal), only \
             the {} by event time counts (at equal times, the one with a feature's {} value)",
            subset.join(", "),
            distinct.keep.name(),
            match distinct.keep {
                Keep::Last => "largest",
                Keep::First => "smallest",
            },
        ));
    }
    if let Some(pivot) = &set.pivot {
        let values: Vec<String> = pivot.values.iter().map(|v| code(&v.text)).collect();
        doc.line(format!(
            "- **Pivot** on {}: every feature once per value ({}), over the events whose {} \
             holds the value; each value's columns start with it",
            code(&model::unraw(&pivot.column)),
            values.join(", "),
            code(&model::unraw(&pivot.column)),
        ));
    }
    doc.blank();
    doc.line("## Output columns");
    doc.blank();
    doc.line(format!(
        "One row is a `{row}`; its output columns alone, as datasets join them, a \
         `{features}`."
    ));
    doc.blank();
    doc.line("| Column | Type | Description |");
    doc.line("|---|---|---|");
    for key in &set.keys {
        doc.line(format!(
            "| {} | {} | Entity key. |",
            code(&key.name),
            column_type(&source, &key.name)
        ));
    }
    doc.line(format!(
        "| `{TIMESTAMP_COLUMN}` | `NaiveDateTime` | {} |",
        cell(&timestamp_description(set))
    ));
    for output in outputs {
        doc.line(format!(
            "| {} | {} | {} |",
            code(&output.name),
            code(&output_type(set, output)),
            cell(&output_description(set, output))
        ));
    }
    doc.blank();
    online_row(&mut doc, set, outputs, &source, row);
    doc.lines
}

/// The lines appended to a `#[dataset]` struct's docs.
pub fn dataset(set: &Dataset<'_>, row: &str) -> Vec<String> {
    let spine = path_string(&set.spine);
    let timestamp = model::unraw(&set.timestamp);
    let mut doc = Doc::after(&set.item.attrs, set.description_key.as_deref());
    doc.line(format!("# Dataset `{}`", set.name));
    doc.blank();
    doc.line(format!("- **Spine**: [`{spine}`], one row per event"));
    let keys: Vec<String> = set.keys.iter().map(|k| code(&k.name)).collect();
    doc.line(format!(
        "- **Keys**: {}, matched in order to each feature set's entity keys",
        keys.join(", ")
    ));
    doc.line(format!(
        "- **As of**: the spine's {} column: each feature set's latest row at or before it, \
         never a later one",
        code(&timestamp)
    ));
    if let Some(filter) = &set.filter {
        doc.line(format!("- **Filter** on the spine: {}", code(filter)));
    }
    if let Some(query) = &set.query {
        doc.line("- **Query** over the spine, registered as a table under its name:");
        doc.blank();
        doc.code_block("sql", query);
        doc.blank();
    }
    doc.line("- **Feature sets**:");
    for join in &set.joins {
        let mut line = format!("  - [`{}`]", path_string(&join.path));
        if let Some(ttl) = join.ttl {
            line.push_str(&format!(", rows older than {ttl} count as missing"));
        }
        if !join.prefix.is_empty() {
            line.push_str(&format!(", columns prefixed {}", code(&join.prefix)));
        }
        doc.line(line);
    }
    match &set.fill {
        Some(fill) => doc.line(format!(
            "- **Fill value**: {}, replaces nulls in the joined columns",
            code(&fill_string(&fill.value))
        )),
        None => doc.line(
            "- **Fill value**: none, a joined column is null when its feature set has no row \
             for the key at or before the spine row's time",
        ),
    }
    doc.blank();
    doc.line("## Columns");
    doc.blank();
    doc.line(format!("One row is a `{row}`."));
    doc.blank();
    let as_of = match &set.keep {
        Some(keep) => {
            doc.line("| Column | Type | From |");
            doc.line("|---|---|---|");
            for column in keep {
                let name = model::unraw(column);
                let output = set.output_name(column);
                let from = if output == TIMESTAMP_COLUMN && name == timestamp {
                    format!("[`{spine}`]`.{name}`, the as-of time")
                } else {
                    format!("[`{spine}`]`.{name}`")
                };
                doc.line(format!(
                    "| {} | {} | {from} |",
                    code(&output),
                    column_type(&spine, &name)
                ));
            }
            doc.blank();
            if keep.iter().any(|c| model::unraw(c) == timestamp) {
                format!("the row's `{TIMESTAMP_COLUMN}`")
            } else {
                format!("the spine's `{timestamp}`")
            }
        }
        None => {
            doc.line(format!(
                "Every column of [`{spine}`], in field order, with {} output as \
                 `{TIMESTAMP_COLUMN}`;",
                code(&timestamp)
            ));
            format!("the row's `{TIMESTAMP_COLUMN}`")
        }
    };
    for (i, join) in set.joins.iter().enumerate() {
        // After the table, a new sentence; after the line without `keep`, the same one.
        let then = if i == 0 && set.keep.is_some() {
            "Then"
        } else {
            "then"
        };
        let prefix = if join.prefix.is_empty() {
            String::new()
        } else {
            format!(" (prefixed {})", code(&join.prefix))
        };
        doc.line(format!(
            "{then} every output column of [`{}`]{prefix}, as of {as_of};",
            path_string(&join.path)
        ));
    }
    doc.line("in that order.");
    doc.lines
}

/// The docs of `catalog!`'s module: its first line is its summary on the
/// crate's page; then each kind's declarations, linked.
pub fn catalog(catalog: &Catalog) -> Vec<String> {
    let mut doc = Doc { lines: Vec::new() };
    let counts: Vec<String> = catalog
        .groups
        .iter()
        .map(|g| {
            let (one, many) = kind_words(g.kind);
            let n = g.items.len();
            format!("{n} {}", if n == 1 { one } else { many })
        })
        .collect();
    doc.line(format!(
        "The catalog of this crate, by kind: {}.",
        and_list(&counts)
    ));
    doc.blank();
    doc.line(
        "Each page has a declaration's columns with their types; a kind's module lists its \
         declarations with the first line of their docs.",
    );
    for group in &catalog.groups {
        let module = group.kind.symbol();
        doc.blank();
        doc.line(format!("## {}", capitalize(kind_words(group.kind).1)));
        doc.blank();
        for path in &group.items {
            let name = path
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default();
            doc.line(format!("- [`{name}`]({module}::{name})"));
        }
    }
    doc.lines
}

/// The docs of a kind's module in `catalog!`'s.
pub fn catalog_group(kind: Kind) -> Vec<String> {
    let text = match kind {
        Kind::Sources => {
            "Sources: the events feature sets and datasets read, where they are read from, \
             and their columns."
        }
        Kind::FeatureSets => {
            "Feature sets: features per entity key, their source, windows and output columns."
        }
        Kind::Datasets => {
            "Datasets: training sets of spine events with feature sets joined as of each \
             event's time."
        }
    };
    let mut doc = Doc { lines: Vec::new() };
    doc.line(text);
    doc.lines
}

/// `("source", "sources")`.
fn kind_words(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Sources => ("source", "sources"),
        Kind::FeatureSets => ("feature set", "feature sets"),
        Kind::Datasets => ("dataset", "datasets"),
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Docs of the generated row struct of a dataset.
pub fn dataset_row(set: &Dataset<'_>) -> String {
    let columns = if set.keep.is_some() {
        "the kept spine columns"
    } else {
        "the spine's keys and `timestamp` (the other spine columns are in the data, but \
         only `keep(...)` can name them)"
    };
    format!(
        "One row of the dataset [`{}`] (`{}`): {columns}, then the output columns of each \
         joined feature set, flattened.",
        set.item.ident, set.name
    )
}

/// Docs of the row field of a spine column.
pub fn spine_column_description(
    set: &Dataset<'_>,
    spine: &str,
    column: &str,
    output: &str,
) -> String {
    if output == TIMESTAMP_COLUMN && column == model::unraw(&set.timestamp) {
        format!(
            "The `{column}` column of [`{spine}`]: the time the feature sets' columns are \
             taken as of."
        )
    } else {
        format!("The `{column}` column of [`{spine}`].")
    }
}

/// Docs of the row field of a join.
pub fn join_description(join: &Join) -> String {
    let prefix = if join.prefix.is_empty() {
        String::new()
    } else {
        format!(" Their names start with `{}`.", join.prefix)
    };
    format!(
        "The output columns of [`{}`] as of the row's time, flattened into the row.{prefix}",
        path_string(&join.path)
    )
}

/// Docs of the generated row struct.
pub fn row(set: &FeatureSet<'_>) -> String {
    format!(
        "One output row of the feature set [`{}`] (`{}`): its keys, `{TIMESTAMP_COLUMN}`, \
         then every output column; the typed row of the online store.",
        set.item.ident, set.name
    )
}

/// Docs of the generated features struct.
pub fn features(set: &FeatureSet<'_>) -> String {
    format!(
        "The output columns of the feature set [`{}`] (`{}`), without its keys and \
         `{TIMESTAMP_COLUMN}`: what a dataset joins onto each of its rows.",
        set.item.ident, set.name
    )
}

pub fn key_description(source: &str, key: &str) -> String {
    format!("Entity key: the `{key}` column of [`{source}`].")
}

pub fn timestamp_description(set: &FeatureSet<'_>) -> String {
    if set.is_plain() {
        format!("Time of the event (the source's `{}`).", set.timestamp)
    } else if set.windows.is_empty() {
        format!(
            "Time of the aggregated events (the source's `{}`).",
            set.timestamp
        )
    } else if let Some(slide) = set.slide {
        format!(
            "Time the row's values hold from, a multiple of {slide} since the epoch (UTC); each \
             window ends just before it."
        )
    } else {
        "Day the row's values hold from, at UTC midnight; each window ends just before it."
            .to_string()
    }
}

/// "`count` of `order_id` over 3 days rolling windows. " and the field's doc.
pub fn output_description(set: &FeatureSet<'_>, output: &Output) -> String {
    let feature = &set.features[output.feature];
    if let Some(plain) = &feature.plain {
        let mut text = match plain {
            model::Plain::Column(column) => format!(
                "The event's {}, cast to the declared type.",
                code(&model::unraw(column))
            ),
            model::Plain::Sql { sql, .. } => format!(
                "The SQL expression {} over the event's row, cast to the declared type.",
                code(sql)
            ),
            model::Plain::Function { path, column } => format!(
                "[`{}`] applied to the event's {}, cast to the declared type.",
                path_string(path),
                code(&model::unraw(column))
            ),
        };
        if !feature.description.is_empty() {
            text.push(' ');
            text.push_str(&feature.description);
        }
        return text;
    }
    let function = &feature.functions[output.function];
    let over = match (feature.frame, output.window) {
        (Some(Frame::Range(w)), _) => {
            format!("over the {w} up to each event (fixed windows, per key)")
        }
        (Some(Frame::Rows(n)), _) => format!(
            "over each event and the {} before it (row windows, per key)",
            n - 1
        ),
        (None, _) if function.aggregation.is_shift() => {
            "per event, in key and time order".to_string()
        }
        (None, Some(w)) => format!("over {w} rolling windows"),
        (None, None) => "per key and timestamp".to_string(),
    };
    let mut text = format!(
        "`{}` of `{}` {over}: the {}.",
        function.aggregation,
        function.column_name(),
        function.aggregation.describe()
    );
    if let Some(filter) = &feature.filter {
        text.push_str(&format!(
            " Only the events where {} count; the values of others are left out.",
            code(filter)
        ));
    }
    if let (Some(i), Some(pivot)) = (output.pivot, &set.pivot) {
        text.push_str(&format!(
            " Pivot value {}: only the events whose {} is {} count.",
            code(&pivot.values[i].text),
            code(&model::unraw(&pivot.column)),
            code(&pivot.values[i].text)
        ));
    }
    if !feature.description.is_empty() {
        text.push(' ');
        text.push_str(&feature.description);
    }
    text
}

/// The type of a source's column. The macro sees the source only as a path,
/// and rustdoc shows a type computed through traits as that computation
/// (it normalizes projections only under the unstable `-Znormalize-docs`),
/// so the docs link to where the type is written: the source's field (a
/// column made by pre-processing has no field, and the link then opens the
/// source's page, whose table lists it).
fn column_type(source: &str, column: &str) -> String {
    format!("the type of [`{source}.{column}`]({source}#structfield.{column})")
}

/// What the online store keeps of a feature set, whatever the backend: the
/// latest row of each key, with its key columns as primary key.
fn online_row(doc: &mut Doc, set: &FeatureSet<'_>, outputs: &[Output], source: &str, row: &str) {
    doc.line("## Online row");
    doc.blank();
    doc.line(format!(
        "The online store keeps the latest row of each key, a `{row}`:"
    ));
    doc.blank();
    let keys: Vec<String> = set.keys.iter().map(|k| code(&k.name)).collect();
    doc.line(format!("- **Primary key**: {}", keys.join(", ")));
    doc.line("- **Columns**:");
    for key in &set.keys {
        doc.line(format!(
            "  - {}: {}",
            code(&key.name),
            column_type(source, &key.name)
        ));
    }
    doc.line(format!("  - `{TIMESTAMP_COLUMN}`: `NaiveDateTime`"));
    for output in outputs {
        doc.line(format!(
            "  - {}: {}",
            code(&output.name),
            code(&output_type(set, output))
        ));
    }
}

/// The Rust type of an output column in the row.
fn output_type(set: &FeatureSet<'_>, output: &Output) -> String {
    let ty = set.features[output.feature].ty;
    let inner = option_inner(ty).unwrap_or(ty);
    if set.fill.is_some() {
        type_string(inner)
    } else {
        format!("Option<{}>", type_string(inner))
    }
}

/// A literal as written in Rust.
fn fill_string(value: &FillValue) -> String {
    match value {
        FillValue::Int(v) => v.to_string(),
        FillValue::Float(v) => format!("{v:?}"),
        FillValue::Bool(v) => v.to_string(),
        FillValue::Str(v) => format!("{v:?}"),
    }
}

/// `T` if `ty` is written `Option<T>`.
pub fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else {
        return None;
    };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// A type as a person writes it: `Option<NaiveDateTime>`, `&'static str`.
pub fn type_string(ty: &Type) -> String {
    let mut out = String::new();
    write_tokens(ty.to_token_stream(), &mut out);
    out
}

fn write_tokens(tokens: TokenStream, out: &mut String) {
    // Whether the previous token was a word, which needs a space before the next word.
    let mut after_word = false;
    let mut joint_quote = false;
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => {
                if after_word && !joint_quote {
                    out.push(' ');
                }
                out.push_str(&ident.to_string());
                after_word = true;
                joint_quote = false;
            }
            TokenTree::Literal(lit) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&lit.to_string());
                after_word = true;
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{ ", " }"),
                    Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_tokens(group.stream(), out);
                out.push_str(close);
                after_word = true;
            }
            TokenTree::Punct(punct) => {
                let c = punct.as_char();
                match c {
                    ',' | ';' => out.push_str(&format!("{c} ")),
                    '=' | '+' => out.push_str(&format!(" {c} ")),
                    '-' if punct.spacing() == Spacing::Joint => out.push_str(" -"),
                    '>' if out.ends_with(" -") => out.push_str("> "),
                    '\'' => {
                        if after_word {
                            out.push(' ');
                        }
                        out.push(c);
                    }
                    _ => out.push(c),
                }
                joint_quote = c == '\'';
                after_word = false;
            }
        }
    }
}

/// Inline code, safe for any content.
fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {} ``", text.replace('\n', " "))
    } else {
        format!("`{}`", text.replace('\n', " "))
    }
}

/// Text in a markdown table cell: one line, `|` escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Doc lines being built.
struct Doc {
    lines: Vec<String>,
}

impl Doc {
    /// Starts after the item's own docs (and `description = "..."`, which
    /// the item has no doc comment for).
    fn after(attrs: &[syn::Attribute], description_key: Option<&str>) -> Doc {
        let mut doc = Doc { lines: Vec::new() };
        let has_docs = attrs.iter().any(|a| a.path() == symbol::DOC);
        if has_docs {
            doc.blank();
        }
        if let Some(description) = description_key {
            for line in description.lines() {
                doc.line(line);
            }
            doc.blank();
        }
        doc
    }

    fn line(&mut self, line: impl Into<String>) {
        let line = line.into();
        self.lines.push(if line.is_empty() {
            line
        } else {
            format!(" {line}")
        });
    }

    fn blank(&mut self) {
        self.lines.push(String::new());
    }

    fn code_block(&mut self, lang: &str, text: &str) {
        let fence = if text.contains("```") { "~~~~" } else { "```" };
        self.line(format!("{fence}{lang}"));
        for line in text.lines() {
            self.line(line);
        }
        self.line(fence);
    }
}

/// `text` with its first letter upper case.
fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(text: &str) -> Type {
        syn::parse_str(text).unwrap()
    }

    #[test]
    fn types_as_written() {
        for text in [
            "Option<NaiveDateTime>",
            "std::collections::HashMap<String, Vec<u8>>",
            "&'static str",
            "[u8; 4]",
            "(i32, String)",
            "Box<dyn Fn(i32) -> i32 + Send>",
            "chrono::NaiveDate",
        ] {
            assert_eq!(type_string(&ty(text)), text);
        }
    }

    #[test]
    fn inline_code() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
