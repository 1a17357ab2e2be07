//! `#[column(h3(lat = lat, lng = lng, resolutions = "6..=12"))]` and
//! `#[column(stack(a, b))]` on a source field: a column computed from other
//! columns of the row, one row per value (Butterfree's `H3HashTransform`
//! with its stack, and `StackTransform`).

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Meta, MetaList, Token};

use crate::attr::{key_of, lit_str, parse_metas, Seen};
use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

const H3_KEYS: &[Symbol] = &[symbol::LAT, symbol::LNG, symbol::RESOLUTIONS];
const H3_EXAMPLE: &str = "`h3(lat = lat, lng = lng, resolutions = \"6..=12\")`";

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

/// A validated derived column: its inputs are named, not yet resolved
/// against the struct's fields (see [`check`]).
pub enum Derived {
    H3 {
        lat: Ident,
        lng: Ident,
        resolutions: Vec<u8>,
    },
    Stack {
        columns: Vec<Ident>,
    },
}

impl Derived {
    /// The columns it reads.
    pub fn inputs(&self) -> Vec<&Ident> {
        match self {
            Derived::H3 { lat, lng, .. } => vec![lat, lng],
            Derived::Stack { columns } => columns.iter().collect(),
        }
    }

    /// In words, for docs.
    pub fn describe(&self) -> String {
        match self {
            Derived::H3 {
                lat,
                lng,
                resolutions,
            } => {
                let res: Vec<String> = resolutions.iter().map(u8::to_string).collect();
                format!(
                    "computed: the H3 cell (hexadecimal id) of `{lat}`, `{lng}` at resolution{} {}; \
                     one row per resolution for each row read",
                    if res.len() == 1 { "" } else { "s" },
                    res.join(", ")
                )
            }
            Derived::Stack { columns } => {
                let cols: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
                format!(
                    "computed: the values of {} stacked, one row per column for each row read",
                    cols.join(", ")
                )
            }
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

impl RawDerived {
    pub fn keyword(&self) -> Span {
        match self {
            RawDerived::H3 { keyword, .. } | RawDerived::Stack { keyword, .. } => *keyword,
        }
    }
}

/// Validates the values of a derived column on its own.
pub fn validate(raw: &RawDerived, errors: &mut Errors) -> Option<Derived> {
    match raw {
        RawDerived::H3 {
            lat,
            lng,
            resolutions,
            ..
        } => {
            // Invalid or missing resolutions are reported already; the
            // columns are still checked, so both mistakes show at once.
            let resolutions = resolutions
                .as_ref()
                .and_then(|r| parse_resolutions(r, errors))
                .unwrap_or_default();
            Some(Derived::H3 {
                lat: lat.clone()?,
                lng: lng.clone()?,
                resolutions,
            })
        }
        RawDerived::Stack { columns, .. } if !columns.is_empty() => Some(Derived::Stack {
            columns: columns.clone(),
        }),
        RawDerived::Stack { .. } => None,
    }
}

/// `"6..=12"` or `"7, 9"`: resolutions 0 to 15, each once.
fn parse_resolutions(lit: &LitStr, errors: &mut Errors) -> Option<Vec<u8>> {
    let text = lit.value();
    let number = |s: &str| -> Option<u8> { s.trim().parse::<u8>().ok().filter(|r| *r <= 15) };
    let bad = |why: &str| {
        format!("{why} in `resolutions = \"{text}\"`: H3 resolutions are 0 to 15, as a range `\"6..=12\"` or a list `\"7, 9\"`")
    };
    let out: Vec<u8> = if let Some((a, b)) = text.split_once("..=") {
        let (Some(a), Some(b)) = (number(a), number(b)) else {
            errors.at(lit.span(), bad("a bound is not a resolution"));
            return None;
        };
        if a > b {
            errors.at(lit.span(), bad("an empty range"));
            return None;
        }
        (a..=b).collect()
    } else if text.contains("..") {
        errors.at(
            lit.span(),
            format!(
                "write an inclusive range, `\"{}\"`: `..` alone would leave out the last \
                 resolution, which Butterfree includes",
                text.replacen("..", "..=", 1)
            ),
        );
        return None;
    } else {
        let mut out = Vec::new();
        for part in text.split(',') {
            let Some(r) = number(part) else {
                errors.at(
                    lit.span(),
                    bad(&format!("`{}` is not a resolution", part.trim())),
                );
                return None;
            };
            if out.contains(&r) {
                errors.at(lit.span(), bad(&format!("resolution {r} is listed twice")));
                return None;
            }
            out.push(r);
        }
        out
    };
    Some(out)
}

/// Each input of a computed column is a column of the source that is read
/// (not computed itself).
pub fn check_inputs(columns: &[crate::model::Column<'_>], errors: &mut Errors) {
    let read: Vec<&str> = columns
        .iter()
        .filter(|c| c.derived_span.is_none())
        .map(|c| c.name.as_str())
        .collect();
    for column in columns {
        let Some(derived) = &column.derived else {
            continue;
        };
        for input in derived.inputs() {
            let name = crate::model::unraw(input);
            if read.contains(&name.as_str()) {
                continue;
            }
            let why = if columns.iter().any(|c| c.name == name) {
                format!("`{name}` is computed too: computed columns read columns that are read")
            } else {
                format!(
                    "no column `{name}` in this source: the columns read are {}",
                    read.iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            errors.at(input.span(), why);
        }
    }
}
