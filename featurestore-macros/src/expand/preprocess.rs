//! A source's pre-processing: the `spec::Preprocessing` literal, the type
//! assertions of its steps, and its docs.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use super::{fill_value, respan, runtime, variant};
use crate::expand::docs::type_string;
use crate::model::{Col, Column, FillValue, Preprocessing, Step};

/// A step's column as a source column, for the code shared with fields.
pub fn column(col: &Col) -> Column<'_> {
    Column {
        ident: &col.ident,
        name: col.name.clone(),
        ty: &col.ty,
        description: col.description.clone(),
        time: None,
        derived: None,
        derived_span: None,
    }
}

/// `spec::Preprocessing { read, steps }`; `read` are the fields' specs.
pub fn spec(pre: &Preprocessing, read: &[TokenStream]) -> TokenStream {
    let rt = runtime();
    let steps = pre.steps.iter().map(|step| match step {
        Step::Filter { sql } => quote!(#rt::spec::Preprocess::Filter { sql: #sql }),
        Step::Replace { column, pairs } => {
            let pairs = pairs.iter().map(|(from, to)| {
                let (from, to) = (fill_value(&from.value), fill_value(&to.value));
                quote!((#from, #to))
            });
            quote!(#rt::spec::Preprocess::Replace { column: #column, values: &[#(#pairs),*] })
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
            let aggregation = format_ident!("{}", variant(*aggregation));
            let columns = columns
                .iter()
                .map(|c| super::source::column_spec(&column(c)));
            quote! {
                #rt::spec::Preprocess::Pivot(#rt::spec::PivotStep {
                    keys: &[#(#keys),*],
                    timestamp: #timestamp,
                    on: #on,
                    aggregation: #rt::spec::PivotAggregation::#aggregation,
                    value: #value,
                    columns: &[#(#columns),*],
                    forward_fill: #forward_fill,
                })
            }
        }
        Step::ExplodeJson {
            column: json,
            columns,
        } => {
            let fields = columns
                .iter()
                .map(|c| super::source::column_spec(&column(c)));
            quote!(#rt::spec::Preprocess::ExplodeJson { column: #json, fields: &[#(#fields),*] })
        }
        Step::ForwardFill {
            columns,
            keys,
            timestamp,
        } => quote! {
            #rt::spec::Preprocess::ForwardFill(#rt::spec::ForwardFillStep {
                columns: &[#(#columns),*],
                keys: &[#(#keys),*],
                timestamp: #timestamp,
            })
        },
    });
    quote! {
        #rt::spec::Preprocessing {
            read: &[#(#read),*],
            steps: &[#(#steps),*],
        }
    }
}

/// The steps' type assertions, each under the user's token it is about.
pub fn checks(pre: &Preprocessing) -> Vec<TokenStream> {
    let rt = runtime();
    pre.checks
        .iter()
        .map(|check| {
            let span = check.span;
            let assert = format_ident!("{}", check.assert, span = span);
            let ty = &check.ty;
            let ty = respan(quote!(#ty), span);
            match &check.with {
                Some(with) => {
                    let with = respan(quote!(#with), span);
                    quote_spanned!(span=> #rt::__private::#assert::<#ty, #with>();)
                }
                None => quote_spanned!(span=> #rt::__private::#assert::<#ty>();),
            }
        })
        .collect()
}

/// The steps in words, one markdown list item each.
pub fn docs(pre: &Preprocessing) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, step) in pre.steps.iter().enumerate() {
        let n = i + 1;
        let line = match step {
            Step::Filter { sql } => format!("{n}. **filter**: keeps the rows where {}.", code(sql)),
            Step::Replace { column, pairs } => {
                let pairs: Vec<String> = pairs
                    .iter()
                    .map(|(from, to)| format!("{} → {}", literal(&from.value), literal(&to.value)))
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

fn literal(value: &FillValue) -> String {
    match value {
        FillValue::Int(v) => format!("`{v}`"),
        FillValue::Float(v) => format!("`{v:?}`"),
        FillValue::Bool(v) => format!("`{v}`"),
        FillValue::Str(v) => code(&format!("{v:?}")),
    }
}

fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {} ``", text.replace('\n', " "))
    } else {
        format!("`{}`", text.replace('\n', " "))
    }
}
