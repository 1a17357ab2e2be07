//! `#[column(...)]` on a field of a source, as written: times written as
//! epoch counts (`epoch = "ms"`) or as text in a format (`format =
//! "%d/%m/%Y"`), and columns computed from other columns of the row
//! (`h3(...)`, `stack(...)`, Butterfree's `H3HashTransform` and
//! `StackTransform`).

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, LitStr, Meta, MetaList, Token};

use super::meta::{key_of, lit_str, parse_metas, Seen};
use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

const COLUMN_KEYS: &[Symbol] = &[symbol::EPOCH, symbol::FORMAT, symbol::H3, symbol::STACK];

const H3_KEYS: &[Symbol] = &[symbol::LAT, symbol::LNG, symbol::RESOLUTIONS];

const H3_EXAMPLE: &str = "`h3(lat = lat, lng = lng, resolutions = \"6..=12\")`";

/// `#[column(epoch = "ms")]` or `#[column(format = "...")]`, as written.
#[derive(Default)]
pub struct ColumnAttr {
    pub epoch: Option<LitStr>,
    pub format: Option<LitStr>,
    /// `h3(...)` or `stack(...)`.
    pub derived: Option<RawDerived>,
}

/// Whether `attr` is `#[column(...)]`.
pub fn is_column(attr: &Attribute) -> bool {
    attr.path() == symbol::COLUMN
}

/// The `#[column(...)]` attributes of a source field, merged.
pub fn column_attr(attrs: &[Attribute], errors: &mut Errors) -> ColumnAttr {
    let mut out = ColumnAttr::default();
    let mut seen = Seen::default();
    for attr in attrs.iter().filter(|a| is_column(a)) {
        let Meta::List(list) = &attr.meta else {
            errors.spanned(
                attr,
                "expected `#[column(epoch = \"ms\")]` or `#[column(format = \"%d/%m/%Y %H:%M\")]`",
            );
            continue;
        };
        let metas = match parse_metas(list.tokens.clone()) {
            Ok(metas) => metas,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for meta in &metas {
            match key_of(meta, "`#[column]`", COLUMN_KEYS, &mut seen, errors) {
                Some(k) if k == symbol::EPOCH => out.epoch = lit_str(meta, k, errors),
                Some(k) if k == symbol::FORMAT => out.format = lit_str(meta, k, errors),
                Some(k) if k == symbol::H3 || k == symbol::STACK => {
                    let raw = if k == symbol::H3 {
                        h3(meta, errors)
                    } else {
                        stack(meta, errors)
                    };
                    match (&out.derived, raw) {
                        (Some(_), Some(raw)) => errors.at(
                            raw.keyword(),
                            "`h3` and `stack` cannot both be set: a column is computed one way",
                        ),
                        (None, raw) => out.derived = raw,
                        (Some(_), None) => {}
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// A derived column, as written; columns are not resolved yet.
pub enum RawDerived {
    H3 {
        keyword: Span,
        lat: Option<Ident>,
        lng: Option<Ident>,
        resolutions: Option<LitStr>,
    },
    Stack {
        keyword: Span,
        columns: Vec<Ident>,
    },
}

impl RawDerived {
    pub fn keyword(&self) -> Span {
        match self {
            RawDerived::H3 { keyword, .. } | RawDerived::Stack { keyword, .. } => *keyword,
        }
    }
}

/// `h3(...)` inside `#[column(...)]`.
pub fn h3(meta: &Meta, errors: &mut Errors) -> Option<RawDerived> {
    let list = list(meta, symbol::H3, H3_EXAMPLE, errors)?;
    let metas = match parse_metas(list.tokens.clone()) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let mut seen = Seen::default();
    let (mut lat, mut lng, mut resolutions) = (None, None, None);
    for meta in &metas {
        match key_of(meta, "`h3(...)`", H3_KEYS, &mut seen, errors) {
            Some(k) if k == symbol::LAT => lat = column(meta, k, errors),
            Some(k) if k == symbol::LNG => lng = column(meta, k, errors),
            Some(k) if k == symbol::RESOLUTIONS => resolutions = lit_str(meta, k, errors),
            _ => {}
        }
    }
    let written = seen.written();
    for key in H3_KEYS {
        if !written.contains(key) {
            errors.spanned(
                &list.path,
                format!("`h3` needs `{key}`: write {H3_EXAMPLE}"),
            );
        }
    }
    Some(RawDerived::H3 {
        keyword: list.path.span(),
        lat,
        lng,
        resolutions,
    })
}

/// `stack(a, b)` inside `#[column(...)]`.
pub fn stack(meta: &Meta, errors: &mut Errors) -> Option<RawDerived> {
    let list = list(meta, symbol::STACK, "`stack(id_a, id_b)`", errors)?;
    let columns = match list.parse_args_with(Punctuated::<Ident, Token![,]>::parse_terminated) {
        Ok(columns) => columns.into_iter().collect::<Vec<_>>(),
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                "`stack` lists columns of the source, without quotes: `stack(id_a, id_b)`",
            ));
            return None;
        }
    };
    if columns.is_empty() {
        errors.spanned(
            &list.path,
            "`stack` needs at least one column: `stack(id_a, id_b)`",
        );
    }
    Some(RawDerived::Stack {
        keyword: list.path.span(),
        columns,
    })
}

fn list<'m>(
    meta: &'m Meta,
    key: Symbol,
    example: &str,
    errors: &mut Errors,
) -> Option<&'m MetaList> {
    match meta {
        Meta::List(list) => Some(list),
        _ => {
            errors.spanned(meta, format!("expected {example} for `{key}`"));
            None
        }
    }
}

fn column(meta: &Meta, key: Symbol, errors: &mut Errors) -> Option<Ident> {
    if let Meta::NameValue(nv) = meta {
        if let Expr::Path(p) = &nv.value {
            if let Some(ident) = p.path.get_ident() {
                return Some(ident.clone());
            }
        }
        errors.spanned(
            &nv.value,
            format!("`{key}` takes a column of the source, without quotes: `{key} = {key}`"),
        );
        return None;
    }
    errors.spanned(meta, format!("expected `{key} = column`"));
    None
}
