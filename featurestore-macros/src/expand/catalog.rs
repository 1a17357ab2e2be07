//! `catalog!`: a `catalog` module whose page lists the crate's
//! declarations by kind, with a module per kind re-exporting them inline,
//! so rustdoc lists each with the first line of its docs.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Path, PathSegment};

use super::docs;
use super::tokens::runtime;
use crate::model::{Catalog, Kind};

pub fn expand(catalog: &Catalog) -> TokenStream {
    let rt = runtime();
    let doc = docs::catalog(catalog);
    let groups = catalog.groups.iter().map(|group| {
        let module = format_ident!("{}", group.kind.symbol().0);
        let doc = docs::catalog_group(group.kind);
        let assert = format_ident!(
            "{}",
            match group.kind {
                Kind::Sources => "assert_source",
                Kind::FeatureSets => "assert_feature_set",
                Kind::Datasets => "assert_dataset",
            }
        );
        let paths: Vec<Path> = group.items.iter().map(from_grandchild).collect();
        // Under the path as written: "`X` is not a feature set" points there.
        let asserts = paths.iter().zip(&group.items).map(|(path, written)| {
            quote_spanned! {written.span()=>
                #rt::__private::#assert::<#path>();
            }
        });
        quote! {
            #(#[doc = #doc])*
            pub mod #module {
                #(
                    #[doc(inline)]
                    pub use #paths;
                )*

                #[allow(dead_code, clippy::all)]
                fn __check() {
                    #(#asserts)*
                }
            }
        }
    });
    // Inner docs: rustdoc resolves the links of a module's outer docs in its
    // parent, where `sources::OrderEvents` is not in scope, and reports no
    // broken link of macro-expanded docs.
    quote! {
        pub mod catalog {
            #(#![doc = #doc])*
            #(#groups)*
        }
    }
}

/// `path` as seen from a module two levels below the one it was written
/// in: `catalog::sources` names `OrderEvents` as `super::super::OrderEvents`.
fn from_grandchild(path: &Path) -> Path {
    let first = path.segments.first().map(|s| s.ident.to_string());
    if path.leading_colon.is_some() || first.as_deref() == Some("crate") {
        return path.clone();
    }
    let mut segments: Vec<PathSegment> = path.segments.iter().cloned().collect();
    if first.as_deref() == Some("self") {
        segments.remove(0);
    }
    // Spanned as the path written, so that errors about it point there.
    let span = path
        .segments
        .first()
        .map_or_else(Span::call_site, |s| s.ident.span());
    let supers: [PathSegment; 2] = [
        syn::parse_quote_spanned!(span=> super),
        syn::parse_quote_spanned!(span=> super),
    ];
    let mut out = path.clone();
    out.segments = supers.into_iter().chain(segments).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::path_string;

    #[test]
    fn paths_from_the_groups_modules() {
        for (written, seen) in [
            ("OrderEvents", "super::super::OrderEvents"),
            ("sets::UserOrders", "super::super::sets::UserOrders"),
            ("self::UserOrders", "super::super::UserOrders"),
            ("super::UserOrders", "super::super::super::UserOrders"),
            ("crate::sets::UserOrders", "crate::sets::UserOrders"),
            ("::other::Source", "::other::Source"),
        ] {
            let path: Path = syn::parse_str(written).unwrap();
            assert_eq!(path_string(&from_grandchild(&path)), seen);
        }
    }
}
