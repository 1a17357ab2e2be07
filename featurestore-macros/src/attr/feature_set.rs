//! `#[feature_set(...)]`: the entity, source, windows and options of a
//! feature set.

use proc_macro2::TokenStream;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Meta, Path, Token};

use super::meta::{column_ident, fill_lit, key_of, lit_str, parse_metas, type_path, FillLit, Seen};
use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

/// The arguments of `#[feature_set(...)]`.
pub struct FeatureSetAttr {
    pub entity: Option<LitStr>,
    pub window: Option<LitStr>,
    pub slide: Option<LitStr>,
    pub ttl: Option<LitStr>,
    pub source: Option<Path>,
    pub timestamp: Option<Ident>,
    pub filter: Option<LitStr>,
    pub query: Option<LitStr>,
    pub fill_null: Option<FillLit>,
    pub pivot: Option<PivotAttr>,
    pub distinct: Option<DistinctAttr>,
    pub pre_hooks: Vec<Path>,
    pub post_hooks: Vec<Path>,
    pub name: Option<LitStr>,
    pub description: Option<LitStr>,
    /// The keys written, valid or not: a key with a bad value is not also
    /// reported missing.
    pub written: Vec<Symbol>,
    /// The whole argument list, to point at when a key is missing.
    pub args: TokenStream,
}

/// `distinct(order_id, keep = last)`.
pub struct DistinctAttr {
    pub subset: Vec<Ident>,
    /// `first` or `last`, not checked yet.
    pub keep: Option<Ident>,
}

/// `pivot(method, ["pix", "card"])`.
pub struct PivotAttr {
    pub keyword: Path,
    pub column: Ident,
    pub values: Vec<Lit>,
}

impl FeatureSetAttr {
    pub fn parse(args: TokenStream, errors: &mut Errors) -> syn::Result<FeatureSetAttr> {
        let metas = parse_metas(args.clone())?;
        let mut attr = FeatureSetAttr {
            entity: None,
            window: None,
            slide: None,
            ttl: None,
            source: None,
            timestamp: None,
            filter: None,
            query: None,
            fill_null: None,
            pivot: None,
            distinct: None,
            pre_hooks: Vec::new(),
            post_hooks: Vec::new(),
            name: None,
            description: None,
            written: Vec::new(),
            args,
        };
        let mut seen = Seen::default();
        for meta in &metas {
            let Some(key) = key_of(
                meta,
                "`#[feature_set]`",
                symbol::FEATURE_SET_KEYS,
                &mut seen,
                errors,
            ) else {
                continue;
            };
            let slot = match key {
                symbol::ENTITY => &mut attr.entity,
                symbol::WINDOW => &mut attr.window,
                symbol::SLIDE => &mut attr.slide,
                symbol::TTL => &mut attr.ttl,
                symbol::FILTER => &mut attr.filter,
                symbol::QUERY => &mut attr.query,
                symbol::NAME => &mut attr.name,
                symbol::DESCRIPTION => &mut attr.description,
                symbol::SOURCE => {
                    attr.source = type_path(meta, key, errors);
                    continue;
                }
                symbol::TIMESTAMP => {
                    attr.timestamp = column_ident(meta, key, errors);
                    continue;
                }
                symbol::PIVOT => {
                    attr.pivot = pivot(meta, errors);
                    continue;
                }
                symbol::DISTINCT => {
                    attr.distinct = distinct(meta, errors);
                    continue;
                }
                symbol::PRE_HOOKS => {
                    attr.pre_hooks = hooks(meta, key, errors);
                    continue;
                }
                symbol::POST_HOOKS => {
                    attr.post_hooks = hooks(meta, key, errors);
                    continue;
                }
                _ => {
                    attr.fill_null = fill_lit(meta, errors);
                    continue;
                }
            };
            *slot = lit_str(meta, key, errors);
        }
        attr.written = seen.written();
        Ok(attr)
    }
}

