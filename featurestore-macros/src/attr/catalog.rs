//! `catalog! { sources(...), feature_sets(...), datasets(...) }`: the
//! declarations a crate's catalog page lists, by kind.

use proc_macro2::TokenStream;
use syn::punctuated::Punctuated;
use syn::{Meta, Path, Token};

use super::meta::{key_of, parse_metas, plain_path, Seen};
use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

/// The groups of `catalog!`, in the order written, each with the paths it lists.
pub struct CatalogAttr {
    pub groups: Vec<(Symbol, Path, Vec<Path>)>,
}

impl CatalogAttr {
    pub fn parse(args: TokenStream, errors: &mut Errors) -> syn::Result<CatalogAttr> {
        let metas = parse_metas(args)?;
        let mut seen = Seen::default();
        let mut groups = Vec::new();
        for meta in &metas {
            let Some(key) = key_of(meta, "`catalog!`", symbol::CATALOG_KEYS, &mut seen, errors)
            else {
                continue;
            };
            groups.push((key, meta.path().clone(), paths(meta, key, errors)));
        }
        Ok(CatalogAttr { groups })
    }
}

/// `feature_sets(UserOrders, crate::sets::UserChargebacks)`.
fn paths(meta: &Meta, key: Symbol, errors: &mut Errors) -> Vec<Path> {
    let example = format!("`{key}({})`", example(key));
    let Meta::List(list) = meta else {
        errors.spanned(meta, format!("`{key}` lists structs: {example}"));
        return Vec::new();
    };
    match list.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated) {
        Ok(paths) => {
            let mut kept = Vec::new();
            for path in paths {
                if plain_path(&path) {
                    kept.push(path);
                } else {
                    errors.spanned(
                        &path,
                        format!("`{key}` lists paths of structs, without generics: {example}"),
                    );
                }
            }
            kept
        }
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected paths of structs, as in {example}"),
            ));
            Vec::new()
        }
    }
}

fn example(key: Symbol) -> &'static str {
    if key == symbol::SOURCES {
        "OrderEvents"
    } else if key == symbol::FEATURE_SETS {
        "UserOrders, UserChargebacks"
    } else {
        "AwesomeDataset"
    }
}
