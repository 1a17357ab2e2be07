//! `#[source(...)]`: where the rows come from, and the pre-processing steps.

use proc_macro2::TokenStream;
use syn::punctuated::Punctuated;
use syn::{LitStr, Meta, Path, Token};

use super::meta::{key_of, lit_str, parse_metas, plain_path, Seen};
use super::preprocess::{is_step, parse_step, RawStep};
use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

/// The arguments of `#[source(...)]`.
pub struct SourceAttr {
    pub path: Option<LitStr>,
    pub format: Option<LitStr>,
    pub query: Option<LitStr>,
    pub inputs: Option<Inputs>,
    pub name: Option<LitStr>,
    pub description: Option<LitStr>,
    pub on_bad_rows: Option<LitStr>,
    /// Pre-processing steps, in declaration order.
    pub preprocess: Vec<RawStep>,
    /// The keys written, valid or not: a key with a bad value is not also
    /// reported missing.
    pub written: Vec<Symbol>,
    /// The whole argument list, to point at when a key is missing.
    pub args: TokenStream,
}

/// `inputs(A, B)`.
pub struct Inputs {
    pub keyword: Path,
    pub paths: Vec<Path>,
}

impl SourceAttr {
    pub fn parse(args: TokenStream, errors: &mut Errors) -> syn::Result<SourceAttr> {
        let metas = parse_metas(args.clone())?;
        let mut attr = SourceAttr {
            path: None,
            format: None,
            query: None,
            inputs: None,
            name: None,
            description: None,
            on_bad_rows: None,
            preprocess: Vec::new(),
            written: Vec::new(),
            args,
        };
        let mut seen = Seen::default();
        for meta in &metas {
            // Steps may repeat: they run in the order written.
            if is_step(meta) {
                attr.preprocess.extend(parse_step(meta, errors));
                continue;
            }
            let Some(key) = key_of(meta, "`#[source]`", symbol::SOURCE_KEYS, &mut seen, errors)
            else {
                continue;
            };
            let slot = match key {
                symbol::PATH => &mut attr.path,
                symbol::FORMAT => &mut attr.format,
                symbol::QUERY => &mut attr.query,
                symbol::NAME => &mut attr.name,
                symbol::DESCRIPTION => &mut attr.description,
                symbol::ON_BAD_ROWS => &mut attr.on_bad_rows,
                _ => {
                    attr.inputs = inputs(meta, errors);
                    continue;
                }
            };
            *slot = lit_str(meta, key, errors);
        }
        attr.written = seen.written();
        Ok(attr)
    }
}

fn inputs(meta: &Meta, errors: &mut Errors) -> Option<Inputs> {
    let example = "`inputs(OrderEvents, Users)`";
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!("`inputs` lists the sources the query reads: {example}"),
        );
        return None;
    };
    match list.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated) {
        Ok(paths) => {
            let mut ok = Vec::new();
            for path in paths {
                if plain_path(&path) {
                    ok.push(path);
                } else {
                    errors.spanned(
                        &path,
                        format!("expected the path of a `#[source]` struct, as in {example}"),
                    );
                }
            }
            Some(Inputs {
                keyword: list.path.clone(),
                paths: ok,
            })
        }
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected paths of `#[source]` structs, as in {example}"),
            ));
            None
        }
    }
}