/// `pre_hooks(dedup, crate::hooks::clean)`: paths of functions.
fn hooks(meta: &Meta, key: Symbol, errors: &mut Errors) -> Vec<Path> {
    let example = format!("`{key}(drop_test_users, crate::hooks::clean)`");
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!(
                "`{key}` lists functions `fn(LazyFrame) -> PolarsResult<LazyFrame>`: {example}"
            ),
        );
        return Vec::new();
    };
    match list.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated) {
        Ok(paths) => {
            if paths.is_empty() {
                errors.spanned(
                    &list.path,
                    format!("`{key}` is empty: list functions, as in {example}, or remove it"),
                );
            }
            paths.into_iter().collect()
        }
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected paths of functions, as in {example}"),
            ));
            Vec::new()
        }
    }
}

/// `distinct(order_id, keep = last)`.
fn distinct(meta: &Meta, errors: &mut Errors) -> Option<DistinctAttr> {
    let example = "`distinct(order_id, keep = last)`";
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!("`distinct` lists the columns that make events duplicates: {example}"),
        );
        return None;
    };
    let metas = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected columns, then optionally `keep`, as in {example}"),
            ));
            return None;
        }
    };
    let mut attr = DistinctAttr {
        subset: Vec::new(),
        keep: None,
    };
    for meta in metas {
        match &meta {
            Meta::Path(p) if p.get_ident().is_some() => {
                attr.subset.extend(p.get_ident().cloned());
            }
            Meta::NameValue(nv) if nv.path == symbol::KEEP => match &nv.value {
                Expr::Path(p) if p.path.get_ident().is_some() => {
                    attr.keep = p.path.get_ident().cloned();
                }
                other => errors.spanned(
                    other,
                    "`keep` is `first` or `last`, without quotes: `keep = last`",
                ),
            },
            other => errors.spanned(
                other,
                format!("expected a column of the source or `keep = first|last`, as in {example}"),
            ),
        }
    }
    if attr.subset.is_empty() {
        errors.spanned(
            &list.path,
            format!("`distinct` needs at least one column, as in {example}"),
        );
    }
    Some(attr)
}

/// `pivot(method, ["pix", "card"])`.
fn pivot(meta: &Meta, errors: &mut Errors) -> Option<PivotAttr> {
    let example = "`pivot(method, [\"pix\", \"card\"])`";
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!("`pivot` takes a column and its values: {example}"),
        );
        return None;
    };
    let args = match list.parse_args_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
        Ok(args) => args,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected a column and its values, as in {example}"),
            ));
            return None;
        }
    };
    let mut args = args.into_iter();
    let column = match args.next() {
        Some(Expr::Path(p)) if p.qself.is_none() && p.path.get_ident().is_some() => {
            p.path.get_ident().cloned()
        }
        Some(other) => {
            errors.spanned(
                &other,
                format!("the first argument of `pivot` is a column of the source, as in {example}"),
            );
            None
        }
        None => {
            errors.spanned(
                &list.path,
                format!("`pivot` needs a column and its values: {example}"),
            );
            return None;
        }
    };
    let values = match args.next() {
        Some(Expr::Array(array)) => {
            let mut values = Vec::new();
            for element in &array.elems {
                match element {
                    Expr::Lit(ExprLit {
                        lit: lit @ (Lit::Str(_) | Lit::Int(_) | Lit::Bool(_)),
                        ..
                    }) => values.push(lit.clone()),
                    other => errors.spanned(
                        other,
                        "a pivot value is a string, integer or boolean literal",
                    ),
                }
            }
            if array.elems.is_empty() {
                errors.spanned(
                    &array,
                    format!("`pivot` needs at least one value, as in {example}"),
                );
            }
            values
        }
        Some(other) => {
            errors.spanned(
                &other,
                format!(
                    "the values of `pivot` are a list of literals in brackets, as in {example}"
                ),
            );
            return None;
        }
        None => {
            errors.spanned(
                &list.path,
                format!("`pivot` needs the values to pivot on after the column: {example}"),
            );
            return None;
        }
    };
    if let Some(extra) = args.next() {
        errors.spanned(
            &extra,
            format!("`pivot` takes a column and one list of values, as in {example}"),
        );
    }
    Some(PivotAttr {
        keyword: list.path.clone(),
        column: column?,
        values,
    })
}
