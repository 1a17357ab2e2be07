//! `#[source]`: the struct with its docs, `impl Source`, one `HasColumn` per
//! column, and the column-name constants.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::{docs, preprocess, respan, runtime};
use crate::check::{const_name, SPEC_CONST};
use crate::model::{self, Column, Source, SourceKind};

pub fn expand(source: &Source<'_>) -> TokenStream {
    let rt = runtime();
    let mut item = source.item.clone();
    for line in docs::source(source) {
        item.attrs.push(syn::parse_quote!(#[doc = #line]));
    }
    // The fields are a declaration, read by the macro: never reading them
    // at run time is the normal case, not dead code.
    item.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    let ident = &item.ident;
    let name = &source.name;
    let description = &source.description;
    let kind = kind(&source.kind);
    let on_bad_rows = format_ident!("{}", source.on_bad_rows.variant());
    let fields: Vec<TokenStream> = source.columns.iter().map(column_spec).collect();
    // With pre-processing, feature sets see the columns after its last step.
    let (rows, preprocess, checks) = match &source.preprocess {
        Some(pre) => (
            pre.columns.iter().map(preprocess::column).collect(),
            preprocess::spec(pre, &fields),
            preprocess::checks(pre),
        ),
        None => (
            Vec::new(),
            quote!(#rt::spec::Preprocessing::NONE),
            Vec::new(),
        ),
    };
    let rows: &[Column<'_>] = if source.preprocess.is_some() {
        &rows
    } else {
        &source.columns
    };
    let columns = rows.iter().map(column_spec);
    let has_columns = rows.iter().map(|c| has_column(ident, c));
    let mut named: Vec<Column<'_>> = source.columns.iter().map(copy).collect();
    named.extend(
        rows.iter()
            .filter(|r| !source.columns.iter().any(|c| c.name == r.name))
            .map(copy),
    );
    let constants = constants(&named);
    quote! {
        #item

        const _: () = {
            #[automatically_derived]
            impl #rt::Source for #ident {
                const SPEC: #rt::spec::SourceSpec = #rt::spec::SourceSpec {
                    name: #name,
                    description: #description,
                    kind: #kind,
                    columns: &[#(#columns),*],
                    on_bad_rows: #rt::spec::OnBadRows::#on_bad_rows,
                    preprocess: #preprocess,
                };
            }

            #(#has_columns)*

            #[allow(non_upper_case_globals)]
            impl #ident {
                #(#constants)*
            }

            #[allow(dead_code, clippy::all)]
            fn __check() {
                #(#checks)*
            }
        };
    }
}

fn copy<'a>(c: &Column<'a>) -> Column<'a> {
    Column {
        ident: c.ident,
        name: c.name.clone(),
        ty: c.ty,
        description: c.description.clone(),
    }
}

fn kind(kind: &SourceKind) -> TokenStream {
    let rt = runtime();
    match kind {
        SourceKind::File { path, format } => {
            let format = format_ident!("{}", format.variant());
            quote! {
                #rt::spec::SourceKind::File {
                    path: #path,
                    format: #rt::spec::Format::#format,
                }
            }
        }
        SourceKind::Query { sql, inputs } => {
            let inputs = inputs
                .iter()
                .map(|path| quote_spanned!(path.span()=> &<#path as #rt::Source>::SPEC));
            quote! {
                #rt::spec::SourceKind::Query {
                    sql: #sql,
                    inputs: &[#(#inputs),*],
                }
            }
        }
    }
}

pub fn column_spec(column: &Column<'_>) -> TokenStream {
    let rt = runtime();
    let ty = column.ty;
    let name = &column.name;
    let description = &column.description;
    let item = |item| {
        respan(
            quote!(<#ty as #rt::__private::ColumnType>::#item),
            ty.span(),
        )
    };
    let dtype = item(quote!(DTYPE));
    let nullable = item(quote!(NULLABLE));
    quote! {
        #rt::spec::ColumnSpec {
            name: #name,
            dtype: #dtype,
            nullable: #nullable,
            description: #description,
        }
    }
}

/// `impl HasColumn<{hash}> for Source`; an unsupported field type is
/// reported by the `Type: ColumnType` bound, under the field's type.
pub fn has_column(source: &Ident, column: &Column<'_>) -> TokenStream {
    let rt = runtime();
    let ty = column.ty;
    let name = &column.name;
    quote_spanned! {ty.span()=>
        // Keeps rustc from listing every column's hash when a column is
        // missing, and rustdoc from listing the impls.
        #[diagnostic::do_not_recommend]
        #[doc(hidden)]
        #[automatically_derived]
        impl #rt::__private::HasColumn<{ #rt::__private::column_hash(#name) }> for #source {
            type Type = #ty;
        }
    }
}

/// `pub const ORDER_ID: &'static str = "order_id";` for every column.
pub fn constants(columns: &[Column<'_>]) -> Vec<TokenStream> {
    columns
        .iter()
        .filter_map(|column| {
            let constant = const_name(&column.name);
            if constant == SPEC_CONST {
                return None;
            }
            let constant = model::ident(&constant, Span::call_site())?;
            let name = &column.name;
            let doc = format!(" Name of the `{name}` column.");
            Some(quote! {
                #[doc = #doc]
                pub const #constant: &'static str = #name;
            })
        })
        .collect()
}
