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
        let paths: Vec<Path> = group.items.iter().map(|p| from_below(p, 2)).collect();
        quote! {
            #(#[doc = #doc])*
            pub mod #module {
                #(
                    #[doc(inline)]
                    pub use #paths;
                )*
            }
        }
    });
    // The same list is the CLI's registry: one list to keep, not two. Its
    // calls, under each path as written, also check the kinds ("`X` is not
    // a feature set" points at `X`).
    let registered = catalog.groups.iter().flat_map(|group| {
        let method = format_ident!(
            "{}",
            match group.kind {
                Kind::Sources => "source",
                Kind::FeatureSets => "feature_set",
                Kind::Datasets => "dataset",
            }
        );
        group.items.iter().map(move |written| {
            let path = from_below(written, 1);
            quote_spanned! {written.span()=> .#method::<#path>() }
        })
    });
    // Inner docs: rustdoc resolves the links of a module's outer docs in its
    // parent, where `sources::OrderEvents` is not in scope, and reports no
    // broken link of macro-expanded docs.
    quote! {
        pub mod catalog {
            #(#![doc = #doc])*
            #(#groups)*

            /// Every declaration of the catalog, for the command line
            /// (`featurestore_runtime::cli::main(registry(), app)`).
            pub fn registry() -> #rt::Registry {
                #rt::Registry::new() #(#registered)*
            }
        }
    }
}

/// `path` as seen from a module `levels` below the one it was written in:
/// `catalog::sources` names `OrderEvents` as `super::super::OrderEvents`.
fn from_below(path: &Path, levels: usize) -> Path {
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
    let supers = (0..levels).map(|_| -> PathSegment { syn::parse_quote_spanned!(span=> super) });
    let mut out = path.clone();
    out.segments = supers.chain(segments).collect();
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
            assert_eq!(path_string(&from_below(&path, 2)), seen);
        }
    }
}
