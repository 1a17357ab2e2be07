//! What a declaration with errors expands to: the struct, the errors, and
//! a stub impl of the trait, so uses of the type elsewhere still compile
//! and the user sees only the errors that matter (thiserror's
//! `fallback.rs`, clap's `dummies.rs`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{Fields, Item};

use super::feature_set::strip_feature_attrs;
use super::source::{constants, has_column};
use super::tokens::runtime;
use crate::attr::{docs, is_column};
use crate::model::{fallback_encoding, Column};

pub fn source(item: &Item, error: syn::Error) -> TokenStream {
    let rt = runtime();
    let error = error.to_compile_error();
    let Some(ident) = type_ident(item) else {
        return quote!(#item #error);
    };
    // Columns stay visible to feature sets, so one typo in a source does not
    // turn every feature set reading it red.
    let columns: Vec<Column<'_>> = match item {
        Item::Struct(s) => match &s.fields {
            Fields::Named(named) => named
                .named
                .iter()
                .filter_map(|f| {
                    let ident = f.ident.as_ref()?;
                    Some(Column {
                        ident,
                        name: ident.unraw().to_string(),
                        ty: &f.ty,
                        description: docs(&f.attrs),
                        time: fallback_encoding(&f.attrs),
                        derived: None,
                        derived_span: None,
                    })
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let has_columns = columns.iter().map(|c| has_column(ident, c));
    let constants = constants(&columns.iter().collect::<Vec<_>>());
    let mut item = item.clone();
    if let Item::Struct(s) = &mut item {
        for field in s.fields.iter_mut() {
            field.attrs.retain(|a| !is_column(a));
        }
    }
    quote! {
        #item
        #error
        const _: () = {
            impl #rt::Source for #ident {
                const SPEC: #rt::spec::SourceSpec = #rt::__private::FALLBACK_SOURCE;
            }
            #(#has_columns)*
            #[allow(non_upper_case_globals)]
            impl #ident {
                #(#constants)*
            }
        };
    }
}

pub fn feature_set(item: &Item, error: syn::Error) -> TokenStream {
    let rt = runtime();
    let error = error.to_compile_error();
    let mut item = item.clone();
    if let Item::Struct(s) = &mut item {
        strip_feature_attrs(s);
    }
    let Some(ident) = type_ident(&item) else {
        return quote!(#item #error);
    };
    quote! {
        #item
        #error
        const _: () = {
            impl #rt::FeatureSet for #ident {
                const SPEC: #rt::spec::FeatureSetSpec = #rt::__private::FALLBACK_FEATURE_SET;
                type Row = ();
                type Features = ();
            }
        };
    }
}

pub fn dataset(item: &Item, error: syn::Error) -> TokenStream {
    let rt = runtime();
    let error = error.to_compile_error();
    let Some(ident) = type_ident(item) else {
        return quote!(#item #error);
    };
    quote! {
        #item
        #error
        const _: () = {
            impl #rt::Dataset for #ident {
                const SPEC: #rt::spec::DatasetSpec = #rt::__private::FALLBACK_DATASET;
                type Row = ();
            }
        };
    }
}

/// The name of a non-generic type declared by `item`: only those can get a
/// stub impl without guessing bounds.
fn type_ident(item: &Item) -> Option<&syn::Ident> {
    let (ident, generics) = match item {
        Item::Struct(s) => (&s.ident, &s.generics),
        Item::Enum(e) => (&e.ident, &e.generics),
        Item::Union(u) => (&u.ident, &u.generics),
        _ => return None,
    };
    generics.params.is_empty().then_some(ident)
}

/// An empty `catalog` module besides the errors: links to it from the
/// crate's docs still resolve.
pub fn catalog(error: syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    let rt = runtime();
    // The module and its registry still exist, so that `pub use
    // catalog::registry;` and the binary's call add no error to the one
    // that matters.
    quote! {
        #error
        pub mod catalog {
            pub fn registry() -> #rt::Registry {
                #rt::Registry::new()
            }
        }
    }
}
