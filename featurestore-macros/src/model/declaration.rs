//! What every declaration has: a name and a description, key columns, SQL
//! checked for syntax, a fill value; and column names as identifiers.

use featurestore_core::snake_case;
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Ident, ItemStruct, Lit, LitStr};

use crate::attr::{self, FillLit};
use crate::ctxt::Errors;
use crate::sql;
use crate::symbol::{self, Symbol};

/// A key column of a feature set or a dataset, a column of its source.
pub struct Key {
    pub name: String,
    /// The name as a Rust identifier, spanned at the token that named it
    /// (the `entity` or `key` literal, or the `key = cpf` identifier).
    pub ident: Ident,
}

/// `fill_null = ...`.
pub struct Fill {
    pub value: FillValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FillValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

/// `name` as a Rust identifier (raw if it is a keyword), or `None` if it
/// cannot be one.
pub fn ident(name: &str, span: Span) -> Option<Ident> {
    let mut ident = syn::parse_str::<Ident>(name)
        .or_else(|_| match name {
            "self" | "Self" | "super" | "crate" | "_" => Err(()),
            _ => syn::parse_str::<Ident>(&format!("r#{name}")).map_err(|_| ()),
        })
        .ok()?;
    ident.set_span(span);
    Some(ident)
}

/// An identifier's name without `r#`: the column it names.
pub fn unraw(ident: &Ident) -> String {
    ident.unraw().to_string()
}

/// A table name: ASCII letters, digits and `_`, not starting with a digit.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn name(key: Option<&LitStr>, ident: &Ident, errors: &mut Errors) -> String {
    match key {
        Some(lit) => {
            let name = lit.value();
            if !valid_name(&name) {
                errors.at(
                    lit.span(),
                    format!(
                        "`name = \"{name}\"` is not a valid table name: use ASCII letters, \
                         digits and `_`, not starting with a digit"
                    ),
                );
            }
            name
        }
        None => snake_case(&ident.unraw().to_string()),
    }
}

pub fn description(key: Option<&LitStr>, item: &ItemStruct) -> (String, Option<String>) {
    match key {
        Some(lit) => (lit.value(), Some(lit.value())),
        None => (attr::docs(&item.attrs), None),
    }
}

/// Reports the SQL of `lit`, written under `key`, if `check` refuses it.
pub fn sql_syntax(
    lit: &LitStr,
    key: Symbol,
    check: fn(&str) -> Result<(), String>,
    errors: &mut Errors,
) {
    if let Err(message) = check(&lit.value()) {
        errors.at(lit.span(), format!("invalid SQL in `{key}`: {message}"));
    }
}

/// Checks the syntax of a declaration's `filter` and `query`.
pub fn check_sql(filter: Option<&LitStr>, query: Option<&LitStr>, errors: &mut Errors) {
    if let Some(filter) = filter {
        sql_syntax(filter, symbol::FILTER, sql::check_expr, errors);
    }
    if let Some(query) = query {
        sql_syntax(query, symbol::QUERY, sql::check_query, errors);
    }
}

/// The comma-separated columns of `key = "..."`, columns of `of`.
pub fn keys(lit: &LitStr, key: Symbol, of: &str, errors: &mut Errors) -> Option<(Span, Vec<Key>)> {
    let value = lit.value();
    let span = lit.span();
    if value.trim().is_empty() {
        errors.at(
            span,
            format!("`{key}` is empty: name the key column(s) of the {of}, e.g. `{key} = \"cpf\"`"),
        );
        return None;
    }
    let mut keys = Vec::new();
    for name in value.split(',').map(str::trim) {
        if name.is_empty() {
            errors.at(
                span,
                format!(
                    "`{key}` has an empty item in `\"{value}\"`: separate key columns with \
                     single commas, e.g. `\"cpf,merchant_id\"`"
                ),
            );
            continue;
        }
        let Some(ident) = ident(name, span) else {
            errors.at(
                span,
                format!(
                    "`{name}` in `{key}` is not a column name: columns are field names of the {of}"
                ),
            );
            continue;
        };
        keys.push(Key {
            name: ident.unraw().to_string(),
            ident,
        });
    }
    Some((span, keys))
}

pub fn fill(fill: &FillLit, errors: &mut Errors) -> Option<Fill> {
    let sign = if fill.negative { "-" } else { "" };
    let value = match &fill.lit {
        Lit::Int(int) => match format!("{sign}{}", int.base10_digits()).parse::<i64>() {
            Ok(v) => FillValue::Int(v),
            Err(_) => {
                errors.at(int.span(), "`fill_null` does not fit in an `i64`");
                return None;
            }
        },
        Lit::Float(float) => match format!("{sign}{}", float.base10_digits()).parse::<f64>() {
            Ok(v) if v.is_finite() => FillValue::Float(v),
            _ => {
                errors.at(float.span(), "`fill_null` is not a finite `f64`");
                return None;
            }
        },
        Lit::Bool(b) => FillValue::Bool(b.value),
        Lit::Str(s) => FillValue::Str(s.value()),
        other => {
            errors.at(
                other.span(),
                "`fill_null` takes an integer, float, boolean or string literal",
            );
            return None;
        }
    };
    Some(Fill {
        value,
        span: fill.lit.span(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idents() {
        let s = Span::call_site();
        assert_eq!(ident("cpf", s).unwrap().to_string(), "cpf");
        assert_eq!(ident("type", s).unwrap().to_string(), "r#type");
        assert!(ident("self", s).is_none());
        assert!(ident("user id", s).is_none());
        assert!(ident("1a", s).is_none());
    }
}
