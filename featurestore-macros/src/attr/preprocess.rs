//! A source's pre-processing steps as written: `filter`, `replace`,
//! `pivot`, `explode_json` and `forward_fill` in `#[source(...)]`, parsed
//! with the other keys of the source. Their columns are checked, step by
//! step, by the model.

use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{braced, Expr, ExprLit, Ident, Lit, LitStr, Meta, Token, Type};

use super::meta::{did_you_mean, path_string};
use crate::ctxt::Errors;
use crate::symbol::{self, Symbol};

/// A step as written.
pub enum RawStep {
    /// `filter = "..."`.
    Filter(LitStr),
    Replace(RawReplace),
    Pivot(RawPivot),
    ExplodeJson(RawExplodeJson),
    ForwardFill(RawForwardFill),
}

/// `replace(column, {"a": "x"})`.
pub struct RawReplace {
    pub keyword: Ident,
    pub column: Ident,
    pub pairs: Vec<(RawValue, RawValue)>,
}

/// `pivot(on = c, value = first(v), keys(k), timestamp = t, columns(a: T), forward_fill)`.
pub struct RawPivot {
    pub keyword: Ident,
    pub on: Option<Ident>,
    /// The function and its column.
    pub value: Option<(Ident, Ident)>,
    pub keys: Vec<Ident>,
    pub timestamp: Option<Ident>,
    pub columns: Vec<(Ident, Type)>,
    pub forward_fill: bool,
}

/// `explode_json(column, columns(a: T))`.
pub struct RawExplodeJson {
    pub keyword: Ident,
    pub column: Option<Ident>,
    pub columns: Vec<(Ident, Type)>,
}

/// `forward_fill(columns(a), keys(k), timestamp = t)`.
pub struct RawForwardFill {
    pub keyword: Ident,
    pub columns: Vec<Ident>,
    pub keys: Vec<Ident>,
    pub timestamp: Option<Ident>,
}

/// A literal of `replace`, possibly negative.
pub struct RawValue {
    pub negative: bool,
    pub lit: Lit,
}

/// Whether `meta` is a pre-processing step.
pub fn is_step(meta: &Meta) -> bool {
    symbol::PREPROCESS_STEPS.iter().any(|s| meta.path() == s)
}

/// Parses a step (`is_step` is true of `meta`).
pub fn parse_step(meta: &Meta, errors: &mut Errors) -> Option<RawStep> {
    let path = meta.path();
    let keyword = path.get_ident()?.clone();
    if path == symbol::FILTER {
        return match meta {
            Meta::NameValue(syn::MetaNameValue {
                value:
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }),
                ..
            }) => Some(RawStep::Filter(s.clone())),
            _ => {
                errors.spanned(
                    meta,
                    "`filter` takes a SQL condition on the source's rows: \
                     `filter = \"amount > 0\"`",
                );
                None
            }
        };
    }
    let example = step_example(&keyword);
    let Meta::List(list) = meta else {
        errors.spanned(meta, format!("`{keyword}` takes arguments: {example}"));
        return None;
    };
    if path == symbol::REPLACE {
        return match list.parse_args_with(|input: ParseStream| replace_args(input)) {
            Ok((column, pairs)) => Some(RawStep::Replace(RawReplace {
                keyword,
                column,
                pairs,
            })),
            Err(e) => {
                errors.push(syn::Error::new(
                    e.span(),
                    format!("expected a column and a map of values, as in {example}"),
                ));
                None
            }
        };
    }
    let metas = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected options of `{keyword}`, as in {example}"),
            ));
            return None;
        }
    };
    if path == symbol::PIVOT {
        Some(pivot(keyword, &metas, errors))
    } else if path == symbol::EXPLODE_JSON {
        Some(explode_json(keyword, &metas, errors))
    } else {
        Some(forward_fill(keyword, &metas, errors))
    }
}

