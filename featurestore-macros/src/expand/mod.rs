//! Stage 4: code generation, from a checked model only.

pub mod dataset;
pub mod docs;
pub mod fallback;
pub mod feature_set;
pub mod preprocess;
pub mod row;
pub mod source;

use featurestore_core::{Aggregation, Window, WindowUnit};
use proc_macro2::{Group, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::Item;

use crate::attr::{self, DatasetAttr, FeatureSetAttr, SourceAttr};
use crate::check;
use crate::ctxt::Errors;
use crate::model::{self, FillValue};

/// `#[source(args)] item`, or every error found in it.
pub fn source(args: TokenStream, item: &Item) -> syn::Result<TokenStream> {
    let mut errors = Errors::new();
    let attr = SourceAttr::parse(args, &mut errors)
        .map_err(|e| errors.push(e))
        .ok();
    let container = attr::container(item, "source", "a column", &mut errors);
    let model = match (&attr, &container) {
        (Some(attr), Some(container)) => model::source(attr, container, &mut errors),
        _ => None,
    };
    if let Some(model) = &model {
        check::source(model, &mut errors);
    }
    match model {
        Some(model) if errors.is_empty() => Ok(source::expand(&model)),
        _ => Err(errors.into_error(|| unexplained(item))),
    }
}

/// `#[feature_set(args)] item`, or every error found in it.
pub fn feature_set(args: TokenStream, item: &Item) -> syn::Result<TokenStream> {
    let mut errors = Errors::new();
    let attr = FeatureSetAttr::parse(args, &mut errors)
        .map_err(|e| errors.push(e))
        .ok();
    let mut container = attr::container(item, "feature_set", "a feature", &mut errors);
    if let Some(container) = &mut container {
        container.parse_features(&mut errors);
    }
    let model = match (&attr, &container) {
        (Some(attr), Some(container)) => model::feature_set(attr, container, &mut errors),
        _ => None,
    };
    if let Some(model) = &model {
        check::feature_set(model, &mut errors);
    }
    match model {
        Some(model) if errors.is_empty() => Ok(feature_set::expand(&model)),
        _ => Err(errors.into_error(|| unexplained(item))),
    }
}

/// `#[dataset(args)] item`, or every error found in it.
pub fn dataset(args: TokenStream, item: &Item) -> syn::Result<TokenStream> {
    let mut errors = Errors::new();
    let attr = DatasetAttr::parse(args, &mut errors)
        .map_err(|e| errors.push(e))
        .ok();
    let item_struct = attr::unit_struct(item, &mut errors);
    let model = match (&attr, item_struct) {
        (Some(attr), Some(item)) => model::dataset(attr, item, &mut errors),
        _ => None,
    };
    if let Some(model) = &model {
        check::dataset(model, &mut errors);
    }
    match model {
        Some(model) if errors.is_empty() => Ok(dataset::expand(&model)),
        _ => Err(errors.into_error(|| unexplained(item))),
    }
}

/// A stage gave up without an error: a bug of ours, reported instead of a
/// silent fallback.
fn unexplained(item: &Item) -> syn::Error {
    syn::Error::new_spanned(
        item,
        "featurestore-macros could not expand this item but found no error to report; \
         please file a bug",
    )
}

/// `::featurestore_runtime`.
fn runtime() -> TokenStream {
    quote!(::featurestore_runtime)
}

/// `tokens` with every span set to `span`, so that rustc reports an error
/// in code built from tokens of several places under one user token.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Group(group) => {
                let mut out = Group::new(group.delimiter(), respan(group.stream(), span));
                out.set_span(span);
                TokenTree::Group(out)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// `Some("...")` or `None`.
pub fn option(value: Option<&String>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// A `spec::Window` literal.
pub fn window(w: Window) -> TokenStream {
    let rt = runtime();
    let amount = Literal::u32_unsuffixed(w.amount);
    let unit = format_ident!(
        "{}",
        match w.unit {
            WindowUnit::Minutes => "Minutes",
            WindowUnit::Hours => "Hours",
            WindowUnit::Days => "Days",
            WindowUnit::Weeks => "Weeks",
        }
    );
    quote! {
        #rt::spec::Window {
            amount: #amount,
            unit: #rt::spec::WindowUnit::#unit,
        }
    }
}

/// The variant of `spec::Aggregation` (and of `spec::PivotAggregation`,
/// whose variants are a few of its) without its argument.
pub fn variant(aggregation: Aggregation) -> &'static str {
    match aggregation {
        Aggregation::Count => "Count",
        Aggregation::Sum => "Sum",
        Aggregation::Avg => "Avg",
        Aggregation::Min => "Min",
        Aggregation::Max => "Max",
        Aggregation::StddevPop => "StddevPop",
        Aggregation::CountDistinct => "CountDistinct",
        Aggregation::ApproxCountDistinct => "ApproxCountDistinct",
        Aggregation::VarPop => "VarPop",
        Aggregation::StddevSamp => "StddevSamp",
        Aggregation::VarSamp => "VarSamp",
        Aggregation::First => "First",
        Aggregation::Last => "Last",
        Aggregation::Mode => "Mode",
        Aggregation::MostFrequentSet => "MostFrequentSet",
        Aggregation::Value => "Value",
        Aggregation::Lag(_) => "Lag",
        Aggregation::Lead(_) => "Lead",
        Aggregation::Percentile(_) => "Percentile",
    }
}

/// A `spec::Aggregation` literal.
pub fn aggregation(aggregation: Aggregation) -> TokenStream {
    let rt = runtime();
    let variant = format_ident!("{}", variant(aggregation));
    match aggregation {
        Aggregation::Percentile(p) => {
            let millionths = p.millionths;
            quote! {
                #rt::spec::Aggregation::#variant(#rt::spec::Percentage { millionths: #millionths })
            }
        }
        Aggregation::Lag(n) | Aggregation::Lead(n) => {
            quote!(#rt::spec::Aggregation::#variant(#n))
        }
        _ => quote!(#rt::spec::Aggregation::#variant),
    }
}

/// A `spec::FillValue` literal.
pub fn fill_value(value: &FillValue) -> TokenStream {
    let rt = runtime();
    match value {
        FillValue::Int(v) => {
            let v = Literal::i64_suffixed(*v);
            quote!(#rt::spec::FillValue::Int(#v))
        }
        FillValue::Float(v) => {
            let v = Literal::f64_suffixed(*v);
            quote!(#rt::spec::FillValue::Float(#v))
        }
        FillValue::Bool(v) => quote!(#rt::spec::FillValue::Bool(#v)),
        FillValue::Str(v) => quote!(#rt::spec::FillValue::Str(#v)),
    }
}
