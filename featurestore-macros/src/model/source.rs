//! What `#[source]` declares: where the rows come from, the columns as
//! read, and the steps that prepare them.

use featurestore_core::{Format, OnBadRows};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Ident, ItemStruct, LitStr, Path, Type};

use super::column::{self, Derived, TimeEncoding};
use super::declaration::{description, name, sql_syntax};
use super::preprocess::{self, Preprocessing};
use crate::attr::{self, Container, RawDerived, SourceAttr};
use crate::ctxt::Errors;
use crate::sql;
use crate::symbol;

/// What `#[source]` declares.
pub struct Source<'a> {
    pub item: &'a ItemStruct,
    pub name: String,
    pub description: String,
    /// `description = "..."`, which the generated docs add to the struct's.
    pub description_key: Option<String>,
    pub kind: SourceKind,
    /// The fields: the columns as read.
    pub columns: Vec<Column<'a>>,
    pub on_bad_rows: OnBadRows,
    /// Pre-processing steps, if any, and the columns after them.
    pub preprocess: Option<Preprocessing>,
}

pub enum SourceKind {
    File { path: String, format: Format },
    Query { sql: String, inputs: Vec<Path> },
}

/// A field of a source: one column.
pub struct Column<'a> {
    pub ident: &'a Ident,
    /// The column name: the field name without `r#`.
    pub name: String,
    pub ty: &'a Type,
    pub description: String,
    /// `#[column(epoch = "...")]` or `#[column(format = "...")]`: times
    /// written as integers or text, read as timestamps.
    pub time: Option<TimeEncoding>,
    /// `#[column(h3(...))]` or `#[column(stack(...))]`: computed, not read.
    pub derived: Option<Derived>,
    /// The `h3`/`stack` keyword.
    pub derived_span: Option<Span>,
}

/// Validates `#[source(...)]` on `container`.
pub fn source<'a>(
    attr: &SourceAttr,
    container: &Container<'a>,
    errors: &mut Errors,
) -> Option<Source<'a>> {
    let item = container.item;
    let kind = match (&attr.path, &attr.query) {
        (Some(path), None) => {
            if let Some(inputs) = &attr.inputs {
                errors.spanned(
                    &inputs.keyword,
                    "`inputs` goes with `query`: a source with a `path` reads no other sources",
                );
            }
            file_kind(path, attr.format.as_ref(), errors)
        }
        (None, Some(query)) => {
            if let Some(format) = &attr.format {
                errors.at(
                    format.span(),
                    "`format` goes with `path`: a source with a `query` reads no files",
                );
            }
            sql_syntax(query, symbol::QUERY, sql::check_query, errors);
            let inputs = match &attr.inputs {
                Some(inputs) if inputs.paths.is_empty() => {
                    errors.spanned(
                        &inputs.keyword,
                        "`inputs` is empty: list the sources the query reads, e.g. \
                         `inputs(OrderEvents, Users)`",
                    );
                    Vec::new()
                }
                Some(inputs) => inputs.paths.clone(),
                None => {
                    errors.at(
                        query.span(),
                        "`query` needs `inputs(...)`: the sources it reads, each registered \
                         as a table under its name, e.g. `inputs(OrderEvents, Users)`",
                    );
                    Vec::new()
                }
            };
            Some(SourceKind::Query {
                sql: query.value(),
                inputs,
            })
        }
        (Some(_), Some(query)) => {
            errors.at(
                query.span(),
                "`path` and `query` cannot both be set: a source either reads files \
                 (`path`) or runs a query over other sources (`query`)",
            );
            None
        }
        (None, None)
            if attr.written.contains(&symbol::PATH) || attr.written.contains(&symbol::QUERY) =>
        {
            None
        }
        (None, None) => {
            errors.push(attr::args_error(
                &attr.args,
                "missing `path` or `query`: where the rows come from, e.g. \
                 `#[source(path = \"data/orders.csv\")]` or \
                 `#[source(query = \"SELECT ...\", inputs(OrderEvents))]`"
                    .to_string(),
            ));
            None
        }
    };
    let on_bad_rows = on_bad_rows(attr, errors);
    let name = name(attr.name.as_ref(), &item.ident, errors);
    let (description, description_key) = description(attr.description.as_ref(), item);
    let columns = container
        .fields
        .iter()
        .map(|f| {
            let attrs = item
                .fields
                .iter()
                .find(|field| field.ident.as_ref() == Some(f.ident))
                .map_or(&[][..], |field| &field.attrs[..]);
            let column_attr = attr::column_attr(attrs, errors);
            Column {
                ident: f.ident,
                name: f.ident.unraw().to_string(),
                ty: f.ty,
                description: f.doc.clone(),
                time: column::time_encoding(&column_attr, errors),
                derived: column_attr
                    .derived
                    .as_ref()
                    .and_then(|raw| column::validate(raw, errors)),
                derived_span: column_attr.derived.as_ref().map(RawDerived::keyword),
            }
        })
        .collect();
    let preprocess = (!attr.preprocess.is_empty()).then(|| {
        let fields = container
            .fields
            .iter()
            .map(|f| preprocess::Col {
                ident: f.ident.clone(),
                name: f.ident.unraw().to_string(),
                ty: f.ty.clone(),
                description: f.doc.clone(),
            })
            .collect();
        preprocess::check(&attr.preprocess, fields, errors)
    });
    Some(Source {
        item,
        name,
        description,
        description_key,
        kind: kind?,
        columns,
        on_bad_rows,
        preprocess,
    })
}

fn on_bad_rows(attr: &SourceAttr, errors: &mut Errors) -> OnBadRows {
    let Some(lit) = &attr.on_bad_rows else {
        return OnBadRows::default();
    };
    if attr.query.is_some() {
        errors.at(
            lit.span(),
            "`on_bad_rows` goes with `path`: a source with a `query` reads no files; \
             set it on the sources in `inputs`",
        );
    }
    OnBadRows::from_name(&lit.value()).unwrap_or_else(|| {
        errors.at(
            lit.span(),
            format!(
                "unknown `on_bad_rows` policy `{}`: the policies are {}",
                lit.value(),
                symbol::list(OnBadRows::ALL.map(OnBadRows::name))
            ),
        );
        OnBadRows::default()
    })
}

fn file_kind(path: &LitStr, format: Option<&LitStr>, errors: &mut Errors) -> Option<SourceKind> {
    let value = path.value();
    if value.trim().is_empty() {
        errors.at(
            path.span(),
            "`path` is empty: give the location of the files",
        );
        return None;
    }
    let format = match format {
        Some(lit) => {
            let Some(format) = Format::from_name(&lit.value()) else {
                errors.at(
                    lit.span(),
                    format!(
                        "unknown format `{}`: the formats are {}",
                        lit.value(),
                        symbol::list(Format::ALL.map(Format::name))
                    ),
                );
                return None;
            };
            format
        }
        None => {
            let Some(format) = Format::from_path(&value) else {
                errors.at(
                    path.span(),
                    format!(
                        "cannot tell the format of `{value}` from its extension \
                         (`.csv`, `.parquet`, `.ndjson`, `.jsonl`): add `format = \"csv\"`, \
                         `\"parquet\"` or `\"ndjson\"`"
                    ),
                );
                return None;
            };
            format
        }
    };
    Some(SourceKind::File {
        path: value,
        format,
    })
}
