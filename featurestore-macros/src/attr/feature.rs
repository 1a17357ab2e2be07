//! `#[feature(...)]` on a field of a feature set: its aggregations, or its
//! plain value, and their options.

use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitStr, Meta, MetaNameValue, Path, Token};

use super::meta::{column_ident, fill_lit, lit_str, path_string, plain_path, FillLit};
use crate::ctxt::Errors;
use crate::symbol;

const FEATURE_EXAMPLE: &str = "`#[feature(count(order_id))]`";

/// `#[feature(count(order_id), ..., filter = "...")]`.
#[derive(Default)]
pub struct FeatureAttr {
    pub functions: Vec<RawFunction>,
    pub filter: Option<LitStr>,
    pub plain: PlainAttr,
    /// `over = "2m"`: a fixed (time) window of a window function.
    pub over: Option<LitStr>,
    /// `rows = 2`: a row window of a window function.
    pub rows: Option<syn::LitInt>,
    /// `truncate`: an integer feature keeps the whole part of fractions.
    pub truncate: Option<Path>,
    /// `fill_null = 0`: replaces this feature's nulls.
    pub fill_null: Option<FillLit>,
}

/// The keys of a plain feature: `column = x`, `sql = "..."`, `function = f`.
#[derive(Default)]
pub struct PlainAttr {
    pub column: Option<Ident>,
    pub sql: Option<LitStr>,
    pub function: Option<Path>,
}

impl PlainAttr {
    pub fn is_empty(&self) -> bool {
        self.column.is_none() && self.sql.is_none() && self.function.is_none()
    }
}

/// `count(order_id)`, `percentile(amount, 0.5)`: the function name and the
/// arguments after the column are not checked yet.
pub struct RawFunction {
    pub name: Ident,
    /// The column, or for a SQL condition (`count_if("amount > 100")`) an
    /// identifier spanning it that names no column.
    pub column: Ident,
    /// `count_if("amount > 100")`: the SQL condition given instead of a column.
    pub condition: Option<LitStr>,
    /// The arguments after the column.
    pub args: Vec<Expr>,
}

/// Whether `attr` is `#[feature(...)]`.
pub fn is_feature(attr: &Attribute) -> bool {
    attr.path() == symbol::FEATURE
}

/// `#[feature(...)]`, every mistake in it reported.
pub(super) fn feature_attr(attr: &Attribute, errors: &mut Errors) -> FeatureAttr {
    let mut feature = FeatureAttr::default();
    let Meta::List(list) = &attr.meta else {
        errors.spanned(
            attr,
            format!("`#[feature]` lists the feature's aggregations, e.g. {FEATURE_EXAMPLE}"),
        );
        return feature;
    };
    let metas = match list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) {
        Ok(metas) => metas,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("expected aggregations such as {FEATURE_EXAMPLE}: {e}"),
            ));
            return feature;
        }
    };
    if metas.is_empty() {
        errors.spanned(
            attr,
            format!("`#[feature]` needs at least one aggregation, e.g. {FEATURE_EXAMPLE}"),
        );
    }
    for meta in &metas {
        match meta {
            Meta::NameValue(nv) => feature.option(meta, nv, errors),
            Meta::Path(path) if path == symbol::TRUNCATE => {
                if feature.truncate.is_some() {
                    errors.spanned(path, "duplicate `truncate`: write it once");
                }
                feature.truncate = Some(path.clone());
            }
            _ => feature.functions.extend(raw_function(meta, errors)),
        }
    }
    feature
}

