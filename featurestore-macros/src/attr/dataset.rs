//! `#[dataset(...)]`: the spine, its keys and time, and the feature sets
//! joined onto it.

use proc_macro2::TokenStream;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Meta, Path, Token};

use super::meta::{
    column_ident, fill_lit, key_of, lit_str, parse_metas, path_string, type_path, value, FillLit,
    Seen,
};
use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

const FEATURES_EXAMPLE: &str = "`features(UserOrders, UserChargebacks(ttl = \"30d\"))`";
const KEEP_EXAMPLE: &str = "`keep(order_id, order_timestamp, cpf)`";

/// The arguments of `#[dataset(...)]`.
pub struct DatasetAttr {
    pub spine: Option<Path>,
    pub key: Option<KeyArg>,
    pub timestamp: Option<Ident>,
    pub features: Option<Features>,
    pub fill_null: Option<FillLit>,
    pub filter: Option<LitStr>,
    pub query: Option<LitStr>,
    pub keep: Option<KeepAttr>,
    pub name: Option<LitStr>,
    pub description: Option<LitStr>,
    /// The keys written, valid or not: a key with a bad value is not also
    /// reported missing.
    pub written: Vec<Symbol>,
    /// The whole argument list, to point at when a key is missing.
    pub args: TokenStream,
}

/// `key = cpf`, or several columns: `key = "cpf,merchant_id"`.
pub enum KeyArg {
    Column(Ident),
    List(LitStr),
}

/// `features(UserOrders, UserChargebacks(ttl = "30d"))`.
pub struct Features {
    pub keyword: Path,
    pub joins: Vec<JoinAttr>,
}

/// One entry of `features(...)`: a feature set and its options.
pub struct JoinAttr {
    pub path: Path,
    pub ttl: Option<LitStr>,
    pub prefix: Option<LitStr>,
    /// `key = merchant_id`: the spine column(s) holding this feature set's
    /// entity keys, when not the dataset's `key`.
    pub key: Option<KeyArg>,
}

/// `keep(order_id, cpf)`.
pub struct KeepAttr {
    pub keyword: Path,
    pub columns: Vec<Ident>,
}

impl DatasetAttr {
    pub fn parse(args: TokenStream, errors: &mut Errors) -> syn::Result<DatasetAttr> {
        let metas = parse_metas(args.clone())?;
        let mut attr = DatasetAttr {
            spine: None,
            key: None,
            timestamp: None,
            features: None,
            fill_null: None,
            filter: None,
            query: None,
            keep: None,
            name: None,
            description: None,
            written: Vec::new(),
            args,
        };
        let mut seen = Seen::default();
        for meta in &metas {
            let Some(key) = key_of(
                meta,
                "`#[dataset]`",
                symbol::DATASET_KEYS,
                &mut seen,
                errors,
            ) else {
                continue;
            };
            let slot = match key {
                symbol::FILTER => &mut attr.filter,
                symbol::QUERY => &mut attr.query,
                symbol::NAME => &mut attr.name,
                symbol::DESCRIPTION => &mut attr.description,
                symbol::SPINE => {
                    attr.spine = type_path(meta, key, errors);
                    continue;
                }
                symbol::KEY => {
                    attr.key = key_arg(meta, errors);
                    continue;
                }
                symbol::TIMESTAMP => {
                    attr.timestamp = column_ident(meta, key, errors);
                    continue;
                }
                symbol::FEATURES => {
                    attr.features = features(meta, errors);
                    continue;
                }
                symbol::KEEP => {
                    attr.keep = keep(meta, errors);
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

fn key_arg(meta: &Meta, errors: &mut Errors) -> Option<KeyArg> {
    let key = symbol::KEY;
    let message = "`key` takes a column of the spine, `key = cpf`, or several in a string, \
                   `key = \"cpf,merchant_id\"`";
    match value(meta, key, "cpf", errors)? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(KeyArg::List(s.clone())),
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => match p.path.get_ident() {
            Some(ident) => Some(KeyArg::Column(ident.clone())),
            None => {
                errors.spanned(p, message);
                None
            }
        },
        other => {
            errors.spanned(other, message);
            None
        }
    }
}

fn features(meta: &Meta, errors: &mut Errors) -> Option<Features> {
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!("`features` lists the feature sets to join: {FEATURES_EXAMPLE}"),
        );
        return None;
    };
    let metas = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected feature sets, as in {FEATURES_EXAMPLE}"),
            ));
            return None;
        }
    };
    let mut joins = Vec::new();
    for meta in metas {
        let (path, options) = match meta {
            Meta::Path(path) => (path, None),
            Meta::List(options) => (options.path.clone(), Some(options)),
            Meta::NameValue(nv) => {
                errors.spanned(
                    &nv,
                    format!(
                        "expected a feature set, as in {FEATURES_EXAMPLE}: options go in \
                         parentheses after it"
                    ),
                );
                continue;
            }
        };
        let mut join = JoinAttr {
            path,
            ttl: None,
            prefix: None,
            key: None,
        };
        if let Some(options) = options {
            join_options(&options, &mut join, errors);
        }
        joins.push(join);
    }
    Some(Features {
        keyword: list.path.clone(),
        joins,
    })
}

/// `ttl = "30d", prefix = "o_"` in `UserOrders(...)`.
fn join_options(list: &syn::MetaList, join: &mut JoinAttr, errors: &mut Errors) {
    let name = path_string(&join.path);
    let example = format!("`{name}(ttl = \"30d\", prefix = \"o_\", key = merchant_id)`");
    let options = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(options) => options,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected options of the join, as in {example}"),
            ));
            return;
        }
    };
    let context = format!("`{name}(...)`");
    let mut seen = Seen::default();
    for option in &options {
        let Some(key) = key_of(option, &context, symbol::JOIN_KEYS, &mut seen, errors) else {
            continue;
        };
        if key == symbol::KEY {
            join.key = key_arg(option, errors);
            continue;
        }
        let value = lit_str(option, key, errors);
        match key {
            symbol::TTL => join.ttl = value,
            _ => join.prefix = value,
        }
    }
}

fn keep(meta: &Meta, errors: &mut Errors) -> Option<KeepAttr> {
    let Meta::List(list) = meta else {
        errors.spanned(
            meta,
            format!("`keep` lists the spine columns to keep, in output order: {KEEP_EXAMPLE}"),
        );
        return None;
    };
    match list.parse_args_with(Punctuated::<Ident, Token![,]>::parse_terminated) {
        Ok(columns) => Some(KeepAttr {
            keyword: list.path.clone(),
            columns: columns.into_iter().collect(),
        }),
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected column names of the spine, as in {KEEP_EXAMPLE}"),
            ));
            None
        }
    }
}