/// An example of the step, for messages.
pub fn step_example(keyword: &Ident) -> &'static str {
    if keyword == symbol::REPLACE {
        "`replace(status, {\"a\": \"approved\", \"r\": \"refused\"})`"
    } else if keyword == symbol::PIVOT {
        "`pivot(on = amenity, value = first(has), keys(id), timestamp = ts, \
         columns(pool: Option<bool>, oven: Option<bool>), forward_fill)`"
    } else if keyword == symbol::EXPLODE_JSON {
        "`explode_json(payload, columns(amount: Option<f64>, kind: Option<String>))`"
    } else {
        "`forward_fill(columns(temperature), keys(sensor), timestamp = ts)`"
    }
}

fn replace_args(input: ParseStream) -> syn::Result<(Ident, Vec<(RawValue, RawValue)>)> {
    let column = input.call(Ident::parse_any)?;
    input.parse::<Token![,]>()?;
    let content;
    braced!(content in input);
    let mut pairs = Vec::new();
    while !content.is_empty() {
        let from = raw_value(&content)?;
        content.parse::<Token![:]>()?;
        let to = raw_value(&content)?;
        pairs.push((from, to));
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
    }
    Ok((column, pairs))
}

fn raw_value(input: ParseStream) -> syn::Result<RawValue> {
    let negative = input.parse::<Option<Token![-]>>()?.is_some();
    Ok(RawValue {
        negative,
        lit: input.parse()?,
    })
}

/// The known option `meta` sets in `step`, or `None` with an error.
fn option_of(meta: &Meta, step: &Ident, keys: &[Symbol], errors: &mut Errors) -> Option<Symbol> {
    let path = meta.path();
    if let Some(key) = keys.iter().copied().find(|k| path == k) {
        return Some(key);
    }
    let written = path_string(path);
    let hint = did_you_mean(&written, keys)
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    errors.spanned(
        path,
        format!(
            "unknown option `{written}` in `{step}`: {hint}the options are {}",
            symbol::list(keys)
        ),
    );
    None
}

/// `keys(a, b)`, `columns(a, b)`: column names.
fn idents(meta: &Meta, key: Symbol, errors: &mut Errors) -> Vec<Ident> {
    let parsed = match meta {
        Meta::List(list) => list
            .parse_args_with(Punctuated::<Ident, Token![,]>::parse_terminated)
            .ok(),
        _ => None,
    };
    match parsed {
        Some(idents) if !idents.is_empty() => idents.into_iter().collect(),
        _ => {
            errors.spanned(
                meta,
                format!("`{key}` lists column names in parentheses: `{key}(a, b)`"),
            );
            Vec::new()
        }
    }
}

/// `columns(a: Option<i64>, b: Option<String>)`: new columns and their types.
fn typed_columns(meta: &Meta, errors: &mut Errors) -> Vec<(Ident, Type)> {
    let parse = |input: ParseStream| {
        let fields = Punctuated::<syn::Field, Token![,]>::parse_terminated_with(
            input,
            syn::Field::parse_named,
        )?;
        Ok(fields
            .into_iter()
            .filter_map(|f| Some((f.ident?, f.ty)))
            .collect::<Vec<_>>())
    };
    let parsed = match meta {
        Meta::List(list) => list.parse_args_with(parse).ok(),
        _ => None,
    };
    match parsed {
        Some(columns) if !columns.is_empty() => columns,
        _ => {
            errors.spanned(
                meta,
                "`columns` declares the new columns with their types, as fields: \
                 `columns(pool: Option<bool>, oven: Option<bool>)`",
            );
            Vec::new()
        }
    }
}

/// `key = column`.
fn column_value(meta: &Meta, key: Symbol, errors: &mut Errors) -> Option<Ident> {
    if let Meta::NameValue(nv) = meta {
        if let Expr::Path(p) = &nv.value {
            if let Some(ident) = p.path.get_ident() {
                return Some(ident.clone());
            }
        }
    }
    errors.spanned(
        meta,
        format!("`{key}` takes a column name, without quotes: `{key} = column`"),
    );
    None
}

