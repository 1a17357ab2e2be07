//! A source's pre-processing: the `spec::Preprocessing` literal and the
//! type assertions of its steps (their docs are `docs.rs`'s).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use super::tokens::{column_spec, fill_value, respan, runtime, variant};
use crate::model::{Col, Column, Preprocessing, Step};

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
            let columns = columns.iter().map(|c| column_spec(&column(c)));
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
            let fields = columns.iter().map(|c| column_spec(&column(c)));
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
