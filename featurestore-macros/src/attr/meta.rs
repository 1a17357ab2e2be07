//! What every attribute is made of: a comma-separated list of `key =
//! value` and `key(...)` items, each key known, written once, with a value
//! of the expected shape; and the helpers of messages about them.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Meta, Path, Token, UnOp};

use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

pub(super) fn parse_metas(args: TokenStream) -> syn::Result<Punctuated<Meta, Token![,]>> {
    Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)
}

/// Keys seen so far, to report duplicates, and the keys that unknown keys
/// look like misspellings of.
#[derive(Default)]
pub(super) struct Seen(Vec<Symbol>, Vec<Symbol>);

impl Seen {
    /// The keys written, valid or not (a misspelled key counts as the one
    /// it looks like): none of them is also reported missing.
    pub(super) fn written(self) -> Vec<Symbol> {
        let Seen(mut keys, misspelled) = self;
        keys.extend(misspelled);
        keys
    }
}

/// The known key `meta` sets, or `None` (with an error) for an unknown or
/// repeated key. `context` is where the key is, for messages: `` `#[source]` ``.
pub(super) fn key_of(
    meta: &Meta,
    context: &str,
    keys: &[Symbol],
    seen: &mut Seen,
    errors: &mut Errors,
) -> Option<Symbol> {
    let path = meta.path();
    let Some(key) = keys.iter().copied().find(|k| path == k) else {
        let written = path_string(path);
        let suggestion = did_you_mean(&written, keys);
        seen.1.extend(suggestion);
        let hint = suggestion
            .map(|k| format!("did you mean `{k}`? "))
            .unwrap_or_default();
        errors.spanned(
            path,
            format!(
                "unknown key `{written}` in {context}: {hint}the keys are {}",
                symbol::list(keys)
            ),
        );
        return None;
    };
    if seen.0.contains(&key) {
        errors.spanned(path, format!("duplicate `{key}`: set it once"));
        return None;
    }
    seen.0.push(key);
    Some(key)
}

/// The value of `key = value`, or an error saying what form is expected.
pub(super) fn value<'m>(
    meta: &'m Meta,
    key: Symbol,
    example: &str,
    errors: &mut Errors,
) -> Option<&'m Expr> {
    match meta {
        Meta::NameValue(nv) => Some(&nv.value),
        _ => {
            errors.spanned(meta, format!("expected `{key} = {example}`"));
            None
        }
    }
}

pub(super) fn lit_str(meta: &Meta, key: Symbol, errors: &mut Errors) -> Option<LitStr> {
    let example = "\"...\"";
    match value(meta, key, example, errors)? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        other => {
            errors.spanned(
                other,
                format!("`{key}` takes a string literal: `{key} = {example}`"),
            );
            None
        }
    }
}

pub(super) fn type_path(meta: &Meta, key: Symbol, errors: &mut Errors) -> Option<Path> {
    match value(meta, key, "OrderEvents", errors)? {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() && plain_path(&p.path) => {
            Some(p.path.clone())
        }
        other => {
            errors.spanned(
                other,
                format!(
                    "`{key}` takes the path of a `#[source]` struct, e.g. `{key} = OrderEvents`"
                ),
            );
            None
        }
    }
}

pub(super) fn column_ident(meta: &Meta, key: Symbol, errors: &mut Errors) -> Option<Ident> {
    let example = "order_timestamp";
    match value(meta, key, example, errors)? {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => {
            if let Some(ident) = p.path.get_ident() {
                return Some(ident.clone());
            }
            errors.spanned(
                p,
                format!("`{key}` takes a column name of the source, e.g. `{key} = {example}`"),
            );
            None
        }
        other => {
            errors.spanned(
                other,
                format!(
                    "`{key}` takes a column name of the source, without quotes: `{key} = {example}`"
                ),
            );
            None
        }
    }
}

/// `fill_null = <literal>`, possibly negative.
pub struct FillLit {
    pub negative: bool,
    pub lit: Lit,
}

pub(super) fn fill_lit(meta: &Meta, errors: &mut Errors) -> Option<FillLit> {
    let key = symbol::FILL_NULL;
    let expr = value(meta, key, "0", errors)?;
    let (negative, lit) = match expr {
        Expr::Lit(ExprLit { lit, .. }) => (false, Some(lit)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: operand,
            ..
        }) => match &**operand {
            Expr::Lit(ExprLit {
                lit: lit @ (Lit::Int(_) | Lit::Float(_)),
                ..
            }) => (true, Some(lit)),
            _ => (true, None),
        },
        _ => (false, None),
    };
    match lit {
        Some(lit @ (Lit::Int(_) | Lit::Float(_) | Lit::Bool(_) | Lit::Str(_))) => Some(FillLit {
            negative,
            lit: lit.clone(),
        }),
        _ => {
            errors.spanned(
                expr,
                "`fill_null` takes an integer, float, boolean or string literal, e.g. `fill_null = 0`",
            );
            None
        }
    }
}

/// A path without generic arguments: `OrderEvents`, `crate::sources::Users`.
pub(super) fn plain_path(path: &Path) -> bool {
    path.segments
        .iter()
        .all(|s| matches!(s.arguments, syn::PathArguments::None))
}

/// The path as written, without spaces: `crate::sources::Users`.
pub fn path_string(path: &Path) -> String {
    let mut out = String::new();
    if path.leading_colon.is_some() {
        out.push_str("::");
    }
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    out.push_str(&segments.join("::"));
    out
}

/// The closest known word to a misspelled one, if any is close.
pub fn did_you_mean<K: Copy + Into<&'static str>>(written: &str, known: &[K]) -> Option<K> {
    featurestore_core::suggest::did_you_mean(written, known.iter().map(|&k| k.into()))
        .map(|i| known[i])
}

/// The span of the attribute's arguments, for "missing key" errors.
pub fn args_error(args: &TokenStream, message: String) -> syn::Error {
    if args.is_empty() {
        syn::Error::new(Span::call_site(), message)
    } else {
        syn::Error::new_spanned(args, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = symbol::FEATURE_SET_KEYS;
        assert_eq!(did_you_mean("windows", keys), Some(symbol::WINDOW));
        assert_eq!(did_you_mean("entiy", keys), Some(symbol::ENTITY));
        assert_eq!(did_you_mean("fill", keys), Some(symbol::FILL_NULL));
        assert_eq!(did_you_mean("zzzzzzzz", keys), None);
        assert_eq!(
            did_you_mean("stdev", &featurestore_core::Aggregation::NAMES),
            Some("stddev")
        );
    }
}