fn pivot(keyword: Ident, metas: &Punctuated<Meta, Token![,]>, errors: &mut Errors) -> RawStep {
    let (mut on, mut value, mut keys, mut timestamp, mut columns, mut forward_fill) =
        (None, None, Vec::new(), None, Vec::new(), false);
    for meta in metas {
        let Some(key) = option_of(meta, &keyword, symbol::PIVOT_KEYS, errors) else {
            continue;
        };
        match key {
            symbol::ON => on = column_value(meta, key, errors),
            symbol::TIMESTAMP => timestamp = column_value(meta, key, errors),
            symbol::KEYS => keys = idents(meta, key, errors),
            symbol::COLUMNS => columns = typed_columns(meta, errors),
            symbol::FORWARD_FILL => match meta {
                Meta::Path(_) => forward_fill = true,
                other => errors.spanned(
                    other,
                    "`forward_fill` in `pivot` is a flag, without a value: `forward_fill`",
                ),
            },
            _ => value = aggregation(meta, errors),
        }
    }
    RawStep::Pivot(RawPivot {
        keyword,
        on,
        value,
        keys,
        timestamp,
        columns,
        forward_fill,
    })
}

/// `value = first(has)`.
fn aggregation(meta: &Meta, errors: &mut Errors) -> Option<(Ident, Ident)> {
    if let Meta::NameValue(nv) = meta {
        if let Expr::Call(call) = &nv.value {
            let function = match &*call.func {
                Expr::Path(p) => p.path.get_ident().cloned(),
                _ => None,
            };
            let column = match call.args.first() {
                Some(Expr::Path(p)) if call.args.len() == 1 => p.path.get_ident().cloned(),
                _ => None,
            };
            if let (Some(function), Some(column)) = (function, column) {
                return Some((function, column));
            }
        }
    }
    errors.spanned(
        meta,
        format!(
            "`value` is an aggregation of a column: `value = first(has)`, with {}",
            symbol::list(symbol::PIVOT_AGGREGATIONS.iter().map(|a| a.name()))
        ),
    );
    None
}

fn explode_json(
    keyword: Ident,
    metas: &Punctuated<Meta, Token![,]>,
    errors: &mut Errors,
) -> RawStep {
    let mut metas = metas.iter();
    let column = match metas.next() {
        Some(Meta::Path(p)) if p.get_ident().is_some() => p.get_ident().cloned(),
        other => {
            let message = format!(
                "`explode_json` takes the JSON column first, as in {}",
                step_example(&keyword)
            );
            match other {
                Some(meta) => errors.spanned(meta, message),
                None => errors.at(keyword.span(), message),
            }
            None
        }
    };
    let mut columns = Vec::new();
    for meta in metas {
        if option_of(meta, &keyword, symbol::EXPLODE_JSON_KEYS, errors).is_some() {
            columns = typed_columns(meta, errors);
        }
    }
    RawStep::ExplodeJson(RawExplodeJson {
        keyword,
        column,
        columns,
    })
}

fn forward_fill(
    keyword: Ident,
    metas: &Punctuated<Meta, Token![,]>,
    errors: &mut Errors,
) -> RawStep {
    let (mut columns, mut keys, mut timestamp) = (Vec::new(), Vec::new(), None);
    for meta in metas {
        match option_of(meta, &keyword, symbol::FORWARD_FILL_KEYS, errors) {
            Some(symbol::COLUMNS) => columns = idents(meta, symbol::COLUMNS, errors),
            Some(symbol::KEYS) => keys = idents(meta, symbol::KEYS, errors),
            Some(key) => timestamp = column_value(meta, key, errors),
            None => {}
        }
    }
    RawStep::ForwardFill(RawForwardFill {
        keyword,
        columns,
        keys,
        timestamp,
    })
}