impl FeatureAttr {
    /// An option after the aggregations (`filter`, `over`, `rows`), or a key
    /// of a plain feature (`column`, `sql`, `function`).
    fn option(&mut self, meta: &Meta, nv: &MetaNameValue, errors: &mut Errors) {
        let duplicate = |errors: &mut Errors, set: bool| {
            if set {
                errors.spanned(
                    &nv.path,
                    format!("duplicate `{}`: set it once", path_string(&nv.path)),
                );
            }
        };
        if nv.path == symbol::FILTER {
            duplicate(errors, self.filter.is_some());
            self.filter = lit_str(meta, symbol::FILTER, errors);
        } else if nv.path == symbol::OVER {
            duplicate(errors, self.over.is_some());
            self.over = lit_str(meta, symbol::OVER, errors);
        } else if nv.path == symbol::ROWS {
            duplicate(errors, self.rows.is_some());
            match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(n), ..
                }) => self.rows = Some(n.clone()),
                other => errors.spanned(
                    other,
                    "`rows` takes the number of events of a row window, e.g. `rows = 2`",
                ),
            }
        } else if nv.path == symbol::FILL_NULL {
            duplicate(errors, self.fill_null.is_some());
            self.fill_null = fill_lit(meta, errors);
        } else if nv.path == symbol::SQL {
            duplicate(errors, self.plain.sql.is_some());
            self.plain.sql = lit_str(meta, symbol::SQL, errors);
        } else if nv.path == symbol::COLUMN {
            duplicate(errors, self.plain.column.is_some());
            self.plain.column = column_ident(meta, symbol::COLUMN, errors);
        } else if nv.path == symbol::FUNCTION {
            duplicate(errors, self.plain.function.is_some());
            match &nv.value {
                Expr::Path(p) if p.qself.is_none() && plain_path(&p.path) => {
                    self.plain.function = Some(p.path.clone());
                }
                other => errors.spanned(
                    other,
                    "`function` takes the path of a function `fn(Expr) -> Expr`, e.g. \
                     `function = crate::features::normalize`",
                ),
            }
        } else {
            errors.spanned(
                &nv.path,
                format!(
                    "unknown option `{}` in `#[feature]`: the options are `filter = \"...\"` \
                     (after aggregations), for a plain feature `column = x`, \
                     `sql = \"...\"` or `function = path, column = x`, for window \
                     functions `over = \"2m\"` or `rows = 2`, `fill_null = 0` and `truncate`",
                    path_string(&nv.path)
                ),
            );
        }
    }
}

/// `count(order_id)`, `percentile(amount, 0.5)`: a function name and a
/// column first.
fn raw_function(meta: &Meta, errors: &mut Errors) -> Option<RawFunction> {
    let Some(name) = meta.path().get_ident().cloned() else {
        errors.spanned(
            meta.path(),
            format!("expected an aggregation such as `count(order_id)`, as in {FEATURE_EXAMPLE}"),
        );
        return None;
    };
    let Meta::List(call) = meta else {
        errors.spanned(
            meta,
            format!("`{name}` needs a column of the source, e.g. `{name}(order_id)`"),
        );
        return None;
    };
    let args = match Punctuated::<Expr, Token![,]>::parse_terminated.parse2(call.tokens.clone()) {
        Ok(args) => args,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!("`{name}` takes one column name of the source, e.g. `{name}(order_id)`"),
            ));
            return None;
        }
    };
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        errors.at(
            call.delimiter.span().join(),
            format!("`{name}` needs a column of the source, e.g. `{name}(order_id)`"),
        );
        return None;
    };
    if let Expr::Lit(ExprLit {
        lit: Lit::Str(condition),
        ..
    }) = &first
    {
        return Some(RawFunction {
            column: Ident::new("__fs_condition", condition.span()),
            name,
            condition: Some(condition.clone()),
            args: args.collect(),
        });
    }
    let column = match &first {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => p.path.get_ident().cloned(),
        _ => None,
    };
    let Some(column) = column else {
        errors.spanned(
            &first,
            format!("`{name}` takes a column name of the source first, e.g. `{name}(order_id)`"),
        );
        return None;
    };
    Some(RawFunction {
        name,
        column,
        condition: None,
        args: args.collect(),
    })
}
