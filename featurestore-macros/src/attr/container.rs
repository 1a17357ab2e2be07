//! The item a macro is put on: a struct with named fields (`#[source]`,
//! `#[feature_set]`) or a unit struct (`#[dataset]`), and doc comments.

use quote::quote;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Fields, Ident, Item, ItemStruct, Lit, Meta, Type};

use super::feature::{feature_attr, is_feature, FeatureAttr};
use crate::ctxt::Errors;
use crate::symbol;

/// A named-field struct the macro was put on.
pub struct Container<'a> {
    pub item: &'a ItemStruct,
    pub fields: Vec<Field<'a>>,
}

/// One named field.
pub struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    /// The field's doc comment, lines trimmed and joined with `\n`.
    pub doc: String,
    /// `#[feature(...)]`, if the field has one.
    pub feature: Option<FeatureAttr>,
}

/// The struct the macro is on, or an error saying what it is instead:
/// `` "{expected}, not an enum{enum_hint}" ``.
fn struct_of<'a>(
    item: &'a Item,
    macro_name: &str,
    expected: &str,
    enum_hint: &str,
    errors: &mut Errors,
) -> Option<&'a ItemStruct> {
    let item = match item {
        Item::Struct(item) => item,
        Item::Enum(e) => {
            let (keyword, ident) = (&e.enum_token, &e.ident);
            errors.spanned(
                quote!(#keyword #ident),
                format!("{expected}, not an enum{enum_hint}"),
            );
            return None;
        }
        Item::Union(u) => {
            let (keyword, ident) = (&u.union_token, &u.ident);
            errors.spanned(quote!(#keyword #ident), format!("{expected}, not a union"));
            return None;
        }
        Item::Fn(f) => {
            let (keyword, ident) = (&f.sig.fn_token, &f.sig.ident);
            errors.spanned(
                quote!(#keyword #ident),
                format!("{expected}, not a function"),
            );
            return None;
        }
        other => {
            errors.at(other.span(), expected);
            return None;
        }
    };
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.spanned(
            &item.generics,
            format!("`#[{macro_name}]` does not support generic structs"),
        );
    }
    Some(item)
}

/// The struct the macro is on, if it is one with named fields.
pub fn container<'a>(
    item: &'a Item,
    macro_name: &str,
    what: &str,
    errors: &mut Errors,
) -> Option<Container<'a>> {
    let item = struct_of(
        item,
        macro_name,
        &format!("`#[{macro_name}]` goes on a struct with named fields"),
        &format!(": each field is {what}"),
        errors,
    )?;
    let named = match &item.fields {
        Fields::Named(named) => named,
        Fields::Unnamed(fields) => {
            errors.spanned(
                fields,
                format!(
                    "`#[{macro_name}]` needs named fields, not a tuple struct: each field is {what}"
                ),
            );
            return None;
        }
        Fields::Unit => {
            errors.at(
                item.ident.span(),
                format!("`#[{macro_name}]` needs a struct with named fields: each field is {what}"),
            );
            return None;
        }
    };
    if named.named.is_empty() {
        errors.at(
            item.ident.span(),
            format!("`{}` has no fields: each field is {what}", item.ident),
        );
    }
    let fields = named
        .named
        .iter()
        .filter_map(|field| {
            Some(Field {
                ident: field.ident.as_ref()?,
                ty: &field.ty,
                doc: docs(&field.attrs),
                feature: None,
            })
        })
        .collect();
    Some(Container { item, fields })
}

/// The struct `#[dataset]` is on: a unit struct, or one without fields.
pub fn unit_struct<'a>(item: &'a Item, errors: &mut Errors) -> Option<&'a ItemStruct> {
    let why = ": its columns come from the spine and the joined feature sets";
    let item = struct_of(
        item,
        "dataset",
        "`#[dataset]` goes on a unit struct",
        why,
        errors,
    )?;
    if !item.fields.is_empty() {
        errors.spanned(
            &item.fields,
            format!(
                "`#[dataset]` goes on a unit struct, e.g. `pub struct {};`{why}, not from fields",
                item.ident
            ),
        );
    }
    Some(item)
}

/// A doc comment: the `#[doc = "..."]` lines, trimmed and joined with `\n`,
/// without leading or trailing blank lines.
pub fn docs(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if attr.path() != symbol::DOC {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                lines.extend(s.value().lines().map(|l| l.trim().to_string()));
            }
        }
    }
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |i| i + 1);
    lines[start..end].join("\n")
}

impl Container<'_> {
    /// Reads the `#[feature(...)]` attribute of every field.
    pub fn parse_features(&mut self, errors: &mut Errors) {
        let Fields::Named(named) = &self.item.fields else {
            return;
        };
        for (field, syn_field) in self.fields.iter_mut().zip(&named.named) {
            for attr in syn_field.attrs.iter().filter(|a| is_feature(a)) {
                let parsed = feature_attr(attr, errors);
                if field.feature.is_some() {
                    errors.spanned(
                        attr,
                        "duplicate `#[feature]`: list every aggregation in one, \
                         e.g. `#[feature(avg(amount), max(amount))]`",
                    );
                } else {
                    field.feature = Some(parsed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_lines_are_trimmed() {
        let item: ItemStruct = syn::parse_quote! {
            ///
            /// First line.
            ///   Second line.
            ///
            struct S;
        };
        assert_eq!(docs(&item.attrs), "First line.\nSecond line.");
    }
}
