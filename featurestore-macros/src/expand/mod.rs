//! Stage 4: code generation, from a checked model only.
//!
//! Each entry point runs the stages on one item: its raw attributes, the
//! model, the checks, then the expansion of `source.rs`, `feature_set.rs`
//! or `dataset.rs`; any error gives `fallback.rs`'s stub instead.

mod catalog;
mod dataset;
mod docs;
pub mod fallback;
mod feature_set;
mod preprocess;
mod row;
mod source;
mod tokens;

use proc_macro2::TokenStream;
use syn::Item;

use crate::attr::{self, CatalogAttr, DatasetAttr, FeatureSetAttr, SourceAttr};
use crate::check;
use crate::ctxt::Errors;
use crate::model;

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

/// `catalog! { ... }`, or every error found in it.
pub fn catalog(args: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::new();
    let attr = CatalogAttr::parse(args, &mut errors)
        .map_err(|e| errors.push(e))
        .ok();
    let model = attr.and_then(|attr| model::catalog(&attr, &mut errors));
    match model {
        Some(model) if errors.is_empty() => Ok(catalog::expand(&model)),
        _ => Err(errors.into_error(|| {
            syn::Error::new(
                proc_macro2::Span::call_site(),
                "featurestore-macros could not expand `catalog!` but found no error to report; \
                 please file a bug",
            )
        })),
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
