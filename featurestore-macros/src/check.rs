//! Stage 3: checks across the values of one declaration.

use std::collections::{HashMap, HashSet};

use featurestore_core::{snake_case, TIMESTAMP_COLUMN};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::attr::path_string;
use crate::ctxt::Errors;
use crate::model::{self, Column, Dataset, FeatureSet, Source};

/// The associated const every declaration already has from its trait; a
/// column constant of that name would shadow it, so none is generated.
pub const SPEC_CONST: &str = "SPEC";

/// The name of the constant holding a column name: `ORDER_ID`.
pub fn const_name(column: &str) -> String {
    column.to_uppercase()
}

pub fn source(source: &Source<'_>, errors: &mut Errors) {
    let mut constants = Constants::default();
    for column in &source.columns {
        constants.add(&column.name, column.ident.span(), errors);
    }
    derived_inputs(&source.columns, errors);
    for column in source.preprocess.iter().flat_map(|p| &p.columns) {
        constants.add(&column.name, column.ident.span(), errors);
    }
}

/// Each input of a computed column is a column of the source that is read
/// (not computed itself).
fn derived_inputs(columns: &[Column<'_>], errors: &mut Errors) {
    let read: Vec<&str> = columns
        .iter()
        .filter(|c| c.derived_span.is_none())
        .map(|c| c.name.as_str())
        .collect();
    for column in columns {
        let Some(derived) = &column.derived else {
            continue;
        };
        for input in derived.inputs() {
            let name = model::unraw(input);
            if read.contains(&name.as_str()) {
                continue;
            }
            let why = if columns.iter().any(|c| c.name == name) {
                format!("`{name}` is computed too: computed columns read columns that are read")
            } else {
                format!(
                    "no column `{name}` in this source: the columns read are {}",
                    read.iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            errors.at(input.span(), why);
        }
    }
}

pub fn feature_set(set: &FeatureSet<'_>, errors: &mut Errors) {
    // That the functions of a feature take one column (the outputs of a
    // feature share its name prefix) is checked with the source's columns
    // known, by rustc: see `expand::feature_set`.

    // Output names: keys, `timestamp`, then every output column.
    let mut columns: HashMap<String, String> = HashMap::new();
    let mut constants = Constants::default();
    for key in &set.keys {
        if key.name == TIMESTAMP_COLUMN {
            errors.at(
                set.entity_span,
                "a key column cannot be named `timestamp`: every feature set's output has \
                 its own `timestamp` column",
            );
        } else if columns.contains_key(&key.name) {
            errors.at(
                set.entity_span,
                format!("`{}` is listed twice in `entity`", key.name),
            );
        } else {
            columns.insert(key.name.clone(), "a key column".to_string());
            constants.add(&key.name, set.entity_span, errors);
        }
    }
    columns.insert(
        TIMESTAMP_COLUMN.to_string(),
        "the `timestamp` column".to_string(),
    );
    constants.add(TIMESTAMP_COLUMN, Span::call_site(), errors);
    let mut reported = HashSet::new();
    for output in set.outputs() {
        let feature = &set.features[output.feature];
        let function = &feature.functions[output.function];
        if let Some(other) = columns.get(&output.name) {
            // One error per aggregation, not one per window.
            if reported.insert((output.feature, output.function)) {
                errors.at(
                    function.span,
                    format!(
                        "duplicate output column `{}`: it is also {other}; list each \
                         aggregation of a feature once",
                        output.name
                    ),
                );
            }
            continue;
        }
        if model::ident(&output.name, function.span).is_none() {
            let span = match (output.pivot, &set.pivot) {
                (Some(i), Some(pivot)) => pivot.values[i].span,
                _ => function.span,
            };
            if reported.insert((output.feature, output.function)) {
                errors.at(
                    span,
                    format!(
                        "`{}` cannot be a column name: names are made of ASCII letters, digits \
                         and `_`, and do not start with a digit (a pivot value starts the names \
                         of its columns)",
                        output.name
                    ),
                );
            }
            continue;
        }
        let description = format!(
            "the output of `{}({})` on `{}`",
            function.aggregation,
            function.column_name(),
            feature.ident
        );
        columns.insert(output.name.clone(), description);
        constants.add(&output.name, function.span, errors);
    }
}

pub fn dataset(set: &Dataset<'_>, errors: &mut Errors) {
    let keys = set
        .joins
        .iter()
        .filter_map(|join| join.keys.as_deref())
        .chain([set.keys.as_slice()]);
    for list in keys {
        let mut seen: HashSet<String> = HashSet::new();
        for key in list {
            if !seen.insert(key.name.clone()) {
                errors.at(
                    key.ident.span(),
                    format!("`{}` is listed twice in `key`", key.name),
                );
            } else if key.name == model::unraw(&set.timestamp) {
                errors.at(
                    key.ident.span(),
                    format!(
                        "`{}` is the `timestamp` column: it cannot also be a key",
                        key.name
                    ),
                );
            }
        }
    }

    // Row fields and output columns: the kept spine columns, then a field
    // per join (whose columns the macro cannot know; the runtime's const
    // checks compare those).
    let mut fields: HashMap<String, String> = HashMap::new();
    let Some(keep) = &set.keep else {
        // Without `keep`, the row has the keys and `timestamp` (see `expand::dataset`).
        for key in &set.keys {
            fields.insert(key.name.clone(), format!("the key column `{}`", key.name));
        }
        fields.insert(
            TIMESTAMP_COLUMN.to_string(),
            "the `timestamp` column".to_string(),
        );
        return joins(set, fields, errors);
    };
    let mut outputs: HashMap<String, String> = HashMap::new();
    let mut constants = Constants::default();
    for column in keep {
        let name = model::unraw(column);
        let output = set.output_name(column);
        if let Some(other) = outputs.get(&output) {
            let message = if *other == name {
                format!("`{name}` is listed twice in `keep`")
            } else {
                format!(
                    "the spine column `{name}` clashes with `{other}`, which is output as \
                     `{output}`: keep only one of them"
                )
            };
            errors.at(column.span(), message);
            continue;
        }
        outputs.insert(output.clone(), name.clone());
        fields.insert(output.clone(), format!("the spine column `{name}`"));
        constants.add(&output, column.span(), errors);
    }
    if !keep.is_empty() {
        let mut reported = HashSet::new();
        for key in &set.keys {
            if !keep.iter().any(|c| c.unraw() == key.name) && reported.insert(&key.name) {
                errors.at(
                    key.ident.span(),
                    format!(
                        "the key column `{}` is not in `keep`: a dataset keeps its keys; \
                         add it to `keep(...)`",
                        key.name
                    ),
                );
            }
        }
    }
    joins(set, fields, errors);
}

/// Joins listed twice, and row fields of joins named like another field.
fn joins(set: &Dataset<'_>, mut fields: HashMap<String, String>, errors: &mut Errors) {
    let mut joins: Vec<(String, &str)> = Vec::new();
    for join in &set.joins {
        let path = path_string(&join.path);
        let span = join.path.span();
        if joins.contains(&(path.clone(), join.prefix.as_str())) {
            errors.at(
                span,
                format!(
                    "`{path}` is joined twice: join it once, or give each a different `prefix`, \
                     e.g. `{path}(prefix = \"{}_\")`",
                    snake_case(&last_segment(&join.path))
                ),
            );
            continue;
        }
        joins.push((path.clone(), join.prefix.as_str()));
        let field = join.field_name();
        if let Some(other) = fields.get(&field) {
            errors.at(
                span,
                format!(
                    "the row's field for `{path}` would be `{field}`, like {other}: give the \
                     join a `prefix`, e.g. `{path}(prefix = \"{}_\")`",
                    snake_case(&last_segment(&join.path))
                ),
            );
            continue;
        }
        fields.insert(field, format!("the field for `{path}`"));
    }
}

fn last_segment(path: &syn::Path) -> String {
    path.segments
        .last()
        .map(|s| s.ident.unraw().to_string())
        .unwrap_or_default()
}

/// Column constants declared so far, by constant name.
#[derive(Default)]
struct Constants(HashMap<String, String>);

impl Constants {
    fn add(&mut self, column: &str, span: Span, errors: &mut Errors) {
        let constant = const_name(column);
        if let Some(other) = self.0.get(&constant) {
            if other != column {
                errors.at(
                    span,
                    format!(
                        "columns `{other}` and `{column}` would both get the constant \
                         `{constant}`: rename one"
                    ),
                );
            }
            return;
        }
        self.0.insert(constant, column.to_string());
    }
}
